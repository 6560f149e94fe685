"""Every kind of fault Inquest names, in one place: what it is called, how a report words it, whether
a change of ours can cause it, whether it shapes the load others see, and what to try first.

A hypothesis carries its fault as the plain name (`Hypothesis.fault`, the JSON report's `fault`), so the
report schema is unchanged; `Fault` members are `str`s with that name, so they can be handed anywhere a
name goes. Agents name faults through `Fault`; ranking, mitigation and the renderers look the name up
here instead of keeping their own tables. Imports nothing of ours, like `inquest.core`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    # the database
    N_PLUS_ONE = "n_plus_one"
    SLOW_QUERY = "slow_query"
    LOCK_WAIT = "lock_wait"
    POOL_EXHAUSTION = "pool_exhaustion"
    # where trouble starts in the traces, and what it sends downstream
    ERRORS = "errors"
    LATENCY = "latency"
    LOAD_AMPLIFICATION = "load_amplification"
    DEPENDENCY_OUTAGE = "dependency_outage"
    TRAFFIC_SURGE = "traffic_surge"
    LOG_TEMPLATES = "log_templates"  # a service's log-template mix changed: a code path stopped or started
    CODE_PATH = "code_path"  # what a service does per request it serves changed (its spans' operation mix)
    # resources
    MEMORY_LEAK = "memory_leak"
    CPU_SATURATION = "cpu_saturation"
    NOISY_NEIGHBOUR = "noisy_neighbour"
    TRAFFIC_SHIFT = "traffic_shift"
    # risky code, as the code-diff agent's rules classify a hunk (agents/diff_rules.py)
    QUERY_IN_LOOP = "query_in_loop"
    INDEX_HINT_REMOVED = "index_hint_removed"
    QUERY_CHANGED = "query_changed"
    TIMEOUT_CHANGED = "timeout_changed"
    POOL_SIZE_CHANGED = "pool_size_changed"
    RETRY_POLICY_CHANGED = "retry_policy_changed"
    RESOURCE_LIMIT_CHANGED = "resource_limit_changed"
    FEATURE_FLAG_DEFAULT = "feature_flag_default"
    BLOCKING_MIGRATION = "blocking_migration"
    UNBOUNDED_CACHE = "unbounded_cache"
    CODE_CHANGE = "code_change"  # a commit judged as a whole (e.g. one that changes nothing that runs)
    # a change judged by its timing and place (the deployment agent): bad_ + the change's kind
    CHANGE_AFTER_ONSET = "change_after_onset"
    BAD_DEPLOY = "bad_deploy"
    BAD_CONFIG = "bad_config"
    BAD_FEATURE_FLAG = "bad_feature_flag"
    BAD_MIGRATION = "bad_migration"
    BAD_SCALE = "bad_scale"
    BAD_ROLLBACK = "bad_rollback"

    @classmethod
    def bad_change(cls, kind: str) -> Fault:
        """The fault of a change judged by when and where it landed, by the change's kind."""
        return cls(f"bad_{kind}")

    @property
    def wording(self) -> str | None:
        """How a headline names it ("… introduced an N+1 query pattern"); None: too vague to headline."""
        return _TRAITS.get(self, _PLAIN).wording

    @property
    def observed(self) -> str | None:
        """How an agent lists it among what it measured, where that differs from the headline's words."""
        traits = _TRAITS.get(self, _PLAIN)
        return traits.observed or traits.wording

    @property
    def external(self) -> bool:
        """No change of ours causes it: its blame is never folded into a change on the same service."""
        return _TRAITS.get(self, _PLAIN).external

    @property
    def shapes_load(self) -> bool:
        """It says where load or failure comes from, which says more than the saturation it causes below."""
        return _TRAITS.get(self, _PLAIN).shapes_load

    @property
    def signal(self) -> str:
        """The signal it is read from, for fusing it with measured anomalies ("cpu", "traffic", ...);
        a fault with no signal of its own is its own signal."""
        return _TRAITS.get(self, _PLAIN).signal or self.value

    def mitigation(self, service: str) -> str | None:
        """The first thing to try when no change is blamed; None: nothing specific to this fault."""
        template = _TRAITS.get(self, _PLAIN).mitigation
        return template.format(service=service) if template else None


def lookup(name: str | None) -> Fault | None:
    """The fault of that name, or None for no name or one we do not know (the LLM mode's model may
    propose any label; it travels on, but nothing here is said about it)."""
    try:
        return Fault(name) if name else None
    except ValueError:
        return None


def named(name: str | None) -> Fault | None:
    """The fault of that name; an unknown name is a bug in the agent that gave it."""
    if name is None:
        return None
    try:
        return Fault(name)
    except ValueError:
        raise ValueError(f"unknown fault {name!r}: add it to inquest/faults.py") from None


@dataclass(frozen=True)
class _Traits:
    wording: str | None = None
    external: bool = False
    shapes_load: bool = False
    mitigation: str | None = None  # a template with {service}
    observed: str | None = None
    signal: str | None = None


_PLAIN = _Traits()

_TRAITS: dict[Fault, _Traits] = {
    Fault.N_PLUS_ONE: _Traits("an N+1 query pattern",
                              mitigation="scale {service} and its database for now; batch the per-item query"),
    Fault.SLOW_QUERY: _Traits("a regressed query",
                              mitigation="restore the query plan (index or hint) for {service}'s regressed statement"),
    Fault.LOCK_WAIT: _Traits("lock contention", observed="lock waits",
                             mitigation="find and end the blocking transaction on {service}'s database; pause the "
                                        "migration if one runs"),
    Fault.POOL_EXHAUSTION: _Traits("connection-pool exhaustion",
                                   mitigation="raise {service}'s connection-pool headroom or shed load, then find "
                                              "what holds connections"),
    Fault.ERRORS: _Traits("errors originating there", mitigation="fail over or degrade {service}; its errors start there"),
    Fault.LATENCY: _Traits("added latency", mitigation="add capacity to {service} or shed load; time is being added there"),
    Fault.LOAD_AMPLIFICATION: _Traits("a surge of calls it sends downstream", shapes_load=True, signal="amplification"),
    Fault.DEPENDENCY_OUTAGE: _Traits("an outage of a dependency outside our systems", external=True, shapes_load=True,
                                     signal="errors"),
    Fault.TRAFFIC_SURGE: _Traits("a traffic surge", external=True, shapes_load=True, signal="traffic"),
    Fault.TRAFFIC_SHIFT: _Traits(signal="traffic"),
    Fault.LOG_TEMPLATES: _Traits("a changed mix of log templates (a code path stopped or started)",
                                 observed="changed log templates"),
    Fault.CODE_PATH: _Traits("a changed code path (what it calls per request stopped or started)",
                             observed="changed calls per request",
                             mitigation="roll back {service}'s latest change; what it does per request changed"),
    Fault.MEMORY_LEAK: _Traits("a memory leak (memory climbing, containers restarting)", signal="memory"),
    Fault.CPU_SATURATION: _Traits("CPU saturation", signal="cpu"),
    Fault.NOISY_NEIGHBOUR: _Traits("CPU saturation on one host (a noisy neighbour)", external=True, shapes_load=True,
                                   signal="cpu"),
    Fault.QUERY_IN_LOOP: _Traits("a query inside a loop"),
    Fault.INDEX_HINT_REMOVED: _Traits("a query that lost its index hint"),
    Fault.TIMEOUT_CHANGED: _Traits("a changed timeout"),
    Fault.POOL_SIZE_CHANGED: _Traits("a changed pool size"),
    Fault.RETRY_POLICY_CHANGED: _Traits("a changed retry policy"),
    Fault.FEATURE_FLAG_DEFAULT: _Traits("a changed flag default"),
    Fault.BLOCKING_MIGRATION: _Traits("a migration that locks a table"),
    Fault.UNBOUNDED_CACHE: _Traits("an unbounded in-memory cache", signal="memory"),
}

# Which agents' fault labels are most specific, when several agents describe the same candidate.
AUTHORITY: tuple[str, ...] = ("db", "code_diff", "metrics", "trace", "deployment")
