"""Write endpoints with Stripe's validation: refunds, disputes, files, subscriptions, invoices, credits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox import flows, objects
from sandbox.errors import ApiError, invalid, missing
from sandbox.params import UploadedFile, as_bool, as_int, as_list, as_metadata, as_str, check_known
from sandbox.render import render

if TYPE_CHECKING:
    from sandbox.api import Ctx

Handler = Callable[["Ctx", list[str], dict[str, Any]], tuple[int, dict[str, Any]]]
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
FILE_PURPOSES = (
    "dispute_evidence",
    "identity_document",
    "business_logo",
    "business_icon",
    "customer_signature",
    "additional_verification",
    "pci_document",
    "tax_document_user_upload",
    "account_requirement",
)
OPEN_DISPUTE = ("needs_response", "warning_needs_response", "appeal_needs_response")
SUBMITTED = {
    "needs_response": "under_review",
    "warning_needs_response": "warning_under_review",
    "appeal_needs_response": "appeal_under_review",
}
SUBMISSION_METHODS = ("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes")
# Stripe's per-field limit on long evidence text, and on all evidence text together.
EVIDENCE_FIELD_LIMIT = 20_000
EVIDENCE_TOTAL_LIMIT = 150_000
LONG_EVIDENCE = frozenset(
    k
    for k in objects.EVIDENCE_TEXT
    if k in ("access_activity_log", "uncategorized_text", "product_description")
    or k.endswith(("_disclosure", "_rebuttal", "_explanation"))
)


def _req(ctx: Ctx) -> flows.Req:
    return (ctx.request_id, ctx.idempotency_key)


def _required(params: dict[str, Any], name: str) -> None:
    if params.get(name) in (None, ""):
        raise ApiError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )


def create_refund(ctx: Ctx, rest: list[str], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/refunds."""
    check_known(
        params,
        {
            "charge",
            "payment_intent",
            "amount",
            "reason",
            "metadata",
            "expand",
            "currency",
            "customer",
            "instructions_email",
            "origin",
            "refund_application_fee",
            "reverse_transfer",
        },
    )
    a = ctx.account
    ch_id, pi_id = as_str(params, "charge"), as_str(params, "payment_intent")
    if not ch_id and not pi_id:
        raise ApiError(
            400,
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if ch_id:
        ch = a.require("charge", ch_id, param="charge")
        if pi_id and ch["payment_intent"] != pi_id:
            raise invalid(
                "payment_intent", f"Charge {ch_id} does not belong to PaymentIntent {pi_id}."
            )
    else:
        pi = a.require("payment_intent", pi_id or "", "payment_intent", param="payment_intent")
        if pi["status"] != "succeeded" or not pi["latest_charge"]:
            raise ApiError(
                400,
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        ch = a.objects[pi["latest_charge"]]
    reason = as_str(params, "reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(
            "reason",
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            code="parameter_invalid_string",
        )
    if ch["status"] != "succeeded":
        raise ApiError(
            400,
            f"Charge {ch['id']} cannot be refunded because it has not succeeded.",
            code="charge_not_refundable",
        )
    if ch["refunded"]:
        raise ApiError(
            400, f"Charge {ch['id']} has already been refunded.", code="charge_already_refunded"
        )
    if ch["disputed"] and any(
        d["charge"] == ch["id"] and d["payment_method_details"]["card"]["case_type"] == "chargeback"
        for d in _disputes_of(ctx, ch["id"])
    ):
        raise ApiError(
            400,
            f"Charge {ch['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    remaining = ch["amount"] - ch["amount_refunded"]
    amount = as_int(params, "amount", remaining)
    assert amount is not None
    if amount <= 0:
        raise invalid("amount", "Invalid positive integer", code="parameter_invalid_integer")
    if amount > remaining:
        raise ApiError(
            400,
            f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
            f"(${remaining / 100:.2f})",
            code="amount_too_large",
            param="amount",
        )
    re = flows.refund_charge(
        a,
        ch["id"],
        amount,
        a.now_int(),
        reason=reason,
        metadata=as_metadata(params) or {},
        req=_req(ctx),
    )
    return 200, render(a, re, as_list(params, "expand"))


def _disputes_of(ctx: Ctx, ch_id: str) -> list[dict[str, Any]]:
    ids = ctx.account.refs.get(("dispute", "charge", ch_id), [])
    return [ctx.account.objects[i] for i in ids]


def update_dispute(ctx: Ctx, rest: list[str], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/disputes/{id}: stage or submit evidence (`submit` defaults to true, as in Stripe)."""
    check_known(params, {"evidence", "metadata", "submit", "expand", "intended_submission_method"})
    a = ctx.account
    dp = a.require("dispute", rest[0])
    evidence = params.get("evidence")
    if evidence is not None and not isinstance(evidence, dict):
        raise invalid(
            "evidence", "Invalid hash: evidence must be a hash", code="parameter_invalid_hash"
        )
    submit = as_bool(params, "submit", True)
    changes: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    metadata = as_metadata(params)
    if metadata is not None:
        merged = {k: v for k, v in {**dp["metadata"], **metadata}.items() if v != ""}
        changes["metadata"], previous["metadata"] = merged, dp["metadata"]
    touches_evidence = evidence is not None or "submit" in params or metadata is None
    if touches_evidence:
        if dp["status"] not in OPEN_DISPUTE:
            raise ApiError(
                400,
                f"This dispute is in status {dp['status']} and can no longer be updated with "
                "evidence.",
            )
        if dp["evidence_details"]["due_by"] and dp["evidence_details"]["due_by"] < a.now_int():
            raise ApiError(
                400, "The deadline to respond to this dispute has passed.", param="evidence"
            )
        new_evidence = dict(dp["evidence"])
        for key, value in (evidence or {}).items():
            new_evidence[key] = _evidence_value(ctx, dp, key, value)
        text = sum(len(new_evidence[k] or "") for k in objects.EVIDENCE_TEXT)
        appeal = ((new_evidence.get("appeal") or {}).get("card") or {}).get("reason_for_filing")
        text += len(appeal or "")
        if text > EVIDENCE_TOTAL_LIMIT:
            raise invalid(
                "evidence",
                f"The combined length of evidence text fields exceeds {EVIDENCE_TOTAL_LIMIT} "
                "characters.",
                code=None,
            )
        details = dict(
            dp["evidence_details"],
            has_evidence=any(
                new_evidence[k] for k in objects.EVIDENCE_TEXT + objects.EVIDENCE_FILES
            ),
        )
        previous["evidence"] = dp["evidence"]
        previous["evidence_details"] = dp["evidence_details"]
        if submit:
            details["submission_count"] = details["submission_count"] + 1
            details["submission_method"] = "manual"
            changes["status"], previous["status"] = SUBMITTED[dp["status"]], dp["status"]
        changes["evidence"], changes["evidence_details"] = new_evidence, details
    method = as_str(params, "intended_submission_method")
    if method is not None:
        if method not in SUBMISSION_METHODS:
            raise invalid(
                "intended_submission_method",
                f"Invalid intended_submission_method: must be one of {', '.join(SUBMISSION_METHODS)}",
                code="parameter_invalid_string",
            )
        changes["intended_submission_method"] = method
        previous["intended_submission_method"] = dp["intended_submission_method"]
    dp = a.update(dp["id"], **changes)
    flows._emit(a, "charge.dispute.updated", dp, a.now_int(), _req(ctx), previous)
    return 200, render(a, dp, as_list(params, "expand"))


def _evidence_value(ctx: Ctx, dp: dict[str, Any], key: str, value: Any) -> Any:
    """One `evidence[...]` entry validated as Stripe does; returns what the dispute stores."""
    a = ctx.account
    param = f"evidence[{key}]"
    if key == "appeal":
        return _appeal_value(ctx, dp, value)
    if key == "enhanced_evidence":
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid(param, f"Invalid hash: {param}", "parameter_invalid_hash")
        return value
    if key not in objects.EVIDENCE_TEXT and key not in objects.EVIDENCE_FILES:
        raise ApiError(
            400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param
        )
    if not isinstance(value, str):
        raise invalid(param, f"Invalid string: {param}", "parameter_invalid_string")
    if key in LONG_EVIDENCE and len(value) > EVIDENCE_FIELD_LIMIT:
        raise invalid(
            param,
            f"Invalid {param}: must be at most {EVIDENCE_FIELD_LIMIT} characters "
            f"(got {len(value)}).",
            code="parameter_invalid_string",
        )
    if key in objects.EVIDENCE_FILES and value:
        _require_evidence_file(a, value, param)
    return value or None


def _require_evidence_file(a: Any, file_id: str, param: str) -> None:
    f = a.get(file_id)
    if f is None or f.get("object") != "file" or f["purpose"] != "dispute_evidence":
        raise missing("file", file_id, param)


def _appeal_value(ctx: Ctx, dp: dict[str, Any], value: Any) -> Any:
    """`evidence[appeal][card][reason_for_filing|supporting_files]`: only while an appeal is open."""
    if value == "":
        return None
    if dp["status"] != "appeal_needs_response":
        raise invalid(
            "evidence[appeal]",
            f"Appeal evidence can only be provided while the dispute is in status "
            f"appeal_needs_response; this dispute is {dp['status']}.",
            code=None,
        )
    if not isinstance(value, dict) or set(value) - {"card"}:
        raise invalid(
            "evidence[appeal]", "Invalid hash: evidence[appeal]", "parameter_invalid_hash"
        )
    card = value.get("card") or {}
    if card == "":
        return {"card": None}
    unknown = set(card) - {"reason_for_filing", "supporting_files"}
    if unknown:
        name = f"evidence[appeal][card][{sorted(unknown)[0]}]"
        raise ApiError(
            400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
        )
    files = card.get("supporting_files") or []
    files = [files] if isinstance(files, str) else list(files)
    for i, file_id in enumerate(files):
        _require_evidence_file(
            ctx.account, file_id, f"evidence[appeal][card][supporting_files][{i}]"
        )
    reason = card.get("reason_for_filing")
    return {"card": {"reason_for_filing": reason or None, "supporting_files": files}}


def close_dispute(ctx: Ctx, rest: list[str], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/disputes/{id}/close: accept the loss."""
    check_known(params, {"expand"})
    a = ctx.account
    dp = a.require("dispute", rest[0])
    if dp["status"] not in OPEN_DISPUTE:
        raise ApiError(400, f"This dispute is in status {dp['status']} and cannot be closed.")
    final = "warning_closed" if dp["status"] == "warning_needs_response" else "lost"
    dp = flows.close_dispute(a, dp["id"], final, a.now_int(), _req(ctx))
    return 200, render(a, dp, as_list(params, "expand"))


def create_file(ctx: Ctx, rest: list[str], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /v1/files (multipart/form-data on the files base address)."""
    check_known(params, {"purpose", "file", "file_link_data", "expand"})
    _required(params, "purpose")
    purpose = as_str(params, "purpose")
    if purpose not in FILE_PURPOSES:
        raise invalid(
            "purpose",
            f"Invalid purpose: must be one of {', '.join(FILE_PURPOSES)}",
            code="parameter_invalid_string",
        )
    upload = params.get("file")
    if not isinstance(upload, UploadedFile):
        raise ApiError(400, "Missing required param: file.", code="parameter_missing", param="file")
    if len(upload.data) > 5 * 1024 * 1024 and purpose == "dispute_evidence":
        raise invalid(
            "file", "Dispute evidence files must be 5 MB or smaller.", code="file_too_large"
        )
    ext = _file_type(upload)
    a = ctx.account
    f = a.add(
        objects.file_obj(
            a,
            created=a.now_int(),
            purpose=purpose or "",
            filename=upload.filename,
            size=len(upload.data),
            ftype=ext,
            base=ctx.base_url,
        )
    )
    a.files[f["id"]] = upload.data
    return 200, render(a, f, as_list(params, "expand"))


def _file_type(upload: UploadedFile) -> str:
    """Stripe detects the type from the content; fall back to the extension."""
    for magic, kind in (
        (b"%PDF", "pdf"),
        (b"\x89PNG", "png"),
        (b"\xff\xd8", "jpg"),
        (b"GIF8", "gif"),
    ):
        if upload.data.startswith(magic):
            return kind
    return upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else "txt"


def credit_customer(
    ctx: Ctx, rest: list[str], params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """POST /v1/customers/{id}/balance_transactions (negative amount = credit)."""
    check_known(params, {"amount", "currency", "description", "metadata", "expand"})
    a = ctx.account
    cust = a.require("customer", rest[0])
    _required(params, "amount")
    _required(params, "currency")
    amount = as_int(params, "amount")
    assert amount is not None
    if as_str(params, "currency") != cust["currency"]:
        raise invalid(
            "currency",
            f"The currency must match the customer's currency ({cust['currency']}).",
            code="parameter_invalid_string",
        )
    now = a.now_int()
    cbt = a.add(
        objects.customer_balance_transaction(
            a,
            created=now,
            cust=cust,
            amount=amount,
            description=as_str(params, "description"),
            metadata=as_metadata(params) or {},
        )
    )
    new = a.update(cust["id"], balance=cust["balance"] + amount)
    flows._emit(a, "customer.updated", new, now, _req(ctx), {"balance": cust["balance"]})
    return 200, render(a, cbt, as_list(params, "expand"))


def route(method: str, name: str, rest: list[str]) -> Handler | None:
    """The write handler for a request, or None for reads/unknown paths."""
    from sandbox.billing_writes import cancel_subscription, pay_invoice, update_subscription

    if method == "POST":
        if name == "refunds" and not rest:
            return create_refund
        if name == "disputes" and len(rest) == 1:
            return update_dispute
        if name == "disputes" and len(rest) == 2 and rest[1] == "close":
            return close_dispute
        if name == "files" and not rest:
            return create_file
        if name == "subscriptions" and len(rest) == 1:
            return update_subscription
        if name == "invoices" and len(rest) == 2 and rest[1] == "pay":
            return pay_invoice
        if name == "customers" and len(rest) == 2 and rest[1] == "balance_transactions":
            return credit_customer
    if method == "DELETE" and name == "subscriptions" and len(rest) == 1:
        return cancel_subscription
    return None
