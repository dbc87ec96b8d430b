"""Card decline codes with a realistic frequency mix, and how Stripe reports each one."""

from __future__ import annotations

import random
from typing import Any

# code: (weight, message, advice_code, network_decline_code, outcome reason)
DECLINES: dict[str, tuple[int, str, str | None, str | None, str]] = {
    "insufficient_funds": (
        38,
        "Your card has insufficient funds.",
        "try_again_later",
        "51",
        "insufficient_funds",
    ),
    "generic_decline": (20, "Your card was declined.", None, "05", "generic_decline"),
    "do_not_honor": (10, "Your card was declined.", "try_again_later", "05", "do_not_honor"),
    "expired_card": (8, "Your card has expired.", "confirm_card_data", "54", "expired_card"),
    "incorrect_cvc": (
        4,
        "Your card's security code is incorrect.",
        "confirm_card_data",
        "N7",
        "incorrect_cvc",
    ),
    "authentication_required": (
        5,
        "Your card was declined. This transaction requires authentication.",
        None,
        "1A",
        "authentication_required",
    ),
    "processing_error": (
        4,
        "An error occurred while processing your card. Try again in a little bit.",
        "try_again_later",
        "96",
        "processing_error",
    ),
    "try_again_later": (3, "Your card was declined.", "try_again_later", "19", "try_again_later"),
    "card_velocity_exceeded": (
        2,
        "Your card was declined.",
        "try_again_later",
        "61",
        "card_velocity_exceeded",
    ),
    "transaction_not_allowed": (
        2,
        "Your card was declined.",
        "do_not_try_again",
        "57",
        "transaction_not_allowed",
    ),
    "do_not_try_again": (
        1,
        "Your card was declined.",
        "do_not_try_again",
        "R0",
        "do_not_try_again",
    ),
    "fraudulent": (1, "Your card was declined.", "do_not_try_again", "59", "fraudulent"),
    "lost_card": (1, "Your card was declined.", "do_not_try_again", "41", "lost_card"),
    "stolen_card": (1, "Your card was declined.", "do_not_try_again", "43", "stolen_card"),
    # Stripe: "A transaction with identical amount and credit card information was submitted
    # very recently" — someone must check whether the first payment went through.
    "duplicate_transaction": (1, "Your card was declined.", None, "94", "duplicate_transaction"),
}
_CODES = list(DECLINES)
_WEIGHTS = [DECLINES[c][0] for c in _CODES]

# Temporary codes: a later retry often succeeds.
RECOVERABLE = {
    "insufficient_funds",
    "processing_error",
    "try_again_later",
    "do_not_honor",
    "card_velocity_exceeded",
    "generic_decline",
    "authentication_required",
}


def pick(rng: random.Random) -> str:
    """A decline code drawn from the realistic mix."""
    return rng.choices(_CODES, _WEIGHTS)[0]


def outcome(code: str | None, risk_score: int) -> dict[str, Any]:
    """`charge.outcome` for a success (code None) or a decline."""
    if code is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal" if risk_score < 65 else "elevated",
            "risk_score": risk_score,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    _, _, advice, network_code, reason = DECLINES[code]
    blocked = code == "fraudulent" and risk_score > 80
    return {
        "advice_code": advice,
        "network_advice_code": None,
        "network_decline_code": None if blocked else network_code,
        "network_status": "not_sent_to_network" if blocked else "declined_by_network",
        "reason": "highest_risk_level" if blocked else reason,
        "risk_level": "highest" if blocked else ("elevated" if risk_score >= 65 else "normal"),
        "risk_score": risk_score,
        "seller_message": "Stripe blocked this payment as too risky."
        if blocked
        else "The bank did not return any further details with this decline.",
        "type": "blocked" if blocked else "issuer_declined",
    }


def failure(code: str) -> tuple[str, str]:
    """(`failure_code`, `failure_message`) on a declined charge."""
    message = DECLINES[code][1]
    if code in ("expired_card", "incorrect_cvc", "processing_error"):
        return code, message
    return "card_declined", message


def last_payment_error(code: str, charge_id: str, pm: dict[str, Any]) -> dict[str, Any]:
    """`payment_intent.last_payment_error` for a declined attempt."""
    fcode, message = failure(code)
    return {
        "advice_code": DECLINES[code][2],
        "charge": charge_id,
        "code": fcode,
        "decline_code": code if fcode == "card_declined" else None,
        "doc_url": f"https://stripe.com/docs/error-codes/{fcode.replace('_', '-')}",
        "message": message,
        "network_decline_code": DECLINES[code][3],
        "param": None,
        "payment_method": pm,
        "type": "card_error",
    }
