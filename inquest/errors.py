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
        near = near_incident(incident_id, known)
        super().__init__(f"unknown incident {incident_id!r}" + (f" (did you mean {near}?)" if near else "")
                         + f"; known incidents: {listing}")


def near_incident(incident_id: str, known: list[str]) -> str | None:
    """The known id a typo most likely meant: same letters in another case first (ids are typed from pages
    and chat, where case drifts), else the closest by difflib's ratio."""
    import difflib  # only on the error path

    folded = {k.casefold(): k for k in known}
    if incident_id.casefold() in folded:
        return folded[incident_id.casefold()]
    near = difflib.get_close_matches(incident_id.casefold(), list(folded), n=1, cutoff=0.75)
    return folded[near[0]] if near else None


class BackendError(InquestError):
    """The telemetry backend could not answer a question (unreachable, unmapped field, bad query)."""


class CodeHistoryError(InquestError):
    """A repository or commit could not be read."""


class NoRepositoryError(CodeHistoryError):
    """No git repository is configured (or found) for a service: the code can not be read, by setup."""


class InputError(InquestError):
    """Input data (a file to ingest, an incident declaration) is malformed; the message names where."""


class AttachError(InquestError):
    """Posting the report to a ticket, chat or webhook failed; the message names the target and where."""

    def __init__(self, target: str, message: str, status: int | None = None) -> None:
        self.target = target
        self.status = status
        super().__init__(f"{target}: {message}")
