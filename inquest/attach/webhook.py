"""A generic webhook: the JSON report (docs/report-schema.md) POSTed to attach.webhook.url, signed.

Headers a receiver can rely on:
- `X-Inquest-Signature-256: sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the shared secret
  from $INQUEST_WEBHOOK_SECRET (attach.webhook.secret). Verify before trusting the body.
- `X-Inquest-Incident: INC-1042`: the incident; a receiver that keeps one record per incident upserts by it,
  which is how a re-run updates in place.
- `Idempotency-Key`: the same for every retry of one delivery (incident + body digest), so a receiver
  can drop a retry it already processed.
"""

from __future__ import annotations

import hashlib
import hmac

from inquest.attach.base import AttachContext, Posted, shown
from inquest.core import Report
from inquest.errors import AttachError

SIGNATURE_HEADER = "X-Inquest-Signature-256"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookTarget:
    name = "webhook"
    order = 3

    def post(self, report: Report, context: AttachContext) -> Posted:
        from inquest.render import render_json

        settings = context.settings.webhook
        url = settings.url or context.environ.get("INQUEST_WEBHOOK_URL")
        if not url:
            raise AttachError(self.name, "no webhook URL: set attach.webhook.url in config.yaml or $INQUEST_WEBHOOK_URL")
        secret = context.secret(self.name, "attach.webhook.secret", settings.secret,
                                "the shared secret the report is signed with")
        where = shown("attach.webhook.secret", settings.secret)
        body = render_json(report).encode("utf-8")
        incident = report.incident.id
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret, body),
            "X-Inquest-Incident": incident,
            "Idempotency-Key": f"{incident}:{hashlib.sha256(body).hexdigest()[:16]}",
        }
        denied = {401: f"the receiver rejected the signature (is {where} the secret it expects?)",
                  403: f"the receiver refused the report (is {where} the secret it expects?)",
                  404: "no receiver at this URL"}
        with context.client(self.name, denied=denied) as client:
            client.request("POST", url, content=body, headers=headers, what=f"report {incident}")
        return Posted(self.name, "sent", url)
