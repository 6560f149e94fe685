"""The shapes every part of Inquest speaks: incidents, evidence, hypotheses, findings, reports.

Frozen and typed, importing nothing of ours, so agents, the coordinator, renderers and tests can all
depend on them without depending on each other. All datetimes are timezone-aware UTC.

Three rooms, one per stage of an investigation: what is investigated (`incident`), what an agent
reports (`findings`) and what the coordinator concludes (`report`). Every name is importable from
`inquest.core` itself, which is how the rest of the engine imports them.
"""

from inquest.core.findings import ANOMALY_SCORE_CAP as ANOMALY_SCORE_CAP
from inquest.core.findings import AgentProgress as AgentProgress
from inquest.core.findings import AgentStatus as AgentStatus
from inquest.core.findings import Anomaly as Anomaly
from inquest.core.findings import Bucket as Bucket
from inquest.core.findings import CallEdge as CallEdge
from inquest.core.findings import Claim as Claim
from inquest.core.findings import Evidence as Evidence
from inquest.core.findings import Finding as Finding
from inquest.core.findings import Hypothesis as Hypothesis
from inquest.core.findings import Impact as Impact
from inquest.core.findings import LoadSource as LoadSource
from inquest.core.findings import Modality as Modality
from inquest.core.findings import ModelReview as ModelReview
from inquest.core.incident import CHANGE_KINDS as CHANGE_KINDS
from inquest.core.incident import Change as Change
from inquest.core.incident import ChangeKind as ChangeKind
from inquest.core.incident import ChangeRef as ChangeRef
from inquest.core.incident import Incident as Incident
from inquest.core.incident import Window as Window
from inquest.core.incident import utc as utc
from inquest.core.report import BASELINE_FIX as BASELINE_FIX
from inquest.core.report import ROOT_CAUSE_CONFIDENCE as ROOT_CAUSE_CONFIDENCE
from inquest.core.report import AgentRun as AgentRun
from inquest.core.report import Counts as Counts
from inquest.core.report import Coverage as Coverage
from inquest.core.report import Held as Held
from inquest.core.report import RankedHypothesis as RankedHypothesis
from inquest.core.report import Report as Report
from inquest.core.report import Scope as Scope
from inquest.core.report import Usage as Usage
