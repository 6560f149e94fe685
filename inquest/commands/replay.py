"""`investigate replay [CASE...]`: replays past incidents with known answers, scores the engine, stores
the run in the history and writes the HTML scorecard; `--every CRON` keeps doing it on a schedule."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from inquest.config import Config, load_config
from inquest.exits import EXIT_ENGINE_FAILED, EXIT_OK, EXIT_REGRESSION

if TYPE_CHECKING:
    from inquest.replay.history import Run
    from inquest.replay.scoring import Comparison

FORMATS = ("text", "json", "markdown", "html")
HISTORY_SHOWN = 50  # runs drawn in the scorecard's charts and grid

DESCRIPTION = """\
Replays incidents with a known root cause (the scenario library by default; or case folders, archives
of them, or case ids) through the engine, several at once, and scores it: top-1/top-3 accuracy, mean
reciprocal rank, time to report, tokens and cost, per-agent failures. Each run is stored in the
history under replay.data_dir, and the HTML scorecard is written there.

  investigate replay                          the whole scenario library
  investigate replay --compare last           ... and what got better or worse since the last run
  investigate replay n-plus-one-deploy        one case of the library
  investigate replay past-incidents.tar.gz    cases exported with ingest
  investigate replay --every "0 3 * * *"      every day at 03:00, until SIGTERM
  investigate replay --fit-calibration        refit the confidence calibration on the library and dev splits

exit codes: 0 no regression and no failures, 2 usage or configuration error,
            4 a regression against the compared run beyond replay.tolerance,
            5 agents failed more often than replay.max_agent_failures allows, or a case could not run"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investigate replay", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help="case folder, folder of cases, .tar.gz of cases, or a case id (default: replay.cases, "
                             "else the scenario library)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="scorecard format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the scorecard to FILE instead of standard output")
    parser.add_argument("--html", metavar="FILE", help="where to write the HTML scorecard "
                                                       "(default: scorecard.html in replay.data_dir)")
    parser.add_argument("--compare", metavar="last|RUN_ID", help="compare with the last stored run or the one named")
    parser.add_argument("--every", metavar="CRON", help="run on this cron schedule until SIGTERM")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="cases investigated at once (default: replay.parallelism)")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $INQUEST_CONFIG, ./config.yaml)")
    parser.add_argument("--fit-calibration", action="store_true",
                        help="refit the confidence calibration on the library and the dev splits of the datasets "
                             "(Nezha's first day, PetShop's train split) and save it in the package")
    parser.add_argument("--nezha", metavar="PATH", type=Path, default=Path("../shared/datasets/nezha-onlineboutique.tar.xz"),
                        help="with --fit-calibration: the Nezha archive (default: %(default)s)")
    parser.add_argument("--petshop", metavar="PATH", type=Path, default=Path("../shared/datasets/petshop.tar.xz"),
                        help="with --fit-calibration: the PetShop archive (default: %(default)s)")
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _log(message: str) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} replay: {message}", file=sys.stderr, flush=True)


def main(args: list[str]) -> int:
    parser = build_parser()
    opts = parser.parse_args(args)
    if opts.jobs is not None and opts.jobs < 1:
        parser.error("--jobs must be at least 1")
    config = load_config(opts.config)
    if opts.fit_calibration:
        from inquest.benchmarks.calibrate import describe, refit

        model = refit(config, config.resolve(config.replay.data_dir), {"nezha": opts.nezha, "petshop": opts.petshop},
                      _say)
        print(describe(model))
        return EXIT_OK
    if opts.every is None:
        return replay_once(opts, config)
    from inquest.replay.cases import discover_cases
    from inquest.replay.schedule import Scheduler

    scheduler = Scheduler(opts.every, lambda: replay_once(opts, config), log=_log)
    # A case list that is wrong now would fail every night: refuse it before the loop starts.
    discover_cases(opts.cases or [str(config.resolve(p)) for p in config.replay.cases],
                   config.resolve(config.replay.data_dir))
    return scheduler.run()


def replay_once(opts: argparse.Namespace, config: Config) -> int:
    from inquest.replay.cases import discover_cases
    from inquest.replay.history import History
    from inquest.replay.runner import replay
    from inquest.replay.scoring import Tolerance, compare

    settings = config.replay
    data_dir = config.resolve(settings.data_dir)
    history = History(data_dir)
    against = None
    if opts.compare:  # resolved before the run, so a wrong id costs nothing and "last" means the previous run
        against = history.last() if opts.compare == "last" else history.get(opts.compare)
        if against is None:
            _say("nothing to compare with yet: this is the first stored run")
    sources = opts.cases or [str(config.resolve(p)) for p in settings.cases]
    cases = discover_cases(sources, data_dir)
    _say(f"replaying {len(cases)} case(s)…")
    run = replay(cases, config, data_dir, jobs=opts.jobs or settings.parallelism, plugins=settings.plugins, say=_say)
    history.save(run)
    comparison = None
    if against is not None:
        comparison = compare(against.id, against.results, run.results, Tolerance(**settings.tolerance.model_dump()))

    from inquest.render import scorecard

    html_path = Path(opts.html) if opts.html else data_dir / "scorecard.html"
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(scorecard.html(run, history.runs(limit=HISTORY_SHOWN), comparison), encoding="utf-8")
    _say(f"run {run.id} stored in {history.path}; scorecard written to {html_path}")
    _emit(run, comparison, opts.format, opts.output, html_path)
    return verdict(run, comparison, settings.max_agent_failures)


def verdict(run: Run, comparison: Comparison | None, max_agent_failures: int) -> int:
    """Regressions first (the question a schedule asks), then an engine that failed on its own."""
    if comparison is not None and comparison.regressed:
        return EXIT_REGRESSION
    failures = sum(1 for r in run.results for f in r.agent_failures if not f.expected)
    if failures > max_agent_failures or run.summary.errors:
        return EXIT_ENGINE_FAILED
    return EXIT_OK


def _emit(run: Run, comparison: Comparison | None, fmt: str, output: str | None, html_path: Path) -> None:
    from inquest.render import scorecard

    if fmt == "json":
        document = scorecard.to_json(run, comparison)
        document["scorecard_html"] = str(html_path)
        text = json.dumps(document, indent=2) + "\n"
    elif fmt == "markdown":
        text = scorecard.markdown(run, comparison)
    elif fmt == "html":
        text = html_path.read_text(encoding="utf-8")
    elif output is None and sys.stdout.isatty():
        from rich.console import Console

        scorecard.render_text(run, comparison, Console())
        return
    else:
        text = scorecard.text(run, comparison)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        _say(f"scorecard written to {output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
