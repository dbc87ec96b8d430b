"""Action requests on both databases: roles, four-eyes, thresholds, dedupe, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import (
    ConflictError,
    CoreError,
    InputError,
    InvalidTransition,
    PermissionDenied,
)
from core.governance import actions, audit
from core.governance import queries as action_queries
from core.governance.auth import SYSTEM_ACTOR
from core.governance.states import ActionStatus as S
from core.models.base import utcnow
from core.models.governance import ActionRequest, Approval, AuditEntry
from tests.support.governance import make_refund_request, make_team


@pytest.fixture
def team(Session: Any) -> dict[str, Any]:
    with Session.begin() as s:
        return make_team(s)


def test_a_viewer_cannot_request_or_approve(Session: Any, team: dict[str, Any]) -> None:
    with Session.begin() as s:
        with pytest.raises(PermissionDenied):
            make_refund_request(s, team["viewer"])
        action = make_refund_request(s, team["operator"])
    with Session.begin() as s, pytest.raises(PermissionDenied, match="viewer"):
        actions.approve(s, team["viewer"], action.id, "looks fine")
    with Session.begin() as s, pytest.raises(PermissionDenied):
        actions.approve(s, team["operator"], action.id, "operators cannot approve")
    with Session() as s:
        assert action_queries.get_action(s, action.id).status == "requested"


def test_the_requester_never_approves_their_own(Session: Any, team: dict[str, Any]) -> None:
    with Session.begin() as s:
        action = make_refund_request(s, team["approver"])
    with Session.begin() as s, pytest.raises(PermissionDenied, match="four-eyes"):
        actions.approve(s, team["approver"], action.id, "my own")
    with Session.begin() as s:
        assert action_queries.awaiting(s, team["approver"]) == []
        assert [a.id for a in action_queries.awaiting(s, team["approver2"])] == [action.id]
        actions.approve(s, team["approver2"], action.id, "checked the charge")
    with Session() as s:
        assert action_queries.get_action(s, action.id).status == "approved"


def test_above_the_threshold_two_different_approvers_are_needed(
    Session: Any, team: dict[str, Any]
) -> None:
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"], amount=75_000)
        assert action.required_approvals == 2
    with Session.begin() as s:
        assert actions.approve(s, team["approver"], action.id, "first look").status == "requested"
    with Session.begin() as s, pytest.raises(ConflictError, match="already decided"):
        actions.approve(s, team["approver"], action.id, "again, same person")
    with Session.begin() as s:
        assert action_queries.awaiting(s, team["approver"]) == []
        done = actions.approve(s, team["admin"], action.id, "second look")
        assert done.status == "approved"
    with Session() as s:
        versions = {a.policy_version for a in action_queries.approvals_of(s, action.id)}
        assert len(versions) == 1 and next(iter(versions)).startswith("2026.11.1+")


def test_reasons_are_required_and_rejection_is_final(Session: Any, team: dict[str, Any]) -> None:
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"])
    with Session.begin() as s, pytest.raises(InputError):
        actions.reject(s, team["approver"], action.id, "  ")
    with Session.begin() as s:
        actions.reject(s, team["approver"], action.id, "customer already got a credit")
    with Session.begin() as s, pytest.raises(InvalidTransition):
        actions.approve(s, team["approver2"], action.id, "too late")
    with Session() as s:
        got = action_queries.get_action(s, action.id)
        assert got.status == "rejected" and "credit" in (got.outcome_note or "")


def test_dedupe_key_returns_the_first_request(Session: Any, team: dict[str, Any]) -> None:
    with Session.begin() as s:
        a = make_refund_request(s, SYSTEM_ACTOR, dedupe_key="rule:r1:ch_1", rule_id="r1")
        b = make_refund_request(s, SYSTEM_ACTOR, dedupe_key="rule:r1:ch_1", rule_id="r1")
        assert a.id == b.id
        assert s.scalar(select(func.count()).select_from(ActionRequest)) == 1


def test_internal_actions_need_no_approval_and_requests_expire(
    Session: Any, team: dict[str, Any]
) -> None:
    with Session.begin() as s:
        note = actions.request_action(
            s,
            team["operator"],
            action_type="add_note",
            target_id="in_1",
            params={"text": "called the customer"},
            reason="log the call",
        )
        assert note.status == "approved" and note.required_approvals == 0
        old = make_refund_request(s, team["operator"])
    with Session.begin() as s:
        assert actions.expire_due(s, now=utcnow() + timedelta(days=4)) == 1
    with Session() as s:
        assert action_queries.get_action(s, old.id).status == "expired"


def test_unknown_types_and_missing_actions_are_explained(
    Session: Any, team: dict[str, Any]
) -> None:
    with Session.begin() as s:
        with pytest.raises(InputError, match="Unknown action type"):
            actions.request_action(
                s,
                team["operator"],
                action_type="teleport",
                target_id="x",
                params={},
                reason="r",
            )
        with pytest.raises(CoreError, match="does not exist"):
            actions.approve(s, team["approver"], 999, "ok")


def test_100_concurrent_approvals_make_exactly_one_transition(
    Session: Any, team: dict[str, Any]
) -> None:
    with Session.begin() as s:
        action = make_refund_request(s, team["operator"], amount=75_000)  # needs two approvers
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def click(i: int) -> None:
        approver = team["approver"] if i % 2 else team["approver2"]
        barrier.wait()
        try:
            with Session.begin() as s:
                result = actions.approve(s, approver, action.id, f"click {i}")
                outcome = result.status
        except CoreError as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1
    assert outcomes.count("requested") == 1  # the first approver's half of the four eyes
    with Session() as s:
        assert action_queries.get_action(s, action.id).status == "approved"
        assert s.scalar(select(func.count()).where(Approval.action_id == action.id)) == 2
        approved = s.scalar(select(func.count()).where(AuditEntry.action == "action.approved"))
        assert approved == 1
        assert audit.verify(s).ok


@pytest.mark.parametrize(
    ("first", "second"),
    [("executing", "executing"), ("executing", "superseded"), ("superseded", "executing")],
)
def test_a_stale_copy_of_an_action_cannot_move_it_again(
    Session: Any, team: dict[str, Any], first: str, second: str
) -> None:
    """The status guard itself (`... WHERE status = :expected`), on SQLite as on PostgreSQL.

    Two workers each read the approved action in their own session (an earlier, committed
    transaction: what PostgreSQL's concurrent readers see, and what SQLite's one writer at a
    time would otherwise hide), then both move it — two runners claiming it, or a runner and
    the handler of a payment superseding it. Only the first may; the second gets ConflictError
    and changes nothing: no second claim, no run of a superseded action."""
    with Session.begin() as s:
        action_id = make_refund_request(s, team["operator"]).id
    with Session.begin() as s:
        actions.approve(s, team["approver"], action_id, "checked the charge")
    one, two = Session(), Session()
    try:
        with one.begin():
            stale_one = action_queries.get_action(one, action_id)
        with two.begin():
            stale_two = action_queries.get_action(two, action_id)
        assert stale_one.status == stale_two.status == "approved"
        with one.begin():
            actions.transition(one, stale_one, S(first), "runner one", note="first")
        with two.begin(), pytest.raises(ConflictError, match=f"it is now '{first}'"):
            actions.transition(two, stale_two, S(second), "runner two", note="second")
    finally:
        one.close()
        two.close()
    with Session() as s:
        assert action_queries.get_action(s, action_id).status == first
        moves = s.scalars(
            select(AuditEntry.actor).where(
                AuditEntry.target == f"action:{action_id}",
                AuditEntry.action.in_(("action.executing", "action.superseded")),
            )
        ).all()
        assert moves == ["runner one"]
        assert audit.verify(s).ok
