"""The changes every scenario's afternoon sits among: yesterday's releases (what a rollback returns to),
this morning's, and the harmless deploys, config changes and flags of the hour before the incident.

`Timeline` hands out versions in order, so a scenario only says what changed, where and when.
"""

from __future__ import annotations

from inquest.evals.sim.model import DAY, ChangeSpec, Edit, hms
from inquest.evals.sim.people import DANA, KEIKO, LENA, MARCUS, PRIYA, Person
from inquest.evals.sim.repo import initial_versions
from inquest.evals.sim.sources import HARMLESS, changelog

OWNER: dict[str, Person] = {"frontend": MARCUS, "catalog": KEIKO, "checkout": DANA, "orders": DANA,
                            "payments": LENA, "inventory": PRIYA, "notifications": PRIYA}

_YESTERDAY = (  # service, hh, mm, changelog line
    ("inventory", 13, 40, "stock lookups log the tenant"),
    ("orders", 14, 10, "reject orders with an empty cart"),
    ("frontend", 14, 55, "lazy-load product images"),
    ("catalog", 15, 20, "cap search page size at 24"),
    ("checkout", 15, 45, "pass an idempotency key to payments"),
    ("payments", 16, 30, "retry Stripe 429s once"),
    ("notifications", 17, 5, "batch SMTP connections"),
)
_THIS_MORNING = (
    ("frontend", 9, 12, "escape the search query in the results header"),
    ("orders", 9, 40, "log the tenant with each created order"),
    ("inventory", 10, 5, "make the pool timeout configurable"),
    ("payments", 10, 31, "record the Stripe request id on failures"),
)


def _bump(version: str, part: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


class Timeline:
    """The scenario's changes, oldest first, starting with the shared history."""

    def __init__(self) -> None:
        self.version = initial_versions()
        self.changes: list[ChangeSpec] = []
        self._harmless_used: dict[str, set[int]] = {}
        for service, hh, mm, line in _YESTERDAY:
            self.release(service, hms(hh, mm) - DAY, line)
        for service, hh, mm, line in _THIS_MORNING:
            self.release(service, hms(hh, mm), line)

    def release(self, service: str, at: int, line: str) -> ChangeSpec:
        """A routine patch release: a CHANGELOG line and the version bump."""
        version = _bump(self.version[service], "patch")
        return self.deploy(service, at, (f"{service}: {line}\n", (changelog(service, version, line),)),
                           version=version)

    def deploy(self, service: str, at: int, commit: tuple[str, tuple[Edit, ...]], part: str = "minor",
               version: str | None = None, merged_min: int = 35) -> ChangeSpec:
        version = version or _bump(self.version[service], part)
        self.version[service] = version
        message, edits = commit
        change = ChangeSpec(f"dep-{service}-{version}", at, service, "deploy", OWNER[service], message, tuple(edits),
                            version=version, merged_min=merged_min)
        self.changes.append(change)
        return change

    def harmless_deploy(self, service: str, at: int, part: str = "patch", which: int | None = None) -> ChangeSpec:
        """One of the service's everyday edits (by default the next unused one), deployed."""
        if which is None:
            which = min(set(range(len(HARMLESS[service]))) - self._harmless_used.setdefault(service, set()))
        self._harmless_used.setdefault(service, set()).add(which)
        return self.deploy(service, at, HARMLESS[service][which], part)

    def config(self, change_id: str, service: str, at: int, description: str,
               commit: tuple[str, tuple[Edit, ...]] | None = None, author: Person | None = None) -> ChangeSpec:
        message, edits = commit or ("", ())
        change = ChangeSpec(change_id, at, service, "config", author or OWNER[service], message, tuple(edits),
                            description=description, rollout=bool(edits), merged_min=12)
        self.changes.append(change)
        return change

    def flag(self, change_id: str, service: str, at: int, description: str,
             commit: tuple[str, tuple[Edit, ...]] | None = None, author: Person | None = None) -> ChangeSpec:
        message, edits = commit or ("", ())
        change = ChangeSpec(change_id, at, service, "feature_flag", author or OWNER[service], message, tuple(edits),
                            description=description, merged_min=8)
        self.changes.append(change)
        return change

    def migration(self, change_id: str, service: str, at: int, description: str,
                  commit: tuple[str, tuple[Edit, ...]]) -> ChangeSpec:
        message, edits = commit
        change = ChangeSpec(change_id, at, service, "migration", OWNER[service], message, tuple(edits),
                            description=description, merged_min=50)
        self.changes.append(change)
        return change

    def usual_hour(self) -> None:
        """What every afternoon has in the look-back window: a cache TTL raised, a flag's rollout widened,
        a notifications release. None of them touches the request path's behaviour."""
        self.config("cfg-catalog-cache-ttl", "catalog", hms(11, 42), "CACHE_TTL_SECONDS 300 -> 600", (
            "catalog: cache product pages for ten minutes\n",
            (("deploy/catalog/values.yaml", 'CACHE_TTL_SECONDS: "300"', 'CACHE_TTL_SECONDS: "600"'),)))
        self.flag("flag-carousel-v2-25", "frontend", hms(12, 6),
                  "frontend.recommendations-carousel-v2 rollout 10% -> 25%", (
                      "flags: widen the carousel v2 rollout to 25%\n",
                      (("deploy/flags.yaml", "  enabled: true\n  rollout: 10\n", "  enabled: true\n  rollout: 25\n"),)))
        self.harmless_deploy("notifications", hms(12, 24))
