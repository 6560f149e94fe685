"""Log templating: the same event with different values is one template; different events are not."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from inquest.agents.log_templates import Mask, TemplateSettings, mine
from inquest.benchmarks.loghub import grouping_accuracy
from inquest.cli import main as cli_main


def test_values_are_masked_and_events_kept_apart() -> None:
    lines = [
        "GET /api/orders/1234 took 35ms from 10.0.0.7:5512",
        "GET /api/orders/98 took 1200ms from 10.0.0.9:5513",
        "payment 7f3c9a2e-1b2c-4d5e-8f90-123456789abc declined for user bob@example.com",
        "payment 0a3c9a2e-1b2c-4d5e-8f90-123456789abc declined for user eve@example.org",
        "connection pool exhausted after 30 s",
        "connection pool exhausted after 2 s",
        "cache warmed",
    ]
    mined = mine(lines)
    a = mined.assignments
    assert a[0] == a[1] and a[2] == a[3] and a[4] == a[5]
    assert len(set(a)) == 4


def test_lines_differing_only_in_an_optional_value_are_one_template() -> None:
    mined = mine(["conn 1 close, 12 bytes sent", "conn 2 close, 40 bytes (0.1 KB) sent",
                  "conn 3 open through proxy HTTPS", "conn 4 open through proxy SOCKS5"])
    a = mined.assignments
    assert a[0] == a[1] and a[2] != a[3]


def test_extra_masks_from_configuration_come_first() -> None:
    lines = ["tenant acme-eu reached quota", "tenant globex-us reached quota"]
    assert len(set(mine(lines).assignments)) == 2  # a tenant name looks like a word: two events
    settings = TemplateSettings(extra_masks=(Mask.of("tenant", r"(?<=tenant )[\w-]+"),))
    assert len(set(mine(lines, settings).assignments)) == 1


def test_grouping_accuracy_counts_a_line_right_only_when_its_group_is_exact() -> None:
    assert grouping_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"]) == 0.5
    assert grouping_accuracy([1, 1, 1], ["a", "a", "b"]) == 0.0


def test_bench_loghub_prints_the_mean_per_system(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "loghub-2k" / "Tiny"
    folder.mkdir(parents=True)
    (folder / "Tiny_2k.log_structured.csv").write_text(
        "LineId,Content,EventId,EventTemplate\n"
        "1,worker 3 started,E1,worker <*> started\n2,worker 12 started,E1,worker <*> started\n"
        "3,disk /dev/sda1 full,E2,disk <*> full\n")
    archive = tmp_path / "tiny.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(tmp_path / "loghub-2k", arcname="loghub-2k")
    assert cli_main(["bench", "loghub", str(archive), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"systems": 1, "grouping_accuracy": 1.0}
    assert report["systems"] == [{"name": "Tiny", "grouping_accuracy": 1.0, "templates_found": 2, "templates_truth": 2}]
