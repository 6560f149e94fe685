"""Secrets planted in the demo world's telemetry: fixed for every seed, so redaction tests can name them.

The orders pod logs its database DSN at start-up, payments' debug logging once prints the Stripe key,
the frontend rejects a few session tokens (JWTs), and notifications names a customer's e-mail address.
"""

from __future__ import annotations

import base64
import json
from random import Random

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
