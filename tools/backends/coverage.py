"""How much of a window telemetry actually covers: the exposure that rates are computed over.

Traces are often collected for only part of a window (a collector restarting, sampling switched on
late, files cut per minute). Counting every minute that holds a span as a full minute makes a minute
holding one burst of spans look like a quiet minute, and the next full minute like a surge. Instead the
time between consecutive occupied buckets (seconds) is read as arrival gaps: gaps of the usual size
are covered time; a gap far longer than arrivals at the observed pace would leave by chance is a hole
in collection and counts only as one typical gap. Pure functions, shared by every backend so each
gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

# A gap longer than chance would produce once in 20 windows of this many gaps is a collection hole.
HOLE_ALPHA = 0.05
# Buckets per window at most: finer than a second is never needed, coarser keeps the answer bounded.
MAX_BUCKETS = 20000


def bucket_seconds(window_seconds: float) -> int:
    """The occupancy bucket for a window: one second, coarser only for windows longer than 5.5 h."""
    return max(1, math.ceil(window_seconds / MAX_BUCKETS))


def covered_seconds(offsets: Sequence[float], window_seconds: float, resolution: float) -> float:
    """Seconds of a window covered by collection, from the offsets (seconds from the window's start) of
    the buckets of `resolution` seconds that hold any span. 0 when none does."""
    if not offsets or window_seconds <= 0:
        return 0.0
    points = sorted(offsets)
    gaps = [points[0]] + [b - a for a, b in zip(points, points[1:])] + [max(window_seconds - points[-1], resolution)]
    # Arrival gaps are roughly exponential: their mean is the median / ln 2.
    typical = max(median(gaps) / math.log(2), resolution)
    hole = typical * math.log(len(gaps) / HOLE_ALPHA)
    covered = sum(g if g <= hole else typical for g in gaps)
    return min(covered, window_seconds)
