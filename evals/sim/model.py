"""A scenario as data: the shop's topology, the changes made to it, the faults planted in it, the alert.

Times are integer microseconds since midnight UTC of the scenario's day (negative for earlier days), as
in the demo world. Durations in specs are milliseconds. Nothing here does anything: `build` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from inquest.errors import InquestError
from inquest.evals.sim.people import Person

Range = tuple[float, float]  # milliseconds, drawn uniformly

US, MS = 1_000_000, 1000
MINUTE = 60 * US
BUCKET = 30 * US  # the metrics interval, of the demo world and of every simulated scenario
DAY = 24 * 60 * MINUTE


class ScenarioError(InquestError):
    """A scenario's data does not fit together; the message names the scenario and what."""


def hms(hour: int, minute: int, second: int = 0) -> int:
    return ((hour * 60 + minute) * 60 + second) * US


def at_time(day: date, us: int) -> datetime:
    """The naive UTC datetime `us` microseconds after midnight of `day`."""
    return datetime.combine(day, time()) + timedelta(microseconds=us)


# -- the call graph ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """An HTTP call to another service: a CLIENT span here, the callee's SERVER span below it."""

    service: str
    operation: str
    timeout_ms: float
    on_client_error: str = "ignore"  # a 4xx answer: "ignore" it, or "stop" and return it
    required: bool = True  # whether a failure (5xx, timeout, refused) fails the caller
    attempts: int = 1  # the caller's retry policy: attempts per call
    backoff_ms: float = 0.0


@dataclass(frozen=True)
class Query:
    """A statement on a database: a CLIENT span with db.system and db.statement."""

    db: str
    name: str
    statement: str
    ms: Range
    rows: int | None = 1  # None: one row per cart item
    per_item: bool = False  # run once per cart item (N+1)


@dataclass(frozen=True)
class External:
    """A call to something without instrumentation of its own (Stripe, the SMTP relay): a CLIENT span with
    peer.service and no child. Noise: `slow_share` of calls take `slow_ms`; `fail_rate` fail."""

    peer: str
    name: str
    ms: Range
    attrs: str
    timeout_ms: float
    method: str = ""
    slow_share: float = 0.0
    slow_ms: Range = (0.0, 0.0)
    fail_rate: float = 0.0
    fail_status: int = 0
    fail_message: str = ""
    declines: float = 0.0  # share answered 402 (a card declined: not an error)


@dataclass(frozen=True)
class Publish:
    """A message to a queue: a PRODUCER span here, the consumer's CONSUMER span as its child, later."""

    topic: str
    consumer: tuple[str, str]  # (service, operation)
    attrs: str


Step = Call | Query | External | Publish


@dataclass(frozen=True)
class Outcome:
    """A steady, unrelated outcome of an operation (noise): e.g. 1% stock lookups answer 404."""

    rate: float
    status: int
    severity: str  # log severity: WARN or ERROR
    message: str  # the log line, and for an error the span's status message
    error: bool = False
    detail: str = ""  # appended to the log line only, may use {sku} {order_id} {user}: an exception's
    # message is the same for every request, the line logging it says which request it was


@dataclass(frozen=True)
class Operation:
    service: str
    name: str  # span name, "POST /orders"
    method: str
    route: str
    pre_ms: Range  # own work before the first step
    post_ms: Range  # own work after the last step
    steps: tuple[Step, ...] = ()
    kind: str = "SERVER"
    ok_status: int = 200
    pool: str | None = None  # the database whose connection pool wraps the steps
    weight: float = 1.0  # CPU work per request, relative to the service's other operations
    lognormal: bool = False  # pre_ms is (median, sigma) of a log-normal: a slow, jumpy endpoint
    outcomes: tuple[Outcome, ...] = ()
    flap: tuple[int, int, Range] | None = None  # every N s, for M s, own work grows by Range (cache refills)
    info: str = ""  # the INFO line a sampled successful request logs


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    pods: int
    cpu: float  # CPU utilisation at nominal traffic
    memory_mb: float
    pool_size: int = 0  # connections per pod, when it owns a pool
    pool_timeout_ms: float = 0.0
    memory_limit_mb: float = 1024.0


@dataclass(frozen=True)
class Route:
    operation: str  # the entry service's operation
    share: float


@dataclass(frozen=True)
class Topology:
    entry: str
    services: tuple[ServiceSpec, ...]
    operations: tuple[Operation, ...]
    routes: tuple[Route, ...]
    databases: dict[str, float]  # db -> its utilisation at nominal traffic

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise ScenarioError(f"topology has no service {name!r}")

    def with_service(self, name: str, **changes: Any) -> Topology:
        """The same topology with one service's spec changed (a busier service, a smaller pool)."""
        self.service(name)
        services = tuple(replace(s, **changes) if s.name == name else s for s in self.services)
        return replace(self, services=services)


# -- when a fault acts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """Either from `start` (ramping up over `ramp_s`) until `end`, or on the pods `after` a change rolled
    out to (a deploy or config rollout replaces pods one by one, so the effect spreads with it)."""

    start: int | None = None
    ramp_s: float = 0.0
    end: int | None = None
    after: str | None = None  # a change id
    share: float = 1.0  # of requests, where it applies (a flag at 30%)

    def __post_init__(self) -> None:
        if (self.start is None) == (self.after is None):
            raise ScenarioError("When needs exactly one of start= (a time) or after= (a change id)")


# -- faults: effects in time ---------------------------------------------------------------------


@dataclass(frozen=True)
class SlowOperation:
    service: str
    operation: str
    add_ms: Range
    when: When


@dataclass(frozen=True)
class FailOperation:
    """Errors that originate in an operation (a bug): it answers `status` with `message`."""

    service: str
    operation: str
    rate: float
    status: int
    message: str
    when: When


@dataclass(frozen=True)
class SwapStatement:
    """An operation runs `new` instead of the query whose statement is `old` (query text changes, N+1)."""

    service: str
    operation: str
    old: str
    new: tuple[Query, ...]
    when: When


@dataclass(frozen=True)
class ExtraCalls:
    """An operation makes `count` more calls per request (a flag turning on a chatty code path)."""

    service: str
    operation: str
    call: Call
    count: tuple[int, int]
    when: When


@dataclass(frozen=True)
class TableLock:
    """A DDL statement holds an exclusive lock on `table` in `db` from start to end: every statement on
    the table waits for it, or fails when its statement timeout expires first."""

    db: str
    table: str
    ddl: str
    service: str  # whose migration job ran the DDL
    statement_timeout_ms: float
    when: When


@dataclass(frozen=True)
class PoolSize:
    service: str
    size: int
    when: When


@dataclass(frozen=True)
class HostSteal:
    """Another tenant of one pod's node takes `steal` of its CPU: a noisy neighbour."""

    service: str
    slot: int
    steal: float
    when: When


@dataclass(frozen=True)
class MemoryLeak:
    """Memory grows by `mb_per_min` (±20% per pod) until the container's limit: OOM-killed, restarted."""

    service: str
    mb_per_min: float
    when: When


@dataclass(frozen=True)
class TrafficSurge:
    multiplier: float
    when: When


@dataclass(frozen=True)
class Retries:
    """The caller's retry policy for one callee changes."""

    service: str
    operation: str
    callee: tuple[str, str]
    attempts: int
    backoff_ms: float
    when: When


@dataclass(frozen=True)
class ClientTimeout:
    service: str
    peer: str  # a callee service, or an external peer
    timeout_ms: float
    when: When


@dataclass(frozen=True)
class PeerOutage:
    """An uninstrumented dependency fails `rate` of calls: slowly (`ms`) with `status` and `message`."""

    peer: str
    rate: float
    status: int
    message: str
    ms: Range
    when: When


@dataclass(frozen=True)
class DatabaseFailover:
    """The database drops connections: statements fail with `message` (a failover, a maintenance restart)."""

    db: str
    rate: float
    message: str
    when: When


Effect = (SlowOperation | FailOperation | SwapStatement | ExtraCalls | TableLock | PoolSize | HostSteal |
          MemoryLeak | TrafficSurge | Retries | ClientTimeout | PeerOutage | DatabaseFailover)


# -- changes, alert, scenario --------------------------------------------------------------------


Edit = tuple[str, str, str]  # (path, old text, new text); old "" appends new, a missing file is created


@dataclass(frozen=True)
class ChangeSpec:
    id: str
    at: int
    service: str
    kind: str  # deploy, config, feature_flag, migration, scale, rollback
    author: Person
    message: str = ""  # the commit message; no message and no edits: no commit (a flag flipped in a UI)
    edits: tuple[Edit, ...] = ()
    version: str | None = None
    description: str = ""  # for non-deploys: what the change record says
    rollout: bool | None = None  # replaces pods; default: deploys and config changes do
    merged_min: int = 35  # the commit lands this long before the change

    @property
    def replaces_pods(self) -> bool:
        return self.rollout if self.rollout is not None else self.kind in ("deploy", "config", "rollback")


@dataclass(frozen=True)
class Alert:
    """What pages: `signal` ("errors" or "latency") of `operation`'s SERVER spans at `service`, measured
    over the last `over_minutes`, above `threshold` (a share, or milliseconds of p95) at `for_minutes`
    consecutive evaluations, one a minute."""

    incident_id: str
    service: str
    operation: str
    signal: str
    threshold: float
    title: str
    for_minutes: int = 3
    ticket: str | None = None
    over_minutes: int = 1  # longer for bursty faults: errors in bursts page on their rate over a few minutes


@dataclass(frozen=True)
class Truth:
    service: str
    change: str | None
    fault: str


@dataclass(frozen=True)
class Scenario:
    name: str
    case_id: str
    day: date
    summary: str  # one line: what happened
    alert: Alert
    truth: Truth
    changes: tuple[ChangeSpec, ...]
    effects: tuple[Effect, ...]
    notes: str
    topology: Topology | None = None  # None: the shop as it is
    base_rate: float = 3.0  # sampled entry requests per second at scale 1.0
    case_scale: float = 0.5  # the scale its replay case builds it at: small enough to build in seconds
