"""The customer-impact specialist: who felt it, how much, since when, and how fast the error budget burns.

Measured at the entry service's root spans, the requests customers actually made, so an error that
callers retried away does not count and one that reached a customer does.
"""

from __future__ import annotations

from inquest.agents.base import Deps, Notebook, ask_together
from inquest.agents.baseline import detect_onset
from inquest.core import Bucket, Finding, Impact, Incident, Scope
from inquest.tools.backends.protocol import Table


def buckets(table: Table) -> list[Bucket]:
    return [Bucket(at=r["bucket"], requests=r["requests"], errors=r["failed"], p95_ms=r["p95_ms"] or 0.0)
            for r in table.records()]


class ImpactAgent:
    name = "impact"

    def investigate(self, incident: Incident, scope: Scope, deps: Deps) -> Finding:
        book = Notebook(self.name)
        backend = deps.backend
        entry = scope.entry_service
        if entry is None:
            entries = backend.entry_services(scope.window)
            if not entries.rows:
                book.record("telemetry:spans", entries, "no root spans in the incident window: no entry service")
                return book.finding("no_data")
            entry = entries.rows[0][0]
        settings = deps.config.impact
        summary, base_summary, endpoints, timeline, base_timeline = ask_together(
            lambda: backend.entry_summary(scope.window, entry, settings.slow_request_ms),
            lambda: backend.entry_summary(scope.baseline, entry, settings.slow_request_ms),
            lambda: backend.entry_endpoints(scope.window, entry),
            lambda: backend.entry_timeline(scope.window, entry), lambda: backend.entry_timeline(scope.baseline, entry))
        now, before = summary.records()[0], base_summary.records()[0]
        if not now["requests"]:
            book.record("telemetry:spans", summary, f"no requests at {entry} in the incident window")
            return book.finding("no_data")

        error_rate = now["failed"] / now["requests"]
        base_rate = before["failed"] / before["requests"] if before["requests"] else 0.0
        burn = error_rate / (1 - settings.slo_availability)
        points = buckets(timeline)
        onset = detect_onset(buckets(base_timeline), points)
        peak = max(points, key=lambda b: (b.error_rate, b.p95_ms), default=None)
        book.record("telemetry:spans", summary,
                    f"{now['failed_users']:,} users and {now['failed_tenants']:,} tenants hit: {now['failed']:,} of "
                    f"{now['requests']:,} requests to {entry} failed ({error_rate:.1%}; baseline {base_rate:.1%}), "
                    f"{now['slow']:,} slower than {settings.slow_request_ms:.0f} ms",
                    {"entry_service": entry, **now, "baseline": before})
        worst = [r for r in endpoints.records() if r["failed"]][:3]
        if worst:
            book.record("telemetry:spans", endpoints, "failing endpoints: " + "; ".join(
                f"{r['endpoint']} {r['failed']:,}/{r['requests']:,} failed (p95 {r['p95_ms']:.0f} ms)" for r in worst),
                {"endpoints": endpoints.records()})
        book.record("telemetry:spans", timeline,
                    f"error budget burning at {burn:,.0f}× the rate a {settings.slo_availability:.2%} SLO allows; "
                    + (f"onset {onset:%H:%M} UTC" if onset else "no clear onset in the window")
                    + (f", peak {peak.at:%H:%M} UTC at {peak.error_rate:.0%} errors" if peak and peak.errors else ""),
                    {"onset": onset, "peak": peak.at if peak else None, "burn": round(burn, 1)})
        impact = Impact(
            requests=now["requests"], failed_requests=now["failed"], slow_requests=now["slow"],
            users=now["failed_users"], tenants=now["failed_tenants"],
            endpoints=tuple({**r, "error_rate": round(r["failed"] / r["requests"], 4) if r["requests"] else 0.0}
                            for r in endpoints.records()[:10]),
            error_rate=round(error_rate, 4), baseline_error_rate=round(base_rate, 4),
            error_budget_burn=round(burn, 1), onset=onset, peak=peak.at if peak else None,
            peak_error_rate=round(peak.error_rate, 4) if peak else 0.0,
        )
        # The baseline's buckets travel too, so a picture of the incident can show what normal looked like.
        return book.finding("ok", impact=impact, timeline=(*buckets(base_timeline), *points))
