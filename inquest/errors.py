"""The one exception hierarchy. Inside an investigation, failures of an agent become Finding values at
the fan-out boundary; these exceptions are for everything else (configuration, input, backends)."""

from __future__ import annotations


class InquestError(Exception):
    """Base of every error Inquest raises on purpose. The message is meant for the user."""


class ConfigError(InquestError):
    """config.yaml (or the file given with --config) is missing, malformed or invalid."""


class UnknownIncidentError(InquestError):
    def __init__(self, incident_id: str, known: list[str]) -> None:
        self.incident_id = incident_id
        self.known = known
        listing = ", ".join(known) if known else "none: the store holds no incidents"
        super().__init__(f"unknown incident {incident_id!r}; known incidents: {listing}")


class BackendError(InquestError):
    """The telemetry backend could not answer a question (unreachable, unmapped field, bad query)."""


class CodeHistoryError(InquestError):
    """A repository or commit could not be read."""


class InputError(InquestError):
    """Input data (a file to ingest, an incident declaration) is malformed; the message names where."""


class AttachError(InquestError):
    """Posting the report to a ticket, chat or webhook failed; the message names the target and where."""

    def __init__(self, target: str, message: str, status: int | None = None) -> None:
        self.target = target
        self.status = status
        super().__init__(f"{target}: {message}")
