"""The replay scorecard as people see it: the terminal table, Markdown, and the HTML page drawn by a real
headless Chromium (charts across stored runs, the per-case grid)."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from browser import headless_dom, screenshot

from inquest.render import scorecard
from inquest.replay.cases import Truth
from inquest.replay.history import Run
from inquest.replay.scoring import AgentFailure, Answer, CaseResult, Tolerance, compare

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
TRUTHS = {"n-plus-one": Truth("orders", "dep-orders-2.14.0", "n_plus_one"),
          "noisy-neighbour": Truth("payments", None, "noisy_neighbour"),
          "false-alarm": Truth(None, None, None)}


def case(case_id: str, rank: int | None, seconds: float, status: str = "ok", **more) -> CaseResult:
    top = Answer("orders", "dep-orders-2.14.0", 0.93, "orders deploy") if status == "ok" else None
    return CaseResult(case_id=case_id, incident="INC-1", truth=TRUTHS[case_id], status=status,  # type: ignore[arg-type]
                      rank_of_truth=rank, service_rank=rank, seconds=seconds if status == "ok" else None, top=top,
                      **more)


def run(day: int, results: list[CaseResult]) -> Run:
    started = T0 + timedelta(days=day)
    return Run(id=f"{started:%Y%m%dT%H%M%SZ}-{day:04x}", started_at=started, finished_at=started + timedelta(minutes=2),
               engine_version="0.1.0+abc1234", config_hash="5cf35b4c69c6", results=tuple(results))


HISTORY = [
    run(0, [case("n-plus-one", 1, 1.2), case("noisy-neighbour", 1, 2.0), case("false-alarm", 1, 0.8)]),
    run(1, [case("n-plus-one", 1, 1.4), case("noisy-neighbour", 1, 2.4), case("false-alarm", 1, 0.9)]),
    run(2, [case("n-plus-one", 1, 1.3), case("noisy-neighbour", None, 6.5,
                                             agent_failures=(AgentFailure("metrics", "timeout", "no answer"),)),
            case("false-alarm", None, 0.7, status="error", error="world failed to build")]),
]
LATEST = HISTORY[-1]
COMPARISON = compare(HISTORY[1].id, HISTORY[1].results, LATEST.results, Tolerance())


def test_terminal_scorecard_shows_ranks_failures_and_the_regression():
    text = scorecard.text(LATEST, COMPARISON)
    assert "3 case(s): top-1 33% · top-3 33% · MRR 0.333" in text
    assert re.search(r"noisy-neighbour\s+missed\s+payments \(no", text) and "worse #1→missed" in text
    assert re.search(r"false-alarm\s+error\s+no root cause", text) and "worse #1→error" in text
    assert "metrics (timeout)" in text and "agent failures: metrics in 1 case(s)" in text
    assert "1 case(s) could not be replayed" in text
    assert f"REGRESSION against run {HISTORY[1].id}" in text
    assert "noisy-neighbour: the truth went from #1 to missed" in text


def test_markdown_scorecard_is_a_table_with_the_verdict():
    md = scorecard.markdown(LATEST, COMPARISON)
    assert md.startswith(f"# Replay {LATEST.id}")
    assert "| n-plus-one | #1 | orders / dep-orders-2.14.0 | = truth (93%) | 1.30 s |  | same |" in md
    assert "| false-alarm | error | no root cause (false alarm) | could not replay: world failed to build |" in md
    assert "**REGRESSION against run" in md


def test_html_is_self_contained():
    page = scorecard.html(LATEST, HISTORY, COMPARISON)
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "url(" not in page  # no fonts or images fetched from CSS either


class _Drawn(HTMLParser):
    """What the browser's DOM holds: chart points per series, grid cells per case."""

    def __init__(self) -> None:
        super().__init__()
        self.points: dict[str, list[float]] = {}
        self.cells: dict[str, list[str]] = {}
        self.polylines: list[str] = []
        self._case: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "circle" and "point" in classes:
            self.points.setdefault(classes[1], []).append(float(a["data-value"] or 0))
        elif tag == "polyline":
            self.polylines.append(classes[1])
        elif tag == "tr" and a.get("data-case"):
            self._case = a["data-case"]
            self.cells[self._case] = []
        elif tag == "td" and "cell" in classes and self._case:
            self.cells[self._case].append(a.get("data-rank") or "")


def _pixels(png: Path) -> tuple[int, int, bytes, int]:
    """Decodes the 8-bit, non-interlaced RGB(A) PNG Chromium writes: (width, height, raw rows, bytes/pixel)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    out, previous = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
                line[i] = (line[i] + nearest) & 255
        out += line
        previous = line
    return width, height, bytes(out), bpp


def _count(pixels: tuple[int, int, bytes, int], hex_colour: str, tolerance: int = 8) -> int:
    width, height, raw, bpp = pixels
    want = bytes.fromhex(hex_colour.lstrip("#"))
    return sum(1 for i in range(0, width * height * bpp, bpp)
               if all(abs(raw[i + c] - want[c]) <= tolerance for c in range(3)))


def test_the_browser_draws_both_charts_and_the_per_case_grid(tmp_path):
    page = tmp_path / "scorecard.html"
    page.write_text(scorecard.html(LATEST, HISTORY, COMPARISON), encoding="utf-8")

    drawn = _Drawn()
    drawn.feed(headless_dom(page))
    assert drawn.points["top1"] == [1.0, 1.0, 0.3333]
    assert len(drawn.points["mrr"]) == len(drawn.points["p50"]) == len(drawn.points["p95"]) == 3
    assert set(drawn.polylines) == {"top1", "top3", "mrr", "p50", "p95"}
    assert drawn.cells == {"n-plus-one": ["#1", "#1", "#1"], "noisy-neighbour": ["#1", "#1", "missed"],
                           "false-alarm": ["#1", "#1", "error"]}

    pixels = _pixels(screenshot(page, tmp_path / "scorecard.png"))
    legend_swatch = 14 * 10
    for series in ("top1", "p95"):  # the first-drawn, widest line of each chart is visible, not only its legend
        assert _count(pixels, scorecard.SERIES[series]) > 3 * legend_swatch, series
    for colour in ("first", "miss", "error"):  # the grid's cells are painted in their rank colours
        assert _count(pixels, scorecard.RANK_COLOURS[colour]) > 400, colour
