"""The code-diff specialist: opens the commits behind recent changes and names the hunks that can explain
the symptom, linking them to the statements the database actually ran in the incident window."""

from __future__ import annotations

from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.diff_rules import Risk, classify, inert
from inquest.agents.sql_text import normalize
from inquest.core import Change, ChangeRef, Finding, Incident, Scope
from inquest.errors import CodeHistoryError, NoRepositoryError
from inquest.faults import Fault
from inquest.tools.backends.protocol import Table
from inquest.tools.code_history import CommitDiff


class CodeDiffAgent:
    name = "code_diff"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        everything, now, before = ask_together(lambda: backend.changes(scope.lookback),
                                               lambda: backend.db_statements(scope.window),
                                               lambda: backend.db_statements(scope.baseline))
        changes = [c for c in everything.items if c.commit]
        if not changes:
            book.record("changes", everything, "no changes with a commit to read")
            return book.finding("no_data")
        unread, no_repository = 0, []
        for change in changes:
            try:
                diff = deps.code.commit_diff(change.service, change.commit or "")
            except CodeHistoryError as exc:
                unread += 1
                if isinstance(exc, NoRepositoryError):
                    no_repository.append(change.service)
                book.record("git", f"git show {change.commit}", f"could not read {change.commit} for "
                            f"{change.id}: {exc}", {"change": change.id})
                continue
            self._judge(book, change, diff, now, before)
        if no_repository:
            # Not a failure: nobody told us where that code lives. Say how to, beside what was read.
            book.notes.append(f"no repository for {', '.join(sorted(set(no_repository)))}: set code.repositories "
                              f"(service: path of its git checkout) or code.repository in config.yaml")
        if len(no_repository) == len(changes):
            return book.finding("skipped")
        if unread == len(changes):
            return book.finding("error", error=f"none of the {len(changes)} commits could be read: "
                                              f"{book.evidence[-1].summary}")
        return book.finding("ok")

    def _judge(self, book: Notebook, change: Change, diff: CommitDiff, now: Table, before: Table) -> None:
        risks = [risk for hunk in diff.hunks for risk in classify(hunk)]
        first_line = diff.message.splitlines()[0] if diff.message else ""
        head = f"commit {diff.sha[:7]} ({change.service} {change.version or change.id}: \"{first_line}\")"
        if not risks:
            if all(inert(h) for h in diff.hunks):  # markup, styles, docs, a version bump: cannot be it
                evidence = book.record("git", diff.command, f"{head} touches only {', '.join(diff.files[:4])}: "
                                       "markup, styles, docs or a version string, nothing that runs",
                                       {"change": change.id, "files": list(diff.files)})
                book.suspect(f"{head} changes nothing that could explain the symptom", change.service, 0.05,
                             supports=(), contradicts=[evidence], change=ChangeRef.of(change), fault=Fault.CODE_CHANGE)
            else:  # the rules know common culprits, not all of them: silence is not innocence
                book.record("git", diff.command, f"{head} changes code in {', '.join(diff.files[:4])}, but none "
                            "of the patterns this agent knows (queries, loops, timeouts, pools, retries, flags, "
                            "migrations, caches)", {"change": change.id, "files": list(diff.files)})
            return
        supports = [book.record("git", diff.command, f"{head}: {r.path} ({r.context or 'module'}) {r.explanation}",
                                {"change": change.id, "risk": r.kind.value, "path": r.path, "statements": list(r.statements)})
                    for r in risks]
        linked, query = self._link(book, change, risks, now, before, head)
        supports.extend(linked)
        kinds = sorted({r.kind for r in risks})
        confidence = 0.3 + 0.15 * min(len(kinds), 2) + (0.3 if linked else 0.0)
        # A risky pattern names the fault it causes at run time, which is what other agents measure.
        fault = next((f for k, f in ((Fault.QUERY_IN_LOOP, Fault.N_PLUS_ONE), (Fault.BLOCKING_MIGRATION, Fault.LOCK_WAIT),
                                     (Fault.UNBOUNDED_CACHE, Fault.MEMORY_LEAK)) if k in kinds), kinds[0])
        book.suspect(f"{head} {risks[0].explanation}" + (" — and that query is what the database ran more of"
                                                          if linked else ""),
                     change.service, confidence, supports=supports, change=ChangeRef.of(change), query=query,
                     fault=fault)

    def _link(self, book: Notebook, change: Change, risks: list[Risk], now: Table, before: Table,
              head: str) -> tuple[list[str], str | None]:
        """Ties statements the diff added to statements the database ran in the incident window."""
        ran_now = {normalize(r["statement"]): r for r in now.records() if r["service"] == change.service}
        ran_before = {normalize(r["statement"]): r for r in before.records() if r["service"] == change.service}
        linked, query = [], None
        for statement in dict.fromkeys(s for r in risks for s in r.statements):
            hit = ran_now.get(normalize(statement))
            if not hit:
                continue
            old = ran_before.get(normalize(statement))
            if old is not None and hit["calls_per_request"] < 2 * old["calls_per_request"] and \
                    hit["mean_ms"] < 3 * old["mean_ms"]:
                continue  # it ran as before: the diff touched it, but the database did not notice
            then = "never in the baseline" if old is None else \
                f"{old['calls_per_request']} per request, {old['mean_ms']} ms in the baseline"
            linked.append(book.record(
                "telemetry:spans", now,
                f"the query {head} adds, `{hit['statement']}`, ran {hit['calls']} times in the incident window "
                f"({hit['calls_per_request']} per request, {hit['mean_ms']} ms each) — {then}",
                {"statement": hit["statement"], "now": hit, "baseline": old, "baseline_query": before.query}))
            query = query or hit["statement"]
        return linked, query
