"""Helpers for the sync tests: sandbox control calls and store counts."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from sqlalchemy import Engine, text


def control(url: str, path: str, data: dict[str, Any] | None = None) -> Any:
    """GET (or POST form `data`) a /_sandbox/ control endpoint."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(f"{url}/_sandbox/{path}", data=body, timeout=30) as resp:
        return json.loads(resp.read())


def listable_events(url: str, account: str | None = None) -> int:
    """How many events the sandbox can list for an account (the platform by default)."""
    stats = control(url, "stats")
    acct = account or stats["platform_account"]
    return int(stats["accounts"][acct]["events_listable"])


def route_count(url: str, route: str = "GET /v1/events") -> int:
    """Requests the sandbox has served on one route."""
    return int(control(url, "stats")["requests_by_route"].get(route, 0))


def stored_events(engine: Engine, account: str = "") -> tuple[int, int]:
    """(rows, distinct event ids) stored for an account."""
    with engine.connect() as conn:
        row = conn.execute(
            text("select count(*), count(distinct event_id) from events where account = :a"),
            {"a": account},
        ).one()
    return int(row[0]), int(row[1])


def settle(rt: Any, rounds: int = 3) -> None:
    """What the scheduler does over the next half hour, at once: process the stored events,
    sync (which fetches the objects events asked for), and process the retries that are due."""
    from datetime import UTC, datetime, timedelta

    from core.sync.processing import process_batch
    from jobs.sync import sync_all

    for n in range(rounds + 1):
        now = datetime.now(UTC) + timedelta(minutes=10 * n)
        while process_batch(rt.Session, settings=rt.settings, now=now).claimed:
            pass
        if n < rounds:
            sync_all(rt)


def sandbox_runtime(db_url: str, sandbox_url: str, folder: Any) -> Any:
    """A job runtime on `db_url` talking to a sandbox (pacing well above the tests' needs)."""
    from jobs.runtime import open_runtime
    from tests.conftest import settings_for
    from tests.support.sandbox import SANDBOX_KEY

    return open_runtime(
        settings_for(
            db_url,
            folder,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=sandbox_url,
            LEDGERDESK_SANDBOX="1",
            STRIPE_RATE_LIMIT="500",
        )
    )


def list_all(gateway: Any, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every object of a list, walked page by page the plain way (the account's own truth)."""
    from core.adapters.stripe_gateway import list_page_raw

    out: list[dict[str, Any]] = []
    query: dict[str, Any] = {**params, "limit": 100}
    while True:
        page = list_page_raw(gateway, resource, query)
        out += page["data"]
        if not page["has_more"]:
            return out
        query["starting_after"] = page["data"][-1]["id"]
