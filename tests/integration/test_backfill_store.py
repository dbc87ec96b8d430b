"""The backfill's store: pages handed over together are written in one transaction with their
shards' cursors, objects read more than once are stored once, the latest read winning, and a
shard's stored cursor never passes a page that failed to store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from core.models.sync import BackfillShard, StripeObject
from core.sync.backfill_writer import Handover, PageWriter
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


def _refuse_storing(session: Any, object_id: str) -> None:
    """A database that refuses to store one object, as a full disk or a damaged page would."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON stripe_objects "
                f"WHEN NEW.id = '{object_id}' BEGIN SELECT RAISE(ABORT, 'cannot store'); END"
            )
        )
        return
    session.execute(
        text(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.id = '{object_id}' THEN RAISE EXCEPTION 'cannot store'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
    )
    session.execute(
        text(
            "CREATE TRIGGER refuse BEFORE INSERT ON stripe_objects "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    )


def test_after_a_page_fails_to_store_no_later_page_of_its_shard_is_written(
    Session: Any,
) -> None:
    with Session.begin() as s:
        failing, other = _shard(s, "customers"), _shard(s, "charges")
        _refuse_storing(s, "cus_1")
    with PageWriter(Session, account="") as writer:
        first = writer.submit(
            failing,
            [{"id": "cus_1", "object": "customer"}],
            cursor="cus_1",
            more=True,
            fetched_at=1,
        )
        with pytest.raises(Exception, match="cannot store"):
            first.wait()
        # Handed over after the failure, in a transaction of its own: storing it would move the
        # shard's cursor past cus_1, which is not stored.
        later = writer.submit(
            failing,
            [{"id": "cus_2", "object": "customer"}],
            cursor="cus_2",
            more=False,
            fetched_at=2,
        )
        beside = writer.submit(
            other, [{"id": "ch_1", "object": "charge"}], cursor="ch_1", more=False, fetched_at=2
        )
        with pytest.raises(Exception, match="cannot store"):
            later.wait()
        beside.wait()  # other shards go on
    with Session() as s:
        assert get_object(s, "cus_2") is None and get_object(s, "cus_1") is None
        assert get_object(s, "ch_1") is not None
        shards = {sh.id: sh for sh in s.scalars(select(BackfillShard))}
        assert (shards[failing].cursor, shards[failing].done) == (None, False)
        assert (shards[other].cursor, shards[other].done) == ("ch_1", True)


def test_a_worker_hands_over_pages_before_the_first_is_committed_and_they_commit_in_order(
    Session: Any,
) -> None:
    with Session.begin() as s:
        shard = _shard(s, "customers")
    # A transaction gathers what comes within 0.2 s: three pages handed over without waiting
    # make the first; the next three, each handed over once an earlier one is committed, the second.
    with PageWriter(Session, account="", gather=0.2) as writer:
        handed = Handover(writer, depth=3)
        for n in range(1, 7):
            handed.hand_over(
                shard,
                [{"id": f"cus_{n}", "object": "customer"}],
                cursor=f"cus_{n}",
                more=n < 6,
                fetched_at=n,
            )
        handed.drain()
    assert writer.transactions == 2
    with Session() as s:
        stored = s.get(BackfillShard, shard)
        assert (stored.cursor, stored.objects, stored.done) == ("cus_6", 6, True)
        assert s.scalar(select(func.count()).select_from(StripeObject)) == 6


def test_a_batch_larger_than_one_statement_is_stored_whole(Session: Any) -> None:
    objects = [{"id": f"ch_{n:04d}", "object": "charge", "amount": n} for n in range(601)]
    with Session.begin() as s:
        assert store_fetched(s, objects, account="", fetched_at=10) == 601
    with Session.begin() as s:  # read again later: every one replaced, none added
        assert store_fetched(s, objects[::-1], account="", fetched_at=11) == 601
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(StripeObject)) == 601
        assert get_object(s, "ch_0600")["amount"] == 600
