"""Stripe's evidence limits: our table equals stripe-python's, and packets are cut to fit them
at a boundary, keeping the newest log lines, with the cut noted and readable back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import stripe

from core.disputes.evidence.checklist import (
    FIELD_LIMITS,
    FIELD_SCOPE,
    TEXT_FIELDS,
    TEXT_LIMIT,
    TOTAL_SCOPE,
    cut_text,
    cuts_in,
    fit_to_limits,
    over_limits,
    text_length,
)

PARAMS = Path(stripe.__file__).parent / "params" / "_dispute_update_params.py"
_LIMIT = re.compile(r"maximum character (?:count|limit)(?: is| of)? ([\d,]+)", re.IGNORECASE)


def sdk_evidence_fields() -> dict[str, str]:
    """Each field of DisputeUpdateParamsEvidence with its docstring, read from the SDK's source."""
    tree = ast.parse(PARAMS.read_text())
    [cls] = [
        n
        for n in tree.body
        if isinstance(n, ast.ClassDef) and n.name == "DisputeUpdateParamsEvidence"
    ]
    fields: dict[str, str] = {}
    for stmt, after in zip(cls.body, [*cls.body[1:], None], strict=True):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            doc = ""
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                doc = str(after.value.value)
            fields[stmt.target.id] = doc
    return fields


def test_the_limit_table_is_stripe_pythons() -> None:
    fields = sdk_evidence_fields()
    sdk = {
        name: int(m.group(1).replace(",", ""))
        for name, doc in fields.items()
        if (m := _LIMIT.search(doc))
    }
    assert stripe.VERSION == "16.1.0" and len(sdk) == 8
    assert FIELD_LIMITS == sdk
    assert set(TEXT_FIELDS) <= set(fields)  # every text field we send is a real parameter
    params = PARAMS.read_text()
    assert "The combined character count of all fields is limited to 150,000" in params
    assert TEXT_LIMIT == 150_000


def log(lines: int, width: int = 140) -> str:
    return "\n".join(
        f"2026-05-{1 + i // 100:02d} {i % 24:02d}:00 UTC download #{i:04d} ".ljust(width, "x")
        for i in range(lines)
    )


def test_a_long_log_keeps_its_newest_lines_whole_and_says_what_was_cut() -> None:
    value = log(500)
    out, cut = cut_text("access_activity_log", value, 20_000)
    assert cut is not None and len(out) <= 20_000
    note, *kept = out.split("\n")
    assert note.startswith("[… ") and "older lines" in note
    assert kept[-1] == value.split("\n")[-1]  # the newest line is there
    assert all(line in value.split("\n") for line in kept)  # only whole lines
    assert cut.removed_lines == 500 - len(kept) and cut.removed_chars == len(value) - len(
        "\n".join(kept)
    )
    assert cuts_in({"access_activity_log": out}) == [cut]
    assert "20,000-character limit per field" in cut.describe()


def test_a_long_text_keeps_its_beginning_up_to_a_sentence_end() -> None:
    value = "".join(f"Sentence number {i} explains the charge. " for i in range(1_000))
    out, cut = cut_text("uncategorized_text", value, 20_000)
    assert cut is not None and len(out) <= 20_000
    body, note = out.rsplit("\n", 1)
    assert value.startswith(body) and body.endswith("explains the charge.")
    assert cuts_in({"uncategorized_text": out}) == [cut]
    assert cut_text("uncategorized_text", "short", 20_000) == ("short", None)


def test_every_field_within_its_limit_and_the_total_within_150000() -> None:
    ev = {f: "Word. " * 5_000 for f in FIELD_LIMITS}  # 8 × 30,000 characters
    ev |= {"customer_name": "Ada Lovelace", "access_activity_log": log(800)}
    assert over_limits(ev)
    fitted, cuts = fit_to_limits(ev)
    assert over_limits(fitted) == [] and text_length(fitted) <= TEXT_LIMIT
    assert fitted["customer_name"] == "Ada Lovelace"
    assert {c.field for c in cuts} == set(FIELD_LIMITS)
    assert all(len(fitted[f]) <= FIELD_LIMITS[f] for f in FIELD_LIMITS)
    # The field cap alone leaves 160,000: the access log gives way further, for the total.
    by_field = {c.field: c for c in cuts}
    assert by_field["access_activity_log"].scope == TOTAL_SCOPE
    assert by_field["uncategorized_text"].scope == FIELD_SCOPE
    assert sorted(cuts_in(fitted), key=lambda c: c.field) == sorted(cuts, key=lambda c: c.field)


def test_nothing_is_cut_when_everything_fits() -> None:
    ev = {"access_activity_log": log(50), "uncategorized_text": "Short summary."}
    assert fit_to_limits(ev) == (ev, [])
    assert cuts_in(ev) == []
