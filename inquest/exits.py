"""Every exit code the `investigate` commands return, defined once.

Shared by all commands: 0 success, 2 bad usage, bad configuration or an unknown incident.
Per command, the other codes say what happened:

    investigate <id>   0 a root cause was found, 1 none was found, 3 the report was written but
                       attaching it (--attach) failed
    replay             4 a regression against the previous run, 5 the engine failed on a case
    ingest             1 some records were rejected, 2 a file could not be read
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2

# investigate <incident-id>
EXIT_FOUND = EXIT_OK
EXIT_NOT_FOUND = 1
EXIT_ATTACH_FAILED = 3

# replay
EXIT_REGRESSION = 4
EXIT_ENGINE_FAILED = 5

# ingest
EXIT_LOADED = EXIT_OK
EXIT_REJECTED = 1
EXIT_UNREADABLE = 2

# every command
EXIT_INTERNAL = 70  # a bug: one line says what and where, `--debug` shows the trace (sysexits' EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C: the shell's convention, 128 + SIGINT
