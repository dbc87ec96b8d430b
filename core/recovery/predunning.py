"""Pre-dunning: cards on active subscriptions that expire this month or next get a card-update
draft before the renewal fails. Stripe sends no "card expiring" event for PaymentMethod cards,
so expiry is computed from `card.exp_month` / `card.exp_year` of the stored snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InputError, InvalidTransition, NotFound
from core.governance import audit
from core.governance.actions import request_action
from core.governance.auth import Actor, require_role
from core.governance.policy import Policy
from core.models.recovery import RecoveryDraft
from core.recovery.context import expiry_window, find_account
from core.recovery.drafting import inputs_hash, render
from core.recovery.rules import RecoverySettings
from core.sync.snapshots import get_object, stream_objects_of_type

ACTIVE = ("active", "trialing")


@dataclass(frozen=True)
class ExpiringCard:
    """A card that will fail the next renewal unless updated."""

    subscription_id: str
    customer_id: str
    email: str | None
    name: str | None
    last4: str
    exp_month: int
    exp_year: int
    account: str


def _card_of(
    session: Session, sub: dict[str, Any], customer: dict[str, Any]
) -> dict[str, Any] | None:
    settings = customer.get("invoice_settings") or {}
    for ref in (
        sub.get("default_payment_method"),
        settings.get("default_payment_method"),
    ):
        pm_id = ref.get("id") if isinstance(ref, dict) else ref
        pm = (
            ref
            if isinstance(ref, dict)
            else (get_object(session, pm_id) if isinstance(pm_id, str) else None)
        )
        if pm and isinstance(pm.get("card"), dict):
            return pm["card"]
    source = customer.get("default_source")
    src = (
        source
        if isinstance(source, dict)
        else (get_object(session, source) if isinstance(source, str) else None)
    )
    if src and src.get("object") == "card":
        return src
    return None


def expiring_cards(session: Session, today: date, months_ahead: int = 1) -> list[ExpiringCard]:
    """Cards on active subscriptions expiring between this month and `months_ahead` later."""
    window = set(expiry_window(today, months_ahead))
    found: list[ExpiringCard] = []
    for sub in stream_objects_of_type(session, "subscription"):
        if sub.get("status") not in ACTIVE or sub.get("cancel_at_period_end"):
            continue
        cust_id = sub.get("customer")
        customer = get_object(session, cust_id) if isinstance(cust_id, str) else None
        if customer is None:
            continue
        card = _card_of(session, sub, customer)
        if not card:
            continue
        try:
            key = (int(card["exp_year"]), int(card["exp_month"]))
        except (KeyError, TypeError, ValueError):
            continue
        if key in window:
            found.append(
                ExpiringCard(
                    sub["id"],
                    str(cust_id),
                    customer.get("email"),
                    customer.get("name"),
                    str(card.get("last4") or "????"),
                    key[1],
                    key[0],
                    str(sub.get("account") or ""),
                )
            )
    return found


def card_facts(
    card: ExpiringCard, account_name: str | None, cfg: RecoverySettings
) -> dict[str, Any]:
    """The card-update template's facts: names, the card's last digits and expiry, no ids."""
    return {
        "customer_name": card.name,
        "customer_id": card.customer_id,
        "account_name": account_name or card.name or card.email,
        "card_last4": card.last4,
        "card_expiry": date(card.exp_year, card.exp_month, 1).strftime("%B %Y"),
        "update_url": "the billing page of your account",
        "sender_name": cfg.sender_name,
    }


def run_predunning(session: Session, cfg: RecoverySettings, today: date | None = None) -> int:
    """Create a card-update draft per expiring card (once per card expiry); return how many."""
    today = today or datetime.now(UTC).date()
    made = 0
    for card in expiring_cards(session, today, cfg.predunning_months_ahead):
        acct = find_account(session, card.customer_id, card.email)
        tone = str(cfg.segment(acct.segment if acct else None).get("tone", cfg.default_tone))
        facts = card_facts(card, acct.name if acct else None, cfg)
        draft = render("card_update", "email", tone, facts)
        key = f"predunning:{card.subscription_id}:{card.exp_year}-{card.exp_month:02d}"
        digest = inputs_hash(case_key=key, attempt=0, draft=draft, facts=facts, model=None)
        if session.scalar(select(RecoveryDraft.id).where(RecoveryDraft.inputs_hash == digest)):
            continue
        session.add(
            RecoveryDraft(
                case_id=None,
                kind="predunning",
                customer_id=card.customer_id,
                subscription_id=card.subscription_id,
                to_email=card.email,
                attempt=0,
                channel="email",
                template_id=draft.ref.template_id,
                template_version=draft.ref.version,
                tone=tone,
                subject=draft.subject,
                body=draft.body,
                inputs_hash=digest,
                status="draft",
            )
        )
        made += 1
    session.flush()
    return made


def predunning_drafts(session: Session, limit: int = 200) -> list[RecoveryDraft]:
    """Open pre-dunning drafts, newest first."""
    return list(
        session.scalars(
            select(RecoveryDraft)
            .where(
                RecoveryDraft.kind == "predunning",
                RecoveryDraft.status.in_(("draft", "edited")),
            )
            .order_by(RecoveryDraft.id.desc())
            .limit(limit)
        )
    )


def request_card_update(
    session: Session, actor: Actor, draft_id: int, *, policy: Policy | None = None
) -> Any:
    """Ask for approval to send a card-update e-mail (once per subscription and card expiry)."""
    require_role(actor, "operator", "approver", "admin")
    draft = session.get(RecoveryDraft, draft_id)
    if draft is None or draft.kind != "predunning":
        raise NotFound(f"Pre-dunning draft #{draft_id} does not exist; reload the page.")
    if draft.status not in ("draft", "edited"):
        raise InvalidTransition(f"This draft is already {draft.status}.")
    if not draft.to_email:
        raise InputError("The customer has no e-mail in Stripe: add one, then try again.")
    sub = get_object(session, draft.subscription_id or "") or {}
    if sub.get("status") not in ACTIVE:
        raise InvalidTransition(
            "The subscription is no longer active: no card-update message is needed."
        )
    action = request_action(
        session,
        actor,
        action_type="send_message",
        target_id=str(draft.subscription_id),
        params={
            "to": draft.to_email,
            "subject": draft.subject,
            "body": draft.body,
            "channel": "email",
            "draft_id": draft.id,
        },
        reason="Card on an active subscription expires before the next renewal",
        rule_id="recovery.predunning",
        evidence={"customer": draft.customer_id},
        dedupe_key=f"predunning:{draft.subscription_id}:{draft.inputs_hash[:12]}:email",
        policy=policy,
    )
    draft.status, draft.action_request_id = "requested", action.id
    audit.record(
        session,
        actor,
        "recovery.predunning_requested",
        f"draft:{draft.id}",
        None,
        {"action_id": action.id},
    )
    return action
