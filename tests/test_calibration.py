"""Calibration: the features it reads mean the same on any system, the calibrator is chosen by held-out
log-loss, probabilities keep the ranking's order, and ECE / Brier measure a run."""

import json
import random

from inquest.coordinator.calibration import (
    FEATURES,
    UNFITTED,
    Calibration,
    Sample,
    brier,
    cross_validated,
    expected_calibration_error,
    fit,
    load_calibration,
    reliability,
    save,
)
from inquest.coordinator.evidence_features import features
from inquest.coordinator.fusion import rank_services
from inquest.core import Anomaly, Finding, Hypothesis


def _sample(share: float, correct: bool, case: str) -> Sample:
    return Sample((share, 2 * share - 1, 0.5, 0.5, 0.4, 0.6, 1.0), correct, "synthetic", case)


def _step_world(n: int = 200) -> list[Sample]:
    """Right three times in ten below a share of one half, nine in ten above: a shape no logistic curve
    (which runs from 0 to 1) can follow, and a step function can."""
    rng = random.Random(7)
    out = []
    for i in range(n):
        share = rng.random()
        out.append(_sample(share, rng.random() < (0.9 if share > 0.5 else 0.3), f"case-{i}"))
    return out


def test_held_out_log_loss_chooses_the_calibrator_and_the_probabilities_follow_the_data():
    samples = _step_world()
    model = fit(samples, "test")
    assert model.kind == "isotonic" and model.cv_log_loss["isotonic"] < model.cv_log_loss["platt"]
    low, high = model.probability(_sample(0.2, True, "").features), model.probability(_sample(0.8, True, "").features)
    assert abs(low - 0.3) < 0.1 and abs(high - 0.9) < 0.1
    grid = [model.probability(_sample(s / 20, True, "").features) for s in range(21)]
    assert grid == sorted(grid)  # more share never lowers a probability


def test_cross_validation_keeps_a_cases_candidates_in_one_fold():
    # Two candidates per case with identical features and opposite labels: if a case were split across
    # folds the held-out half would be "predicted" from its twin; kept together, nothing leaks.
    twins = [s for i in range(40) for s in (_sample(0.3 + i / 100, True, f"c{i}"), _sample(0.3 + i / 100, False, f"c{i}"))]
    assert cross_validated(twins)["platt"] >= 0.69  # no better than a coin: log 2


def test_a_saved_model_loads_back_and_an_old_format_is_not_trusted(tmp_path):
    model = Calibration(weights=(0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0), intercept=-1.0, version="v-test",
                        fitted_on={"synthetic": 60}, kind="isotonic", knots=((-2.0, 0.2), (0.0, 0.5), (4.0, 0.9)),
                        cv_log_loss={"platt": 0.3, "isotonic": 0.25})
    path = tmp_path / "calibration.json"
    save(model, path)
    loaded = load_calibration(path)
    assert loaded == model and loaded.features == FEATURES
    assert loaded.probability((0, 0, 0.2, 0, 0, 0, 0)) == 0.5  # on a knot: its probability
    old = json.loads(path.read_text()) | {"format": 1, "features": ["share", "strongest_anomaly", "ranked_first"]}
    path.write_text(json.dumps(old))
    load_calibration.cache_clear()
    assert load_calibration(path) is UNFITTED


def test_ece_brier_and_the_reliability_bins():
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [True, True, False, False]) == 0.1
    assert brier([1.0, 0.0], [True, True]) == 0.5
    assert reliability([0.95, 0.05], [True, False]) == [(0.05, 0.0, 1), (0.95, 1.0, 1)]


def _finding(agent: str, status: str = "ok", *anomalies: Anomaly) -> Finding:
    return Finding(agent, status, anomalies=anomalies)  # type: ignore[arg-type]


def test_features_say_how_far_ahead_how_many_kinds_of_data_agree_and_how_much_was_seen():
    anomalies = (Anomaly("payments", "errors", "traces", 6.0, "spans"),)
    logs = (Anomaly("payments", "log_errors", "logs", 4.0, "logs"), Anomaly("cart", "log_errors", "logs", 2.0, "logs"))
    findings = [_finding("trace", "ok", *anomalies), _finding("logs", "ok", *logs), _finding("db", "no_data"),
                _finding("metrics", "error")]
    ranks = rank_services([*anomalies, *logs], [("cart", "payments")], "cart")
    leader, runner_up = features([("payments", 0.6), ("cart", 0.3)], ranks, findings)
    named = dict(zip(FEATURES, leader))
    assert named["share"] == round(0.6 / 0.9, 4) and named["margin"] == round(0.3 / 0.9, 4) and named["first"] == 1
    assert named["lead"] == 0.5  # ahead by half its own share: the same on a graph of any size
    assert named["modalities"] == 2 / 5  # traces and logs both saw payments clearly unusual
    assert named["coverage"] == 0.5  # two of four agents had data
    assert dict(zip(FEATURES, runner_up))["lead"] == -0.5 and runner_up[FEATURES.index("modalities")] == 0
    assert named["fused"] > dict(zip(FEATURES, runner_up))["fused"]


def test_a_lower_ranked_hypothesis_is_never_more_confident_than_the_one_above():
    from inquest.coordinator.ranking import rank

    # cart is the better story on the call graph, but payments' own evidence is louder in more kinds of
    # data: whatever the model makes of that, #2 never shows more confidence than #1.
    trace = Finding("trace", "ok", hypotheses=(
        Hypothesis("errors start in cart", "cart", 0.7, ("t-1",), fault="errors"),
        Hypothesis("time is added in payments", "payments", 0.6, ("t-2",), fault="latency")))
    logs = Finding("logs", "ok", hypotheses=(Hypothesis("payments logs errors", "payments", 0.6, ("l-1",),
                                                        fault="errors"),))
    ranked = rank([trace, logs], {}, "frontend")
    confidences = [h.confidence for h in ranked]
    assert len(ranked) >= 2 and confidences == sorted(confidences, reverse=True)
