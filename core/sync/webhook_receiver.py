"""Webhook receiver: verify `Stripe-Signature`, store the event through ingestion, answer fast.

Processing is left to the queue (`jobs process`), so a delivery is answered in milliseconds.
Refusals are clear 4xx answers and are counted per reason in `webhook_rejects`: missing,
malformed or bad signatures and signatures stamped outside the tolerance, past or future (400);
bodies that are not a JSON object or nest deeper than the limit (400); and, from the HTTP
server (core/adapters/webhook_http.py), bodies over the size limit (413), requests whose
headers or body do not arrive in time (408) and connections beyond the limit (503).
A signed event of a type the desk does not know is stored for audit but sets no snapshot
(core/sync/event_types.py); it is counted as `unknown_type`.
Works with `stripe listen --forward-to http://127.0.0.1:PORT/webhook`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.stripe_gateway import verify_webhook_signature
from core.adapters.webhook_http import WebhookServer
from core.config import WebhookLimits
from core.db import insert_ignore
from core.errors import WebhookRejected
from core.models.sync import WebhookReject
from core.sync.event_types import is_known
from core.sync.ingest import ingest_events

log = logging.getLogger("ledgerdesk.webhook")

__all__ = ["WebhookReceiver", "WebhookServer", "json_depth"]


def json_depth(value: Any, limit: int) -> int:
    """How deep `value` nests (a scalar is 0), counting no further than `limit + 1`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


class WebhookReceiver:
    """The receiver's logic, independent of the HTTP server that feeds it."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        secrets: list[str],
        *,
        limits: WebhookLimits | None = None,
    ) -> None:
        self.Session = session_factory
        self.secrets = [s for s in secrets if s]
        self.limits = limits or WebhookLimits()

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify and store one delivery; return (HTTP status, JSON answer)."""
        try:
            event = self._verify(body, signature)
        except WebhookRejected as exc:
            self.count_reject(exc.reason, str(exc))
            return exc.status, {"error": {"type": exc.reason, "message": str(exc)}}
        account = event.get("account") if isinstance(event.get("account"), str) else ""
        with self.Session.begin() as session:
            result = ingest_events(session, [event], account=account or "", source="webhook")
        etype = event.get("type")
        if result.new and isinstance(etype, str) and not is_known(etype):
            self.count_reject(
                "unknown_type", f"{event.get('id')}: type {etype[:80]!r} stored, not applied"
            )
        return 200, {
            "received": True,
            "duplicate": result.duplicates > 0,
            "stored": result.new > 0 or result.dead > 0,
        }

    def _verify(self, body: bytes, signature: str | None) -> dict[str, Any]:
        if not self.secrets:
            raise WebhookRejected(
                "no_secret",
                "the receiver has no STRIPE_WEBHOOK_SECRET configured",
                status=503,
            )
        failure: WebhookRejected | None = None
        for secret in self.secrets:  # several secrets while one is being rotated
            try:
                verify_webhook_signature(body, signature, secret, self.limits.tolerance_seconds)
                break
            except WebhookRejected as exc:
                failure = exc
                if exc.reason != "bad_signature":
                    raise
        else:
            assert failure is not None
            raise failure
        limit = self.limits.max_json_depth
        try:
            event = orjson.loads(body)  # past 1,024 levels an error, never a RecursionError
        except orjson.JSONDecodeError as exc:
            if "depth" in str(exc):
                raise WebhookRejected(
                    "too_deep", f"the JSON body nests more than {limit} levels deep"
                ) from None
            raise WebhookRejected("bad_body", "the body is not valid JSON") from None
        if not isinstance(event, dict):
            raise WebhookRejected("bad_body", "the body is not a JSON object")
        if json_depth(event, limit) > limit:
            raise WebhookRejected("too_deep", f"the JSON body nests more than {limit} levels deep")
        return event

    def count_reject(self, reason: str, detail: str, times: int = 1) -> None:
        """Add `times` to the reject counter of `reason`."""
        table = WebhookReject.__table__
        now = datetime.now(UTC)
        with self.Session.begin() as session:
            insert_ignore(
                session,
                table,  # type: ignore[arg-type]
                [{"reason": reason, "count": 0, "last_at": now, "last_detail": None}],
                ["reason"],
            )
            session.execute(
                table.update()  # type: ignore[attr-defined]
                .where(table.c.reason == reason)
                .values(count=table.c.count + times, last_at=now, last_detail=detail[:500])
            )
        log.warning("webhook %s (x%d): %s", reason, times, detail)
