"""What every part of the demo world agrees on: its clock, its services, its statements, its secrets.

Times are integer microseconds since 2026-11-03 00:00 UTC.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from random import Random

US, MS = 1_000_000, 1000


def hms(hour: int, minute: int, second: int = 0) -> int:
    return ((hour * 60 + minute) * 60 + second) * US


T_START, T_END = hms(11, 30), hms(14, 40)
ROLLOUT = hms(13, 58, 30)  # orders v2.14.0 pods start replacing v2.13.2
BUCKET = 30 * US
BUCKETS = (T_END - T_START) // BUCKET
BASE_RATE = 9.0  # entry requests per second at scale 1.0
POOL_SIZE, POOL_TIMEOUT_MS = 20, 1500

PODS = {"frontend": 3, "catalog": 3, "checkout": 2, "orders": 3, "payments": 2, "inventory": 2, "notifications": 2}

ROUTES = (  # frontend endpoint, share of traffic
    ("GET /", 0.25), ("GET /products/{id}", 0.35), ("GET /search", 0.10), ("POST /cart/items", 0.10),
    ("POST /checkout", 0.20),
)

SQL_INSERT_ORDER = "INSERT INTO orders (user_id, tenant_id, total) VALUES ($1, $2, $3)"
SQL_ITEMS_HINTED = ("SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items order_items_order_id_idx) */ "
                    "WHERE order_id = $1")
SQL_ITEMS = "SELECT id, sku, qty FROM order_items WHERE order_id = $1"
SQL_PRICES_BATCH = "SELECT sku, price FROM products WHERE sku = ANY($1)"
SQL_PRICE_ONE = "SELECT price FROM products WHERE sku = $1"
SQL_STOCK = "SELECT sku, available FROM stock WHERE sku = $1"
SQL_RESERVE = ("UPDATE stock SET reserved = reserved + r.qty FROM unnest($1::text[], $2::int[]) AS r(sku, qty) "
               "WHERE stock.sku = r.sku")

POOL_TIMEOUT_MESSAGE = f"timeout acquiring connection from pool after {POOL_TIMEOUT_MS}ms (pool size {POOL_SIZE})"
SMTP_MESSAGE = "SMTP 421 4.7.0 try again later"

# -- planted secrets: fixed for every seed, so redaction tests can name them --------------------------
_SECRET_RNG = Random("inquest-demo-world-secrets")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(user: str, tenant: str, issued: int) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": user, "tid": tenant, "iat": issued, "exp": issued + 3600, "iss": "https://auth.acme-shop.example"}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64(_SECRET_RNG.randbytes(32))}"


DB_PASSWORD = "".join(_SECRET_RNG.choice(_ALNUM) for _ in range(22))
STRIPE_KEY = "sk_live_" + "".join(_SECRET_RNG.choice(_ALNUM) for _ in range(24))
SESSION_TOKENS = tuple(_jwt(f"u-{_SECRET_RNG.randrange(40000):05d}", f"t-{_SECRET_RNG.randrange(200):03d}",
                            1793700000 + i * 1800) for i in range(6))
EMAILS = ("jane.doe@example.com", "m.okafor@example.net", "lucia.fernandez@example.org", "tom.becker@example.com")
ORDERS_DSN = f"postgresql://orders_app:{DB_PASSWORD}@orders-db.internal:5432/orders?sslmode=require"
PLANTED_SECRETS: tuple[str, ...] = (DB_PASSWORD, STRIPE_KEY, *SESSION_TOKENS, *EMAILS)

DB_ATTRS = {
    "orders-db": json.dumps({"db.namespace": "orders", "server.address": "orders-db.internal", "server.port": 5432}),
    "inventory-db": json.dumps({"db.namespace": "inventory", "server.address": "inventory-db.internal",
                                "server.port": 5432}),
}
STRIPE_ATTRS = json.dumps({"server.address": "api.stripe.com", "url.full": "https://api.stripe.com/v1/charges"})
SMTP_ATTRS = json.dumps({"server.address": "smtp-relay.internal", "server.port": 587})
MSG_ATTRS = json.dumps({"messaging.system": "rabbitmq", "messaging.destination.name": "order.confirmed"})
REASONS = {500: "Internal Server Error", 503: "Service Unavailable"}


def ts(us: int) -> str:
    """A store timestamp for microseconds since midnight of 2026-11-03."""
    return SECONDS[us // US] + f"{us % US:06d}"


# "2026-11-03 HH:MM:SS." by second of the day, for the hours the world spans (None elsewhere).
SECONDS: list[str | None] = [None] * 86400
_TWO = [f"{i:02d}" for i in range(60)]
SECONDS[10 * 3600:16 * 3600] = [f"2026-11-03 {_TWO[h]}:{_TWO[m]}:{_TWO[s]}." for h in range(10, 16) for m in range(60)
                                for s in range(60)]

# One tab-separated line per row, in TABLES order; an empty field is NULL. No value ever holds a tab
# or a newline, so nothing needs quoting, and one %-format per row is the whole cost of writing it.
SPAN_LINE = "\t".join(["%s"] * 7 + ["%s%06d", "%s%06d", "%.3f"] + ["%s"] * 11) + "\n"
LOG_LINE = "\t".join(["%s"] * 9) + "\n"


def adoption(t: int, inject: bool) -> float:
    """Share of orders requests served by the guilty v2.14.0 code (a rolling update over 75 s)."""
    if not inject or t < ROLLOUT:
        return 0.0
    return min(1.0, (t - ROLLOUT) / (75 * US))


def pressure(t: int, inject: bool) -> float:
    """How saturated orders' connection pool is, 0..1: climbs as v2.14.0 takes traffic, then stays."""
    if not inject or t < ROLLOUT + 20 * US:
        return 0.0
    ramp = min(1.0, (t - ROLLOUT - 20 * US) / (80 * US))
    return ramp * (0.92 + 0.08 * math.sin((t - ROLLOUT) / (410 * US)))


def make_pods(seed: int) -> dict[str, list[str]]:
    rng = Random(seed * 31 + 5)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    pods = {}
    for service, count in PODS.items():
        replica_set = "".join(rng.choice("0123456789abcdef") for _ in range(6))
        pods[service] = [f"{service}-{replica_set}-{''.join(rng.choice(alphabet) for _ in range(5))}"
                         for _ in range(count)]
    return pods


@dataclass
class Aggregates:
    """What metrics and statement stats are computed from; adds up across segments."""

    pods: dict[str, list[str]]
    inject: bool
    requests: int = 0
    red_durations: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (service, bucket)
    red_errors: dict[tuple[str, int], int] = field(default_factory=dict)
    # (host, bucket): acquires, wait ms, timeouts, ms connections were held
    pool: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    db_stats: dict[tuple[int, str, str], list[float]] = field(default_factory=dict)  # (minute, ...): calls, ms, rows

    def add(self, other: Aggregates) -> None:
        self.requests += other.requests
        for key, values in other.red_durations.items():
            self.red_durations.setdefault(key, []).extend(values)
        for key, count in other.red_errors.items():
            self.red_errors[key] = self.red_errors.get(key, 0) + count
        for mine, theirs in ((self.pool, other.pool), (self.db_stats, other.db_stats)):
            for key, values in theirs.items():
                if key in mine:
                    mine[key] = [a + b for a, b in zip(mine[key], values)]
                else:
                    mine[key] = list(values)
