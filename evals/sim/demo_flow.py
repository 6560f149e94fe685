"""The demo world's request flow: what each of the shop's services does with one request, on its afternoon.

The arrivals, the random streams and how spans and logs are written are the simulator's request
generator (traffic.py); the shop's services, routes and statements are the simulator's (shop.py). What
is the demo's own is this flow, written service by service rather than interpreted from a topology
(requests.py): the orders pool that v2.14.0 drains (demo_base.pressure), the N+1 price lookup, fixed
gaps between statements. It is kept call for call, random draw for random draw, so the demo world stays
seed-stable row for row. The day is cut into SEGMENTS stretches, each a `DemoRequests` with random
streams of its own, so segments run in parallel processes (demo_segments.py).
"""

from __future__ import annotations

import math
from collections import defaultdict

from inquest.evals.sim.demo_base import (
    BASE_RATE,
    CLOCK,
    POOL_SIZE,
    POOL_TIMEOUT_MESSAGE,
    POOL_TIMEOUT_MS,
    ROLLOUT,
    ROUTES,
    T_END,
    T_START,
    Aggregates,
    adoption,
    make_pods,
    pressure,
)
from inquest.evals.sim.model import BUCKET, MS, US, hms
from inquest.evals.sim.planted import EMAILS, STRIPE_KEY
from inquest.evals.sim.shop import (
    DB_ATTRS,
    MSG_ATTRS,
    POOL_ATTRS,
    REASONS,
    SMTP_ATTRS,
    SMTP_MESSAGE,
    SQL_INSERT_ORDER,
    SQL_ITEMS,
    SQL_ITEMS_HINTED,
    SQL_PRICE_ONE,
    SQL_PRICES_BATCH,
    SQL_RESERVE,
    SQL_STOCK,
    STRIPE_ATTRS,
)
from inquest.evals.sim.traffic import Flush, Traffic, diurnal

SEGMENTS = 6
# Someone turned debug logging on in payments a few times: each time one request logs its
# Authorization header.
STRIPE_DEBUG_AT = (hms(12, 7, 10), hms(13, 21, 40), hms(14, 2, 5), hms(14, 16, 50), hms(14, 29, 30))


class DemoRequests(Traffic):
    """One segment of the demo's afternoon. Each service is a method taking (c, start, parent span id, ...)
    and returning (end, HTTP status); `c` is the request's context: (trace id, user, tenant, sampled for
    INFO logs). Spans are emitted when they end, so a parent follows its children."""

    def __init__(self, seed: int, scale: float, inject: bool, segment: int) -> None:
        super().__init__(CLOCK, seed, scale, T_START, T_END, segment, SEGMENTS)
        self.inject, self.segment = inject, segment
        self.pods = make_pods(seed)
        self.pool: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
        self.db_stats: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
        self._stripe_debug = sorted((t for t in STRIPE_DEBUG_AT if self.start <= t < self.end), reverse=True)

    def aggregates(self) -> Aggregates:
        """What metrics are derived from; RED signals per service (the demo's metrics do not split by operation)."""
        red: dict[tuple[str, int], list[float]] = {}
        errors: dict[tuple[str, int], int] = {}
        for (service, _, bucket), durations in self.red.items():
            red.setdefault((service, bucket), []).extend(durations)
        for (service, _, bucket), count in self.red_errors.items():
            errors[(service, bucket)] = errors.get((service, bucket), 0) + count
        return Aggregates(self.pods, self.inject, self.requests, red, errors, dict(self.pool), dict(self.db_stats))

    # -- plumbing ---------------------------------------------------------------------------------

    def pick_host(self, service: str) -> str:
        pods = self.pods[service]
        return pods[int(self.rng.random() * len(pods))]

    def _access(self, at, c, sid, service, host, method, path, code) -> None:
        if c[3]:
            self._access_line(at, c, sid, service, host, method, path, code)

    def _db(self, c, parent, service, host, peer, name, statement, start, duration, rows) -> int:
        end = start + duration
        self._span(c, self._id(), parent, service, host, name, "CLIENT", start, end, False, peer=peer,
                   statement=statement, attrs=DB_ATTRS[peer])
        stat = self.db_stats[((start - T_START) // (60 * US), service, statement)]
        stat[0] += 1
        stat[1] += duration / MS
        stat[2] += rows
        return end

    def _call(self, c, service, host, parent, name, peer, method, route, start, callee, *args) -> tuple[int, int]:
        """A CLIENT HTTP span in `service` around `callee`, whose SERVER span becomes its child."""
        sid = self._id()
        end, code = callee(c, start + self._net(), sid, *args)
        end += self._net()
        error = code >= 500
        self._span(c, sid, parent, service, host, name, "CLIENT", start, end, error,
                   f"{code} {REASONS.get(code, 'Error')}" if error else "", method, route, code, peer)
        return end, code

    # -- the requests -----------------------------------------------------------------------------

    def run(self, flush: Flush) -> None:
        """Simulates the segment's requests, handing span lines to `flush` as time passes."""
        base = BASE_RATE * self.scale
        for t, route, user, items, sku in self.arrivals(lambda at: base * diurnal(at, T_START),
                                                         [share for _, share in ROUTES], flush):
            c = (f"{self.rng.getrandbits(128):032x}", f"u-{user:05d}", self.tenant_of[user], self.r() < 0.2)
            self.frontend(c, t, route, items, sku)

    def frontend(self, c, start, route, items, sku) -> None:
        host, sid = self.pick_host("frontend"), self._id()
        endpoint = ROUTES[route][0]
        method, path = endpoint.split(" ")
        t = start + self.ms((0.8, 3.5))
        message = ""
        if route == 0:
            t, code = self._call(c, "frontend", host, sid, "GET /featured", "catalog", "GET", "/featured", t,
                                 self.catalog, "/featured", sku)
            t += self.ms((4, 14))
        elif route == 1:
            path = f"/products/{sku}"
            t, code = self._call(c, "frontend", host, sid, "GET /products/{id}", "catalog", "GET",
                                 "/products/{id}", t, self.catalog, "/products/{id}", sku)
            t += self.ms((5, 18))
        elif route == 2:
            t, code = self._call(c, "frontend", host, sid, "GET /search", "catalog", "GET", "/search", t,
                                 self.catalog, "/search", sku)
            t += self.ms((3, 10))
        elif route == 3:
            t, code = self._call(c, "frontend", host, sid, "GET /stock/{sku}", "inventory", "GET", "/stock/{sku}",
                                 t, self.inventory_stock, sku)
            code = 201 if code == 200 else code
            t += self.ms((1, 4))
        else:
            t, code = self._call(c, "frontend", host, sid, "POST /checkout", "checkout", "POST", "/checkout", t,
                                 self.checkout, items)
            t += self.ms((1, 5))
            if code >= 500:
                code, message = 500, "checkout failed: upstream returned 500"
                self.log(t - 200, c, sid, "ERROR", 17, "frontend", host, message)
        self._span(c, sid, "", "frontend", host, endpoint, "SERVER", start, t, code >= 500, message, method,
                   endpoint.split(" ")[1], code)
        self._access(t, c, sid, "frontend", host, method, path, code)

    def catalog(self, c, start, parent, route, sku) -> tuple[int, int]:
        host, sid = self.pick_host("catalog"), self._id()
        rng = self.rng
        if route == "/search":
            # Full-text ranking in PostgreSQL, known to be slow (SHOP-431): p50 ~0.7 s, p95 ~1.2 s.
            t = start + int(math.exp(rng.gauss(math.log(700), 0.33)) * MS)
        elif route == "/featured":
            t = start + self.ms((6, 30))
        else:
            t = start + self.ms((3, 9))
            t, _ = self._call(c, "catalog", host, sid, "GET /stock/{sku}", "inventory", "GET", "/stock/{sku}", t,
                              self.inventory_stock, sku)
            t += self.ms((2, 10))
        self._span(c, sid, parent, "catalog", host, f"GET {route}", "SERVER", start, t, False, "", "GET", route,
                   200)
        self._access(t, c, sid, "catalog", host, "GET", route.replace("{id}", str(sku)), 200)
        return t, 200

    def inventory_stock(self, c, start, parent, sku) -> tuple[int, int]:
        host, sid = self.pick_host("inventory"), self._id()
        t = self._db(c, sid, "inventory", host, "inventory-db", "SELECT stock", SQL_STOCK,
                     start + self.ms((0.5, 2)), self.ms((0.8, 3.5)), 1)
        missing = self.rng.random() < 0.01
        code = 404 if missing else 200
        t += self.ms((0.5, 2.5))
        if missing:
            self.log(t - 100, c, sid, "WARN", 13, "inventory", host, f"stock record not found for sku=SKU-{sku:05d}")
        self._span(c, sid, parent, "inventory", host, "GET /stock/{sku}", "SERVER", start, t, False, "", "GET",
                   "/stock/{sku}", code)
        self._access(t, c, sid, "inventory", host, "GET", f"/stock/SKU-{sku:05d}", code)
        return t, code

    def checkout(self, c, start, parent, items) -> tuple[int, int]:
        host, sid = self.pick_host("checkout"), self._id()
        order_id = 4_000_000 + int(self.rng.random() * 1_000_000)
        t = start + self.ms((1.5, 6))
        t, code = self._call(c, "checkout", host, sid, "POST /orders", "orders", "POST", "/orders", t,
                             self.orders, items, order_id)
        message = ""
        if code >= 500:
            message = f"orders call failed: {code} {REASONS[code]}"
            t += self.ms((0.5, 2))
            self.log(t - 300, c, sid, "ERROR", 17, "checkout", host, f"{message} order_id={order_id}")
            code = 500
        else:
            t, code = self._call(c, "checkout", host, sid, "POST /payments", "payments", "POST", "/payments",
                                 t + self.ms((0.3, 1.5)), self.payments, order_id)
            if code == 200:
                t, _ = self._call(c, "checkout", host, sid, "POST /reservations", "inventory", "POST",
                                  "/reservations", t + self.ms((0.3, 1.5)), self.inventory_reserve, items, order_id)
                t = self.publish(c, host, sid, t + self.ms((0.3, 1.5)), order_id)
                if c[3]:
                    self.log(t, c, sid, "INFO", 9, "checkout", host, f"checkout completed order_id={order_id} "
                              f"user={c[1]}")
            t += self.ms((0.5, 3))
        self._span(c, sid, parent, "checkout", host, "POST /checkout", "SERVER", start, t, code >= 500, message,
                   "POST", "/checkout", code)
        self._access(t, c, sid, "checkout", host, "POST", "/checkout", code)
        return t, code

    def orders(self, c, start, parent, items, order_id) -> tuple[int, int]:
        """POST /orders: one pooled connection per request; v2.14.0 prices items one query at a time."""
        host, sid, rng = self.pick_host("orders"), self._id(), self.rng
        t = start + self.ms((5, 14))  # parse, validate the cart, load the tenant's settings
        load = pressure(start, self.inject)
        new_code = rng.random() < adoption(start, self.inject)
        pool = self.pool[(host, (start - T_START) // BUCKET)]
        acquire = self._id()
        wobble = 0.9 + 0.2 * math.sin((start - ROLLOUT) / (190 * US))
        if load and rng.random() < 0.58 * load * wobble:  # about half time out
            end = t + POOL_TIMEOUT_MS * MS + self.ms((0.05, 0.6))
            self._span(c, acquire, sid, "orders", host, "pool.acquire", "INTERNAL", t, end, True,
                       POOL_TIMEOUT_MESSAGE, attrs=POOL_ATTRS % "orders-db")
            pool[0] += 1
            pool[1] += (end - t) / MS
            pool[2] += 1
            pending = int(22 + 22 * load * rng.random())
            self.log(end + 150, c, sid, "ERROR", 17, "orders", host, f"timed out waiting for connection from pool "
                      f"after {POOL_TIMEOUT_MS}ms (pool size {POOL_SIZE}, pending {pending})")
            t = end + self.ms((0.4, 2))
            self._span(c, sid, parent, "orders", host, "POST /orders", "SERVER", start, t, True,
                       POOL_TIMEOUT_MESSAGE, "POST", "/orders", 503)
            self._access(t, c, sid, "orders", host, "POST", "/orders", 503)
            return t, 503
        # Those that get a connection mostly got it late: 0.7-1.45 s at full saturation.
        wait = self.ms((0.03, 0.4)) + (int(load * (700 + 750 * rng.random() ** 0.6) * MS) if load else 0)
        acquired = t + wait
        self._span(c, acquire, sid, "orders", host, "pool.acquire", "INTERNAL", t, acquired, False,
                   attrs=POOL_ATTRS % "orders-db")
        slow = 1 + 0.6 * load  # a busier database answers everything a little slower
        t = self._db(c, sid, "orders", host, "orders-db", "INSERT orders", SQL_INSERT_ORDER, acquired + 200,
                     int(self.ms((1, 3)) * slow), 1)
        if new_code:
            t = self._db(c, sid, "orders", host, "orders-db", "SELECT order_items", SQL_ITEMS, t + 150,
                         self.ms((35, 60)), items)
            for _ in range(items):
                t = self._db(c, sid, "orders", host, "orders-db", "SELECT products", SQL_PRICE_ONE, t + 120,
                             self.ms((4, 8)), 1)
        else:
            t = self._db(c, sid, "orders", host, "orders-db", "SELECT order_items", SQL_ITEMS_HINTED, t + 150,
                         int(self.ms((1, 3)) * slow), items)
            t = self._db(c, sid, "orders", host, "orders-db", "SELECT products", SQL_PRICES_BATCH, t + 150,
                         int(self.ms((1.4, 2.8)) * slow), items)
        pool[0] += 1
        pool[1] += wait / MS
        pool[3] += (t - acquired) / MS
        t += self.ms((4, 12))  # build the confirmation
        if c[3]:
            total = f"{19 * items + int(rng.random() * 40 * items)}.{int(rng.random() * 100):02d}"
            self.log(t - 500, c, sid, "INFO", 9, "orders", host, f"order created order_id={order_id} "
                      f"tenant={c[2]} items={items} total={total}")
        self._span(c, sid, parent, "orders", host, "POST /orders", "SERVER", start, t, False, "", "POST", "/orders",
                   201)
        self._access(t, c, sid, "orders", host, "POST", "/orders", 201)
        return t, 201

    def payments(self, c, start, parent, order_id) -> tuple[int, int]:
        host, sid, rng = self.pick_host("payments"), self._id(), self.rng
        t = start + self.ms((1, 4))
        if self._stripe_debug and start >= self._stripe_debug[-1]:
            self._stripe_debug.pop()
            self.log(t, c, sid, "DEBUG", 5, "payments", host,
                      f"POST https://api.stripe.com/v1/charges Authorization: Bearer {STRIPE_KEY}")
        declined = rng.random() < 0.02
        code = 402 if declined else 200
        stripe = self._id()
        end = t + int((150 + 150 * rng.random() ** 1.3) * MS)
        self._span(c, stripe, sid, "payments", host, "POST", "CLIENT", t, end, False, "", "POST", "", code,
                   "stripe", attrs=STRIPE_ATTRS)
        t = end + self.ms((1, 4))
        if declined:
            reason = ("insufficient_funds", "do_not_honor", "expired_card")[int(rng.random() * 3)]
            self.log(t - 300, c, sid, "WARN", 13, "payments", host, f"card declined: {reason} order_id={order_id}")
        elif c[3]:
            self.log(t - 300, c, sid, "INFO", 9, "payments", host, f"charge succeeded order_id={order_id}")
        self._span(c, sid, parent, "payments", host, "POST /payments", "SERVER", start, t, False, "", "POST",
                   "/payments", code)
        self._access(t, c, sid, "payments", host, "POST", "/payments", code)
        return t, code

    def inventory_reserve(self, c, start, parent, items, order_id) -> tuple[int, int]:
        host, sid = self.pick_host("inventory"), self._id()
        t = self._db(c, sid, "inventory", host, "inventory-db", "UPDATE stock", SQL_RESERVE, start + self.ms((0.5, 2)),
                     self.ms((2, 6)), items)
        t += self.ms((0.5, 2))
        self._span(c, sid, parent, "inventory", host, "POST /reservations", "SERVER", start, t, False, "", "POST",
                   "/reservations", 201)
        self._access(t, c, sid, "inventory", host, "POST", "/reservations", 201)
        return t, 201

    def publish(self, c, host, parent, start, order_id) -> int:
        producer = self._id()
        end = start + self.ms((0.6, 2.5))
        self._span(c, producer, parent, "checkout", host, "order.confirmed publish", "PRODUCER", start, end, False,
                   attrs=MSG_ATTRS)
        self.notify(c, end + self.ms((3, 60)), producer, order_id)
        return end

    def notify(self, c, start, parent, order_id) -> None:
        host, sid, rng = self.pick_host("notifications"), self._id(), self.rng
        t = start + self.ms((1, 5))
        if rng.random() < 0.02:
            email = EMAILS[int(rng.random() * len(EMAILS))]
            self.log(t, c, sid, "INFO", 9, "notifications", host, f"sending order confirmation to {email}")
        elif c[3]:
            self.log(t, c, sid, "INFO", 9, "notifications", host, f"order.confirmed received order_id={order_id}")
        failed = rng.random() < 0.01
        end = t + self.ms((40, 130))
        message = SMTP_MESSAGE if failed else ""
        self._span(c, self._id(), sid, "notifications", host, "smtp.send", "CLIENT", t, end, failed, message,
                   peer="smtp-relay", attrs=SMTP_ATTRS)
        t = end + self.ms((0.5, 2))
        if failed:
            self.log(t - 300, c, sid, "ERROR", 17, "notifications", host,
                      f"{SMTP_MESSAGE} (order_id={order_id}, attempt 1/5)")
        self._span(c, sid, parent, "notifications", host, "order.confirmed process", "CONSUMER", start, t, failed,
                   message, attrs=MSG_ATTRS)
