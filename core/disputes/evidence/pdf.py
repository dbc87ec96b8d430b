"""The evidence packet as a PDF, for review, export and submission (fpdf2).

The evidence fields appear exactly as they are sent, cut notes included; a section lists what
was cut to fit Stripe's limits, and an appendix carries the full text of each cut field (a
file is not bound by the text limits, so the uploaded PDF keeps the whole access log).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from core.disputes.evidence.checklist import TEXT_LIMIT
from core.disputes.evidence.packet import Packet
from core.money import format_money

# A Unicode font when the system has one (customer names are not all Latin-1); else Helvetica.
_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/Library/Fonts/DejaVuSans.ttf"),
)
FIELD_LABELS = {
    "customer_name": "Customer name",
    "customer_email_address": "Customer e-mail",
    "billing_address": "Billing address",
    "customer_purchase_ip": "Purchase IP",
    "product_description": "Product description",
    "service_date": "Service date",
    "shipping_carrier": "Shipping carrier",
    "shipping_tracking_number": "Tracking number",
    "shipping_date": "Shipping date",
    "shipping_address": "Shipping address",
    "duplicate_charge_id": "Original charge",
    "duplicate_charge_explanation": "Duplicate explanation",
    "cancellation_rebuttal": "Cancellation rebuttal",
    "refund_refusal_explanation": "Refund refusal explanation",
    "refund_policy_disclosure": "Refund policy",
    "cancellation_policy_disclosure": "Cancellation policy",
    "uncategorized_text": "Summary",
    "access_activity_log": "Access / usage log",
}


class _Doc(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.title_text = title
        self.family = "Helvetica"
        font = next((p for p in _FONT_CANDIDATES if p.exists()), None)
        if font is not None:
            self.add_font("Body", "", str(font))
            self.add_font("Body", "B", str(font))  # same face; headings use a larger size
            self.family = "Body"
        self.set_auto_page_break(auto=True, margin=15)

    def header(self) -> None:
        self.set_font(self.family, "B", 9)
        self.cell(0, 6, self.safe_text(self.title_text), new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 6, f"Page {self.page_no()}", align="C")

    def safe_text(self, value: str) -> str:
        """Text the current font can draw (core fonts only know Latin-1)."""
        if self.family == "Helvetica":
            return value.encode("latin-1", "replace").decode("latin-1")
        return value


def _heading(pdf: _Doc, text: str) -> None:
    pdf.ln(2)
    pdf.set_font(pdf.family, "B", 12)
    pdf.cell(0, 8, pdf.safe_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)


def _line(pdf: _Doc, label: str, value: str) -> None:
    pdf.set_font(pdf.family, "B", 9)
    pdf.multi_cell(0, 5, pdf.safe_text(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9)


def render_pdf(packet: Packet, *, now: datetime | None = None) -> bytes:
    """The packet as PDF bytes: summary, checklist, transaction history and evidence fields."""
    ctx, case = packet.context, packet.context.case
    now = now or datetime.now(UTC)
    pdf = _Doc(f"Dispute {case.dispute_id} — evidence packet")
    pdf.set_creation_date(now)  # the same packet and time give the same bytes
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 16)
    pdf.cell(
        0,
        10,
        pdf.safe_text(f"Evidence for dispute {case.dispute_id}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(pdf.family, "", 9)
    _line(
        pdf,
        "Customer",
        f"{packet.evidence.get('customer_name', '—')} <{packet.evidence.get('customer_email_address', '—')}>",
    )
    _line(pdf, "Disputed amount", format_money(case.amount, case.currency))
    _line(pdf, "Reason", f"{case.reason} (status {case.status})")
    _line(
        pdf,
        "Charge",
        f"{case.charge_id} — {format_money(ctx.charge.get('amount'), ctx.charge.get('currency') or case.currency)}",
    )
    if ctx.invoice:
        _line(
            pdf,
            "Invoice",
            f"{ctx.invoice.get('number') or ctx.invoice.get('id')}; subscription {ctx.subscription_id or '—'}",
        )
    _line(pdf, "Narrative template", f"{packet.template_id} {packet.template_version}")
    _line(
        pdf,
        "Text used",
        f"{packet.text_chars:,} of {TEXT_LIMIT:,} characters"
        + (" (cut to fit, see below)" if packet.trimmed else ""),
    )
    _line(pdf, "Generated", now.strftime("%Y-%m-%d %H:%M UTC"))

    if packet.cuts:
        _heading(pdf, "Cut to fit Stripe's limits")
        for cut in packet.cuts:
            pdf.multi_cell(0, 5, pdf.safe_text(cut.describe()), new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, "Checklist")
    for item, ok in packet.checklist.items:
        mark = "[x]" if ok else ("[ ] MISSING" if item.required else "[ ] optional")
        pdf.multi_cell(0, 5, pdf.safe_text(f"{mark} {item.label}"), new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, "Charges in the last 90 days")
    for c in ctx.recent_charges[:40] or [{}]:
        if not c:
            pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
            break
        when = datetime.fromtimestamp(int(c.get("created") or 0), UTC).strftime("%Y-%m-%d")
        flags = " disputed" if c.get("disputed") else ""
        flags += " refunded" if c.get("refunded") else ""
        row = f"{when}  {format_money(c.get('amount'), c.get('currency'))}  {c.get('status')}{flags}  {c.get('id')}"
        pdf.multi_cell(0, 5, pdf.safe_text(row), new_x="LMARGIN", new_y="NEXT")

    _heading(pdf, "Evidence fields")
    for key in FIELD_LABELS:
        value = packet.evidence.get(key)
        if not value:
            continue
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(0, 6, pdf.safe_text(FIELD_LABELS[key]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(pdf.family, "", 9)
        pdf.multi_cell(0, 4.5, pdf.safe_text(value), new_x="LMARGIN", new_y="NEXT")

    for key, full in packet.uncut.items():
        _heading(pdf, f"Appendix: {FIELD_LABELS.get(key, key)} in full")
        pdf.multi_cell(0, 4.5, pdf.safe_text(full), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
