"""The log specialist on small worlds built for it: logs only (no spans, as in many real stacks), each
request a trace whose services log in the order a failure travels — the callee first, then its callers.

frontend -> checkout -> payment, beside an unrelated catalog. Faults are planted in payment."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inquest.agents.base import Deps
from inquest.agents.logs import FLAG, LogsAgent
from inquest.config import Config, InvestigationConfig, LogsConfig
from inquest.coordinator.investigation import investigate
from inquest.core import Incident, Scope, Window
from inquest.tools.backends.embedded_schema import StoreWriter
from inquest.tools.backends.embedded_store import EmbeddedStore
from inquest.tools.code_history import CodeHistory

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BASELINE = Window(T0, T0 + timedelta(minutes=30))
WINDOW = Window(T0 + timedelta(minutes=35), T0 + timedelta(minutes=45))


@dataclass(frozen=True)
class Fault:
    kind: str  # "silent_exception": payment takes another code path, logs no ERROR; "error": payment logs ERROR
    share: float = 0.6


def _line(at: datetime, trace: str | None, severity: str, service: str, body: str) -> tuple:
    number = {"INFO": 9, "WARN": 13, "ERROR": 17}[severity]
    return (at, trace, None, severity, number, service, f"{service}-pod-1", body, None)


def _request(rng: random.Random, at: datetime, n: int, fault: Fault | None, traced: bool) -> list[tuple]:
    trace = f"{n:032x}" if traced else None
    order, user, ms = 4_000_000 + n, f"u-{rng.randint(1, 9999):05d}", rng.randint(20, 90)
    def step(k):
        return at + timedelta(milliseconds=10 * k)
    lines = [_line(step(0), trace, "INFO", "payment", f"loaded card profile for user {user}")]
    failed = fault is not None and rng.random() < fault.share
    if not failed:
        lines.append(_line(step(1), trace, "INFO", "payment", f"charge authorised for order {order} in {ms}ms"))
        lines.append(_line(step(2), trace, "INFO", "checkout", f"checkout completed order_id={order} user={user}"))
        lines.append(_line(step(3), trace, "INFO", "frontend", f"10.0.{n % 200}.7 - \"POST /checkout HTTP/1.1\" 200"))
        return lines
    if fault.kind == "silent_exception":  # the exception is swallowed into another path, logged at INFO
        lines.append(_line(step(1), trace, "INFO", "payment", f"rate table missing for currency EUR, answering "
                                                               f"without a charge id for order {order}"))
    else:
        lines.append(_line(step(1), trace, "ERROR", "payment", f"charge failed: NullPointerException in "
                                                                f"RateTable.lookup for order {order}"))
    lines.append(_line(step(2), trace, "ERROR", "checkout", f"payment call failed: 500 Internal Server Error "
                                                             f"order_id={order}"))
    for k in (3, 4):  # the edge logs twice per failure: it is the loudest, and still not the cause
        lines.append(_line(step(k), trace, "ERROR", "frontend", f"checkout failed: upstream returned 500 (try {k - 2})"))
    lines.append(_line(step(5), trace, "INFO", "frontend", f"10.0.{n % 200}.7 - \"POST /checkout HTTP/1.1\" 500"))
    return lines


def build(path: Path, fault: Fault | None, traced: bool = True, seed: int = 7) -> Path:
    rng = random.Random(seed)
    rows: list[tuple] = []
    at, n = T0, 0
    while at < WINDOW.end:
        n += 1
        in_window = WINDOW.start <= at < WINDOW.end
        rows += _request(rng, at, n, fault if in_window else None, traced)
        if n % 3 == 0:
            rows.append(_line(at + timedelta(milliseconds=5), f"c{n:031x}" if traced else None, "INFO", "catalog",
                              f"listed {rng.randint(5, 40)} products for page {rng.randint(1, 9)}"))
        at += timedelta(milliseconds=rng.randint(1000, 3000))
    with StoreWriter(path) as writer:
        writer.load("logs", rows)
        writer.finish()
    return path


def _deps(path: Path, tmp_path: Path, agents: tuple[str, ...] = ("logs",), logs: LogsConfig | None = None) -> Deps:
    config = Config(base_dir=tmp_path, investigation=InvestigationConfig(agents=agents), logs=logs or LogsConfig())
    return Deps(backend=EmbeddedStore(path), code=CodeHistory(lambda s: tmp_path), config=config)


INCIDENT = Incident("INC-7", "checkout is failing", "frontend", WINDOW.start, WINDOW)
SCOPE = Scope(window=WINDOW, baseline=BASELINE, lookback=Window(T0, WINDOW.end))


def test_an_exception_that_logs_no_error_in_its_service_is_found_from_its_template_mix(tmp_path):
    deps = _deps(build(tmp_path / "s.duckdb", Fault("silent_exception")), tmp_path)
    finding = LogsAgent().investigate(INCIDENT, SCOPE, deps)
    assert [h.service for h in finding.hypotheses] == ["payment"]  # not the callers logging the ERRORs
    top = finding.hypotheses[0]
    said = " ".join(e.summary for e in finding.evidence if e.id in top.supports)
    assert "rate table missing" in said and "new" in said  # the code path that started
    assert "charge authorised" in said  # and the one that stopped
    payment = next(e for e in finding.evidence if e.data.get("service") == "payment")
    assert payment.data["errors"] == 0  # the faulty service itself logged no ERROR
    scores = {a.service: a.score for a in finding.anomalies if a.signal == "log_templates"}
    assert scores["payment"] >= FLAG > max(scores.get("checkout", 0), scores.get("frontend", 0))
    # The whole investigation, as a user runs it, ranks payment first.
    report = investigate(INCIDENT, _deps(tmp_path / "s.duckdb", tmp_path, ("trace", "logs", "deployment")))
    assert report.hypotheses[0].service == "payment"


def test_error_lines_relayed_by_callers_are_attributed_to_the_originating_service(tmp_path):
    deps = _deps(build(tmp_path / "s.duckdb", Fault("error")), tmp_path)
    finding = LogsAgent().investigate(INCIDENT, SCOPE, deps)
    assert [h.service for h in finding.hypotheses] == ["payment"]
    assert finding.hypotheses[0].fault == "errors"
    relay = next(e for e in finding.evidence if "relay" in e.summary and e.data.get("origin"))
    assert relay.data["origin"] == "payment" and set(relay.data["relays"]) == {"checkout", "frontend"}
    assert "NullPointerException" in " ".join(e.summary for e in finding.evidence)
    assert finding.hypotheses[0].query and "log_origins" not in finding.hypotheses[0].query  # real SQL
    assert "logs" in finding.hypotheses[0].query


def test_logs_without_trace_ids_still_count_for_their_service(tmp_path):
    deps = _deps(build(tmp_path / "s.duckdb", Fault("silent_exception"), traced=False), tmp_path)
    finding = LogsAgent().investigate(INCIDENT, SCOPE, deps)
    scores = {a.service: a.score for a in finding.anomalies if a.signal == "log_templates"}
    assert scores["payment"] >= FLAG
    assert "payment" in {h.service for h in finding.hypotheses}


def test_a_store_that_samples_busy_services_still_finds_the_origin_and_says_it_sampled(tmp_path):
    deps = _deps(build(tmp_path / "s.duckdb", Fault("error", share=0.8)), tmp_path,
                 logs=LogsConfig(sample_lines_per_service=400))
    finding = LogsAgent().investigate(INCIDENT, SCOPE, deps)
    assert [h.service for h in finding.hypotheses] == ["payment"]
    assert any("sample of whole traces" in e.data.get("sample", "") for e in finding.evidence)


def test_a_healthy_world_gives_no_blame(tmp_path):
    deps = _deps(build(tmp_path / "s.duckdb", None), tmp_path)
    finding = LogsAgent().investigate(INCIDENT, SCOPE, deps)
    assert finding.status == "ok"
    assert not finding.hypotheses
    assert all(a.score < FLAG for a in finding.anomalies)
