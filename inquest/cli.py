"""`investigate`: the command line.

    investigate <incident-id>     investigate one incident and print the ranked report
    investigate <command> ...     a command word from the `inquest.commands` entry points (pyproject.toml):
                                  incidents, ingest, init, replay, bench, completion, and any a plug-in adds

Adding a command is one registration: an entry point `word = "module:main"` whose `main(args) -> int`
runs it; `investigate --help` lists it with the first line of the module's docstring.

This module is the one boundary where an exception becomes what a user sees: one line naming what failed
and where, the full trace only under `--debug`; Ctrl-C is exit 130 and one line.

Exit codes (inquest/exits.py): 0 a root cause was found; 1 the investigation finished without one;
2 bad usage, bad configuration or an unknown incident; 3 the report was written but attaching it failed;
70 an internal error (a bug: `--debug` shows the trace); 130 interrupted.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inquest import registry
from inquest.errors import InquestError
from inquest.exits import (
    EXIT_ATTACH_FAILED,
    EXIT_FOUND,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
)

__all__ = ["EXIT_ATTACH_FAILED", "EXIT_FOUND", "EXIT_NOT_FOUND", "EXIT_USAGE", "main"]


@dataclass(frozen=True)
class GlobalFlags:
    """Options every command accepts, anywhere on the line: they change how much is said, not what is done."""

    verbosity: int = 0  # -v: +1, -q: -1
    debug: bool = False


def main(argv: Sequence[str] | None = None) -> int:
    # Run as the console script (argv None) an interrupt ends the process at once, see _interrupted.
    as_process = argv is None
    flags, args = split_global_flags(list(sys.argv[1:] if argv is None else argv))
    _configure_logging(flags)
    try:
        return _dispatch(args, as_process)
    except KeyboardInterrupt:
        return _interrupted(as_process)
    except InquestError as exc:
        print(f"investigate: error: {exc}", file=sys.stderr)
        if flags.debug:
            traceback.print_exc()
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`investigate ... | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND
    except Exception as exc:  # noqa: BLE001 - the CLI's one boundary: a bug is one line, the trace under --debug
        print(f"investigate: internal error: {_one_line(exc)}" + ("" if flags.debug else " (--debug shows the trace)"),
              file=sys.stderr)
        if flags.debug:
            traceback.print_exc()
        return EXIT_INTERNAL


def split_global_flags(args: list[str]) -> tuple[GlobalFlags, list[str]]:
    """Takes -v/-q/--debug out of the arguments (up to a `--`), so every command accepts them anywhere."""
    verbosity, debug, rest = 0, False, []
    for i, arg in enumerate(args):
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--debug":
            debug = True
        elif arg in ("--verbose", "--quiet"):
            verbosity += 1 if arg == "--verbose" else -1
        elif re.fullmatch(r"-(v+|q+)", arg):
            verbosity += len(arg) - 1 if arg[1] == "v" else -(len(arg) - 1)
        else:
            rest.append(arg)
    return GlobalFlags(verbosity=verbosity, debug=debug), rest


def _configure_logging(flags: GlobalFlags) -> None:
    if flags == GlobalFlags():
        return  # untouched: warnings reach stderr through logging's last resort, and a command (serve) may set its own
    level = logging.DEBUG if flags.debug or flags.verbosity >= 2 else {
        1: logging.INFO, 0: logging.WARNING}.get(flags.verbosity, logging.ERROR)
    logging.basicConfig(level=level, format="investigate: %(levelname)s: %(name)s: %(message)s", force=True)


def _dispatch(args: list[str], as_process: bool = False) -> int:
    from inquest.commands import investigate

    if not args:  # documented: the help, and the usage exit code, so a script with an empty variable fails
        investigate.build_parser().print_help()
        return EXIT_USAGE
    word = args[0]
    if word in registry.names(registry.COMMANDS):
        command = registry.load(registry.COMMANDS, word)
        return int(command(args[1:]))
    _reject_near_command(word)
    if as_process:
        # One investigation, then the process ends (_leave): the cyclic collector is paused for its life. Its
        # ~160 passes cost ~0.04 s CPU of a cold start, holding the GIL while the agents wait on it, to free the
        # ~35k objects of import-time cycles, no more at 12M records than on the demo (peak RSS 943 MB
        # without it, 971 MB with it), which the OS takes back at exit anyway.
        gc.disable()
    code = investigate.main(args)
    return _leave(code) if as_process else code


def _reject_near_command(word: str) -> None:
    """`investigate incidnets` is a typo'd command, not an incident: incident ids carry a number."""
    import difflib

    if word.startswith("-") or re.search(r"\d", word):
        return
    near = difflib.get_close_matches(word.lower(), registry.names(registry.COMMANDS), n=1, cutoff=0.75)
    if near:
        raise InquestError(f"unknown command {word!r} (did you mean `investigate {near[0]}`?); "
                           "`investigate --help` lists the commands")


def _interrupted(as_process: bool) -> int:
    print("investigate: interrupted", file=sys.stderr)
    if not as_process:
        return EXIT_INTERRUPTED
    # Agents may still be inside DuckDB queries on their threads; a normal interpreter exit would wait on
    # them and then have nanobind print a leak report for every object they hold. The report, if any, was
    # written already and the store is read-only, so flushing and leaving now loses nothing.
    _flush_standard_streams()
    os._exit(EXIT_INTERRUPTED)


def _leave(code: int) -> int:
    """Ends an investigation's process once its report is out. Tearing the interpreter down cost ~0.1 s CPU, a
    tenth of a cold start, nearly all of it the garbage collector's full passes over every object the imports
    made, to free memory the OS takes back anyway. What an exit does that matters still happens: the atexit
    handlers run (temporary folders, logging, exporters) and the streams are flushed. A thread that a normal
    exit would wait for keeps the normal exit."""
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return code
    atexit._run_exitfuncs()
    _flush_standard_streams()
    os._exit(code)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it anyway
            pass


def _one_line(exc: BaseException) -> str:
    """`KeyError: 'x' (in inquest/render/text.py:42)`: the innermost frame of our own code names where."""
    where = ""
    root = Path(__file__).resolve().parent.parent
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            where = f" (in {path.relative_to(root)}:{frame.lineno})"
            break
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"
