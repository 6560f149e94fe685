"""The source files of the shop's customer-facing services (catalog, frontend, notifications): data only,
gathered into the repository's first commit by `shop_code.initial_tree`."""

from __future__ import annotations

CATALOG_SEARCH = '''"""Product search. Full-text ranking runs in PostgreSQL for now; it is slow and we know it (SHOP-431)."""

from __future__ import annotations

from .config import settings

SEARCH = (
    "SELECT sku, name, ts_rank(document, query) AS rank FROM products, plainto_tsquery(%s) query "
    "WHERE document @@ query ORDER BY rank DESC LIMIT %s OFFSET %s"
)


def search(conn, text: str, page: int = 0) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(SEARCH, (text, settings.page_size, page * settings.page_size))
        return [{"sku": sku, "name": name} for sku, name, _ in cur.fetchall()]
'''

CATALOG_CONFIG = '''"""Settings for the catalog service."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    cache_ttl_seconds: int = 300  # overridden at runtime by the config service (cache.ttl)
    page_size: int = 24
    inventory_url: str = "http://inventory:8080"


settings = Settings()
'''

FRONTEND_ROUTES = '''"""The shop's pages and the API the browser calls."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("frontend")
catalog = httpx.AsyncClient(base_url="http://catalog:8080", timeout=5.0)
inventory = httpx.AsyncClient(base_url="http://inventory:8080", timeout=2.0)
checkout = httpx.AsyncClient(base_url="http://checkout:8080", timeout=10.0)


async def post_checkout(session, cart):
    resp = await checkout.post("/checkout", json={"cart": cart, "user_id": session.user_id,
                                                  "tenant_id": session.tenant_id})
    if resp.status_code >= 500:
        log.error("checkout failed: upstream returned %s", resp.status_code)
        return {"error": "Something went wrong. Your card has not been charged."}, 500
    return resp.json(), resp.status_code
'''

FRONTEND_CSS = """:root { --brand: #0b5fff; --ink: #1c1c1e; }
body { font-family: system-ui, sans-serif; color: var(--ink); margin: 0; }
.checkout-button { background: var(--brand); color: #fff; padding: 12px 20px; border-radius: 6px; }
footer { padding: 24px; font-size: 13px; color: #666; }
"""

FRONTEND_CHECKOUT_HTML = """<section class="checkout">
  <h1>Review your order</h1>
  {% for line in cart.lines %}<div class="line">{{ line.name }} &times; {{ line.qty }}</div>{% endfor %}
  <button class="checkout-button">Place order</button>
</section>
"""

NOTIFICATIONS_CONSUMER = '''"""Consumes order.confirmed and e-mails the customer."""

from __future__ import annotations

import logging

from .mailer import SmtpTemporaryError, send

log = logging.getLogger("notifications")


def handle_order_confirmed(message: dict) -> None:
    log.info("sending order confirmation to %s", message["email"])
    try:
        send(message["email"], "order_confirmation.html", message)
    except SmtpTemporaryError as exc:
        log.error("%s (order_id=%s, will retry)", exc, message["order_id"])
        raise
'''

NOTIFICATIONS_MAILER = '''"""SMTP delivery through the relay."""

import smtplib


class SmtpTemporaryError(Exception):
    pass


def send(to: str, template: str, context: dict) -> None:
    try:
        with smtplib.SMTP("smtp-relay.internal", 587, timeout=10) as smtp:
            smtp.starttls()
            smtp.send_message(render(template, context, to))
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise SmtpTemporaryError(f"SMTP {exc.smtp_code} {exc.smtp_error.decode()}") from exc
        raise


def render(template: str, context: dict, to: str):
    from .templates import render_email
    return render_email(template, context, to)
'''

NOTIFICATIONS_TEMPLATE = """<h1>Thanks for your order!</h1>
<p>Order {{ order_id }} is confirmed. We'll e-mail you again when it ships.</p>
"""
