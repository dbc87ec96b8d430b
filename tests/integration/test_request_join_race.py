"""One open request per need holds under a race: while the first request for a refund is still
uncommitted, a second operator asks for the same refund. On PostgreSQL the second insert waits on
the open-key unique index and then joins the first; on SQLite the second transaction waits for the
first (BEGIN IMMEDIATE) and finds it. Either way: one request, the second ask audited as joined."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from core.governance.actions import reject, request_action
from core.models.governance import ActionRequest, AuditEntry
from tests.support.governance import make_team


def _ask(Session: Any, actor: Any, reason: str) -> ActionRequest:
    with Session() as s, s.begin():
        return request_action(
            s,
            actor,
            action_type="refund",
            target_id="ch_race",
            params={"charge": "ch_race", "amount": 1_000, "currency": "usd"},
            reason=reason,
        )


def test_two_operators_racing_for_one_refund_make_one_request(Session: Any) -> None:
    with Session.begin() as s:
        team = make_team(s)
    inserted, go = threading.Event(), threading.Event()
    ids: dict[str, int] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with Session() as s, s.begin():
                action = request_action(
                    s,
                    team["operator"],
                    action_type="refund",
                    target_id="ch_race",
                    params={"charge": "ch_race", "amount": 1_000, "currency": "usd"},
                    reason="customer asked",
                )
                ids["first"] = action.id
                inserted.set()
                go.wait(10)  # still uncommitted while the second operator asks
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
            inserted.set()

    def second() -> None:
        try:
            ids["second"] = _ask(Session, team["admin"], "same customer, second ask").id
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    t1 = threading.Thread(target=first)
    t1.start()
    assert inserted.wait(10)
    t2 = threading.Thread(target=second)
    t2.start()
    time.sleep(0.5)  # the second ask is now waiting on the first's uncommitted row
    go.set()
    t1.join(20)
    t2.join(20)
    assert not errors, errors
    assert ids["second"] == ids["first"]
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(ActionRequest)) == 1
        joined = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "action.joined", AuditEntry.target == f"action:{ids['first']}"
            )
        )
        assert joined == 1


def test_a_settled_need_may_be_asked_again(Session: Any) -> None:
    """The open key is released when the request ends: a rejected refund can be asked for again."""
    with Session.begin() as s:
        team = make_team(s)
    first = _ask(Session, team["operator"], "first ask")
    with Session.begin() as s:
        reject(s, team["approver"], first.id, "not this time")
    again = _ask(Session, team["operator"], "asked again a week later")
    assert again.id != first.id
    with Session() as s:
        assert s.get(ActionRequest, first.id).open_key is None
        assert s.get(ActionRequest, again.id).open_key == "refund:ch_race"
