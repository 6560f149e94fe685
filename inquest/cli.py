"""`investigate`: the command line.

    investigate <incident-id>     investigate one incident and print the ranked report
    investigate incidents         list the incidents the store knows
    investigate <command> ...     the other commands below, each in inquest/commands/<command>.py

Exit codes (inquest/exits.py): 0 a root cause was found; 1 the investigation finished without one;
2 bad usage, bad configuration or an unknown incident (the known ids are listed); 3 the report was
written but attaching it somewhere failed.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from inquest.errors import InquestError
from inquest.exits import EXIT_ATTACH_FAILED, EXIT_FOUND, EXIT_NOT_FOUND, EXIT_USAGE

__all__ = ["COMMANDS", "EXIT_ATTACH_FAILED", "EXIT_FOUND", "EXIT_NOT_FOUND", "EXIT_USAGE", "main"]

# command word -> module in inquest.commands with `main(args: list[str]) -> int`. Imported only when
# used, so `investigate INC-1` never pays for the others.
COMMANDS = {
    "incidents": "incidents",
    "bench": "bench",
    "ingest": "ingest",
    "replay": "replay",
    "serve": "serve",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    module = COMMANDS.get(args[0], None) if args else None
    try:
        if module is not None:
            return importlib.import_module(f"inquest.commands.{module}").main(args[1:])
        from inquest.commands import investigate

        return investigate.main(args)
    except InquestError as exc:
        print(f"investigate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`investigate ... | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND
