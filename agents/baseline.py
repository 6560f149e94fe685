"""Robust comparison of an incident window with its baseline. Pure functions over numbers.

Baselines are short and may be contaminated by noise, so spread is measured with the median absolute
deviation rather than the standard deviation, and every threshold is relative to what the baseline
itself shows, with a small absolute floor so that a quiet baseline (MAD of zero) does not turn one
stray error into an anomaly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from inquest.core import Bucket  # the timeline's bucket travels in Finding and Report too

# 1.4826 * MAD estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826


def mad(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    centre = median(values)
    return MAD_SCALE * median(abs(v - centre) for v in values)


def robust_threshold(baseline: Sequence[float], k: float = 4.0, floor: float = 0.0) -> float:
    """The value above which a point is anomalous relative to the baseline points."""
    if not baseline:
        return math.inf
    return median(baseline) + max(k * mad(baseline), floor)


def smoothed_rate(events: float, total: float, prior: float = 1.0) -> float:
    """events/total with add-one smoothing, so an empty baseline yields a small rate, not zero."""
    return (events + prior * 0.01) / (total + prior)


@dataclass(frozen=True)
class Shift:
    """How a per-minute quantity moved between baseline and incident window."""

    baseline_per_min: float
    incident_per_min: float

    @property
    def excess_per_min(self) -> float:
        return self.incident_per_min - self.baseline_per_min

    @property
    def ratio(self) -> float:
        return (self.incident_per_min + 0.1) / (self.baseline_per_min + 0.1)

    def significant(self, min_ratio: float = 3.0, min_excess_per_min: float = 0.5) -> bool:
        """Grew by a multiple and by enough per minute to matter; both, so that neither a rare event
        doubling nor a busy one wobbling counts."""
        return self.ratio >= min_ratio and self.excess_per_min >= min_excess_per_min


def shift(baseline_count: float, baseline_minutes: float, incident_count: float, incident_minutes: float) -> Shift:
    return Shift(baseline_per_min=baseline_count / max(baseline_minutes, 1e-9),
                 incident_per_min=incident_count / max(incident_minutes, 1e-9))


def detect_onset(baseline: Sequence[Bucket], incident: Sequence[Bucket], persistence: int = 2) -> datetime | None:
    """First incident bucket from which error rate or p95 stays above the baseline's robust threshold for
    `persistence` consecutive buckets. Persistence keeps a single noisy minute from becoming the onset."""
    if not baseline or not incident:
        return None
    error_limit = robust_threshold([b.error_rate for b in baseline], floor=0.02)
    latency_limit = robust_threshold([b.p95_ms for b in baseline], floor=0.5 * median(b.p95_ms for b in baseline))
    abnormal = [b.requests > 0 and (b.error_rate > error_limit or b.p95_ms > latency_limit) for b in incident]
    for i in range(len(incident) - persistence + 1):
        if all(abnormal[i:i + persistence]):
            return incident[i].at
    return None


def proximity(minutes_before: float, half_life_minutes: float = 10.0) -> float:
    """1.0 for a change right before onset, halving every `half_life_minutes` further back."""
    return math.pow(0.5, max(minutes_before, 0.0) / half_life_minutes)
