"""What a scenario must satisfy before it is built: every name it uses exists, every effect can act.

A scenario is data someone writes by hand; a typo in an operation's name would otherwise build a world
in which the fault silently never happens.
"""

from __future__ import annotations

from inquest.evals.sim.model import (
    Call,
    ClientTimeout,
    External,
    ExtraCalls,
    MemoryLeak,
    PeerOutage,
    Retries,
    Scenario,
    ScenarioError,
    TableLock,
)
from inquest.evals.sim.shop import SHOP

FAULT_KINDS = ("n_plus_one", "slow_query", "pool_exhaustion", "lock_wait", "memory_leak", "cpu_saturation",
               "noisy_neighbour", "dependency_outage", "retry_storm", "bad_deploy", "feature_flag", "traffic_surge")


def validate(scenario: Scenario) -> None:
    """Raises ScenarioError naming the scenario and the first thing in it that does not fit."""
    topology = scenario.topology or SHOP
    services = {s.name for s in topology.services}
    operations = {(op.service, op.name) for op in topology.operations}
    peers = {step.peer for op in topology.operations for step in op.steps if isinstance(step, External)}
    databases = set(topology.databases)
    changes = {}
    for change in scenario.changes:
        if change.id in changes:
            raise ScenarioError(f"scenario {scenario.name}: change id {change.id!r} is used twice")
        if change.service not in services:
            raise ScenarioError(f"scenario {scenario.name}: change {change.id} names unknown service "
                                f"{change.service!r}")
        changes[change.id] = change

    def fail(effect: object, what: str) -> ScenarioError:
        return ScenarioError(f"scenario {scenario.name}: {type(effect).__name__} {what}")

    for effect in scenario.effects:
        service = getattr(effect, "service", None)
        operation = getattr(effect, "operation", None)
        if service is not None and service not in services:
            raise fail(effect, f"names unknown service {service!r} (known: {', '.join(sorted(services))})")
        if operation is not None and (service, operation) not in operations:
            raise fail(effect, f"names unknown operation {operation!r} of {service}")
        callee = (effect.call.service, effect.call.operation) if isinstance(effect, ExtraCalls) and \
            isinstance(effect.call, Call) else effect.callee if isinstance(effect, Retries) else None
        if callee is not None and callee not in operations:
            raise fail(effect, f"calls unknown operation {callee[1]!r} of {callee[0]}")
        if isinstance(effect, (PeerOutage, ClientTimeout)) and effect.peer not in peers | services:
            raise fail(effect, f"names unknown peer {effect.peer!r}")
        if isinstance(effect, TableLock) and (effect.db not in databases or effect.when.end is None):
            raise fail(effect, f"needs a known database (not {effect.db!r}) and an end")
        after = effect.when.after
        if after is not None:
            if after not in changes:
                raise fail(effect, f"waits for change {after!r}, which the scenario does not make")
            if not changes[after].replaces_pods:
                raise fail(effect, f"waits for change {after!r}, which rolls out no pods: give it a start= instead")
        if isinstance(effect, MemoryLeak) and effect.mb_per_min <= 0:
            raise fail(effect, "needs a positive leak rate")
    alert = scenario.alert
    if (alert.service, alert.operation) not in operations or alert.signal not in ("errors", "latency"):
        raise ScenarioError(f"scenario {scenario.name}: the alert watches {alert.signal!r} of unknown operation "
                            f"{alert.operation!r} of {alert.service}")
    truth = scenario.truth
    if truth.change is not None and truth.change not in changes:
        raise ScenarioError(f"scenario {scenario.name}: the truth names change {truth.change!r}, "
                            "which it does not make")
    if truth.fault not in FAULT_KINDS:
        raise ScenarioError(f"scenario {scenario.name}: fault {truth.fault!r} is not one of {', '.join(FAULT_KINDS)}")
