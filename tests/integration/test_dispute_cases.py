"""Dispute cases from events, reminders exactly once, escalation, alerts, EFW refunds, status counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.disputes.actions import propose_efw_refund, request_accept, request_submission
from core.disputes.cases import board, status_counts
from core.disputes.handlers import apply_dispute
from core.disputes.reminders import send_due_reminders
from core.disputes.settings import DisputeConfig
from core.errors import InvalidTransition
from core.models.disputes import DisputeCase, DisputeReminder
from core.models.governance import ActionRequest, OutboxMessage
from tests.support import disputes as f
from tests.support.governance import make_user

NOW = f.ts(2026, 3, 20, 12)
CFG = DisputeConfig(alert_threshold=50_000, escalation_email="leads@example.com")


def _outbox(session: Any) -> list[tuple[str, str, str]]:
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    return [(m.channel, m.recipient, m.dedupe_key) for m in rows]


def _open(
    session: Any,
    due_by: int,
    amount: int = 10_000,
    owner: str | None = "sam@example.com",
    **kw: Any,
) -> DisputeCase:
    cus = f.customer(session)
    ch = f.charge(session, cus, amount, NOW - 10 * f.DAY)
    cfg = DisputeConfig(
        alert_threshold=CFG.alert_threshold,
        escalation_email=CFG.escalation_email,
        default_owner=owner,
    )
    case, _ = apply_dispute(
        session, f.dispute(ch, due_by=due_by, **kw), event_created=NOW, cfg=cfg, now=NOW
    )
    return case


def test_case_lifecycle_with_outcome_and_amounts(Session: Any) -> None:
    with Session.begin() as session:
        cus = f.customer(session)
        ch = f.charge(session, cus, 20_000, NOW - 10 * f.DAY)
        dp = f.dispute(ch, due_by=NOW + 9 * f.DAY)
        case, created = apply_dispute(session, dp, event_created=NOW, cfg=CFG, now=NOW)
        assert created and case.status == "needs_response" and case.owner is None
        withdrawn = {**dp, "balance_transactions": [{"amount": -20_000, "fee": 1_500}]}
        apply_dispute(session, withdrawn, event_created=NOW, cfg=CFG, now=NOW)
        again, created = apply_dispute(
            session, dp, event_created=NOW, cfg=CFG, now=NOW
        )  # replayed older copy
        assert not created and again.amount_withdrawn == 20_000 and again.fee == 1_500
        won = {
            **withdrawn,
            "status": "won",
            "balance_transactions": withdrawn["balance_transactions"]
            + [{"amount": 20_000, "fee": -1_500}],
        }
        apply_dispute(session, won, event_created=NOW + 30 * f.DAY, cfg=CFG)
        stale = {**dp, "status": "under_review"}
        case, _ = apply_dispute(
            session, stale, event_created=NOW + f.DAY, cfg=CFG
        )  # older event: ignored
        assert case.status == "won" and case.outcome == "won" and case.closed_at is not None
        assert (case.amount_reinstated, case.fee_reinstated) == (20_000, 1_500)
        assert session.scalar(select(func.count()).select_from(DisputeCase)) == 1


def test_unowned_dispute_is_escalated_once_and_large_one_alerted(Session: Any) -> None:
    with Session.begin() as session:
        case = _open(session, NOW + 9 * f.DAY, amount=75_000, owner=None)
        # the same dispute again (event replay) adds nothing
        apply_dispute(
            session,
            {
                "id": case.dispute_id,
                **f.dispute(
                    {
                        "id": case.charge_id,
                        "amount": 75_000,
                        "payment_intent": "pi_x",
                        "created": NOW,
                    },
                    due_by=NOW + 9 * f.DAY,
                ),
            }
            | {"id": case.dispute_id},
            event_created=NOW,
            cfg=CFG,
            now=NOW,
        )
        sent = _outbox(session)
        assert ("chat", "team channel", f"dispute-escalation:{case.dispute_id}:chat") in sent
        assert ("email", "leads@example.com", f"dispute-escalation:{case.dispute_id}:email") in sent
        alert = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like("dispute-alert:%"))
        )
        # the alert carries the brief, not a raw list of charges
        assert alert is not None and "$750.00" in alert.body and "succeeded" not in alert.body
        assert "Brief: “Ada Lovelace” (cus_" in alert.body
        assert "In the 90 days before, the customer paid 0 other charges." in alert.body
        # The large-dispute alert also goes by e-mail to the team address.
        assert ("email", "leads@example.com", f"dispute-alert:{case.dispute_id}:email") in sent
        assert len(sent) == 4 and case.escalated_at is not None
        dispute_id = case.dispute_id
    with Session() as session:  # as stored: written with the case, escalated once
        stored = session.scalar(select(DisputeCase).where(DisputeCase.dispute_id == dispute_id))
        assert stored is not None and stored.owner is None and stored.escalated_at is not None
        assert sorted(
            session.scalars(
                select(DisputeReminder.threshold).where(DisputeReminder.case_id == stored.id)
            )
        ) == ["alert", "escalation"]


def test_alerts_name_customer_amount_reason_deadline_and_link_the_dispute(Session: Any) -> None:
    with Session.begin() as session:
        cus = f.customer(session, name="Weber Logistics")
        ch = f.charge(session, cus, 75_000, NOW - 10 * f.DAY)
        case, _ = apply_dispute(
            session,
            f.dispute(ch, due_by=NOW + 9 * f.DAY, reason="product_not_received"),
            event_created=NOW,
            cfg=CFG,
            now=NOW,
            tz="UTC",
            mode="test",
        )
        send_due_reminders(session, CFG, NOW + 2 * f.DAY + 3600, "UTC", "test")
        messages = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    link = f"https://dashboard.stripe.com/test/disputes/{case.dispute_id}"
    texts = {m.dedupe_key.split(":")[0] + ":" + m.channel: m for m in messages}
    assert set(texts) == {
        "dispute-escalation:chat",
        "dispute-escalation:email",
        "dispute-alert:chat",
        "dispute-alert:email",
        "dispute-reminder:email",
        "dispute-reminder:chat",
    }
    for key, m in texts.items():
        headline = m.body.split(". ", 1)[1] if key != "dispute-alert:chat" else m.body
        assert "Weber Logistics — $750.00 — Product not received: evidence due" in headline, key
        assert f"Dispute {case.dispute_id} ({link})" in m.body, key
        assert "product_not_received" not in m.body and "(minor" not in m.body, key
        assert not m.body.split(". ", 1)[-1].startswith("Dispute dp_"), key
        assert case.dispute_id not in m.subject, key  # subjects name the customer, not the id
    reminder = texts["dispute-reminder:email"]
    assert reminder.subject.startswith("Dispute of Weber Logistics: evidence due ")
    assert " left)" in reminder.subject and "due in" not in reminder.subject
    assert texts["dispute-escalation:email"].subject == (
        "Unowned dispute: Weber Logistics, $750.00 (Product not received)"
    )
    assert texts["dispute-alert:email"].subject == (
        "Large dispute: Weber Logistics, $750.00 (Product not received)"
    )
    with Session.begin() as session:  # sandbox mode: the id alone, no dashboard address
        cus = f.customer(session, name="Nova GmbH")
        ch = f.charge(session, cus, 75_000, NOW - 10 * f.DAY)
        other, _ = apply_dispute(
            session, f.dispute(ch, due_by=NOW + 9 * f.DAY), event_created=NOW, cfg=CFG, now=NOW
        )
        alert = session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.dedupe_key == f"dispute-alert:{other.dispute_id}:chat"
            )
        )
    assert "Nova GmbH — $750.00 — Fraudulent" in alert and "dashboard.stripe.com" not in alert


def test_reminders_once_per_threshold_across_restarts(Session: Any) -> None:
    with Session.begin() as session:
        case = _open(session, NOW + 10 * f.DAY)
        dispute_id = case.dispute_id
    fired = []
    # Every hour a fresh "scheduler process" (new session) runs; some hours twice (a restart).
    for t in range(NOW, NOW + 11 * f.DAY, 3600):
        for _ in (1, 2) if t % (5 * 3600) == 0 else (1,):
            with Session.begin() as session:
                fired += [th for _, th in send_due_reminders(session, CFG, t, "Europe/Berlin").sent]
    assert fired == ["7d", "3d", "24h", "12h"]
    with Session.begin() as session:
        keys = [k for ch, _, k in _outbox(session) if "reminder" in k]
    assert len(keys) == 8 and len(set(keys)) == 8  # email + chat per threshold
    assert f"dispute-reminder:{dispute_id}:24h:email" in keys


def test_reminder_text_uses_team_zone_across_dst(Session: Any) -> None:
    due = f.ts(2026, 3, 29, 8)  # 10:00 CEST, the morning after Berlin's clocks go forward
    with Session.begin() as session:
        _open(session, due)
        run = send_due_reminders(session, CFG, due - 24 * 3600, "Europe/Berlin")
        assert [th for _, th in run.sent] == ["24h"]
        body = session.scalar(
            select(OutboxMessage.body).where(OutboxMessage.dedupe_key.like("%:24h:email"))
        )
    assert "tomorrow 10:00 CEST" in body and "1 d 0 h left" in body


def test_no_reminders_after_submission_or_closing(Session: Any) -> None:
    with Session.begin() as session:
        submitted = _open(session, NOW + 2 * f.DAY, submission_count=1, status="under_review")
        closed = _open(session, NOW + 2 * f.DAY, status="lost")
        impossible = _open(session, 0)
        run = send_due_reminders(session, CFG, NOW, "UTC")
        assert run.sent == [] and run.checked == 0
        ids = {submitted.dispute_id, closed.dispute_id, impossible.dispute_id}
        assert not [k for _, _, k in _outbox(session) if any(i in k for i in ids)]


def test_board_order_and_status_counts(Session: Any) -> None:
    with Session.begin() as session:
        later = _open(session, NOW + 6 * f.DAY)
        soonest = _open(session, NOW + 30 * 3600)
        past = _open(session, NOW - 3600)
        _open(session, NOW + 2 * f.DAY, status="under_review", submission_count=1)
        rows = board(session, NOW, CFG)
        assert [r.dispute_id for r in rows[:3]] == [
            soonest.dispute_id,
            later.dispute_id,
            past.dispute_id,
        ]
        assert rows[0].urgency == "urgent" and rows[0].countdown == "1 d 6 h left"
        assert status_counts(session, NOW) == {"open": 3, "due_within_72h": 1, "past_due": 1}


def test_efw_refund_and_dispute_requests_are_deduplicated(Session: Any) -> None:
    with Session.begin() as session:
        cus = f.customer(session)
        ch = f.charge(session, cus, 8_000, NOW - 2 * f.DAY)
        efw = {
            "id": "issfr_1",
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": ch["id"],
            "fraud_type": "made_with_stolen_card",
        }
        first = propose_efw_refund(session, efw, cfg=CFG)
        assert propose_efw_refund(session, efw, cfg=CFG).id == first.id
        assert first.params["amount"] == 8_000 and first.evidence["dispute_fee"] == 1_500
        assert "$80.00" in first.reason and first.status == "requested"
        assert (
            propose_efw_refund(session, {**efw, "id": "issfr_2", "actionable": False}, cfg=CFG)
            is None
        )
        op = make_user(session, "op", "operator")
        case = _open(session, NOW + 5 * f.DAY)
        sub = request_submission(session, op, case.dispute_id, CFG)
        assert request_submission(session, op, case.dispute_id, CFG).id == sub.id
        assert sub.params["evidence"]["customer_name"] == "Ada Lovelace"
        acc = request_accept(session, op, case.dispute_id)
        assert acc.action_type == "accept_dispute" and acc.amount == 10_000
        assert session.scalar(select(func.count()).select_from(ActionRequest)) == 3


def _appealable(session: Any, due_by: int, amount: int = 10_000) -> tuple[DisputeCase, Any]:
    """An open dispute's case, and a function applying a later state of the same dispute."""
    cus = f.customer(session)
    ch = f.charge(session, cus, amount, NOW - 10 * f.DAY)
    dp = f.dispute(ch, due_by=due_by)
    cfg = DisputeConfig(alert_threshold=10**12, default_owner="sam@example.com")
    case, _ = apply_dispute(session, dp, event_created=NOW, cfg=cfg, now=NOW)

    def event(status: str, subs: int, due: int, at: int) -> DisputeCase:
        details = dict(dp["evidence_details"], due_by=due, submission_count=subs)
        got, _ = apply_dispute(
            session,
            dict(dp, status=status, evidence_details=details),
            event_created=at,
            cfg=CFG,
            now=at,
        )
        return got

    return case, event


def test_an_appeal_needs_a_response_again_with_its_own_deadline_and_reminders(
    Session: Any,
) -> None:
    """First response answered and lost, then appealed: submission_count 1 no longer means
    answered; priority, board, counts and reminders follow the appeal's due_by."""
    first_due, appeal_due = NOW + 5 * f.DAY, NOW + 40 * f.DAY
    with Session.begin() as session:
        op = make_user(session, "olga", "operator")
        case, event = _appealable(session, first_due, amount=80_000)
        sent = [th for _, th in send_due_reminders(session, CFG, NOW, "UTC").sent]
        assert sent == ["7d"]

        event("under_review", 1, first_due, NOW + f.DAY)
        assert case.answered and case.priority == 0
        lost = event("lost", 1, first_due, NOW + 20 * f.DAY)
        assert lost.outcome == "lost" and lost.closed_at is not None

        later = NOW + 36 * f.DAY  # 4 days before the appeal is due
        appeal = event("appeal_needs_response", 1, appeal_due, later)
        assert appeal.is_appeal and not appeal.answered
        assert appeal.outcome is None and appeal.closed_at is None  # the decision is reopened
        assert appeal.priority > 0 and appeal.due_by == appeal_due
        assert any("Deadline in 4 days" in line for line in appeal.priority_explanation)
        [row] = [r for r in board(session, later, CFG) if r.dispute_id == case.dispute_id]
        assert row.urgency == "soon" and row.countdown == "4 d 0 h left"
        assert status_counts(session, later)["open"] >= 1
        assert status_counts(session, appeal_due - 3600)["due_within_72h"] >= 1

        # The appeal's reminders are its own: 7d was sent for the first response, yet the
        # appeal gets its tightest crossed threshold, then the next ones, each once.
        fired = [
            th
            for t in (later, later + 3600, appeal_due - 3 * f.DAY, appeal_due - 20 * 3600)
            for d, th in send_due_reminders(session, CFG, t, "UTC").sent
            if d == case.dispute_id
        ]
        assert fired == ["appeal-7d", "appeal-3d", "appeal-24h"]
        texts = [
            m.body for m in session.scalars(select(OutboxMessage)) if "appeal-" in m.dedupe_key
        ]
        assert texts and all("appeal evidence due" in t for t in texts)

        submission = request_submission(session, op, case.dispute_id, CFG)
        assert submission.params["stage"] == "appeal"
        try:
            request_accept(session, op, case.dispute_id)
        except InvalidTransition as exc:
            assert "appeal" in str(exc)
        else:
            raise AssertionError("an appeal cannot be accepted")

        answered = event("appeal_under_review", 2, appeal_due, later + f.DAY)
        assert answered.answered and answered.priority == 0 and answered.outcome is None
        assert send_due_reminders(session, CFG, appeal_due - 11 * 3600, "UTC").sent == []
        won = event("won", 2, appeal_due, later + 10 * f.DAY)
        assert won.outcome == "won"


def test_same_second_events_keep_the_appeal_after_the_first_decision(Session: Any) -> None:
    with Session.begin() as session:
        case, event = _appealable(session, NOW + 5 * f.DAY)
        at = NOW + 10 * f.DAY
        event("appeal_needs_response", 1, NOW + 30 * f.DAY, at)
        event("lost", 1, NOW + 30 * f.DAY, at)  # delivered out of order, in the same second
        assert case.status == "appeal_needs_response" and not case.answered


def test_two_warnings_on_one_charge_make_one_refund_request(Session: Any) -> None:
    from core.governance.actions import approve
    from tests.support.governance import make_team

    with Session.begin() as session:
        team = make_team(session)
        cus = f.customer(session)
        ch = f.charge(session, cus, 8_000, NOW - 2 * f.DAY)
        warn = {
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": ch["id"],
            "fraud_type": "made_with_stolen_card",
        }
        first = propose_efw_refund(session, {**warn, "id": "issfr_a"}, cfg=CFG)
        second = propose_efw_refund(session, {**warn, "id": "issfr_b"}, cfg=CFG)
        assert second.id == first.id
        assert session.scalar(select(func.count()).select_from(ActionRequest)) == 1
        first_id = first.id
    with Session.begin() as session:
        assert approve(session, team["approver"], first_id, "stolen card").status == "approved"
