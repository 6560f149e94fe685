"""Replay history: every run with its engine version, config hash and per-case results, in one SQLite
file under the replay data directory.

SQLite rather than DuckDB because a scheduled run writes while a person may read (the scorecard, a
`--compare`): SQLite waits for a lock where DuckDB refuses a second process outright. The tables are
plain so the history can be queried by hand: `sqlite3 .inquest/replay/history.sqlite 'SELECT * FROM runs'`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import inquest
from inquest.errors import InquestError
from inquest.replay.cases import Truth
from inquest.replay.scoring import AgentFailure, Answer, CaseResult, Summary, summarize

HISTORY_FILE = "history.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
  engine_version TEXT NOT NULL, config_hash TEXT NOT NULL,
  cases INTEGER NOT NULL, top1 REAL NOT NULL, top3 REAL NOT NULL, mrr REAL NOT NULL,
  p50_seconds REAL, p95_seconds REAL, service_top1 REAL NOT NULL, errors INTEGER NOT NULL,
  agent_failures TEXT NOT NULL, tokens INTEGER NOT NULL, cost_usd REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS case_results (
  run_id TEXT NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL, incident TEXT NOT NULL,
  truth_service TEXT, truth_change TEXT, truth_fault TEXT, status TEXT NOT NULL,
  rank_of_truth INTEGER, service_rank INTEGER, seconds REAL,
  top_service TEXT, top_change TEXT, top_confidence REAL, top_summary TEXT,
  root_cause_found INTEGER NOT NULL, hypotheses INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
  agent_failures TEXT NOT NULL, error TEXT,
  PRIMARY KEY (run_id, case_id)
);
"""

_CASE_COLUMNS = ("run_id", "case_id", "incident", "truth_service", "truth_change", "truth_fault", "status",
                 "rank_of_truth", "service_rank", "seconds", "top_service", "top_change", "top_confidence",
                 "top_summary", "root_cause_found", "hypotheses", "input_tokens", "output_tokens", "cost_usd",
                 "agent_failures", "error")


class HistoryError(InquestError):
    """The history file cannot be read or written, or a run asked for is not in it."""


@dataclass(frozen=True)
class Run:
    id: str
    started_at: datetime
    finished_at: datetime
    engine_version: str
    config_hash: str
    results: tuple[CaseResult, ...]

    @property
    def summary(self) -> Summary:
        return summarize(self.results)


def new_run_id(started_at: datetime) -> str:
    """Sortable by time, and unique even when two runs start in the same second."""
    return f"{started_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def engine_version() -> str:
    """inquest's version, plus `git describe` of the checkout it runs from when there is one."""
    source = Path(inquest.__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return inquest.__version__
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=source,
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git on PATH: the package version still says a lot
        return inquest.__version__
    tag = described.stdout.strip()
    return f"{inquest.__version__}+{tag}" if described.returncode == 0 and tag else inquest.__version__


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class History:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / HISTORY_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as con, con:
                con.executescript(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                found = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise HistoryError(f"replay history {self.path}: {exc}") from exc
        if found != SCHEMA_VERSION:
            raise HistoryError(f"replay history {self.path} has schema version {found}; this inquest reads "
                               f"{SCHEMA_VERSION}")

    def _connect(self) -> sqlite3.Connection:
        # A scheduled run may be writing: wait for its lock rather than fail.
        return sqlite3.connect(self.path, timeout=30)

    def save(self, run: Run) -> None:
        s = run.summary
        rows = [(run.id, r.case_id, r.incident, r.truth.service, r.truth.change, r.truth.fault, r.status,
                 r.rank_of_truth, r.service_rank, r.seconds, r.top.service if r.top else None,
                 r.top.change if r.top else None, r.top.confidence if r.top else None,
                 r.top.summary if r.top else None, int(r.root_cause_found), r.hypotheses, r.input_tokens,
                 r.output_tokens, r.cost_usd,
                 json.dumps([[f.agent, f.status, f.error, f.expected] for f in r.agent_failures]), r.error)
                for r in run.results]
        try:
            with closing(self._connect()) as con, con:
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                    run.id, _iso(run.started_at), _iso(run.finished_at), run.engine_version, run.config_hash,
                    s.cases, s.top1, s.top3, s.mrr, s.p50_seconds, s.p95_seconds, s.service_top1, s.errors,
                    json.dumps(dict(s.agent_failures)), s.tokens, s.cost_usd))
                con.executemany(f"INSERT INTO case_results ({', '.join(_CASE_COLUMNS)}) "
                                f"VALUES ({', '.join('?' * len(_CASE_COLUMNS))})", rows)
        except sqlite3.Error as exc:
            raise HistoryError(f"replay history {self.path}: cannot store run {run.id}: {exc}") from exc

    def run_ids(self) -> list[str]:
        """Stored runs, oldest first."""
        with closing(self._connect()) as con:
            return [r[0] for r in con.execute("SELECT id FROM runs ORDER BY started_at, id")]

    def runs(self, limit: int | None = None) -> list[Run]:
        """The most recent `limit` runs (all when None), oldest first, with their per-case results."""
        ids = self.run_ids()
        return self._load(ids[-limit:] if limit else ids)

    def get(self, run_id: str) -> Run:
        found = self._load([run_id])
        if not found:
            known = self.run_ids()
            listing = ", ".join(known[-5:]) if known else "none yet"
            raise HistoryError(f"no replay run {run_id!r} in {self.path} (most recent: {listing})")
        return found[0]

    def last(self, excluding: str | None = None) -> Run | None:
        """The most recent run other than `excluding` (the run just stored), or None."""
        ids = [i for i in self.run_ids() if i != excluding]
        return self._load(ids[-1:])[0] if ids else None

    def _load(self, ids: Sequence[str]) -> list[Run]:
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with closing(self._connect()) as con:
            runs = con.execute(f"SELECT id, started_at, finished_at, engine_version, config_hash FROM runs "
                               f"WHERE id IN ({marks}) ORDER BY started_at, id", list(ids)).fetchall()
            cases = con.execute(f"SELECT {', '.join(_CASE_COLUMNS)} FROM case_results WHERE run_id IN ({marks}) "
                                "ORDER BY rowid", list(ids)).fetchall()
        by_run: dict[str, list[CaseResult]] = {r[0]: [] for r in runs}
        for row in cases:
            by_run[row[0]].append(_case_result(dict(zip(_CASE_COLUMNS, row))))
        return [Run(id=r[0], started_at=datetime.fromisoformat(r[1]), finished_at=datetime.fromisoformat(r[2]),
                    engine_version=r[3], config_hash=r[4], results=tuple(by_run[r[0]])) for r in runs]


def _case_result(row: dict) -> CaseResult:
    top = None
    if row["top_confidence"] is not None:
        top = Answer(row["top_service"], row["top_change"], row["top_confidence"], row["top_summary"] or "")
    return CaseResult(
        case_id=row["case_id"], incident=row["incident"],
        truth=Truth(row["truth_service"], row["truth_change"], row["truth_fault"]), status=row["status"],
        rank_of_truth=row["rank_of_truth"], service_rank=row["service_rank"], seconds=row["seconds"], top=top,
        root_cause_found=bool(row["root_cause_found"]), hypotheses=row["hypotheses"],
        input_tokens=row["input_tokens"], output_tokens=row["output_tokens"], cost_usd=row["cost_usd"],
        agent_failures=tuple(AgentFailure(*f) for f in json.loads(row["agent_failures"])), error=row["error"],
    )
