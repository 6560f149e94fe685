"""config.yaml's `serve:` section: where `investigate serve` listens, its queue, and the routing table
from an alert group's labels to attach targets.

Split from the config package's loader so each file holds one idea; `inquest.config` re-exports every
name here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from inquest import registry
from inquest.config.backends import Section as _Section
from inquest.config.backends import regular_expressions as _regular_expressions


class ServeRoute(_Section):
    """One row of `investigate serve`'s routing table: an alert group whose labels match goes to these targets."""

    match: dict[str, str] = Field(default_factory=dict)  # label -> exact value, all must hold; {} matches every group
    match_re: dict[str, str] = Field(default_factory=dict)  # label -> regular expression the whole value must match
    attach: tuple[str, ...] = ()  # github, jira, slack, webhook
    # Which ticket: "{label}" is replaced by the group's common label of that name ("acme/shop#{issue}");
    # None: the alert's own `ticket`/`issue` annotation, as `investigate ingest --alert` reads it.
    ticket: str | None = None
    stop: bool = True  # the first matching route decides; false lets later routes add their targets

    @field_validator("attach")
    @classmethod
    def _known_targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = registry.names(registry.ATTACH)
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown attach target(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return value

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        return _regular_expressions(value, "label")


class ServeConfig(_Section):
    """`investigate serve`: Alertmanager's webhook in, reports out (docs/serve.md)."""

    listen: str = Field(default="127.0.0.1:8087", pattern=r"^\[?[0-9A-Za-z.:-]*\]?:\d{1,5}$")
    data_dir: Path = Path(".inquest/serve")  # the queue, the alert groups' state and the reports
    # ${ENV_VAR}: the bearer token Alertmanager must send (http_config.authorization); required off loopback.
    token: str | None = None
    quiet_period_s: float = Field(default=300.0, ge=0)  # a group is investigated at most once per this long
    queue_size: int = Field(default=100, ge=1)  # alert groups waiting; beyond it a notification gets 503
    concurrency: int = Field(default=2, ge=1)  # investigations at once
    shutdown_grace_s: float = Field(default=60.0, ge=0)  # SIGTERM waits this long for running investigations
    report_format: Literal["markdown", "json", "html", "text"] = "markdown"  # the copy written under data_dir
    routes: tuple[ServeRoute, ...] = ()
