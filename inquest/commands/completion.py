"""`investigate completion bash|zsh|fish`: prints a shell completion script for investigate.

    source <(investigate completion bash)                   # ~/.bashrc
    investigate completion zsh > "${fpath[1]}/_investigate" # zsh, then restart it
    investigate completion fish > ~/.config/fish/completions/investigate.fish

The script completes command words, the options of `investigate INCIDENT-ID`, and incident ids (asked
of `investigate incidents` when completing the first word, so it lists what your store holds).
"""

from __future__ import annotations

import argparse

from inquest import registry
from inquest.exits import EXIT_OK

GLOBAL_OPTIONS = ("--help", "--version", "--verbose", "--quiet", "--debug")

BASH = """\
# investigate: bash completion (investigate completion bash)
_investigate() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}}
    if [ "$COMP_CWORD" -eq 1 ]; then
        local ids
        ids=$(investigate incidents 2>/dev/null | cut -d' ' -f1)
        COMPREPLY=($(compgen -W "{commands} {options} $ids" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "{options}" -- "$cur"))
    fi
}}
complete -o default -F _investigate investigate
"""

ZSH = """\
#compdef investigate
# investigate: zsh completion (investigate completion zsh)
_investigate() {{
    if (( CURRENT == 2 )); then
        compadd -- {commands} {options} ${{(f)"$(investigate incidents 2>/dev/null | cut -d' ' -f1)"}}
    else
        compadd -- {options}
        _files
    fi
}}
compdef _investigate investigate
"""

FISH_HEAD = """\
# investigate: fish completion (investigate completion fish)
complete -c investigate -n '__fish_use_subcommand' -f -a '(investigate incidents 2>/dev/null | string split -f1 " ")'
"""


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="investigate completion", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shell", choices=("bash", "zsh", "fish"))
    opts = parser.parse_args(args)
    print(script(opts.shell), end="")
    return EXIT_OK


def script(shell: str) -> str:
    """The completion script, built from the registered commands and the investigate parser's options, so
    a command a plug-in adds completes too."""
    from inquest.commands.investigate import build_parser

    commands = registry.names(registry.COMMANDS)
    options = sorted({o for action in build_parser()._actions for o in action.option_strings if o.startswith("--")}
                     | set(GLOBAL_OPTIONS))
    if shell == "fish":
        lines = [FISH_HEAD]
        for word in commands:
            summary = registry.summary(registry.COMMANDS, word).replace("'", "")
            lines.append(f"complete -c investigate -n '__fish_use_subcommand' -f -a {word} -d '{summary}'\n")
        lines.extend(f"complete -c investigate -l {option[2:]}\n" for option in options)
        return "".join(lines)
    template = BASH if shell == "bash" else ZSH
    return template.format(commands=" ".join(commands), options=" ".join(options))
