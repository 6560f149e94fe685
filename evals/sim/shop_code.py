"""The source files of the shop's monorepo ("acme/shop") as its first commit holds them.

Data only: `repo.py` (scenarios) and `demo_repo.py` (the demo world) turn it into a git repository, and
sources.py adds what the scenarios' changes need. Each service lives in `services/<name>/<name>/`; its
version is `__version__` in the package's `__init__.py`. The back office's files are here, the
customer-facing services' in shop_code_front.py.
"""

from __future__ import annotations

from inquest.evals.sim.shop_code_front import (
    CATALOG_CONFIG,
    CATALOG_SEARCH,
    FRONTEND_CHECKOUT_HTML,
    FRONTEND_CSS,
    FRONTEND_ROUTES,
    NOTIFICATIONS_CONSUMER,
    NOTIFICATIONS_MAILER,
    NOTIFICATIONS_TEMPLATE,
)

INITIAL_VERSIONS = {
    "frontend": "5.1.2", "catalog": "4.6.1", "checkout": "3.10.2", "orders": "2.13.0",
    "payments": "2.7.3", "inventory": "3.7.9", "notifications": "1.8.2",
}

README = """# acme/shop

The Acme online shop: seven small services behind one frontend.

| service | owns | talks to |
|---|---|---|
| frontend | pages, sessions | catalog, inventory, checkout |
| catalog | products, search | inventory |
| checkout | the checkout flow | orders, payments, inventory, `order.confirmed` |
| orders | orders (PostgreSQL `orders-db`) | |
| payments | charges | Stripe |
| inventory | stock, reservations (PostgreSQL `inventory-db`) | |
| notifications | e-mail | consumes `order.confirmed` |

Every service deploys independently from `main`; versions live in `services/<name>/<name>/__init__.py`.
"""

CODEOWNERS = """services/frontend/       @acme/web
services/catalog/        @acme/discovery
services/checkout/       @acme/checkout
services/orders/         @acme/checkout
services/payments/       @acme/payments
services/inventory/      @acme/fulfilment
services/notifications/  @acme/fulfilment
"""

ORDERS_CONFIG = '''"""Settings for the orders service, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get("ORDERS_DATABASE_URL", "postgresql://orders@localhost:5432/orders")
    pool_min_size: int = int(os.environ.get("ORDERS_POOL_MIN_SIZE", "2"))
    pool_max_size: int = int(os.environ.get("ORDERS_POOL_MAX_SIZE", "20"))
    # Requests waiting longer than this for a connection fail with 503 instead of piling up.
    pool_timeout_ms: int = int(os.environ.get("ORDERS_POOL_TIMEOUT_MS", "1500"))
    statement_timeout_ms: int = 5000


settings = Settings()
'''

ORDERS_APP = '''"""The orders service: creates orders for checkout."""

from __future__ import annotations

import logging

from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import __version__
from .config import settings
from .handlers import create_order

log = logging.getLogger("orders")


def make_pool() -> ConnectionPool:
    log.info("connecting to %s", settings.database_url)
    return ConnectionPool(settings.database_url, min_size=settings.pool_min_size,
                          max_size=settings.pool_max_size, timeout=settings.pool_timeout_ms / 1000)


pool = make_pool()


async def post_order(request):
    body = await request.json()
    try:
        with pool.connection() as conn:
            order = create_order(conn, body)
    except PoolTimeout:
        log.error("timed out waiting for connection from pool after %sms (pool size %s, pending %s)",
                  settings.pool_timeout_ms, settings.pool_max_size, pool.get_stats().get("requests_waiting", 0))
        return JSONResponse({"error": "database busy"}, status_code=503)
    return JSONResponse(order, status_code=201)


app = Starlette(routes=[Route("/orders", post_order, methods=["POST"])])
log.info("orders %s ready", __version__)
'''

ORDERS_HANDLERS = '''"""Request handling for POST /orders."""

from __future__ import annotations

import logging
from decimal import Decimal

from . import repository

log = logging.getLogger("orders.handlers")


def create_order(conn, body: dict) -> dict:
    order_id = int(body["order_id"])
    total = Decimal(str(body["total"]))
    repository.insert_order(conn, body["user_id"], body["tenant_id"], total)
    items = repository.order_items(conn, order_id)
    prices = repository.item_prices(conn, items)
    lines = [{"sku": i.sku, "qty": i.qty, "price": str(prices.get(i.sku, "0"))} for i in items]
    log.info("order created order_id=%s items=%d total=%s", order_id, len(lines), total)
    return {"order_id": order_id, "lines": lines, "total": str(total)}
'''

ORDERS_REPOSITORY = '''"""Data access for orders. Statements use psycopg placeholders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

INSERT_ORDER = "INSERT INTO orders (user_id, tenant_id, total) VALUES (%s, %s, %s)"

# order_items is ~40M rows and the planner picks a sequential scan for big tenants unless told
# otherwise (INC-0977). Keep the hint until the table is partitioned.
ORDER_ITEMS = "SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items order_items_order_id_idx) */ WHERE order_id = %s"

ITEM_PRICES = "SELECT sku, price FROM products WHERE sku = ANY(%s)"


@dataclass(frozen=True)
class OrderItem:
    id: int
    sku: str
    qty: int


def insert_order(conn, user_id: str, tenant_id: str, total: Decimal) -> None:
    with conn.cursor() as cur:
        cur.execute(INSERT_ORDER, (user_id, tenant_id, total))


def order_items(conn, order_id: int) -> list[OrderItem]:
    with conn.cursor() as cur:
        cur.execute(ORDER_ITEMS, (order_id,))
        return [OrderItem(*row) for row in cur.fetchall()]


def item_prices(conn, items: list[OrderItem]) -> dict[str, Decimal]:
    with conn.cursor() as cur:
        cur.execute(ITEM_PRICES, ([item.sku for item in items],))
        return dict(cur.fetchall())
'''

INVENTORY_REPOSITORY = '''"""Data access for stock and reservations (inventory-db)."""

from __future__ import annotations

STOCK_BY_SKU = "SELECT sku, available FROM stock WHERE sku = %s"

RESERVE = (
    "UPDATE stock SET reserved = reserved + r.qty FROM unnest(%s::text[], %s::int[]) AS r(sku, qty) "
    "WHERE stock.sku = r.sku"
)


def stock(conn, sku: str) -> tuple[str, int] | None:
    with conn.cursor() as cur:
        cur.execute(STOCK_BY_SKU, (sku,))
        return cur.fetchone()


def reserve(conn, skus: list[str], quantities: list[int]) -> int:
    with conn.cursor() as cur:
        cur.execute(RESERVE, (skus, quantities))
        return cur.rowcount
'''

INVENTORY_APP = '''"""The inventory service: stock lookups and reservations."""

from __future__ import annotations

import logging

from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import repository
from .config import settings

log = logging.getLogger("inventory")
pool = ConnectionPool(settings.database_url, max_size=settings.pool_max_size, timeout=settings.pool_timeout_ms / 1000)


async def get_stock(request):
    sku = request.path_params["sku"]
    with pool.connection() as conn:
        row = repository.stock(conn, sku)
    if row is None:
        log.warning("stock record not found for sku=%s", sku)
        return JSONResponse({"error": "unknown sku"}, status_code=404)
    return JSONResponse({"sku": row[0], "available": row[1]})


async def post_reservations(request):
    body = await request.json()
    with pool.connection() as conn:
        count = repository.reserve(conn, body["skus"], body["quantities"])
    log.info("reserved %d items for order %s", count, body["order_id"])
    return JSONResponse({"reserved": count}, status_code=201)


app = Starlette(routes=[
    Route("/stock/{sku}", get_stock),
    Route("/reservations", post_reservations, methods=["POST"]),
])
'''

INVENTORY_CONFIG = '''"""Settings for the inventory service."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get("INVENTORY_DATABASE_URL", "postgresql://inventory@localhost:5432/inventory")
    pool_max_size: int = 20
    pool_timeout_ms: int = 2000


settings = Settings()
'''

CHECKOUT_HANDLERS = '''"""POST /checkout: create the order, charge, reserve stock, announce it."""

from __future__ import annotations

import logging
import secrets

from .clients import inventory, orders, payments, publisher

log = logging.getLogger("checkout")


class CheckoutFailed(Exception):
    pass


def checkout(cart: dict, user_id: str, tenant_id: str) -> dict:
    order_id = secrets.randbelow(9_000_000) + 1_000_000
    resp = orders.post("/orders", json={"order_id": order_id, "user_id": user_id, "tenant_id": tenant_id,
                                        "total": cart["total"]})
    if resp.status_code >= 500:
        log.error("orders call failed: %s %s order_id=%s", resp.status_code, resp.reason_phrase, order_id)
        raise CheckoutFailed("orders unavailable")
    charge = payments.post("/payments", json={"order_id": order_id, "amount": cart["total"]},
                           headers={"Idempotency-Key": f"order-{order_id}"})
    if charge.status_code == 402:
        return {"order_id": order_id, "status": "payment_declined"}
    inventory.post("/reservations", json={"order_id": order_id, "skus": [l["sku"] for l in cart["lines"]],
                                          "quantities": [l["qty"] for l in cart["lines"]]})
    publisher.publish("order.confirmed", {"order_id": order_id, "user_id": user_id})
    log.info("checkout completed order_id=%s user=%s", order_id, user_id)
    return {"order_id": order_id, "status": "confirmed"}
'''

CHECKOUT_CLIENTS = '''"""Clients for the services checkout calls. Timeouts are per attempt; nothing retries."""

import httpx

from .messaging import Publisher

orders = httpx.Client(base_url="http://orders:8080", timeout=3.0)
payments = httpx.Client(base_url="http://payments:8080", timeout=10.0)
inventory = httpx.Client(base_url="http://inventory:8080", timeout=2.0)
publisher = Publisher("amqp://rabbitmq:5672/")
'''

PAYMENTS_STRIPE = '''"""A thin Stripe client: one charge per order."""

from __future__ import annotations

import logging
import os

import httpx

log = logging.getLogger("payments.stripe")

STRIPE_API = "https://api.stripe.com/v1"
STRIPE_API_VERSION = "2023-10-16"


class CardDeclined(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def charge(amount_cents: int, currency: str, customer: str, idempotency_key: str) -> str:
    headers = {"Authorization": f"Bearer {os.environ['STRIPE_SECRET_KEY']}", "Stripe-Version": STRIPE_API_VERSION,
               "Idempotency-Key": idempotency_key}
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s/charges Authorization: %s", STRIPE_API, headers["Authorization"])
    resp = httpx.post(f"{STRIPE_API}/charges", headers=headers, timeout=8.0,
                      data={"amount": amount_cents, "currency": currency, "customer": customer})
    if resp.status_code == 402:
        raise CardDeclined(resp.json()["error"].get("decline_code", "generic_decline"))
    resp.raise_for_status()
    return resp.json()["id"]
'''


def _app(service: str, routes: str) -> str:
    return (f'"""The {service} service."""\n\nimport logging\n\nfrom starlette.applications import Starlette\n\n'
            f'from . import __version__\n\nlog = logging.getLogger("{service}")\n'
            f"app = Starlette(routes=[{routes}])\nlog.info(\"{service} %s ready\", __version__)\n")


def initial_tree() -> dict[str, str]:
    tree = {"README.md": README, ".github/CODEOWNERS": CODEOWNERS}
    for service, version in INITIAL_VERSIONS.items():
        tree[f"services/{service}/{service}/__init__.py"] = f'__version__ = "{version}"\n'
        tree[f"services/{service}/Dockerfile"] = (
            "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir .\n"
            f'CMD ["uvicorn", "{service}.app:app", "--host", "0.0.0.0", "--port", "8080"]\n')
    tree.update({
        "services/orders/orders/config.py": ORDERS_CONFIG,
        "services/orders/orders/app.py": ORDERS_APP,
        "services/orders/orders/handlers.py": ORDERS_HANDLERS,
        "services/orders/orders/repository.py": ORDERS_REPOSITORY,
        "services/inventory/inventory/app.py": INVENTORY_APP,
        "services/inventory/inventory/config.py": INVENTORY_CONFIG,
        "services/inventory/inventory/repository.py": INVENTORY_REPOSITORY,
        "services/checkout/checkout/app.py": _app("checkout", "Route('/checkout', post_checkout, methods=['POST'])"),
        "services/checkout/checkout/handlers.py": CHECKOUT_HANDLERS,
        "services/checkout/checkout/clients.py": CHECKOUT_CLIENTS,
        "services/payments/payments/app.py": _app("payments", "Route('/payments', post_payment, methods=['POST'])"),
        "services/payments/payments/stripe_client.py": PAYMENTS_STRIPE,
        "services/catalog/catalog/app.py": _app("catalog", "Route('/featured', featured), Route('/products/{id}', "
                                                "product), Route('/search', search)"),
        "services/catalog/catalog/search.py": CATALOG_SEARCH,
        "services/catalog/catalog/config.py": CATALOG_CONFIG,
        "services/frontend/frontend/app.py": _app("frontend", "*page_routes, *api_routes"),
        "services/frontend/frontend/routes.py": FRONTEND_ROUTES,
        "services/frontend/static/css/main.css": FRONTEND_CSS,
        "services/frontend/templates/checkout.html": FRONTEND_CHECKOUT_HTML,
        "services/notifications/notifications/consumer.py": NOTIFICATIONS_CONSUMER,
        "services/notifications/notifications/mailer.py": NOTIFICATIONS_MAILER,
        "services/notifications/templates/order_confirmation.html": NOTIFICATIONS_TEMPLATE,
    })
    return tree
