"""Text from telemetry is data wherever a report is shown: hostile commit subjects, incident titles and
log lines neither break the HTML page's embedded JSON nor become live mentions or links in Markdown,
GitHub, Slack or Jira bodies."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from inquest.core import AgentRun, ChangeRef, Evidence, Impact, Incident, RankedHypothesis, Report, Scope, Window

T0 = datetime(2024, 11, 12, 14, 0, tzinfo=UTC)
# What a commit subject, an alert title or a log line can say to a page, a ticket or a chat channel.
HOSTILE = (
    "fix <!--<script> comment",
    "</script><script>document.title='owned'</script>",
    "<!channel> <!here> <https://evil.example|your dashboard> <@U024BE7LH>",
    "ping @here and @channel, cc @jdoe @acme/oncall",
    "see [runbook](https://evil.example/run) and [click](javascript:alert(1))",
    "![tracker](https://evil.example/pixel.png)",
    "line\u2028separator\u2029paragraph & <b>bold</b>",
    "{color:red}[~admin]|cell|{code}x{code}",
)
MENTION = re.compile(r"@(?:here|channel|jdoe|acme/oncall)\b")


@pytest.fixture
def hostile_report() -> Report:
    incident = Incident(id="INC-7", title=" / ".join(HOSTILE[:4]), service="checkout", started_at=T0,
                        window=Window(T0, T0 + timedelta(minutes=30)), symptoms=HOSTILE)
    evidence = tuple(Evidence(f"code_diff-{n}", "code_diff", "git", f"git show abc{n}",
                              f'commit abc{n} (billing 1.{n}: "{subject}") changes code', {"subject": subject})
                     for n, subject in enumerate(HOSTILE))
    hypotheses = tuple(RankedHypothesis(rank=n + 1, summary=f"billing 1.{n}: {subject}", service="billing",
                                        confidence=0.9 - n / 10, evidence=(e.id,), agents=("code_diff",),
                                        change=ChangeRef(id=f"dep-billing-1.{n}", kind="deploy"),
                                        reasons=(subject,), mitigation=f"roll back ({subject})")
                       for n, (subject, e) in enumerate(zip(HOSTILE, evidence)))
    scope = Scope(window=incident.window, baseline=Window(T0 - timedelta(hours=1), T0),
                  lookback=Window(T0 - timedelta(hours=24), T0 + timedelta(minutes=30)))
    return Report(incident=incident, scope=scope, hypotheses=hypotheses, evidence=evidence,
                  agents=(AgentRun("code_diff", "ok", 120, len(evidence)),), impact=Impact(), started_at=T0,
                  duration_ms=900,
                  notes=HOSTILE)


PROBE = """<script>
const out = document.createElement("pre"); out.id = "probe";
try {
  const report = JSON.parse(document.getElementById("inquest-report").textContent);
  out.textContent = JSON.stringify({summaries: report.hypotheses.map((h) => h.summary),
                                    title: report.incident.title, scripts: document.scripts.length,
                                    docTitle: document.title});
} catch (e) { out.textContent = JSON.stringify({error: String(e)}); }
document.body.appendChild(out);
</script>"""


def test_the_embedded_json_parses_in_a_browser_whatever_the_commit_subjects_say(hostile_report, tmp_path):
    from browser import headless_dom

    from inquest.render import render

    page = render(hostile_report, "html")
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    found = re.search(r'<pre id="probe">(.*?)</pre>', headless_dom(path), re.DOTALL)
    assert found, "the probe never ran: the page's JSON swallowed the rest of the document"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe.get("error") is None
    assert probe["summaries"] == [h.summary for h in hostile_report.hypotheses]
    assert probe["title"] == hostile_report.incident.title
    assert probe["scripts"] == 2 and "owned" not in probe["docTitle"]  # the JSON and the probe, nothing else


def test_the_embedded_json_has_no_character_a_script_element_would_act_on(hostile_report):
    from inquest.render import render

    page = render(hostile_report, "html")
    data = re.search(r'<script type="application/json" id="inquest-report">(.*?)</script>', page, re.DOTALL).group(1)
    assert not set(data) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(data)["incident"]["symptoms"] == list(HOSTILE)


def _live_markdown(text: str) -> list[str]:
    """Mentions, links and images a Markdown renderer would make live (outside code spans)."""
    outside_code = re.sub(r"(`+).*?\1", "", text)
    return (MENTION.findall(outside_code) + re.findall(r"(?<!\\)!?\[[^\]\n]*(?<!\\)\]\(", outside_code)
            + re.findall(r"<(?:https?|javascript|script|!)", outside_code))


def test_markdown_and_the_github_comment_carry_no_live_mention_link_or_image(hostile_report):
    from inquest.attach.github import comment_body
    from inquest.render.markdown import render_markdown

    for body in (render_markdown(hostile_report), comment_body(hostile_report).split("-->", 1)[1]):
        assert _live_markdown(body) == []
        assert "`@here`" in body and "javascript:alert(1)" in body  # still there, as text a reader can see


def test_slack_text_and_blocks_carry_no_control_sequence(hostile_report):
    from inquest.attach.slack import message

    payload = message(hostile_report, "https://reports.example/INC-7.html")
    texts = [payload["text"]] + [b["text"]["text"] for b in payload["blocks"]
                                 if b.get("text", {}).get("type") == "mrkdwn"]
    for text in texts:
        assert "<" not in text and ">" not in text, text  # <!channel>, <url|label>, <@U…> all need a "<"
    assert "&lt;!channel&gt;" in json.dumps(payload)


def test_jira_bodies_carry_no_link_mention_or_macro(hostile_report):
    from inquest.attach.ticket_doc import comment_body

    wiki = str(comment_body(hostile_report, "server", "report.json"))
    assert re.findall(r"(?<!\\)(?:\[~admin|\{color|\{code\}x|\|cell|\[runbook|\[click|!\[tracker)", wiki) == []
    assert "evil.example" in wiki  # the targets are shown, as text
    adf = json.dumps(comment_body(hostile_report, "cloud", "report.json"))
    assert '"link"' not in adf and '"mention"' not in adf
