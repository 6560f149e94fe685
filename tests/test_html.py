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
