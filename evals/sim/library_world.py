"""Scenarios whose cause is not a change of ours, or not only: a third-party outage, a noisy neighbour,
a traffic surge, and a retry storm that a small outside failure set off."""

from __future__ import annotations

from datetime import date

from inquest.evals.sim.background import Timeline
from inquest.evals.sim.model import (
    Alert,
    DatabaseFailover,
    HostSteal,
    PeerOutage,
    Retries,
    Scenario,
    TrafficSurge,
    Truth,
    When,
    hms,
)
from inquest.evals.sim.people import DANA
from inquest.evals.sim.shop import SHOP
from inquest.evals.sim.sources import CHECKOUT_RETRIES


def stripe_outage() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("inventory", hms(12, 51))
    payments = tl.harmless_deploy("payments", hms(13, 19), part="minor")
    tl.flag("flag-express-pay", "checkout", hms(13, 24), "checkout.express-pay enabled for 20%")
    tl.harmless_deploy("frontend", hms(13, 34))
    return Scenario(
        name="stripe_outage", case_id="stripe-outage", day=date(2026, 11, 10),
        summary="Stripe answers 503 to ~45% of charges; payments, checkout and the frontend fail with it",
        alert=Alert("INC-3107", "checkout", "POST /checkout", "errors", 0.05,
                    "Checkout failing: 5xx rate above 5% on checkout", ticket="acme/shop#903"),
        truth=Truth("stripe", None, "dependency_outage"),
        changes=tuple(tl.changes),
        effects=(PeerOutage("stripe", 0.45, 503, "503 Service Unavailable from api.stripe.com", (600, 3500),
                            When(start=hms(13, 27, 20), ramp_s=90)),),
        notes=f"""Stripe's charge API degrades at 13:27: about 45% of charges answer 503 after a slow wait. payments
fails the charge, checkout fails the order, the frontend shows the error page; checkout pages. None of our
changes is the cause and the right answer says so: the fault is a dependency outage at stripe (an
uninstrumented peer: client spans with peer.service "stripe" and no child). Red herrings: payments
{payments.version} deployed eight minutes before the onset, pinning the Stripe API version (harmless, but on
the very service whose Stripe calls fail), a checkout flag flipped three minutes before, a frontend deploy
after the onset. A naive
analysis blames the payments deploy (closest change on the failing path) or payments itself (its spans
fail and it logs the errors).""")


def retry_storm() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    retries = tl.config("cfg-checkout-inventory-retries", "checkout", hms(12, 38),
                        "INVENTORY_RETRY_ATTEMPTS 1 -> 6, INVENTORY_RETRY_BACKOFF_MS 200 -> 0", CHECKOUT_RETRIES,
                        author=DANA)
    tl.harmless_deploy("catalog", hms(13, 9))
    tl.harmless_deploy("inventory", hms(13, 21))
    return Scenario(
        name="retry_storm", case_id="retry-storm", day=date(2026, 11, 12),
        summary="a 45 s inventory-db failover, amplified by checkout's new retry policy into a lasting outage",
        alert=Alert("INC-3121", "frontend", "POST /checkout", "errors", 0.1,
                    "Checkout errors above 10% at the frontend", ticket="acme/shop#921"),
        truth=Truth("checkout", retries.id, "retry_storm"),
        changes=tuple(tl.changes),
        topology=SHOP.with_service("inventory", cpu=0.40),
        effects=(
            Retries("checkout", "POST /checkout", ("inventory", "POST /reservations"), 6, 0.0,
                    When(after=retries.id)),
            DatabaseFailover("inventory-db", 1.0, "terminating connection due to administrator command",
                             When(start=hms(13, 26, 30), end=hms(13, 27, 15))),
        ),
        notes="""At 12:38 a config change made checkout retry inventory reservations six times with no back-off
(it had been one attempt, 200 ms back-off). Nothing happens for 50 minutes. At 13:26:30 inventory-db fails
over (45 s of dropped connections, no change of ours): every reservation fails, checkout retries each six
times at once, inventory's request rate multiplies, its pods saturate and its queue outgrows checkout's 2 s
timeout, so every attempt times out and is retried again: the storm keeps itself going long after the
database is back, and stock lookups for product pages and carts fail with it.
Truth, decided: the retry-policy change (checkout, cfg-checkout-inventory-retries). It is what an SRE rolls
back first: the failover was a 45 s blip the old policy absorbed; the new policy turned it into a lasting
outage, and reverting it (or shedding checkout's retries) is what stops the storm; there is nothing to roll
back at inventory. What makes it hard: errors originate in inventory (overload 503s, timeouts at its
callers), inventory's CPU and pool saturate, inventory was deployed five minutes before the onset, and the
guilty change is 50 minutes old. A naive analysis blames inventory or its deploy.""")


def noisy_neighbour() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("catalog", hms(13, 2))
    tl.flag("flag-html-receipts-off", "notifications", hms(13, 18), "notifications.html-receipts disabled")
    tl.harmless_deploy("frontend", hms(13, 24))
    tl.harmless_deploy("inventory", hms(13, 36))
    return Scenario(
        name="noisy_neighbour", case_id="noisy-neighbour", day=date(2026, 11, 13),
        summary="another tenant of one catalog pod's node takes most of its CPU; pages served by that pod crawl",
        alert=Alert("INC-3130", "frontend", "GET /products/{id}", "latency", 1200.0,
                    "Product pages slow: p95 above 1.2 s", ticket="acme/shop#930"),
        truth=Truth("catalog", None, "noisy_neighbour"),
        changes=tuple(tl.changes),
        effects=(HostSteal("catalog", 1, 0.62, When(start=hms(13, 27), ramp_s=150)),),
        notes="""From 13:27 a batch job on the node under one of catalog's three pods takes most of its CPU.
That pod's CPU pins near 100%, its requests queue, and a third of product pages, featured lists and
searches crawl or fail with 503 when its queue overflows; the other two catalog pods are fine. No change of
ours is the cause: truth is catalog with no change, fault noisy_neighbour. Red herrings: a catalog deploy
25 minutes before, a frontend deploy three minutes before the onset on the alerting service itself, a
notifications flag, an inventory deploy after the onset. A naive analysis blames the frontend deploy
(closest change, on the alerting service) or the catalog deploy (the right service, the wrong cause:
rolling it back moves nothing, the pod's node is the problem).""")


def traffic_surge() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("frontend", hms(13, 12))
    tl.config("cfg-catalog-search-limit", "catalog", hms(13, 20), "search result page size 24 -> 36")
    tl.harmless_deploy("payments", hms(13, 23))
    return Scenario(
        name="traffic_surge", case_id="traffic-surge", day=date(2026, 11, 16),
        summary="a marketing push triples traffic within two minutes; the shop runs out of capacity",
        alert=Alert("INC-3161", "frontend", "GET /products/{id}", "errors", 0.05,
                    "Storefront 5xx above 5% on product pages", ticket="acme/shop#961"),
        truth=Truth("frontend", None, "traffic_surge"),
        changes=tuple(tl.changes),
        effects=(TrafficSurge(3.2, When(start=hms(13, 26), ramp_s=120)),),
        notes="""At 13:26 a push notification goes to every app user: entry traffic rises to 3.2 times its usual
rate within two minutes and stays there. frontend and catalog saturate (CPU pinned, queues, 503s when they
overflow), the pools of inventory and orders run dry. Nothing is broken and no change of ours is the
cause: truth is the entry service, frontend, with no change, fault traffic_surge; the remedy is capacity
(scale out, shed load), not a rollback. Red herrings: a frontend deploy 14 minutes before, a catalog
config change, a payments deploy three minutes before. A naive analysis blames catalog, inventory or
orders, where errors originate (overload 503s, pool timeouts), or the most recent deploy.""")
