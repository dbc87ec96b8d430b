"""Recovery cases from events: one per invoice, shuffled and duplicated deliveries, closing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.models.recovery import RecoveryCase, RecoveryDraft, RecoveryTimelineEntry
from core.models.sync import SnapshotRefresh
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import store_fetched
from tests.support.recovery import LEGACY, event, failed_charge, failed_pi, invoice

T0 = 1_780_000_000
load_handler_modules()


def deliver(Session: Any, events: list[dict[str, Any]]) -> None:
    with Session.begin() as s:
        ingest_events(s, events, source="webhook")
    process_batch(Session)


def one_case(Session: Any) -> RecoveryCase:
    with Session() as s:
        cases = s.scalars(select(RecoveryCase)).all()
        assert len(cases) == 1
        return cases[0]


@pytest.mark.parametrize("seed", [1, 7, 21])
def test_ten_shuffled_deliveries_with_later_paid_leave_one_recovered_case(
    Session: Any, seed: int
) -> None:
    failure = [
        event("charge.failed", failed_charge("ch_1"), T0, event_id="evt_ch"),
        event("payment_intent.payment_failed", failed_pi("pi_1"), T0, event_id="evt_pi"),
        event("invoice.payment_failed", invoice("in_1"), T0 + 1, event_id="evt_inv"),
    ]
    paid = event("invoice.paid", invoice("in_1", status="paid"), T0 + 86_400, event_id="evt_paid")
    deliveries = [failure[i % 3] for i in range(9)] + [paid]  # ten deliveries, duplicates included
    random.Random(seed).shuffle(deliveries)
    for ev in deliveries:  # one at a time, processed in between: a truly shuffled order
        deliver(Session, [ev])
    case = one_case(Session)
    assert (case.status, case.closed_reason, case.recovered_amount) == (
        "recovered",
        "paid",
        4900,
    )
    assert case.seconds_to_recover == 86_400  # from the failed charge, whatever the order
    with Session() as s:
        outstanding = s.scalar(
            select(func.count())
            .select_from(RecoveryDraft)
            .where(RecoveryDraft.status.in_(("draft", "edited", "requested")))
        )
        assert outstanding == 0
        kinds = s.scalars(select(RecoveryTimelineEntry.source_key)).all()
        assert len(kinds) == len(set(kinds))


def test_each_order_of_failure_and_paid_gives_the_same_result(Session: Any) -> None:
    for n, order in enumerate(([0, 1], [1, 0])):
        inv_id = f"in_order{n}"
        evs = [
            event("invoice.payment_failed", invoice(inv_id, customer=f"cus_o{n}"), T0),
            event(
                "invoice.paid",
                invoice(inv_id, customer=f"cus_o{n}", status="paid"),
                T0 + 60,
            ),
        ]
        for i in order:
            deliver(Session, [evs[i]])
    with Session() as s:
        statuses = s.scalars(select(RecoveryCase.status).order_by(RecoveryCase.invoice_id)).all()
    assert statuses == ["recovered", "recovered"]


def test_failure_opens_a_classified_case_with_a_draft_then_a_later_attempt_updates_it(
    Session: Any,
) -> None:
    deliver(
        Session,
        [
            event(
                "charge.failed",
                failed_charge("ch_a", pi="pi_a", decline="expired_card"),
                T0,
            ),
            event("invoice.payment_failed", invoice("in_a", pi="pi_a"), T0 + 1),
        ],
    )
    case = one_case(Session)
    assert (case.status, case.bucket, case.attempt_count) == ("open", "card_data", 1)
    assert case.hosted_invoice_url == "https://invoice.stripe.com/i/in_a"
    assert case.subscription_id == "sub_1" and case.missing_context == [
        "crm_account",
        "tickets",
    ]
    deliver(
        Session,
        [
            event(
                "charge.failed",
                failed_charge("ch_b", pi="pi_a", decline="stolen_card"),
                T0 + 3 * 86_400,
            ),
            event(
                "invoice.payment_failed",
                invoice("in_a", pi="pi_a", attempt=2),
                T0 + 3 * 86_400 + 1,
            ),
        ],
    )
    case = one_case(Session)
    assert (case.bucket, case.attempt_count) == ("fraud_related", 2)
    with Session() as s:
        drafts = s.scalars(select(RecoveryDraft).order_by(RecoveryDraft.id)).all()
        emails = [d for d in drafts if d.channel == "email"]
        assert [(d.attempt, d.status) for d in emails] == [
            (1, "superseded"),
            (2, "draft"),
        ]
        assert "stolen" not in emails[1].body.lower() and "fraud" not in emails[1].body.lower()
        assert emails[1].template_id == "recovery/fraud_related.email"


def test_legacy_shape_charge_event_alone_opens_the_invoice_case(Session: Any) -> None:
    inv = invoice("in_old", legacy=True, pi="pi_old")
    with Session.begin() as s:
        # the invoice snapshot arrives first (e.g. invoice.updated), the failure later
        ingest_events(s, [event("invoice.updated", inv, T0, api_version=LEGACY)])
    deliver(
        Session,
        [
            event(
                "charge.failed",
                failed_charge(
                    "ch_in_old_1",
                    pi="pi_old",
                    decline="authentication_required",
                    invoice_id="in_old",
                ),
                T0 + 5,
                api_version=LEGACY,
            )
        ],
    )
    case = one_case(Session)
    assert (case.invoice_id, case.bucket, case.subscription_id) == (
        "in_old",
        "authentication_required",
        "sub_1",
    )


def test_void_and_subscription_cancel_close_as_lost(Session: Any) -> None:
    deliver(
        Session,
        [
            event(
                "invoice.payment_failed",
                invoice("in_v", customer="cus_v", sub="sub_v"),
                T0,
            )
        ],
    )
    deliver(
        Session,
        [
            event(
                "invoice.voided",
                invoice("in_v", customer="cus_v", status="void"),
                T0 + 10,
            )
        ],
    )
    deliver(
        Session,
        [
            event(
                "invoice.payment_failed",
                invoice("in_c", customer="cus_c", sub="sub_c"),
                T0,
            )
        ],
    )
    deliver(
        Session,
        [
            event(
                "customer.subscription.deleted",
                {"id": "sub_c", "object": "subscription", "status": "canceled"},
                T0 + 10,
            )
        ],
    )
    with Session() as s:
        rows = s.execute(
            select(
                RecoveryCase.invoice_id, RecoveryCase.status, RecoveryCase.closed_reason
            ).order_by(RecoveryCase.invoice_id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("in_c", "lost", "subscription_canceled"),
            ("in_v", "lost", "voided"),
        ]
        assert (
            s.scalar(
                select(func.count())
                .select_from(RecoveryDraft)
                .where(RecoveryDraft.status == "draft")
            )
            == 0
        )


def bare(inv: dict[str, Any]) -> dict[str, Any]:
    """The current shape as webhooks deliver it: `payments` not expanded."""
    inv.pop("payments", None)
    return inv


def invoice_payment(inv_id: str, pi: str, created: int) -> dict[str, Any]:
    """An invoice payment as `GET /v1/invoice_payments?invoice=` lists it."""
    return {
        "id": f"inpay_{inv_id}",
        "object": "invoice_payment",
        "invoice": inv_id,
        "is_default": True,
        "status": "open",
        "created": created,
        "payment": {"type": "payment_intent", "payment_intent": pi},
    }


@pytest.mark.parametrize("charge_first", [True, False])
def test_current_shape_without_payments_links_through_stripes_invoice_payments(
    Session: Any, charge_first: bool
) -> None:
    # Two failures of the same customer and amount 20 s apart: each invoice keeps its own
    # charge and decline, whichever event arrives first. The link comes from the invoice's
    # payments as Stripe lists them, never from amounts and times.
    evs = {
        "ch_x": event(
            "charge.failed", failed_charge("ch_x", pi="pi_x", decline="expired_card"), T0
        ),
        "in_x": event("invoice.payment_failed", bare(invoice("in_x", pi=None)), T0),
        "ch_y": event(
            "charge.failed", failed_charge("ch_y", pi="pi_y", decline="lost_card"), T0 + 20
        ),
        "in_y": event("invoice.payment_failed", bare(invoice("in_y", pi=None)), T0 + 20),
    }
    order = ["ch_x", "in_x", "ch_y", "in_y"] if charge_first else ["in_y", "ch_y", "in_x", "ch_x"]
    for key in order:
        deliver(Session, [evs[key]])
    with Session() as s:
        # Nothing guessed: the invoice events wait, and ask the sync for the invoices' payments.
        assert s.scalar(select(func.count()).select_from(RecoveryCase)) == 0
        asked = set(s.scalars(select(SnapshotRefresh.object_id)))
    assert asked == {"in_x#payments", "in_y#payments"}
    with Session.begin() as s:  # what the sync stores from Stripe's answer
        store_fetched(
            s,
            [invoice_payment("in_x", "pi_x", T0), invoice_payment("in_y", "pi_y", T0 + 20)],
            account="",
            fetched_at=T0 + 60,
        )
    process_batch(Session, now=datetime.now(UTC) + timedelta(minutes=5))
    with Session() as s:
        got = dict(s.execute(select(RecoveryCase.invoice_id, RecoveryCase.bucket)).all())
        charges = dict(s.execute(select(RecoveryCase.invoice_id, RecoveryCase.charge_id)).all())
    assert got == {"in_x": "card_data", "in_y": "fraud_related"}
    assert charges == {"in_x": "ch_x", "in_y": "ch_y"}


def test_a_failure_after_the_payment_adds_each_timeline_entry_once_and_every_event_succeeds(
    Session: Any,
) -> None:
    """The paid event's entry is added by its own handler, then looked up again by the later
    failures (which find the invoice settled): it stays one entry, and no event fails."""
    from core.models.sync import Event

    deliver(Session, [event("invoice.payment_failed", invoice("in_tl"), T0, event_id="evt_f1")])
    deliver(
        Session,
        [event("invoice.paid", invoice("in_tl", status="paid"), T0 + 600, event_id="evt_paid")],
    )
    deliver(
        Session,
        [event("invoice.payment_failed", invoice("in_tl", attempt=2), T0 + 300, event_id="evt_f2")],
    )
    with Session() as s:
        keys = sorted(s.scalars(select(RecoveryTimelineEntry.source_key)).all())
        statuses = set(s.scalars(select(Event.status)).all())
    assert keys == ["evt_f1", "evt_f2", "evt_paid"]
    assert statuses == {"processed"}
    case = one_case(Session)
    assert (case.status, case.attempt_count, case.closed_at) == ("recovered", 2, T0 + 600)


def test_the_crm_account_is_found_by_customer_id_before_email_then_by_email(Session: Any) -> None:
    from core.models.context import CrmAccount
    from core.recovery.context import find_account

    with Session.begin() as s:
        s.add(CrmAccount(natural_key="email:a@example.com", email="a@example.com", owner="mail"))
        s.add(CrmAccount(natural_key="cus_crm", stripe_customer_id="cus_crm", owner="by-id"))
    with Session() as s:
        assert find_account(s, "cus_crm", "A@example.com").owner == "by-id"
        assert find_account(s, "cus_other", "A@example.com").owner == "mail"
        assert find_account(s, None, "a@example.com").owner == "mail"
        assert find_account(s, "cus_crm", None).owner == "by-id"
        assert find_account(s, "cus_other", None) is None
        assert find_account(s, None, None) is None


def test_context_counts_the_customers_open_disputes_and_failed_invoices_of_90_days(
    Session: Any,
) -> None:
    from core.models.disputes import DisputeCase
    from core.recovery.context import gather_context, recovery_settings

    deliver(Session, [event("invoice.payment_failed", invoice("in_ctx1"), T0, event_id="evt_c1")])
    deliver(
        Session,
        [event("invoice.payment_failed", invoice("in_ctx2"), T0 + 10, event_id="evt_c2")],
    )
    cfg, _ = recovery_settings()
    with Session.begin() as s:
        case = s.scalars(select(RecoveryCase).where(RecoveryCase.invoice_id == "in_ctx2")).one()
        ctx = gather_context(s, case, cfg)
        assert (ctx.open_dispute, ctx.failed_invoices_90d) == (False, 2)
        for n, status in enumerate(("won", "needs_response")):
            s.add(
                DisputeCase(
                    dispute_id=f"dp_ctx{n}",
                    customer_id=case.customer_id,
                    amount=100,
                    currency="usd",
                    reason="fraudulent",
                    status=status,
                    stripe_created=T0,
                    source_created=T0,
                )
            )
        s.flush()
        ctx = gather_context(s, case, cfg)
        assert (ctx.open_dispute, ctx.failed_invoices_90d) == (True, 2)
