"""The shop the simulator runs, as data: the demo world's seven services, their calls and their noise.

frontend is the entry; catalog and inventory serve pages; checkout calls orders (orders-db), payments
(Stripe, uninstrumented) and inventory (inventory-db), then announces `order.confirmed`, which
notifications consumes and e-mails through the SMTP relay. Latencies follow the demo world.

The noise every scenario has, in both the baseline and the incident: 1% stock lookups for unknown SKUs
(404, WARN), 2% declined cards (402, WARN), 1% SMTP 421s (notifications fails, ERROR), 0.5% product pages
failing on a malformed id (500 from catalog), search that is always slow (~0.7 s), a featured-products
cache that refills every ten minutes (a 20 s latency bump), and a Stripe tail (2% of charges take 0.7-1.5 s).
"""

from __future__ import annotations

import json

from inquest.evals.sim.model import Call, External, Operation, Outcome, Publish, Query, Route, ServiceSpec, Topology

# The statements the shop runs, as its database spans quote them (scenarios' changes add their own).
SQL_INSERT_ORDER = "INSERT INTO orders (user_id, tenant_id, total) VALUES ($1, $2, $3)"
SQL_ITEMS_HINTED = ("SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items order_items_order_id_idx) */ "
                    "WHERE order_id = $1")
SQL_ITEMS = "SELECT id, sku, qty FROM order_items WHERE order_id = $1"
SQL_PRICES_BATCH = "SELECT sku, price FROM products WHERE sku = ANY($1)"
SQL_PRICE_ONE = "SELECT price FROM products WHERE sku = $1"
SQL_STOCK = "SELECT sku, available FROM stock WHERE sku = $1"
SQL_RESERVE = ("UPDATE stock SET reserved = reserved + r.qty FROM unnest($1::text[], $2::int[]) AS r(sku, qty) "
               "WHERE stock.sku = r.sku")

SMTP_MESSAGE = "SMTP 421 4.7.0 try again later"

DB_ATTRS = {
    "orders-db": json.dumps({"db.namespace": "orders", "server.address": "orders-db.internal", "server.port": 5432}),
    "inventory-db": json.dumps({"db.namespace": "inventory", "server.address": "inventory-db.internal",
                                "server.port": 5432}),
}
STRIPE_ATTRS = json.dumps({"server.address": "api.stripe.com", "url.full": "https://api.stripe.com/v1/charges"})
SMTP_ATTRS = json.dumps({"server.address": "smtp-relay.internal", "server.port": 587})
MSG_ATTRS = json.dumps({"messaging.system": "rabbitmq", "messaging.destination.name": "order.confirmed"})
POOL_ATTRS = '{"db.client.connection.pool.name":"%s"}'  # % the database
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


ORDERS_POOL = 10
INVENTORY_POOL = 10

SERVICES = (
    ServiceSpec("frontend", pods=3, cpu=0.31, memory_mb=410, memory_limit_mb=1024),
    ServiceSpec("catalog", pods=3, cpu=0.42, memory_mb=630, memory_limit_mb=1024),
    ServiceSpec("checkout", pods=2, cpu=0.17, memory_mb=280, memory_limit_mb=512),
    ServiceSpec("orders", pods=3, cpu=0.21, memory_mb=350, pool_size=ORDERS_POOL, pool_timeout_ms=1500,
                memory_limit_mb=768),
    ServiceSpec("payments", pods=2, cpu=0.12, memory_mb=240, memory_limit_mb=512),
    ServiceSpec("inventory", pods=2, cpu=0.24, memory_mb=300, pool_size=INVENTORY_POOL, pool_timeout_ms=2000,
                memory_limit_mb=512),
    ServiceSpec("notifications", pods=2, cpu=0.08, memory_mb=190, memory_limit_mb=512),
)

OPERATIONS = (
    Operation("frontend", "GET /", "GET", "/", (0.8, 3.5), (4, 14),
              (Call("catalog", "GET /featured", timeout_ms=5000),)),
    Operation("frontend", "GET /products/{id}", "GET", "/products/{id}", (0.8, 3.5), (5, 18),
              (Call("catalog", "GET /products/{id}", timeout_ms=5000, on_client_error="stop"),)),
    Operation("frontend", "GET /search", "GET", "/search", (0.8, 3.5), (3, 10),
              (Call("catalog", "GET /search", timeout_ms=5000),)),
    Operation("frontend", "POST /cart/items", "POST", "/cart/items", (0.8, 3.5), (1, 4),
              (Call("inventory", "GET /stock/{sku}", timeout_ms=2000, on_client_error="stop"),), ok_status=201),
    Operation("frontend", "POST /checkout", "POST", "/checkout", (0.8, 3.5), (1, 5),
              (Call("checkout", "POST /checkout", timeout_ms=10000, on_client_error="stop"),), weight=1.5),

    Operation("catalog", "GET /featured", "GET", "/featured", (6, 30), (0, 0), flap=(600, 20, (350, 900))),
    Operation("catalog", "GET /products/{id}", "GET", "/products/{id}", (3, 9), (2, 10),
              (Call("inventory", "GET /stock/{sku}", timeout_ms=2000),),
              outcomes=(Outcome(0.005, 500, "ERROR", "ValueError: invalid literal for int() with base 10: "
                                "'undefined'", error=True, detail=" (product id {sku})"),)),
    Operation("catalog", "GET /search", "GET", "/search", (700, 0.33), (0, 0), weight=6.0, lognormal=True),

    Operation("inventory", "GET /stock/{sku}", "GET", "/stock/{sku}", (0.5, 2), (0.5, 2.5),
              (Query("inventory-db", "SELECT stock", SQL_STOCK, (0.8, 3.5)),), pool="inventory-db",
              outcomes=(Outcome(0.01, 404, "WARN", "stock record not found", detail=" for sku=SKU-{sku}"),)),
    Operation("inventory", "POST /reservations", "POST", "/reservations", (0.5, 2), (0.5, 2),
              (Query("inventory-db", "UPDATE stock", SQL_RESERVE, (2, 6), rows=None),), ok_status=201,
              pool="inventory-db", weight=2.5, info="reserved {items} items for order {order_id}"),

    Operation("checkout", "POST /checkout", "POST", "/checkout", (1.5, 6), (0.5, 3), (
        Call("orders", "POST /orders", timeout_ms=3000),
        Call("payments", "POST /payments", timeout_ms=10000, on_client_error="stop"),
        Call("inventory", "POST /reservations", timeout_ms=2000),
        Publish("order.confirmed", ("notifications", "order.confirmed process"), MSG_ATTRS),
    ), info="checkout completed order_id={order_id} user={user}"),

    Operation("orders", "POST /orders", "POST", "/orders", (5, 14), (4, 12), (
        Query("orders-db", "INSERT orders", SQL_INSERT_ORDER, (1, 3)),
        Query("orders-db", "SELECT order_items", SQL_ITEMS_HINTED, (1, 3), rows=None),
        Query("orders-db", "SELECT products", SQL_PRICES_BATCH, (1.4, 2.8), rows=None),
        Query("orders-db", "COMMIT", "COMMIT", (1.5, 5), rows=0),
    ), ok_status=201, pool="orders-db", weight=1.5,
              info="order created order_id={order_id} tenant={tenant} items={items}"),

    Operation("payments", "POST /payments", "POST", "/payments", (1, 4), (1, 4), (
        External("stripe", "POST", (150, 650), STRIPE_ATTRS, timeout_ms=8000, method="POST", slow_share=0.02,
                 slow_ms=(700, 1500), declines=0.02),
    ), info="charge succeeded order_id={order_id}"),

    Operation("notifications", "order.confirmed process", "", "", (1, 5), (0.5, 2), (
        External("smtp-relay", "smtp.send", (40, 130), SMTP_ATTRS, timeout_ms=10000, fail_rate=0.01,
                 fail_message=SMTP_MESSAGE),
    ), kind="CONSUMER", info="order.confirmed received order_id={order_id}"),
)

ROUTES = (Route("GET /", 0.25), Route("GET /products/{id}", 0.35), Route("GET /search", 0.10),
          Route("POST /cart/items", 0.10), Route("POST /checkout", 0.20))

SHOP = Topology(entry="frontend", services=SERVICES, operations=OPERATIONS, routes=ROUTES,
                databases={"orders-db": 0.12, "inventory-db": 0.15})

DB_SPAN_ATTRS = DB_ATTRS
DECLINE_REASONS = ("insufficient_funds", "do_not_honor", "expired_card")
