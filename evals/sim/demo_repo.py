"""The demo world's history of the shop's monorepo ("acme/shop"): its changes in the simulator's terms.

The shop's files (shop_code.py), its people (people.py) and the history builder (repo.build_history) are
the simulator's; what is the demo's own is which changes were made when. Every commit has a fixed author,
committer and date, so the SHAs the demo's reports cite are the same on every machine and every run.
Each deploy's commit touches only its service's directory and bumps its version. The orders v2.14.0
commit is the guilty one (N+1 price queries, planner hint removed) unless `inject=False`, when it is a
harmless docstring.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from inquest.evals.sim import shop_code
from inquest.evals.sim.model import MINUTE, US, ChangeSpec, Edit
from inquest.evals.sim.people import DANA, KEIKO, LENA, MARCUS, PRIYA, Person
from inquest.evals.sim.repo import build_history
from inquest.evals.sim.sources import (
    GUILTY_MESSAGE,
    GUILTY_REPOSITORY_EDITS,
    HARMLESS_ORDERS_EDITS,
    HARMLESS_ORDERS_MESSAGE,
)

DAY = date(2026, 11, 3)


def _t(month: int, day: int, hour: int, minute: int) -> int:
    """Microseconds since midnight of the demo's day (negative before it), as the simulator's times are."""
    return int((datetime(2026, month, day, hour, minute) - datetime(2026, 11, 3)).total_seconds()) * US


def _replace(path: str, old: str, new: str) -> Edit:
    return (path, old, new)


# When each deploy reached production; its commit was merged earlier (the time given with it below).
DEPLOYED = {
    "dep-orders-2.13.1": _t(11, 2, 15, 5), "dep-frontend-5.1.3": _t(11, 2, 16, 40),
    "dep-frontend-5.1.4": _t(11, 3, 9, 12), "dep-catalog-4.6.2": _t(11, 3, 9, 25),
    "dep-checkout-3.11.0": _t(11, 3, 9, 41), "dep-orders-2.13.2": _t(11, 3, 10, 2),
    "dep-payments-2.7.4": _t(11, 3, 10, 18), "dep-inventory-3.8.0": _t(11, 3, 10, 33),
    "dep-notifications-1.8.3": _t(11, 3, 10, 51), "dep-inventory-3.8.1": _t(11, 3, 13, 20),
    "dep-notifications-1.9.0": _t(11, 3, 13, 50), "dep-orders-2.14.0": _t(11, 3, 13, 58),
    "dep-frontend-5.2.0": _t(11, 3, 14, 4),
}
# The afternoon's changes without a commit of their own (made in a UI).
OTHER_CHANGES = (
    ChangeSpec("cfg-catalog-77", _t(11, 3, 13, 5), "catalog", "config", KEIKO, description="cache.ttl 300s -> 600s"),
    ChangeSpec("flag-carousel-v2", _t(11, 3, 13, 45), "frontend", "feature_flag", MARCUS,
               description="recommendations.carousel-v2 enabled for 10%"),
)


def _deploy(change_id: str, committed: int, author: Person, message: str, service: str, version: str,
            edits: tuple[Edit, ...] = ()) -> ChangeSpec:
    at = DEPLOYED[change_id]
    return ChangeSpec(change_id, at, service, "deploy", author, message, edits, version,
                      merged_min=(at - committed) // MINUTE)


def changes(inject: bool) -> tuple[ChangeSpec, ...]:
    """The demo's changes in the simulator's terms, in the order they reached production. Only orders
    v2.14.0's commit depends on `inject`."""
    orders_edits = GUILTY_REPOSITORY_EDITS if inject else HARMLESS_ORDERS_EDITS
    orders_message = GUILTY_MESSAGE if inject else HARMLESS_ORDERS_MESSAGE
    deploys = [
        _deploy("dep-orders-2.13.1", _t(11, 2, 11, 20), DANA, "orders: reject orders with an empty cart\n",
               "orders", "2.13.1", (_replace("services/orders/orders/handlers.py",
                                             '    order_id = int(body["order_id"])\n',
                                             '    if not body.get("total"):\n'
                                             '        raise ValueError("empty cart")\n'
                                             '    order_id = int(body["order_id"])\n'),)),
        _deploy("dep-frontend-5.1.3", _t(11, 2, 13, 5), MARCUS, "frontend: lazy-load product images\n",
               "frontend", "5.1.3", (_replace("services/frontend/static/css/main.css", "footer {",
                                              "img[loading=lazy] { min-height: 120px; }\nfooter {"),)),
        _deploy("dep-frontend-5.1.4", _t(11, 2, 17, 30), MARCUS,
               "frontend: escape the search query in the results header\n",
               "frontend", "5.1.4", (_replace("services/frontend/frontend/routes.py", "import logging\n",
                                              "import html\nimport logging\n"),)),
        _deploy("dep-catalog-4.6.2", _t(11, 2, 18, 10), KEIKO, "catalog: cap search page size at 24\n",
               "catalog", "4.6.2", (_replace("services/catalog/catalog/search.py", "def search(conn, text: str, "
                                             "page: int = 0)", "def search(conn, text: str, page: int = 0, *, "
                                             "limit: int | None = None)"),)),
        _deploy("dep-checkout-3.11.0", _t(11, 3, 8, 40), DANA, "checkout: pass an idempotency key to payments\n",
               "checkout", "3.11.0", (_replace("services/checkout/checkout/clients.py", "nothing retries.",
                                               "nothing retries;\npayments dedupes on the Idempotency-Key header."),)),
        _deploy("dep-orders-2.13.2", _t(11, 3, 9, 20), DANA, "orders: log the tenant with each created order\n",
               "orders", "2.13.2", (_replace("services/orders/orders/handlers.py",
                                             'log.info("order created order_id=%s items=%d total=%s", order_id, '
                                             'len(lines), total)',
                                             'log.info("order created order_id=%s tenant=%s items=%d total=%s", '
                                             'order_id, body["tenant_id"], len(lines), total)'),)),
        _deploy("dep-payments-2.7.4", _t(11, 3, 9, 50), LENA, "payments: pin Stripe API version 2024-06-20\n",
               "payments", "2.7.4", (_replace("services/payments/payments/stripe_client.py",
                                              'STRIPE_API_VERSION = "2023-10-16"', 'STRIPE_API_VERSION = '
                                              '"2024-06-20"'),)),
        _deploy("dep-inventory-3.8.0", _t(11, 3, 10, 5), PRIYA, "inventory: make the pool timeout configurable\n",
               "inventory", "3.8.0", (_replace("services/inventory/inventory/config.py",
                                               "    pool_timeout_ms: int = 2000\n",
                                               '    pool_timeout_ms: int = int(os.environ.get('
                                               '"INVENTORY_POOL_TIMEOUT_MS", "2000"))\n'),)),
        _deploy("dep-notifications-1.8.3", _t(11, 3, 10, 20), PRIYA, "notifications: surface SMTP 4xx as retryable\n",
               "notifications", "1.8.3", (_replace("services/notifications/notifications/consumer.py",
                                                   "(order_id=%s, will retry)", "(order_id=%s, attempt 1/5)"),)),
        _deploy("dep-inventory-3.8.1", _t(11, 3, 12, 41), PRIYA, "inventory: log reservation counts at debug level\n",
               "inventory", "3.8.1", (_replace("services/inventory/inventory/app.py",
                                               '    log.info("reserved %d items for order %s"',
                                               '    log.debug("reserved %d items for order %s"'),)),
        _deploy("dep-notifications-1.9.0", _t(11, 3, 13, 2), PRIYA,
               "notifications: refresh the order confirmation e-mail\n",
               "notifications", "1.9.0", (_replace("services/notifications/templates/order_confirmation.html",
                                                   "<h1>Thanks for your order!</h1>",
                                                   '<img src="https://cdn.acme-shop.example/logo.png" alt="Acme">\n'
                                                   "<h1>Thank you, your order is in!</h1>"),)),
        _deploy("dep-frontend-5.2.0", _t(11, 3, 13, 31), MARCUS, "frontend: new checkout button copy, roomier footer\n",
               "frontend", "5.2.0", (_replace("services/frontend/templates/checkout.html", "Place order", "Buy now"),
                                     _replace("services/frontend/static/css/main.css", "padding: 24px;",
                                              "padding: 32px 24px;"))),
        _deploy("dep-orders-2.14.0", _t(11, 3, 13, 36), DANA, orders_message, "orders", "2.14.0", orders_edits),
    ]
    return tuple(sorted((*deploys, *OTHER_CHANGES), key=lambda change: change.at))


def build_shop_repo(path: Path, *, inject: bool = True) -> dict[str, str]:
    """Creates the repository at `path` (replacing anything there) and returns {deploy id: SHA}: the
    simulator's history builder on the shop's first commit alone (no deploy values, flags or changelogs,
    which the scenarios' repositories add)."""
    return build_history(changes(inject), DAY, Path(path), shop_code.initial_tree())
