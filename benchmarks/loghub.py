"""`investigate bench loghub PATH`: log templating scored against loghub-2k's ground-truth templates.

PATH is the loghub-2k archive (`.tar.xz`) or an unpacked folder holding `<System>/<System>_2k.log_structured.csv`.
The archive is read in place (no copy is kept). Each system's messages (the `Content` column: the line
without its header, as a log record's body reaches the engine) are mined with one configuration for every
system, and scored by grouping accuracy (Zhu et al., ICSE-SEIP 2019): a line is right when the set of
lines grouped with it is exactly the set of lines sharing its true template.
"""

from __future__ import annotations

import csv
import io
import tarfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from inquest.agents.log_templates import TemplateSettings, mine
from inquest.errors import InputError

SUFFIX = "_2k.log_structured.csv"


@dataclass(frozen=True)
class SystemScore:
    name: str
    grouping_accuracy: float
    templates_found: int
    templates_truth: int
    lines: int


def grouping_accuracy(found: Sequence[object], truth: Sequence[object]) -> float:
    """Share of lines whose found group is exactly the set of lines of their true template."""
    if not truth:
        return 0.0
    found_groups: dict[object, list[int]] = defaultdict(list)
    truth_sizes: dict[object, int] = defaultdict(int)
    for i, (f, t) in enumerate(zip(found, truth, strict=True)):
        found_groups[f].append(i)
        truth_sizes[t] += 1
    right = 0
    for members in found_groups.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and truth_sizes[labels.pop()] == len(members):
            right += len(members)
    return right / len(truth)


def _read(text: str) -> tuple[list[str], list[str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not {"Content", "EventId"} <= rows[0].keys():
        raise InputError("a loghub structured file needs Content and EventId columns")
    return [r["Content"] for r in rows], [r["EventId"] for r in rows]


def _systems(path: Path) -> Iterator[tuple[str, str]]:
    """(system name, structured CSV text) for every system in the archive or folder, by name."""
    if path.is_dir():
        for csv_path in sorted(path.rglob(f"*{SUFFIX}")):
            yield csv_path.name[: -len(SUFFIX)], csv_path.read_text(encoding="utf-8")
        return
    if not path.exists():
        raise InputError(f"no loghub dataset at {path}")
    try:
        with tarfile.open(path) as archive:
            members = sorted((m for m in archive.getmembers() if m.name.endswith(SUFFIX)), key=lambda m: m.name)
            for member in members:
                data = archive.extractfile(member)
                if data is not None:
                    yield Path(member.name).name[: -len(SUFFIX)], data.read().decode("utf-8")
    except tarfile.TarError as error:
        raise InputError(f"{path} is not a readable archive: {error}") from error


def score(path: Path, settings: TemplateSettings | None = None) -> list[SystemScore]:
    scores = []
    for name, text in _systems(path):
        lines, truth = _read(text)
        mined = mine(lines, settings)
        scores.append(SystemScore(name, round(grouping_accuracy(mined.assignments, truth), 4),
                                  len(set(mined.assignments)), len(set(truth)), len(lines)))
    if not scores:
        raise InputError(f"no *{SUFFIX} files in {path}")
    return scores


def mean_accuracy(scores: Sequence[SystemScore]) -> float:
    return round(sum(s.grouping_accuracy for s in scores) / len(scores), 4)


def report_json(scores: Sequence[SystemScore]) -> dict[str, object]:
    return {
        "summary": {"systems": len(scores), "grouping_accuracy": mean_accuracy(scores)},
        "systems": [{"name": s.name, "grouping_accuracy": s.grouping_accuracy, "templates_found": s.templates_found,
                     "templates_truth": s.templates_truth} for s in scores],
    }


def report_text(scores: Sequence[SystemScore]) -> str:
    lines = ["Log templating on loghub-2k (grouping accuracy; one configuration for every system)", "",
             f"{'system':<14}{'accuracy':>9}{'found':>8}{'truth':>8}"]
    lines += [f"{s.name:<14}{s.grouping_accuracy:>9.3f}{s.templates_found:>8}{s.templates_truth:>8}" for s in scores]
    lines += ["", (f"{'mean':<14}{mean_accuracy(scores):>9.3f}   over {len(scores)} systems "
              "(Drain as published on this sample: about 0.86)"), ""]
    return "\n".join(lines)
