"""The Nezha benchmark's results as text (per-case ranks, per-fault accuracy, the paper's rows beside
ours) and as JSON. Pure: values in, a string or a dict out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from inquest.benchmarks.baselines import NAMES, Answer
from inquest.benchmarks.bench_run import calibration_figures, figures, rank_of, replay_summary
from inquest.benchmarks.nezha import Prepared
from inquest.benchmarks.nezha_bench import KS, PAPER_TABLE3, CaseResult, by_fault, summary

# Which half of the benchmark a folder is, by the days its faults were injected (as Nezha's own
# `--ns hipster|ts` switch does): the published rows differ per half.
HALVES = {"OnlineBoutique": {"2022-08-22", "2022-08-23"}, "TrainTicket": {"2023-01-29", "2023-01-30"}}


def half_of(prepared: Prepared) -> str | None:
    dates = {c.fault.date for c in prepared.cases}
    return next((name for name, days in HALVES.items() if dates and dates <= days), None)


def paper_rows(prepared: Prepared) -> list[dict[str, Any]]:
    half = half_of(prepared)
    return [{"method": method, **{f"as{k}": round(v / 100, 4) for k, v in zip(KS, values)}}
            for method, values in PAPER_TABLE3.get(half or "", ())]


def split_of(prepared: Prepared) -> dict[str, str]:
    """case id → "dev" or "test": the first fault day is where tuning may look, later days are reported
    (for OnlineBoutique: dev = 2022-08-22, test = 2022-08-23)."""
    first = min((c.fault.date for c in prepared.cases), default="")
    return {c.id: "dev" if c.fault.date == first else "test" for c in prepared.cases}


Answers = Sequence[Mapping[str, Answer]]  # per case, in case order: method -> its answer


def _method_figures(results: Sequence[CaseResult], answers: Answers) -> dict[str, dict[str, float | int]]:
    table = {"engine": figures([r.rank for r in results])}
    for method in (answers[0] if answers else {}):
        table[method] = figures([rank_of(r.truth_service, a[method].ranked) for r, a in zip(results, answers)])
    return table


def baselines_json(prepared: Prepared, results: Sequence[CaseResult], answers: Answers) -> dict[str, Any]:
    """The baselines' figures over all cases, and engine and baselines per split."""
    splits = split_of(prepared)
    by_split: dict[str, dict[str, Any]] = {}
    for split in sorted(set(splits.values())):
        pairs = [(r, a) for r, a in zip(results, answers) if splits.get(r.id) == split]
        by_split[split] = {"days": sorted({c.fault.date for c in prepared.cases if splits[c.id] == split}),
                           **_method_figures([r for r, _ in pairs], [a for _, a in pairs])}
    everything = _method_figures(results, answers)
    return {"baselines": {m: f for m, f in everything.items() if m != "engine"}, "splits": by_split}


def _modality_counts(results: Sequence[CaseResult]) -> dict[str, int]:
    return {m: sum(1 for r in results if m in r.modalities) for m in ("traces", "logs", "metrics")}


def report_json(prepared: Prepared, results: Sequence[CaseResult], timing: Mapping[str, float],
                answers: Answers = ()) -> dict[str, Any]:
    splits = split_of(prepared)
    out: dict[str, Any] = {
        # AS@k and, beside them, how well the top hypothesis' confidence matches being right (ECE, Brier).
        "summary": {**summary(results),
                    **calibration_figures([r.confidence for r in results], [r.rank for r in results])},
        "cases": [{"id": r.id, "truth_service": r.truth_service, "fault": r.fault,
                   "ranked_services": list(r.ranked_services), "rank": r.rank, "truth_pod": r.truth_pod,
                   "modalities": list(r.modalities), "trace_coverage": r.trace_coverage, "top": r.top, "confidence": r.confidence,
                   "replay_rank": r.replay.rank_of_truth if r.replay else None, "agents": r.agents, "notes": list(r.notes)}
                  for r in results],
        "by_fault": by_fault(results),
        "modalities": _modality_counts(results),
        "paper": {"source": f"Nezha (FSE 2023), Table 3, {half_of(prepared) or 'unknown half'}, service level, "
                            "all modalities", "rows": paper_rows(prepared)},
        "settings": {"entry_service": prepared.entry_service, "agents": list(prepared.settings.agents),
                     "baseline_minutes": prepared.settings.baseline_minutes,
                     "baseline_gap_minutes": prepared.settings.baseline_gap_minutes},
        "load": {"files": prepared.summary.files, "rows": prepared.summary.rows,
                 "duplicates_dropped": prepared.summary.duplicates, "malformed_dropped": prepared.summary.dropped,
                 "notes": prepared.summary.notes},
        "timing": dict(timing),
    }
    for case, r in zip(out["cases"], results):
        case["split"] = splits.get(r.id)
    scored = [r.replay for r in results if r.replay is not None]
    if scored:  # the same reports judged by replay's scoring (a tie in confidence counts against us)
        out["replay"] = replay_summary(scored)
    if answers:
        out.update(baselines_json(prepared, results, answers))
        for case, r, a in zip(out["cases"], results, answers):
            case["baselines"] = {m: {"rank": rank_of(r.truth_service, x.ranked), "ranked_services": list(x.ranked[:5])}
                                 for m, x in a.items()}
    return out


def _pct(value: float) -> str:
    return f"{100 * value:6.2f}"


def _case_lines(results: Sequence[CaseResult]) -> list[str]:
    width = max((len(r.id) for r in results), default=4)
    lines = [f"{'case':<{width}}  {'fault':<15} {'truth':<22} {'rank':>4}  {'data':<22} engine's ranking (best first)"]
    for r in results:
        named = ", ".join(r.ranked_services[:5]) + (" …" if len(r.ranked_services) > 5 else "") or "(nothing named)"
        data = "+".join(f"traces {r.trace_coverage:.0%}" if m == "traces" and r.trace_coverage < 0.9 else m
                        for m in r.modalities) or "none"
        lines.append(f"{r.id:<{width}}  {r.fault:<15} {r.truth_service:<22} {str(r.rank or '-'):>4}  {data:<22} {named}")
    return lines


def _fault_lines(results: Sequence[CaseResult]) -> list[str]:
    lines = [f"{'fault type':<16} {'cases':>5} {'AS@1':>7} {'AS@3':>7} {'AS@5':>7}"]
    for fault, row in by_fault(results).items():
        lines.append(f"{fault:<16} {row['cases']:>5} " + " ".join(_pct(row[f'as{k}']) + " " for k in KS).rstrip())
    return lines


def _table_lines(prepared: Prepared, results: Sequence[CaseResult]) -> list[str]:
    ours = summary(results)
    lines = [f"{'service level, %':<30} {'AS@1':>7} {'AS@3':>7} {'AS@5':>7}",
             f"{'Inquest (this run)':<30} " + " ".join(_pct(ours[f'as{k}']) + " " for k in KS).rstrip()]
    rows = paper_rows(prepared)
    if rows:
        lines.append(f"published (Table 3, {half_of(prepared)}, all modalities):")
        lines.extend(f"  {row['method']:<28} " + " ".join(_pct(row[f'as{k}']) + " " for k in KS).rstrip()
                     for row in rows)
    else:
        lines.append("no published rows for this data (its fault days match neither half of the paper)")
    return lines


def _calibration_line(results: Sequence[CaseResult]) -> str:
    figures_ = calibration_figures([r.confidence for r in results], [r.rank for r in results])
    return f"calibration of the top hypothesis' confidence: ECE {figures_['ece']:.3f}, Brier {figures_['brier']:.3f}"


def _split_lines(prepared: Prepared, results: Sequence[CaseResult], answers: Answers) -> list[str]:
    figures_of = baselines_json(prepared, results, answers)["splits"]
    lines = [f"{'engine and baselines, same cases, same run':<46} {'cases':>5} {'AS@1':>7} {'AS@3':>7} {'AS@5':>7}"]
    for split, table in figures_of.items():
        lines.append(f"{split} ({', '.join(table['days'])}):")
        for method, fig in table.items():
            if method == "days":
                continue
            label = "Inquest (this run)" if method == "engine" else f"baseline: {NAMES.get(method, method)}"
            lines.append(f"  {label:<44} {fig['cases']:>5} " + " ".join(_pct(fig[f'as{k}']) + " " for k in KS).rstrip())
    return lines


def _grouped_notes(results: Sequence[CaseResult]) -> list[str]:
    by_note: dict[str, list[str]] = defaultdict(list)
    for r in results:
        for note in r.notes:
            by_note[note].append(r.id)
    return [f"  {note}: {', '.join(ids)}" for note, ids in sorted(by_note.items(), key=lambda kv: -len(kv[1]))]


def report_text(prepared: Prepared, results: Sequence[CaseResult], timing: Mapping[str, float],
                answers: Answers = ()) -> str:
    counts = _modality_counts(results)
    settings = prepared.settings
    load = prepared.summary
    lines = [
        f"Nezha benchmark: {len(results)} labelled faults in {prepared.layout.root}",
        f"incidents name the entry service ({prepared.entry_service}); window: injection → end of its telemetry; "
        f"baseline: {settings.baseline_minutes} min right before the injection",
        f"agents: {', '.join(settings.agents)}",
        "",
        *_case_lines(results),
        "",
        *_fault_lines(results),
        "",
        *_table_lines(prepared, results),
        _calibration_line(results),
        "",
        *([*_split_lines(prepared, results, answers), ""] if answers else []),
        f"data per case: traces in {counts['traces']}, logs in {counts['logs']}, metrics in {counts['metrics']} "
        f"of {len(results)} windows",
        "loaded: " + ", ".join(f"{n:,} {table}" for table, n in load.rows.items())
        + "; overlapping rows dropped: " + ", ".join(f"{n:,} {k}" for k, n in load.duplicates.items() if n)
        + "; malformed or NaN dropped: " + (", ".join(f"{n:,} {k}" for k, n in load.dropped.items() if n) or "none"),
        *(f"  {note}" for note in load.notes),
    ]
    notes = _grouped_notes(results)
    if notes:
        lines += ["case notes:", *notes]
    lines.append("timing: " + ", ".join(f"{name.removesuffix('_s')} {seconds:.1f} s" for name, seconds in timing.items()))
    return "\n".join(lines) + "\n"
