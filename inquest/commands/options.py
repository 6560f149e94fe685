"""Help texts of the options several commands share, written once."""

CONFIG_HELP = ("config file (default: $INQUEST_CONFIG, ./config.yaml, $XDG_CONFIG_HOME/inquest/config.yaml, "
               "else built-in defaults)")
STORE_HELP = "the embedded store to use (default: $INQUEST_STORE, else the config's backend.embedded.path)"
