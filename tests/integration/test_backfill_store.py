"""The backfill's store: pages handed over together are written in one transaction with their
shards' cursors, and objects read more than once are stored once, the latest read winning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from core.models.sync import BackfillShard, StripeObject
from core.sync.backfill_writer import PageWriter
from core.sync.snapshots import get_object, store_fetched


def _shard(session: Any, resource: str) -> int:
    shard = BackfillShard(
        account="",
        resource=resource,
        window_start=0,
        window_end=10,
        cursor=None,
        done=False,
        objects=0,
        updated_at=datetime.now(UTC),
    )
    session.add(shard)
    session.flush()
    return shard.id


def test_pages_waiting_together_are_stored_in_one_transaction(Session: Any) -> None:
    with Session.begin() as s:
        first, second = _shard(s, "customers"), _shard(s, "charges")
    writer = PageWriter(Session, account="")
    customer = {"id": "cus_1", "object": "customer", "name": "Ada"}
    # Handed over before the writer runs: it takes every waiting page at once.
    tickets = [
        writer.submit(first, [customer], cursor="cus_1", more=True, fetched_at=100),
        writer.submit(
            second,
            [{"id": "ch_1", "object": "charge", "amount": 500}],
            cursor="ch_1",
            more=False,
            fetched_at=101,
        ),
        # The same customer read again, later: the later read wins, stored once.
        writer.submit(
            first, [{**customer, "name": "Ada L."}], cursor="cus_2", more=False, fetched_at=102
        ),
    ]
    with writer:
        for ticket in tickets:
            ticket.wait()
    assert writer.transactions == 1
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(StripeObject)) == 2
        assert get_object(s, "cus_1")["name"] == "Ada L."
        shards = {sh.id: sh for sh in s.scalars(select(BackfillShard))}
        assert (shards[first].cursor, shards[first].objects, shards[first].done) == (
            "cus_2",
            2,
            True,
        )
        assert (shards[second].cursor, shards[second].objects, shards[second].done) == (
            "ch_1",
            1,
            True,
        )


def test_an_object_twice_in_one_batch_is_stored_once(Session: Any) -> None:
    with Session.begin() as s:
        written = store_fetched(
            s,
            [
                {"id": "in_1", "object": "invoice", "status": "open"},
                {"id": "in_1", "object": "invoice", "status": "paid"},
            ],
            account="",
            fetched_at=50,
        )
    assert written == 1
    with Session.begin() as s:  # an older read never overwrites a newer one
        assert (
            store_fetched(
                s,
                [{"id": "in_1", "object": "invoice", "status": "void"}],
                account="",
                fetched_at=40,
            )
            == 0
        )
    with Session() as s:
        assert get_object(s, "in_1")["status"] == "paid"
