"""Fused scores → probabilities that mean what they say, and how far from that a run is.

The model reads features of a candidate that mean the same on any system (evidence_features.py: its
share of the score, its margin over the best other candidate, its service's fused anomaly, how many
kinds of data saw that service clearly unusual, how much of the data the agents could see, first
place), never a dataset's name. It is fitted on labelled cases: every candidate of a case (up to five),
labelled by whether it is the truth, so a runner-up's confidence is the chance a runner-up like it is
the cause.

Two established calibrators compete, and five-fold cross-validated log-loss (folds by case, so one
case's candidates never sit on both sides) picks the one shipped and the features it reads (forward
selection: a feature joins only while it lowers the held-out loss, so a feature that merely restates
another, or that the dev sets cannot support, stays out with weight 0):

- **Platt scaling**: a logistic model on the features, weights held non-negative so more evidence never
  lowers a probability;
- **isotonic regression** (pool-adjacent-violators) on that logistic model's score: any monotone shape,
  each step's rate smoothed by a uniform prior (Laplace) so a step of three right answers is not
  certainty.

The model is a small versioned JSON file shipped in the package and refitted by
`investigate replay --fit-calibration`. Expected calibration error (ECE, equal-width bins) and the
Brier score say how well a run's confidences match its outcomes.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

# numpy and scipy.optimize are imported inside the fitting functions: fitting is an offline step, and
# importing them here would cost every investigation's start (ranking only reads the fitted model).
if TYPE_CHECKING:
    import numpy as np

from inquest.coordinator.evidence_features import NAMES

MODEL_PATH = Path(__file__).with_name("calibration.json")
FORMAT = 2
FEATURES = NAMES
ECE_BINS = 10
RIDGE = 1e-2  # a little L2 pull towards zero: a few dozen cases must not produce a cliff
FOLDS = 5
Kind = Literal["platt", "isotonic"]


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    intercept: float
    version: str = "unfitted"
    fitted_on: dict[str, int] = field(default_factory=dict)  # samples per source
    format: int = FORMAT
    features: tuple[str, ...] = FEATURES
    kind: Kind = "platt"
    # isotonic: (score, probability) at each step's ends, interpolated between; unused for Platt
    knots: tuple[tuple[float, float], ...] = ()
    cv_log_loss: dict[str, float] = field(default_factory=dict)  # per kind: what chose `kind`

    def score(self, features: Sequence[float]) -> float:
        return self.intercept + sum(w * x for w, x in zip(self.weights, features))

    def probability(self, features: Sequence[float]) -> float:
        z = self.score(features)
        if self.kind == "isotonic" and self.knots:
            return round(_interpolate(self.knots, z), 3)
        return round(1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0))), 3)


def _interpolate(knots: Sequence[tuple[float, float]], z: float) -> float:
    xs = [k[0] for k in knots]
    i = bisect_right(xs, z)
    if i == 0:
        return knots[0][1]
    if i == len(knots):
        return knots[-1][1]
    (x0, y0), (x1, y1) = knots[i - 1], knots[i]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (z - x0) / (x1 - x0)


# Before any fit: the share itself, near enough (a candidate holding all the score is likely right).
UNFITTED = Calibration(weights=(6.0, *(0.0,) * (len(NAMES) - 1)), intercept=-3.0)


@dataclass(frozen=True)
class Sample:
    features: tuple[float, ...]
    correct: bool
    source: str  # which labelled set it came from ("library", "nezha:2022-08-22", "petshop:train", ...)
    case: str = ""  # which case: cross-validation keeps a case's candidates in one fold


def _platt(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Maximum-likelihood logistic regression with a small ridge penalty: (intercept, weights…)."""
    import numpy as np
    from scipy.optimize import minimize

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[1:] + theta[0]
        residual = 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0))) - y  # the gradient, exactly: no finite differences
        grad = np.concatenate(([residual.sum()], x.T @ residual + 2 * RIDGE * theta[1:]))
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + RIDGE * np.sum(theta[1:] ** 2)), grad

    # Weights held non-negative: more share, more anomaly or first place never lowers a probability.
    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    theta: np.ndarray = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    return theta


def _isotonic(z: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Pool-adjacent-violators on the Platt score; each pooled step's rate Laplace-smoothed, then kept
    monotone. The knots are each step's first and last score."""
    import numpy as np
    from scipy.optimize import isotonic_regression

    order = np.argsort(z, kind="stable")
    zs, ys = z[order], y[order]
    pooled = isotonic_regression(ys).x
    knots: list[tuple[float, float]] = []
    start = 0
    for end in range(1, len(zs) + 1):
        if end == len(zs) or pooled[end] != pooled[start]:
            rate = (ys[start:end].sum() + 1.0) / (end - start + 2.0)
            rate = max(rate, knots[-1][1]) if knots else rate
            knots += [(float(zs[start]), rate), (float(zs[end - 1]), rate)]
            start = end
    return tuple((round(a, 5), round(b, 5)) for a, b in knots)


def _fit_both(x: np.ndarray, y: np.ndarray, columns: Sequence[int] | None = None) -> dict[Kind, Calibration]:
    """Both kinds, from one logistic fit on `columns` of x (all by default); other features get weight 0."""
    import numpy as np

    columns = list(range(x.shape[1])) if columns is None else list(columns)
    fitted = _platt(x[:, columns], y)
    theta = np.zeros(x.shape[1] + 1)
    theta[0] = fitted[0]
    theta[[c + 1 for c in columns]] = fitted[1:]
    platt = Calibration(weights=tuple(round(float(w), 5) for w in theta[1:]), intercept=round(float(theta[0]), 5))
    return {"platt": platt, "isotonic": replace(platt, kind="isotonic", knots=_isotonic(x @ theta[1:] + theta[0], y))}


def _log_loss(model: Calibration, x: np.ndarray, y: np.ndarray) -> float:
    import numpy as np

    p = np.clip([model.probability(row) for row in x], 1e-3, 1 - 1e-3)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def cross_validated(samples: Sequence[Sample], columns: Sequence[int] | None = None,
                    folds: int = FOLDS) -> dict[Kind, float]:
    """Per kind, the mean held-out log-loss over `folds` folds, cases dealt to folds in turn (sorted, so
    reproducible)."""
    import numpy as np

    cases = sorted({s.case or str(i) for i, s in enumerate(samples)})
    fold_of = {c: i % folds for i, c in enumerate(cases)}
    keys = np.array([fold_of[s.case or str(i)] for i, s in enumerate(samples)])
    x = np.array([s.features for s in samples], dtype=float)
    y = np.array([1.0 if s.correct else 0.0 for s in samples])
    total: dict[Kind, float] = {"platt": 0.0, "isotonic": 0.0}
    for f in range(folds):
        held = keys == f
        if held.any() and (~held).any():
            for kind, model in _fit_both(x[~held], y[~held], columns).items():
                total[kind] += _log_loss(model, x[held], y[held]) * float(held.sum())
    return {kind: round(loss / len(samples), 4) for kind, loss in total.items()}


def _select(samples: Sequence[Sample]) -> tuple[Kind, list[int], dict[Kind, float]]:
    """Forward selection by held-out log-loss: the kind and the features of the best model found."""
    chosen: list[int] = []
    best: tuple[float, Kind, dict[Kind, float]] = (math.inf, "platt", {})
    width = len(samples[0].features)
    while len(chosen) < width:
        trials = []
        for j in (j for j in range(width) if j not in chosen):
            losses = cross_validated(samples, [*chosen, j])
            kind = min(losses, key=lambda k: losses[k])
            trials.append((losses[kind], kind, j, losses))
        loss, kind, j, losses = min(trials, key=lambda t: (t[0], t[2]))
        if loss >= best[0] - 1e-4:  # no real gain: a smaller model predicts as well
            break
        chosen.append(j)
        best = (loss, kind, losses)
    return best[1], chosen, best[2]


def fit(samples: Sequence[Sample], version: str) -> Calibration:
    """The kind and features that predict held-out cases best, refitted on every sample."""
    import numpy as np

    if not samples:
        raise ValueError("no labelled cases to fit a calibration on")
    x = np.array([s.features for s in samples], dtype=float)
    y = np.array([1.0 if s.correct else 0.0 for s in samples])
    kind, columns, losses = _select(samples)
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.source] = counts.get(s.source, 0) + 1
    return replace(_fit_both(x, y, columns)[kind], version=version, fitted_on=counts, cv_log_loss={str(k): v for k, v in losses.items()})


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
                       fitted_on=dict(raw.get("fitted_on", {})), kind=raw.get("kind", "platt"),
                       knots=tuple((a, b) for a, b in raw.get("knots", ())),
                       cv_log_loss=dict(raw.get("cv_log_loss", {})))


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
