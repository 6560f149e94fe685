"""The HTML report of the demo incident, opened in a real headless Chromium and checked for what is drawn:
the timeline's bars and markers, the service graph with the suspect highlighted, and nothing spilling
off the page. The browser is Debian's `chromium` (tests/browser.py); the page must need no network."""

from __future__ import annotations

import html
import json
import re
import struct

import pytest
from browser import headless_dom, screenshot
from conftest import deps_for

from inquest.render import render

# Measures the page after layout, in the browser, and leaves the numbers in the DOM for the test to read.
PROBE = """<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  const suspect = document.querySelector("#service-graph .node.suspect");
  const suspectChange = document.querySelector("#timeline line.change.suspect");
  const probe = {
    bars: all("#timeline rect.bar").map(box),
    redBars: all("#timeline rect.bar:not(.quiet)").length,
    changes: all("#timeline line.change").length,
    suspectChange: suspectChange && {box: box(suspectChange), title: suspectChange.textContent},
    onset: all("#timeline line.onset").map(box),
    lanes: all("#timeline g.agent-lane").map((g) => ({agent: g.dataset.agent,
      suspect: Array.from(g.querySelectorAll("circle.finding.suspect")).map(box)})),
    suspect: suspect && {service: suspect.dataset.service, box: box(suspect.querySelector("rect")),
      stroke: getComputedStyle(suspect.querySelector("rect")).stroke,
      fill: getComputedStyle(suspect.querySelector("rect")).fill},
    plain: all("#service-graph .node:not(.suspect) rect").map((r) => getComputedStyle(r).stroke),
    graph: box(document.querySelector("#service-graph")),
    failingEdges: all("#service-graph path.edge.failing").length,
    pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
    embedded: JSON.parse(document.getElementById("inquest-report").textContent).incident.id,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def demo_html(demo_world):
    from inquest.coordinator.investigation import investigate

    deps = deps_for(demo_world)
    report = investigate({i.id: i for i in deps.backend.incidents()}["INC-1042"], deps)
    return report, render(report, "html")


def test_the_page_is_self_contained(demo_html):
    _, page = demo_html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    embedded = re.search(r'<script type="application/json" id="inquest-report">(.*?)</script>', page, re.DOTALL)
    assert json.loads(embedded.group(1))["hypotheses"][0]["change"]["id"] == "dep-orders-2.14.0"


def test_the_demo_report_draws_its_timeline_and_service_graph_in_a_browser(demo_html, tmp_path):
    report, page = demo_html
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = headless_dom(path)
    probe = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL).group(1)))

    minutes = report.timeline
    assert len(probe["bars"]) == len(minutes) and all(b["w"] > 0 and b["h"] > 0 for b in probe["bars"])
    assert probe["redBars"] == sum(1 for m in minutes if m.errors)
    assert probe["changes"] == 6 and "dep-orders-2.14.0" in probe["suspectChange"]["title"]
    assert len(probe["onset"]) == 1 and probe["onset"][0]["h"] > 100

    lanes = {lane["agent"]: lane["suspect"] for lane in probe["lanes"]}
    assert set(lanes) == {run.agent for run in report.agents}
    corroborating = set(report.hypotheses[0].agents)
    assert {agent for agent, marks in lanes.items() if marks} == corroborating
    change_x = probe["suspectChange"]["box"]["x"]
    for agent in corroborating:  # each agent's mark sits on the blamed change's line
        [mark] = lanes[agent]
        assert abs(mark["x"] + mark["w"] / 2 - change_x) <= 2, (agent, mark, change_x)

    suspect = probe["suspect"]
    assert suspect["service"] == "orders" == report.hypotheses[0].service
    assert suspect["stroke"] == "rgb(207, 34, 46)" and suspect["fill"] == "rgb(255, 235, 233)"
    assert suspect["stroke"] not in probe["plain"]
    graph, node = probe["graph"], suspect["box"]
    assert node["w"] > 50 and node["h"] > 20
    assert graph["x"] <= node["x"] and node["x"] + node["w"] <= graph["x"] + graph["w"]
    assert probe["failingEdges"] >= 2  # frontend → checkout → orders carry the failures
    assert probe["pageWidth"] <= probe["viewport"]  # nothing spills sideways
    assert probe["embedded"] == "INC-1042"


def test_a_screenshot_of_the_page_is_taken(demo_html, tmp_path):
    _, page = demo_html
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    png = screenshot(tmp_path / "report.html", tmp_path / "report.png", width=1100, height=1400).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 1400)
    assert len(png) > 50_000  # a blank page compresses to a few kilobytes; the charts do not


# What a person reading the page would trip over: labels on top of each other or struck through by a
# line, a baseline not drawn, axis ticks at odd values, literal backticks, a caption promising what is not there.
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const centre = (el) => { const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; };
  const svgBox = (el) => { const b = el.getBBox(); return {x: b.x, y: b.y, w: b.width, h: b.height}; };
  const onTop = (el) => { el.scrollIntoView({block: "center"}); const [x, y] = centre(el);
    const hit = document.elementFromPoint(x, y);
    return hit === el || (hit !== null && hit.classList.contains("edge-label-bg")); };
  const probe = {
    markerLabels: all("#timeline .change-label, #timeline .onset-label").map((t) => ({text: t.textContent, box: box(t)})),
    markerLines: all("#timeline line.change, #timeline line.onset").map(box),
    baseline: all("#timeline rect.baseline-band").map(svgBox),
    normal: all("#timeline line.normal-p95").length,
    p95Points: all("#timeline polyline.p95").flatMap((p) => Array.from(p.points).map((q) => q.x)),
    p95Ticks: all("#timeline .p95-tick").map((t) => t.textContent),
    rateTicks: all("#timeline text.axis[text-anchor=end]").map((t) => t.textContent),
    edgeLabels: all("#service-graph text.edge-label").map((t) => ({box: svgBox(t), onTop: onTop(t)})),
    legends: all("p.legend").map((p) => p.textContent),
    anomalousNodes: all("#service-graph .node.anomalous").length,
    visibleText: document.querySelector("main").innerText,
    codes: all("td code, .verdict code").map((c) => c.textContent),
    groups: all("#evidence-groups .group").map((g) => ({id: g.id, cards: Array.from(g.querySelectorAll(".evidence")).map((c) => c.id)})),
    footer: document.querySelector("footer") && document.querySelector("footer").textContent,
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});
</script>"""


def _overlap(a, b) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


@pytest.fixture(scope="module")
def layout(demo_html, tmp_path_factory):
    _, page = demo_html
    path = tmp_path_factory.mktemp("layout") / "report.html"
    path.write_text(page.replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dom = headless_dom(path)
    return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL).group(1)))


def test_change_labels_neither_collide_nor_are_crossed_by_lines(layout):
    labels = layout["markerLabels"]
    assert len(labels) == 7  # six changes and the onset
    for i, a in enumerate(labels):
        assert not any(_overlap(a["box"], b["box"]) for b in labels[i + 1:]), a["text"]
        crossing = [line for line in layout["markerLines"]
                    if a["box"]["x"] + 1 < line["x"] < a["box"]["x"] + a["box"]["w"] - 1
                    and line["y"] < a["box"]["y"] + a["box"]["h"] - 2]
        assert not crossing, (a["text"], crossing)


def test_the_baseline_is_drawn_so_normal_is_visible(layout):
    [band] = layout["baseline"]
    inside = [x for x in layout["p95Points"] if band["x"] <= x <= band["x"] + band["w"]]
    assert len(inside) >= 30 and layout["normal"] == 1  # a p95 point per baseline minute, and its median


def test_axis_ticks_step_one_two_five(layout):
    values = [t for t in layout["p95Ticks"] if t != "p95"]
    assert values == ["0 ms", "500 ms", "1 s", "1.5 s", "2 s"]
    rates = [t for t in layout["rateTicks"] if t.endswith("%")]
    assert rates == ["0%", "5%", "10%", "15%"]


def test_edge_labels_sit_on_top_of_every_edge_and_apart(layout):
    labels = layout["edgeLabels"]
    assert len(labels) >= 2 and all(label["onTop"] for label in labels)
    assert not any(_overlap(a["box"], b["box"]) for i, a in enumerate(labels) for b in labels[i + 1:])


def test_captions_promise_only_what_is_drawn_and_backticks_become_code(layout):
    graph_legend = layout["legends"][1]
    assert ("orange" in graph_legend) == (layout["anomalousNodes"] > 0)
    assert "`" not in layout["visibleText"]
    assert "SELECT price FROM products WHERE sku = $1" in layout["codes"]


def test_evidence_is_grouped_under_the_hypothesis_it_supports(demo_html, layout):
    report, _ = demo_html
    groups = layout["groups"]
    assert groups[0]["id"] == "hyp-1"
    top = report.hypotheses[0]
    assert [c.removeprefix("ev-") for c in groups[0]["cards"]][:len(top.evidence)] == list(top.evidence)
    cards = [c for g in groups for c in g["cards"]]
    assert sorted(cards) == sorted(f"ev-{e.id}" for e in report.evidence)  # each piece shown once


def test_the_footer_says_when_and_by_which_version(layout):
    from inquest import __version__

    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by Inquest " + re.escape(__version__),
                     layout["footer"])


def test_data_without_root_spans_gets_a_message_not_an_empty_chart(demo_html):
    from dataclasses import replace

    report, _ = demo_html
    bare = replace(report, timeline=(), scope=replace(report.scope, entry_service=None))
    page = render(bare, "html")
    assert "No request timeline to draw:" in page and "no root spans in the incident window" in page
    timeline = page[page.index('<svg id="timeline"'):page.index("</svg>", page.index('<svg id="timeline"'))]
    assert 'class="bar' not in timeline and ">errors<" not in timeline and "p95-tick" not in timeline
