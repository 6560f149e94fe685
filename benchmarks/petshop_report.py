"""The PetShop benchmark's results as text and JSON: the engine and the baselines per traffic regime and
per split (train = dev, test = reported), with the published figures beside ours. Pure: values in, a
string or a dict out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from inquest.benchmarks.baselines import NAMES
from inquest.benchmarks.bench_run import Outcome, figures, grouped, outcome_json, summary_json
from inquest.benchmarks.petshop import MODALITIES, Prepared
from inquest.benchmarks.petshop_published import (
    METHODS_SOURCE,
    REPOSITORY_SOURCE,
    REPOSITORY_TABLE,
    Beside,
    beside_methods,
    scenario,
)

SPLIT_NAMES = {"train": "train (dev)", "test": "test (reported)"}


def _alert_metric(prepared: Prepared) -> dict[str, str]:
    return {c.id: c.issue.target_metric for c in prepared.cases}


def published_rows(prepared: Prepared, outcomes: Sequence[Outcome], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Per (scenario, alert metric): the published figure and ours (engine, baselines) on the same issues."""
    metric_of = _alert_metric(prepared)
    rows = []
    cells = grouped(outcomes, lambda o: f"{scenario(o.group)}|{metric_of.get(o.id, '?')}")
    for key, group in cells.items():
        name, metric = key.split("|")
        row: dict[str, Any] = {"scenario": name, "metric": metric, "issues": len(group),
                               "engine": figures([o.rank for o in group])}
        row.update({m: figures([o.baseline_rank(m) for o in group]) for m in methods})
        if (name, metric) in REPOSITORY_TABLE:
            issues, as1, as3 = REPOSITORY_TABLE[(name, metric)]
            row["published"] = {"traversal (MAD)": {"issues": issues, "as1": as1, "as3": as3}}
        else:
            row["published"] = {}
        rows.append(row)
    return rows


def methods_beside(prepared: Prepared, outcomes: Sequence[Outcome]) -> list[Beside]:
    """Our test-split latency issues per scenario, beside every method of the published table."""
    metric_of = _alert_metric(prepared)
    chosen = [o for o in outcomes if o.split == "test" and metric_of.get(o.id) == "latency"]
    return beside_methods({name: [o.rank for o in group]
                           for name, group in grouped(chosen, lambda o: scenario(o.group)).items()})


def report_json(prepared: Prepared, outcomes: Sequence[Outcome], methods: Sequence[str],
                timing: Mapping[str, float]) -> dict[str, Any]:
    return {
        **summary_json(outcomes, methods),
        "cases": [{**outcome_json(o), "alert_metric": c.issue.target_metric, "notes": list(c.notes)}
                  for o, c in zip(outcomes, prepared.cases)],
        "published": {"source": REPOSITORY_SOURCE, "rows": published_rows(prepared, outcomes, methods),
                      "methods": {"source": METHODS_SOURCE, "split": "test", "alert": "latency",
                                  "rows": [{"scenario": b.scenario, "issues": b.issues,
                                            "ours": {"as1": b.ours[0], "as3": b.ours[1]},
                                            "published": {m: {"as1": t1, "as3": t3} for m, (t1, t3) in b.published.items()},
                                            "ahead_of": b.ahead_of()}
                                           for b in methods_beside(prepared, outcomes)]}},
        "missing": [m for m in ("traces", "logs", "changes") if m not in MODALITIES],
        "settings": {"baseline_minutes": prepared.settings.baseline_minutes,
                     "baseline_gap_minutes": prepared.settings.baseline_gap_minutes,
                     "agents": list(prepared.settings.agents)},
        "load": {s.regime: {"metric_points": s.points, "call_graph_edges": s.edges, "malformed_dropped": s.dropped,
                            "duplicates_dropped": s.duplicates} for s in prepared.stores},
        "skipped_labels": prepared.skipped,
        "timing": dict(timing),
    }


def _pct(value: float) -> str:
    return f"{100 * value:6.1f}"


def _row(label: str, fig: Mapping[str, float | int], width: int = 46) -> str:
    return f"  {label:<{width}} {fig['cases']:>5} {_pct(fig['as1'])} {_pct(fig['as3'])} {_pct(fig['as5'])}"


def _method_block(title: str, outcomes: Sequence[Outcome], methods: Sequence[str]) -> list[str]:
    lines = [f"{title:<48} {'cases':>5} {'top-1':>6} {'top-3':>6} {'top-5':>6}",
             _row("Inquest (this run)", figures([o.rank for o in outcomes]))]
    lines += [_row(f"baseline: {NAMES[m]}", figures([o.baseline_rank(m) for o in outcomes])) for m in methods]
    return lines


def _regime_lines(outcomes: Sequence[Outcome], methods: Sequence[str]) -> list[str]:
    """Per traffic regime and split, top-1 / top-3 of the engine and each baseline."""
    lines = [f"{'per regime, top-1 / top-3 %':<28} {'split':<6} {'cases':>5}  "
             + "  ".join(f"{m:>15}" for m in ("Inquest", *methods))]
    for regime, group in grouped(outcomes, lambda o: o.group).items():
        for split, part in sorted(grouped(group, lambda o: o.split).items(), key=lambda kv: kv[0] != "test"):
            cells = [figures([o.rank for o in part])] + [figures([o.baseline_rank(m) for o in part]) for m in methods]
            lines.append(f"  {regime:<26} {split:<6} {len(part):>5}  "
                         + "  ".join(f"{100 * c['as1']:6.1f} /{100 * c['as3']:6.1f}" for c in cells))
    return lines


def _published_lines(prepared: Prepared, outcomes: Sequence[Outcome], methods: Sequence[str]) -> list[str]:
    lines = [f"published beside ours ({REPOSITORY_SOURCE}), top-1 / top-3 %:",
             f"  {'scenario':<18} {'alert':<13} {'issues':>6}  {'published':>13}  {'Inquest':>13}  "
             + "  ".join(f"{m:>15}" for m in methods)]
    for row in published_rows(prepared, outcomes, methods):
        pub = next(iter(row["published"].values()), None)
        pub_text = f"{100 * pub['as1']:5.1f} /{100 * pub['as3']:5.1f}" if pub else "      —      "
        ours = "  ".join(f"{100 * row[m]['as1']:6.1f} /{100 * row[m]['as3']:6.1f}" for m in ("engine", *methods))
        lines.append(f"  {row['scenario']:<18} {row['metric']:<13} {row['issues']:>6}  {pub_text:>13}  {ours}")
    rows = methods_beside(prepared, outcomes)
    if not rows:
        return lines
    lines += ["", f"the paper's methods ({METHODS_SOURCE}), test split, latency alerts, top-1 / top-3 %:",
              f"  {'method':<28} " + "  ".join(f"{b.scenario + f' ({b.issues})':>22}" for b in rows)]
    lines.append(f"  {'Inquest (this run)':<28} " + "  ".join(f"{100 * b.ours[0]:10.1f} /{100 * b.ours[1]:6.1f}    "
                                                             for b in rows))
    for method in rows[0].published:
        lines.append(f"  {method:<28} " + "  ".join(
            f"{100 * b.published[method][0]:10.1f} /{100 * b.published[method][1]:6.1f}    " for b in rows))
    behind = sorted({m for b in rows for m in b.published if m not in b.ahead_of()})
    lines.append("  ahead of every method on top-1 and top-3 in every scenario" if not behind else
                 f"  not ahead on top-1 and top-3 everywhere of: {', '.join(behind)}")
    return lines


def _case_lines(prepared: Prepared, outcomes: Sequence[Outcome], methods: Sequence[str]) -> list[str]:
    width = max((len(o.id) for o in outcomes), default=4)
    lines = [f"{'case':<{width}}  {'alert':<12} {'truth':<32} {'rank':>4}  "
             + " ".join(f"{m[:8]:>8}" for m in methods) + "  engine's ranking (best first)"]
    for o, c in zip(outcomes, prepared.cases):
        named = ", ".join(o.ranked_services[:3]) + (" …" if len(o.ranked_services) > 3 else "") or "(nothing named)"
        others = " ".join(f"{o.baseline_rank(m) or '-'!s:>8}" for m in methods)
        lines.append(f"{o.id:<{width}}  {c.issue.target_metric:<12} {o.truth_service[:32]:<32} "
                     f"{o.rank or '-'!s:>4}  {others}  {named}")
    return lines


def report_text(prepared: Prepared, outcomes: Sequence[Outcome], methods: Sequence[str],
                timing: Mapping[str, float]) -> str:
    lines = [
        f"PetShop benchmark: {len(outcomes)} labelled issues in {prepared.layout.root}",
        ("incidents carry the alert only (alerting node, alert time, title); window: alert → end of the issue's "
         f"file; baseline: the {prepared.settings.baseline_minutes} min of the file before the alert"),
        ("data: metrics only (latency, requests, availability per node, 5-minute intervals) and the call graph; "
         "missing: traces, logs, changes — agents that read them report no data"),
        "",
        *_case_lines(prepared, outcomes, methods),
        "",
    ]
    for split, group in grouped(outcomes, lambda o: o.split).items():
        lines += _method_block(f"split {SPLIT_NAMES.get(split, split)}", group, methods)
    lines.append("")
    lines += _regime_lines(outcomes, methods)
    lines += ["", *_method_block("all issues", outcomes, methods)]
    calibration = summary_json(outcomes, methods)["summary"]
    lines += [f"calibration of the top hypothesis' confidence: ECE {calibration['ece']:.3f}, Brier {calibration['brier']:.3f}",
              "", *_published_lines(prepared, outcomes, methods)]
    dropped = sum((Counter(s.dropped) for s in prepared.stores), Counter())
    lines.append("loaded: " + ", ".join(f"{s.regime} {s.points:,} points, {s.edges} call-graph edges"
                                        for s in prepared.stores)
                 + "; malformed or unusable cells dropped: "
                 + (", ".join(f"{n:,} {k}" for k, n in dropped.items()) or "none")
                 + f"; labels skipped: {len(prepared.skipped)}")
    lines += [f"  skipped: {s}" for s in prepared.skipped]
    lines.append("timing: " + ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in timing.items()))
    return "\n".join(lines) + "\n"
