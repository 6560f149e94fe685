"""Scenarios where one of our changes is the cause: deploys, a config change, a flag, a migration.
Each has its red herrings: other changes close in time, some on the same call path, some after onset."""

from __future__ import annotations

from datetime import date

from inquest.evals.sim import sources as src
from inquest.evals.sim.background import Timeline
from inquest.evals.sim.model import (
    US,
    Alert,
    Call,
    ClientTimeout,
    ExtraCalls,
    FailOperation,
    MemoryLeak,
    PoolSize,
    Query,
    Scenario,
    SwapStatement,
    TableLock,
    TrafficSurge,
    Truth,
    When,
    hms,
)
from inquest.evals.sim.shop import SQL_ITEMS, SQL_ITEMS_HINTED, SQL_PRICE_ONE, SQL_PRICES_BATCH, SQL_STOCK

CHECKOUT_ERRORS = "Checkout failing: 5xx rate above 5% on checkout"


def n_plus_one() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("notifications", hms(13, 12))
    tl.flag("flag-carousel-v2-50", "frontend", hms(13, 20), "frontend.recommendations-carousel-v2 rollout 25% -> 50%")
    guilty = tl.deploy("orders", hms(13, 24), src.N_PLUS_ONE)
    tl.harmless_deploy("frontend", hms(13, 31))
    after = When(after=guilty.id)
    return Scenario(
        name="orders_n_plus_one", case_id="orders-n-plus-one", day=date(2026, 11, 9),
        summary="orders loads each line item's price with its own query and drops an index hint",
        alert=Alert("INC-3091", "checkout", "POST /checkout", "errors", 0.05, CHECKOUT_ERRORS,
                    ticket="acme/shop#891"),
        truth=Truth("orders", guilty.id, "n_plus_one"),
        changes=tuple(tl.changes),
        effects=(
            SwapStatement("orders", "POST /orders", SQL_ITEMS_HINTED,
                          (Query("orders-db", "SELECT order_items", SQL_ITEMS, (25, 45), rows=None),), after),
            SwapStatement("orders", "POST /orders", SQL_PRICES_BATCH,
                          (Query("orders-db", "SELECT products", SQL_PRICE_ONE, (2, 4.6), per_item=True),), after),
        ),
        notes=f"""The demo world's story, smaller: orders {guilty.version} (13:24) prices each order line with its own
query (N+1, 3-12 per request) and drops the planner hint on the order items query. orders-db's load jumps,
every statement slows, orders' connections are held several times longer and its pool runs dry; checkout fails
with orders' 503s. Red herrings: a notifications deploy, a frontend flag four minutes before, a frontend
deploy after the onset. A naive analysis blames checkout (it pages, its spans fail) or the flag.""")


def pool_exhaustion_config() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    shrink = tl.config("cfg-orders-pool-size", "orders", hms(12, 44), "ORDERS_POOL_MAX_SIZE 10 -> 3",
                       src.ORDERS_POOL_SHRINK)
    tl.harmless_deploy("checkout", hms(13, 5))
    tl.harmless_deploy("catalog", hms(13, 11))
    return Scenario(
        name="pool_exhaustion_config", case_id="pool-exhaustion-config", day=date(2026, 11, 11),
        summary="a config change shrinks orders' connection pool from 10 to 3 per pod; the lunch peak drains it",
        alert=Alert("INC-3114", "checkout", "POST /checkout", "errors", 0.05, CHECKOUT_ERRORS,
                    ticket="acme/shop#914"),
        truth=Truth("orders", shrink.id, "pool_exhaustion"),
        changes=tuple(tl.changes),
        effects=(PoolSize("orders", 3, When(after=shrink.id)),
                 TrafficSurge(1.4, When(start=hms(12, 58), ramp_s=25 * 60))),
        notes="""At 12:44 a GitOps config change lowers ORDERS_POOL_MAX_SIZE from 10 to 3 ("right-size the pool").
Nothing in orders' code or queries changes and its statements stay as fast as ever; three connections per
pod are enough for the traffic of 12:44. From 12:58 the usual lunch peak builds (entry traffic +40% by
13:23); around 13:15 orders needs more connections than it has, requests queue for one and time out after
1.5 s, and checkout fails with orders' 503s. Truth: the config change (orders), fault pool_exhaustion; with
the old pool the lunch peak is uneventful. What makes it hard: the change is half an hour older than the
onset; a checkout deploy and a catalog deploy are closer to it; traffic did grow (a normal peak, not a
surge). A naive analysis blames the checkout deploy (closest, on the alerting service), the traffic, or
orders' queries; the evidence is connections pinned at the new maximum of 3 with waiters queueing.""")


def feature_flag_slow_path() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("inventory", hms(13, 4))
    flag = tl.flag("flag-catalog-live-stock-badges", "catalog", hms(13, 24),
                   "catalog.live-stock-badges enabled for 100%", src.CATALOG_LIVE_BADGES)
    tl.harmless_deploy("frontend", hms(13, 21))
    return Scenario(
        name="feature_flag_slow_path", case_id="feature-flag-slow-path", day=date(2026, 11, 17),
        summary="a flag makes every product page look up stock for 4-6 related products, one call at a time",
        alert=Alert("INC-3172", "frontend", "GET /products/{id}", "latency", 800.0,
                    "Product pages slow: p95 above 800 ms", ticket="acme/shop#972"),
        truth=Truth("catalog", flag.id, "feature_flag"),
        changes=tuple(tl.changes),
        effects=(ExtraCalls("catalog", "GET /products/{id}", Call("inventory", "GET /stock/{sku}", 2000,
                                                                     required=False),
                            (4, 6), When(start=flag.at + 20 * US, ramp_s=30)),),
        notes="""At 13:24 the flag catalog.live-stock-badges goes to 100%. The code behind it shipped days ago: for
each related product the product page asks inventory for stock, one call at a time. Product pages now make
5-7 inventory calls instead of one; inventory's request rate multiplies, its pods and connection pool
saturate, and everything that needs inventory slows or fails: product pages (catalog waits on each call),
carts, reservations at checkout. Truth: the flag (catalog), fault feature_flag. What makes it hard:
inventory is where time is added and errors start; catalog's own work is unchanged; the flag has no code
diff beyond its YAML; an inventory deploy and a frontend deploy sit in the same hour. A naive analysis
blames inventory.""")


def migration_lock() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("orders", hms(12, 58))
    migration = tl.migration("mig-orders-0042", "orders", hms(13, 25),
                             "0042_order_items_qty_bigint: ALTER TABLE order_items ALTER COLUMN qty TYPE bigint",
                             src.ORDERS_MIGRATION_0042)
    tl.harmless_deploy("checkout", hms(13, 22))
    tl.harmless_deploy("frontend", hms(13, 33))
    return Scenario(
        name="migration_lock", case_id="migration-lock", day=date(2026, 11, 18),
        summary="a migration rewrites order_items under an exclusive lock for 11 minutes",
        alert=Alert("INC-3183", "checkout", "POST /checkout", "errors", 0.05, CHECKOUT_ERRORS,
                    ticket="acme/shop#983"),
        truth=Truth("orders", migration.id, "lock_wait"),
        changes=tuple(tl.changes),
        effects=(TableLock("orders-db", "order_items", src.MIGRATION_DDL, "orders", 5000,
                           When(start=migration.at + 20 * US, end=migration.at + 680 * US)),),
        notes="""At 13:25 migration 0042 runs ALTER TABLE order_items ALTER COLUMN qty TYPE bigint: a table rewrite
holding an ACCESS EXCLUSIVE lock for eleven minutes. Every order items query waits for the lock (lock waits
in db_query_stats) until its 5 s statement timeout cancels it; orders' connections are all held by waiting
statements, its pool runs dry and checkout fails. When the rewrite finishes, everything recovers. Truth:
the migration (orders), fault lock_wait. Red herrings: a checkout deploy three minutes before (on the
alerting service), an orders deploy 27 minutes before (the right service, the wrong change), a frontend
deploy after the onset. A naive analysis blames the checkout deploy, or the orders deploy, or calls it pool
exhaustion.""")


def memory_leak() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    leaky = tl.deploy("inventory", hms(13, 2), src.INVENTORY_STOCK_CACHE)
    tl.harmless_deploy("catalog", hms(13, 14))
    tl.harmless_deploy("frontend", hms(13, 19))
    return Scenario(
        name="memory_leak", case_id="memory-leak", day=date(2026, 11, 19),
        summary="inventory's new stock cache never evicts: pods grow to their memory limit and are OOM-killed",
        alert=Alert("INC-3194", "frontend", "POST /cart/items", "errors", 0.02,
                    "Add-to-cart errors above 2% over 5 minutes", for_minutes=2, over_minutes=5,
                    ticket="acme/shop#994"),
        truth=Truth("inventory", leaky.id, "memory_leak"),
        changes=tuple(tl.changes),
        effects=(MemoryLeak("inventory", 24.0, When(after=leaky.id)),),
        notes=f"""inventory {leaky.version} (13:02) caches stock lookups under a key that includes the current 30 s
period, so entries are never read again nor evicted: each pod's memory climbs ~24 MB a minute until its
512 MiB limit. Near the limit the garbage collector thrashes (slow requests); then the container is
OOM-killed: for a few seconds its endpoint refuses connections, then it restarts (k8s.container.restarts
goes up; CrashLoopBackOff lengthens the gap each time) with its memory reset, and climbs again. Carts,
product pages and reservations fail in bursts. Truth: the inventory deploy, fault memory_leak. What makes
it hard: the first OOM comes ~10 minutes after the deploy, so a catalog deploy and a frontend deploy are
closer to the onset; errors show at the callers (connections refused) as much as in inventory.""")


def bad_deploy_two_hops() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    tl.harmless_deploy("catalog", hms(13, 17))
    guilty = tl.deploy("inventory", hms(13, 18), src.INVENTORY_WAREHOUSE)
    tl.flag("flag-carousel-v2-40", "frontend", hms(13, 10), "frontend.recommendations-carousel-v2 rollout 25% -> 40%")
    after = When(after=guilty.id)
    return Scenario(
        name="bad_deploy_two_hops", case_id="bad-deploy-two-hops", day=date(2026, 11, 20),
        summary="inventory ships a stock query joining warehouses; a fifth of lookups crash on SKUs without one",
        alert=Alert("INC-3205", "frontend", "GET /products/{id}", "errors", 0.05,
                    "Storefront 5xx above 5% on product pages", ticket="acme/shop#1005"),
        truth=Truth("inventory", guilty.id, "bad_deploy"),
        changes=tuple(tl.changes),
        effects=(
            SwapStatement("inventory", "GET /stock/{sku}", SQL_STOCK,
                          (Query("inventory-db", "SELECT stock", src.SQL_STOCK_WAREHOUSE, (1.2, 4.5)),), after),
            FailOperation("inventory", "GET /stock/{sku}", 0.22, 500,
                          "AttributeError: 'NoneType' object has no attribute 'upper'", after),
        ),
        notes=f"""inventory {guilty.version} (13:18) returns each stock record's warehouse code, read with a LEFT
JOIN; for SKUs without a warehouse (about a fifth) the handler calls .upper() on None and answers 500.
catalog's product page needs the stock, so it fails too, and the frontend's product pages fail: the alert
fires at the frontend, two hops above the cause. Truth: the inventory deploy, fault bad_deploy. Red
herrings: a catalog deploy one minute earlier (one hop below the alert, its spans fail by propagation and
it logs the errors), a frontend flag. A naive analysis blames catalog or its deploy.""")


def two_deploys_minutes_apart() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    innocent = tl.harmless_deploy("checkout", hms(13, 18), which=1)
    guilty = tl.deploy("payments", hms(13, 21), src.PAYMENTS_FAIL_FAST)
    return Scenario(
        name="two_deploys_minutes_apart", case_id="two-deploys-minutes-apart", day=date(2026, 11, 23),
        summary="checkout and payments deploy three minutes apart; payments' new 0.5 s Stripe timeout fails charges",
        alert=Alert("INC-3233", "checkout", "POST /checkout", "errors", 0.05, CHECKOUT_ERRORS,
                    ticket="acme/shop#1033"),
        truth=Truth("payments", guilty.id, "bad_deploy"),
        changes=tuple(tl.changes),
        effects=(ClientTimeout("payments", "stripe", 500, When(after=guilty.id)),),
        notes=f"""Two deploys on checkout's call path within three minutes: checkout {innocent.version} (13:18, which
also raises its orders timeout from 3 s to 4 s) and payments {guilty.version} (13:21), meant to cut the
Stripe timeout from 8 s to 5 s but written as 0.5. A third of charges take longer than half a second at
Stripe, so payments gives up on them (client-side timeouts at exactly 500 ms) and checkout fails. Truth:
the payments deploy, fault bad_deploy. What makes it hard: both deploys touch a timeout, the checkout one
is on the alerting service itself, and the failing spans are payments' calls to Stripe, which looks like
a Stripe outage unless one notices that every failure ends at exactly 500 ms while Stripe answers as usual.""")


def most_recent_deploy_innocent() -> Scenario:
    tl = Timeline()
    tl.usual_hour()
    guilty = tl.deploy("orders", hms(13, 11), src.ORDERS_JOIN_PRICES)
    tl.harmless_deploy("notifications", hms(13, 11, 50))
    tl.harmless_deploy("frontend", hms(13, 15))
    after = When(after=guilty.id)
    return Scenario(
        name="most_recent_deploy_innocent", case_id="most-recent-deploy-innocent", day=date(2026, 11, 24),
        summary="orders' order-items query joins products without its index hint; the deploys after it are innocent",
        alert=Alert("INC-3244", "checkout", "POST /checkout", "errors", 0.05, CHECKOUT_ERRORS,
                    ticket="acme/shop#1044"),
        truth=Truth("orders", guilty.id, "slow_query"),
        changes=tuple(tl.changes),
        effects=(
            SwapStatement("orders", "POST /orders", SQL_ITEMS_HINTED,
                          (Query("orders-db", "SELECT order_items", src.SQL_ITEMS_JOIN, (35, 70), rows=None),),
                          after),
            SwapStatement("orders", "POST /orders", SQL_PRICES_BATCH, (), after),
        ),
        notes=f"""orders {guilty.version} (13:11) reads prices with the order items in one query, a join, and drops the
planner hint that kept order_items on its index: the statement takes ~70 ms instead of 2, orders-db
saturates, orders' pool runs dry and checkout fails. The deploys after it are innocent: notifications at
13:11:50, the last change before the symptom shows at checkout, on a service that only consumes checkout's
messages (it sits below checkout in the trace graph, through the queue, but cannot fail a checkout), and
the frontend at 13:15, after the symptom began and before the alert. Truth: the orders deploy, fault
slow_query. A naive "blame the last deploy" analysis picks the notifications or the frontend deploy.""")
