"""Events waiting for an object the sync fetches (a handler raised MissingObject).

The queue asks the sync to fetch the object (the refresh queue, read a few objects per poll,
oldest request first) and retries the event. It is retried longer than other failures, then
dead with the reason — but only once the sync has tried to fetch the object (its request left
the refresh queue) and Stripe did not give it: while the request is still queued the event
waits on the sync, not on Stripe (a large first load queues more than a few polls read, and an
event must not die before its turn). Waiting is bounded too (about a day at the longest
backoff), so a sync that never runs for the account does not leave the event retrying forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.errors import MissingObject
from core.models.sync import SnapshotRefresh
from core.sync.handling import on_postgresql

MISSING_OBJECT_ATTEMPTS = 10  # attempts once the sync has fetched the object without finding it
WAITING_FOR_SYNC_ATTEMPTS = 30  # attempts while its request is still queued


class NeverArrived(Exception):
    """A MissingObject as recorded on its event: while retried, its own text; once dead, why
    the queue gave up on it (the health page shows this beside the event)."""

    def __init__(self, missing: MissingObject, event_id: str, sync_tried: bool) -> None:
        super().__init__(str(missing))
        self.missing, self.event_id, self.sync_tried = missing, event_id, sync_tried

    def dead_reason(self, attempts: int) -> str:
        """Why the event is dead after `attempts`, and what to do."""
        what = f"{self.missing.object_type} {self.missing.object_id}"
        why = (
            f"Stripe did not return {what} when the sync fetched it"
            if self.sync_tried
            else f"the sync has not fetched {what} yet (is the sync running for this account?)"
        )
        return (
            f"Dead after {attempts} attempts: {why}. Once Stripe has it, re-queue the event "
            f"with `python -m jobs process --replay {self.event_id}`. "
            f"Last error: {self.missing}"
        )


def waiting_failure(row: Any, exc: MissingObject, *, sync_tried: bool) -> tuple[Any, Any, int]:
    """The failure to record for a claimed event waiting for `exc`'s object: (row, error,
    the attempts after which it is dead)."""
    limit = MISSING_OBJECT_ATTEMPTS if sync_tried else WAITING_FOR_SYNC_ATTEMPTS
    return row, NeverArrived(exc, row.event_id, sync_tried), limit


_TABLE = cast(Table, SnapshotRefresh.__table__)
_REQUEST = {
    pg: (postgresql_insert if pg else sqlite_insert)(_TABLE)
    .on_conflict_do_nothing(index_elements=["object_id"])
    .returning(_TABLE.c.object_id)
    for pg in (False, True)
}


def request_refresh(
    session: Session, wanted: list[tuple[str, str, str]], now: datetime
) -> set[str]:
    """Queue these (object id, account, object type) for a fresh read (one insert); return the
    ids whose request was queued already (the sync has not tried them since they were asked)."""
    rows = [
        {"object_id": oid, "account": acct, "object_type": otype, "requested_at": now}
        for oid, acct, otype in wanted
    ]
    new = {r[0] for r in session.execute(_REQUEST[on_postgresql(session)], rows).all()}
    return {oid for oid, _, _ in wanted} - new
