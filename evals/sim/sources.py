"""The simulated shop's source beyond its first commit (shop_code.py): deploy values (GitOps), feature
flags, migrations, the code paths faults live in, and the edits each kind of change makes. Data only.

A scenario's repository is the shop's first commit plus `deploy/<service>/values.yaml` (what Argo CD
applies: replicas, limits, pool sizes, timeouts, retry policies), `deploy/flags.yaml`, orders'
migrations and a CHANGELOG.md per service. Risky edits are the ones on-call engineers learn to distrust; harmless edits
are the everyday ones that land in the same hour.
"""

from __future__ import annotations

from inquest.evals.sim import shop_code as src
from inquest.evals.sim.model import Edit

SERVICES = tuple(src.INITIAL_VERSIONS)


def _values(service: str, replicas: int, memory: str, env: dict[str, str]) -> str:
    lines = [f"# Helm values for {service}, applied by Argo CD when merged to main.",
             f"replicaCount: {replicas}",
             "image:",
             f"  repository: registry.acme-shop.example/shop/{service}",
             "resources:",
             "  requests: {cpu: 250m, memory: 256Mi}",
             f"  limits: {{cpu: \"1\", memory: {memory}}}",
             "env:"]
    lines += [f'  {name}: "{value}"' for name, value in env.items()]
    return "\n".join(lines) + "\n"


VALUES = {
    "frontend": _values("frontend", 3, "1Gi", {"CATALOG_TIMEOUT_SECONDS": "5", "CHECKOUT_TIMEOUT_SECONDS": "10"}),
    "catalog": _values("catalog", 3, "1Gi", {"CACHE_TTL_SECONDS": "300", "INVENTORY_TIMEOUT_SECONDS": "2"}),
    "checkout": _values("checkout", 2, "512Mi", {
        "ORDERS_TIMEOUT_SECONDS": "3", "PAYMENTS_TIMEOUT_SECONDS": "10", "INVENTORY_TIMEOUT_SECONDS": "2",
        "INVENTORY_RETRY_ATTEMPTS": "1", "INVENTORY_RETRY_BACKOFF_MS": "200"}),
    "orders": _values("orders", 3, "768Mi", {"ORDERS_POOL_MIN_SIZE": "2", "ORDERS_POOL_MAX_SIZE": "10",
                                             "ORDERS_POOL_TIMEOUT_MS": "1500"}),
    "payments": _values("payments", 2, "512Mi", {"STRIPE_API_BASE": "https://api.stripe.com/v1"}),
    "inventory": _values("inventory", 2, "512Mi", {"INVENTORY_POOL_MAX_SIZE": "10",
                                                   "INVENTORY_POOL_TIMEOUT_MS": "2000"}),
    "notifications": _values("notifications", 2, "512Mi", {"SMTP_RELAY": "smtp-relay.internal:587"}),
}

FLAGS = """# Feature flags, read by every service at start-up and every 30 s.
catalog.live-stock-badges:
  enabled: false
  description: show live stock on related products (one inventory lookup per related product)
checkout.express-pay:
  enabled: false
frontend.recommendations-carousel-v2:
  enabled: true
  rollout: 10
notifications.html-receipts:
  enabled: true
"""

ORDERS_MIGRATION_0041 = """-- Orders carry the tenant's currency from now on (SHOP-1102).
ALTER TABLE orders ADD COLUMN currency char(3);
"""

CHECKOUT_CLIENTS = '''"""Clients for the services checkout calls. Timeouts are per attempt. Calls to inventory
are retried (reservations are idempotent per order) as INVENTORY_RETRY_ATTEMPTS and INVENTORY_RETRY_BACKOFF_MS
say."""

import os

import httpx

from .messaging import Publisher
from .retrying import RetryingTransport


def _seconds(name: str, default: str) -> float:
    return float(os.environ.get(name, default))


orders = httpx.Client(base_url="http://orders:8080", timeout=_seconds("ORDERS_TIMEOUT_SECONDS", "3"))
payments = httpx.Client(base_url="http://payments:8080", timeout=_seconds("PAYMENTS_TIMEOUT_SECONDS", "10"))
inventory = httpx.Client(
    base_url="http://inventory:8080", timeout=_seconds("INVENTORY_TIMEOUT_SECONDS", "2"),
    transport=RetryingTransport(attempts=int(os.environ.get("INVENTORY_RETRY_ATTEMPTS", "1")),
                                backoff_ms=int(os.environ.get("INVENTORY_RETRY_BACKOFF_MS", "200"))))
publisher = Publisher("amqp://rabbitmq:5672/")
'''

CATALOG_PRODUCTS = '''"""GET /products/{id}: the product, its stock, and related products."""

from __future__ import annotations

import httpx

from . import flags, repository

inventory = httpx.AsyncClient(base_url="http://inventory:8080", timeout=2.0)


async def product(request):
    product = repository.product(int(request.path_params["id"]))
    stock = await inventory.get(f"/stock/{product['sku']}")
    if stock.status_code != 404:
        stock.raise_for_status()
    product["available"] = stock.json().get("available") if stock.status_code == 200 else 0
    if flags.enabled("catalog.live-stock-badges"):
        for related in product["related"][:8]:
            answer = await inventory.get(f"/stock/{related['sku']}")
            related["in_stock"] = answer.status_code == 200 and answer.json()["available"] > 0
    return product
'''


def initial_tree() -> dict[str, str]:
    tree = src.initial_tree()
    tree.update({f"deploy/{service}/values.yaml": text for service, text in VALUES.items()})
    tree.update({f"services/{service}/CHANGELOG.md": f"# {service}\n" for service in SERVICES})
    tree["deploy/flags.yaml"] = FLAGS
    tree["services/orders/migrations/0041_orders_currency.sql"] = ORDERS_MIGRATION_0041
    tree["services/checkout/checkout/clients.py"] = CHECKOUT_CLIENTS
    tree["services/catalog/catalog/products.py"] = CATALOG_PRODUCTS
    return tree


def changelog(service: str, version: str, line: str) -> Edit:
    return (f"services/{service}/CHANGELOG.md", "", f"\n## {version}\n- {line}\n")


# -- risky edits ---------------------------------------------------------------------------------

# The demo world's guilty change (orders v2.14.0), also the n_plus_one scenario's: prices loaded one query per line item, and the planner hint dropped.
GUILTY_REPOSITORY_EDITS = (
    ("services/orders/orders/repository.py",
     '# order_items is ~40M rows and the planner picks a sequential scan for big tenants unless told\n'
     '# otherwise (INC-0977). Keep the hint until the table is partitioned.\n'
     'ORDER_ITEMS = "SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items order_items_order_id_idx) */ '
     'WHERE order_id = %s"\n\nITEM_PRICES = "SELECT sku, price FROM products WHERE sku = ANY(%s)"\n',
     'ORDER_ITEMS = "SELECT id, sku, qty FROM order_items WHERE order_id = %s"\n\n'
     'ITEM_PRICE = "SELECT price FROM products WHERE sku = %s"\n'),
    ("services/orders/orders/repository.py",
     'def item_prices(conn, items: list[OrderItem]) -> dict[str, Decimal]:\n'
     '    with conn.cursor() as cur:\n'
     '        cur.execute(ITEM_PRICES, ([item.sku for item in items],))\n'
     '        return dict(cur.fetchall())\n',
     'def item_prices(conn, items: list[OrderItem]) -> dict[str, Decimal | None]:\n'
     '    """The price of every line item; None for a discontinued product (the batch query dropped those)."""\n'
     '    prices: dict[str, Decimal | None] = {}\n'
     '    with conn.cursor() as cur:\n'
     '        for item in items:\n'
     '            cur.execute(ITEM_PRICE, (item.sku,))\n'
     '            row = cur.fetchone()\n'
     '            prices[item.sku] = row[0] if row else None\n'
     '    return prices\n'),
)

GUILTY_MESSAGE = """orders: load line item prices per item; simplify order items query

The ANY() batch silently dropped discontinued SKUs, so confirmations showed
lines without a price. Load each line item's price on its own and keep a
None for missing products.

Also drop the planner hint on the order items query: it dates from the
PostgreSQL 11 days and makes the statement harder to read.
"""

N_PLUS_ONE = (GUILTY_MESSAGE, GUILTY_REPOSITORY_EDITS)

ORDERS_JOIN_PRICES = ("""orders: read prices together with the order items

One round trip instead of two: join products into the order items query.
The planner hint goes, it does not apply to a join.
""", (
    ("services/orders/orders/repository.py",
     '# order_items is ~40M rows and the planner picks a sequential scan for big tenants unless told\n'
     '# otherwise (INC-0977). Keep the hint until the table is partitioned.\n'
     'ORDER_ITEMS = "SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items order_items_order_id_idx) */ '
     'WHERE order_id = %s"\n',
     'ORDER_ITEMS = ("SELECT oi.id, oi.sku, oi.qty, p.price FROM order_items oi JOIN products p ON p.sku = oi.sku "\n'
     '               "WHERE oi.order_id = %s")\n'),
))
SQL_ITEMS_JOIN = ("SELECT oi.id, oi.sku, oi.qty, p.price FROM order_items oi JOIN products p ON p.sku = oi.sku "
                  "WHERE oi.order_id = $1")

ORDERS_POOL_SHRINK = ("""orders: right-size the connection pool

orders-db's max_connections is shared with the reporting replicas now;
three pods at ten connections each is more than orders needs.
""", (("deploy/orders/values.yaml", 'ORDERS_POOL_MAX_SIZE: "10"', 'ORDERS_POOL_MAX_SIZE: "3"'),))

MIGRATION_DDL = "ALTER TABLE order_items ALTER COLUMN qty TYPE bigint"
ORDERS_MIGRATION_0042 = ("""orders: widen order_items.qty to bigint

The B2B bulk importer sends quantities above 2^31 (SHOP-1180).
""", (("services/orders/migrations/0042_order_items_qty_bigint.sql", "",
       "-- Quantities above 2^31 arrive from the B2B bulk importer (SHOP-1180).\n" + MIGRATION_DDL + ";\n"),))

SQL_STOCK_WAREHOUSE = ("SELECT s.sku, s.available, w.code FROM stock s LEFT JOIN warehouses w ON w.id = s.warehouse_id "
                       "WHERE s.sku = $1")
INVENTORY_WAREHOUSE = ("""inventory: return the warehouse with each stock record

The storefront wants to show where an item ships from.
""", (
    ("services/inventory/inventory/repository.py",
     'STOCK_BY_SKU = "SELECT sku, available FROM stock WHERE sku = %s"\n',
     'STOCK_BY_SKU = (\n'
     '    "SELECT s.sku, s.available, w.code FROM stock s LEFT JOIN warehouses w ON w.id = s.warehouse_id "\n'
     '    "WHERE s.sku = %s"\n)\n'),
    ("services/inventory/inventory/app.py",
     '    return JSONResponse({"sku": row[0], "available": row[1]})\n',
     '    return JSONResponse({"sku": row[0], "available": row[1], "warehouse": row[2].upper()})\n'),
))

INVENTORY_STOCK_CACHE = ("""inventory: cache stock lookups for 30 s

Product pages ask for the same SKUs over and over; spare inventory-db.
""", (
    ("services/inventory/inventory/repository.py",
     'def stock(conn, sku: str) -> tuple[str, int] | None:\n'
     '    with conn.cursor() as cur:\n'
     '        cur.execute(STOCK_BY_SKU, (sku,))\n'
     '        return cur.fetchone()\n',
     '# (sku, tenant, 30 s period) -> row. A new period starts a new key; the old ones are never read again.\n'
     '_STOCK_CACHE: dict[tuple[str, str, int], tuple[str, int] | None] = {}\n\n\n'
     'def stock(conn, sku: str, tenant_id: str = "") -> tuple[str, int] | None:\n'
     '    key = (sku, tenant_id, int(time.monotonic() // 30))\n'
     '    if key not in _STOCK_CACHE:\n'
     '        with conn.cursor() as cur:\n'
     '            cur.execute(STOCK_BY_SKU, (sku,))\n'
     '            _STOCK_CACHE[key] = cur.fetchone()\n'
     '    return _STOCK_CACHE[key]\n'),
    ("services/inventory/inventory/repository.py", "from __future__ import annotations\n",
     "from __future__ import annotations\n\nimport time\n"),
))

PAYMENTS_FAIL_FAST = ("""payments: fail fast on slow Stripe calls

A slow Stripe answer held checkout for up to 8 s; give up after 5 s and let
the customer retry.
""", (
    ("services/payments/payments/stripe_client.py",
     'resp = httpx.post(f"{STRIPE_API}/charges", headers=headers, timeout=8.0,',
     'resp = httpx.post(f"{STRIPE_API}/charges", headers=headers, timeout=0.5,'),
))

CHECKOUT_RETRIES = ("""checkout: retry inventory reservations harder

Reservations failed for a handful of orders during yesterday's inventory-db
patching window. They are idempotent per order: retry them, and at once.
""", (
    ("deploy/checkout/values.yaml", 'INVENTORY_RETRY_ATTEMPTS: "1"', 'INVENTORY_RETRY_ATTEMPTS: "6"'),
    ("deploy/checkout/values.yaml", 'INVENTORY_RETRY_BACKOFF_MS: "200"', 'INVENTORY_RETRY_BACKOFF_MS: "0"'),
))

CATALOG_LIVE_BADGES = ("""flags: turn on live stock badges for everyone

Tested on staging last week.
""", (
    ("deploy/flags.yaml", "catalog.live-stock-badges:\n  enabled: false\n",
     "catalog.live-stock-badges:\n  enabled: true\n"),
))

# -- harmless edits, per service: (commit message, edits) ----------------------------------------

# What orders v2.14.0 ships in the demo world built without the fault (inject=False).
HARMLESS_ORDERS_EDITS = (
    ("services/orders/orders/handlers.py",
     'def create_order(conn, body: dict) -> dict:\n',
     'def create_order(conn, body: dict) -> dict:\n'
     '    """Stores the order, then returns its priced lines for the confirmation page."""\n'),
)

HARMLESS_ORDERS_MESSAGE = """orders: document create_order

No behaviour change.
"""


HARMLESS: dict[str, tuple[tuple[str, tuple[Edit, ...]], ...]] = {
    "frontend": (
        ("frontend: new checkout button copy\n", (("services/frontend/templates/checkout.html", "Place order",
                                                   "Buy now"),)),
        ("frontend: roomier footer\n", (("services/frontend/static/css/main.css", "footer { padding: 24px;",
                                         "footer { padding: 32px 24px;"),)),
        ("frontend: reassure customers when checkout fails\n", (
            ("services/frontend/frontend/routes.py", "Something went wrong. Your card has not been charged.",
             "Something went wrong on our side. Your card has not been charged."),)),
        ("frontend: autumn sale banner\n", (("services/frontend/static/css/main.css", "", ".sale-banner { background: "
                                             "#ffe8cc; padding: 8px 16px; }\n"),)),
    ),
    "catalog": (
        ("catalog: note the search ticket's plan\n", (("services/catalog/catalog/search.py", "(SHOP-431)",
                                                      "(SHOP-431; moving to OpenSearch in Q1)"),)),
        ("catalog: document the page size\n", (("services/catalog/catalog/config.py", "    page_size: int = 24\n",
                                               "    page_size: int = 24  # the grid is 4 wide and 6 deep\n"),)),
        ("catalog: name the related products section\n", (
            ("services/catalog/catalog/products.py", '"""GET /products/{id}: the product, its stock, and related '
             'products."""', '"""GET /products/{id}: the product, its stock, and "customers also bought"."""'),)),
    ),
    "checkout": (
        ("checkout: say which user completed a checkout\n", (
            ("services/checkout/checkout/handlers.py", 'log.info("checkout completed order_id=%s user=%s", '
             'order_id, user_id)', 'log.info("checkout completed order_id=%s user=%s status=confirmed", '
             'order_id, user_id)'),)),
        ("checkout: allow orders a little longer to answer\n", (
            ("deploy/checkout/values.yaml", 'ORDERS_TIMEOUT_SECONDS: "3"', 'ORDERS_TIMEOUT_SECONDS: "4"'),)),
    ),
    "orders": (
        (HARMLESS_ORDERS_MESSAGE, HARMLESS_ORDERS_EDITS),
        ("orders: clearer log line when the pool is busy\n", (
            ("services/orders/orders/app.py", 'return JSONResponse({"error": "database busy"}, status_code=503)',
             'return JSONResponse({"error": "database busy, try again"}, status_code=503)'),)),
    ),
    "payments": (
        ("payments: pin Stripe API version 2024-06-20\n", (
            ("services/payments/payments/stripe_client.py", 'STRIPE_API_VERSION = "2023-10-16"',
             'STRIPE_API_VERSION = "2024-06-20"'),)),
        ("payments: keep the decline code in the exception message\n", (
            ("services/payments/payments/stripe_client.py", "        super().__init__(code)\n",
             '        super().__init__(f"card declined: {code}")\n'),)),
    ),
    "inventory": (
        ("inventory: log reservation counts at debug level\n", (
            ("services/inventory/inventory/app.py", '    log.info("reserved %d items for order %s"',
             '    log.debug("reserved %d items for order %s"'),)),
        ("inventory: say where settings come from\n", (
            ("services/inventory/inventory/config.py", '"""Settings for the inventory service."""',
             '"""Settings for the inventory service, from the environment (deploy/inventory/values.yaml)."""'),)),
    ),
    "notifications": (
        ("notifications: refresh the order confirmation e-mail\n", (
            ("services/notifications/templates/order_confirmation.html", "<h1>Thanks for your order!</h1>",
             '<img src="https://cdn.acme-shop.example/logo.png" alt="Acme">\n<h1>Thank you, your order is in!</h1>'),)),
        ("notifications: surface SMTP 4xx as retryable\n", (
            ("services/notifications/notifications/consumer.py", "(order_id=%s, will retry)",
             "(order_id=%s, attempt 1/5)"),)),
    ),
}
