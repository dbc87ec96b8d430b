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
