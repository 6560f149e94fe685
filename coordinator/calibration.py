"""Fused scores → probabilities that mean what they say, and how far from that a run is.

Platt scaling: a logistic model on the ranking's features (a candidate's share of all candidates'
score, the strongest anomaly of the case, and whether it ranks first), fitted by maximum likelihood on
labelled cases: every candidate of a case (up to five), labelled by whether it is the truth, so a
runner-up's confidence is the chance a runner-up like it is the cause. Logistic rather than isotonic
because, with non-negative weights, it is strictly increasing in the share, so calibrated confidences
keep the ranking's order and never tie two candidates a step function would merge. The model is a small versioned JSON file shipped in the package and refitted by
`investigate replay --fit-calibration`.

Expected calibration error (ECE, equal-width bins) and the Brier score say how well a run's confidences
match its outcomes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

MODEL_PATH = Path(__file__).with_name("calibration.json")
FORMAT = 1
FEATURES = ("share", "strongest_anomaly", "ranked_first")
ECE_BINS = 10
RIDGE = 1e-2  # a little L2 pull towards zero: a few dozen cases must not produce a cliff


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    intercept: float
    version: str = "unfitted"
    fitted_on: dict[str, int] = field(default_factory=dict)  # cases per source
    format: int = FORMAT
    features: tuple[str, ...] = FEATURES

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features))
        return round(1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0))), 3)


# Before any fit: the share itself, near enough (a candidate holding all the score is likely right).
UNFITTED = Calibration(weights=(6.0, 0.0, 0.0), intercept=-3.0)


@dataclass(frozen=True)
class Sample:
    features: tuple[float, ...]
    correct: bool
    source: str  # which labelled set it came from ("library", "nezha:2022-08-22", "petshop:train", ...)


def fit(samples: Sequence[Sample], version: str) -> Calibration:
    """Maximum-likelihood logistic regression with a small ridge penalty."""
    if not samples:
        raise ValueError("no labelled cases to fit a calibration on")
    x = np.array([s.features for s in samples], dtype=float)
    y = np.array([1.0 if s.correct else 0.0 for s in samples])

    def loss(theta: np.ndarray) -> float:
        z = x @ theta[1:] + theta[0]
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + RIDGE * np.sum(theta[1:] ** 2))

    # Weights held non-negative: more share, more anomaly or first place never lowers a probability, so
    # calibrated confidences keep the ranking's order.
    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    theta = minimize(loss, np.zeros(x.shape[1] + 1), method="L-BFGS-B", bounds=bounds).x
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.source] = counts.get(s.source, 0) + 1
    return Calibration(weights=tuple(round(float(w), 5) for w in theta[1:]), intercept=round(float(theta[0]), 5),
                       version=version, fitted_on=counts)


def save(model: Calibration, path: Path = MODEL_PATH) -> None:
    path.write_text(json.dumps(asdict(model), indent=1) + "\n")
    load_calibration.cache_clear()


@lru_cache(maxsize=4)
def load_calibration(path: Path = MODEL_PATH) -> Calibration:
    if not path.is_file():
        return UNFITTED
    raw = json.loads(path.read_text())
    if raw.get("format") != FORMAT or tuple(raw.get("features", ())) != FEATURES:
        return UNFITTED  # a model for other features would mislead: better the plain share
    return Calibration(weights=tuple(raw["weights"]), intercept=raw["intercept"], version=raw["version"],
                       fitted_on=dict(raw.get("fitted_on", {})))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> float:
    """Σ over equal-width confidence bins of (cases in bin / cases) × |accuracy − mean confidence|."""
    if not confidences:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            accuracy = sum(1 for i in members if correct[i]) / len(members)
            mean = sum(confidences[i] for i in members) / len(members)
            total += len(members) / len(confidences) * abs(accuracy - mean)
    return round(total, 4)


def brier(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    if not confidences:
        return 0.0
    return round(sum((c - (1.0 if ok else 0.0)) ** 2 for c, ok in zip(confidences, correct)) / len(confidences), 4)


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
                ) -> list[tuple[float, float, int]]:
    """Per non-empty bin: (mean confidence, accuracy, cases): the points of a reliability diagram."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if members:
            out.append((sum(confidences[i] for i in members) / len(members),
                        sum(1 for i in members if correct[i]) / len(members), len(members)))
    return out


def summary(confidences: Sequence[float], correct: Sequence[bool]) -> dict[str, float]:
    """`{"ece", "brier"}` of a run's top answers: the confidence each report put first, and whether that
    answer was the truth."""
    return {"ece": expected_calibration_error(confidences, correct), "brier": brier(confidences, correct)}
