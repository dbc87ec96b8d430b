"""Every report, in every format, keeps hostile outside text inert for spreadsheets.

The desk is seeded with formula payloads (OWASP CSV injection) in the places exports read them:
CRM names and owners, Stripe customer e-mails, balance-transaction descriptions and tax
jurisdictions. Each registered report is rendered as CSV, XLSX and PDF; no CSV cell and no XLSX
cell may be live, and the payloads must be there (neutralised), so the check is not vacuous.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from core.adapters.cells import is_live
from core.governance import audit
from core.governance.auth import SYSTEM_ACTOR
from core.imports import IMPORTERS
from core.reports import REPORTS
from core.reports.run import render_report
from core.reports.writers import FORMATS
from tests.conftest import settings_for
from tests.support.hostile import FORMULAS, seed_hostile


@pytest.fixture
def hostile(Session: Any, db_url: str, tmp_path: Path) -> dict[str, Any]:
    settings = settings_for(db_url, tmp_path)
    seeded = seed_hostile(Session, settings, int(time.time()))
    return {"Session": Session, "settings": settings, **seeded}


def _csv_cells(data: bytes) -> list[str]:
    rows = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return [cell for row in rows for cell in row]


def _xlsx_cells(data: bytes) -> list[Any]:
    ws = load_workbook(io.BytesIO(data), data_only=False).active
    cells = [c for row in ws.iter_rows() for c in row]
    formulas = [c.coordinate for c in cells if c.data_type == "f"]
    assert not formulas, f"formula cells {formulas}"
    return cells


def _starts_live(value: Any) -> bool:
    return isinstance(value, str) and (is_live(value) or value[:1] in ("=", "@"))


def test_every_report_in_every_format_keeps_formulas_inert(hostile: dict[str, Any]) -> None:
    seen: dict[tuple[str, str], list[Any]] = {}
    with hostile["Session"]() as s:
        for name in REPORTS:
            for fmt in FORMATS:
                out = render_report(s, hostile["settings"], name, fmt)
                if fmt == "csv":
                    cells = _csv_cells(out.data)
                    assert not [c for c in cells if _starts_live(c)], (name, fmt)
                    seen[name, fmt] = cells
                elif fmt == "xlsx":
                    values = [c.value for c in _xlsx_cells(out.data)]
                    assert not [v for v in values if _starts_live(v)], (name, fmt)
                    seen[name, fmt] = values
                else:
                    assert out.data.startswith(b"%PDF")
                    pages = PdfReader(io.BytesIO(out.data)).pages
                    seen[name, fmt] = ["\n".join(p.extract_text() or "" for p in pages)]
    # The payloads reached the files, each with its apostrophe (the two findings first).
    owner = "'" + FORMULAS[0].lower()
    assert owner in seen["disputes", "csv"]
    assert "'" + FORMULAS[1] + " has no owner" in seen["drift", "xlsx"]
    drift = {str(v) for v in seen["drift", "csv"]}
    for text in FORMULAS:
        assert f"'{text.lower()} is not in the CRM" in drift, repr(text)  # e-mails lower-cased
    journal = set(seen["journal_entries", "xlsx"])
    assert {f"'{t}".replace("\r", "\n") for t in FORMULAS} <= journal  # XML reads CR as LF
    assert "'" + FORMULAS[1] in seen["tax", "csv"]
    pdf = seen["drift", "pdf"][0].lower()
    assert "'@sum(1+1)" in pdf and "'=hyperlink(" in pdf


def test_money_stays_numbers_in_major_units_with_a_currency_format(
    hostile: dict[str, Any],
) -> None:
    with hostile["Session"]() as s:
        xlsx = render_report(s, hostile["settings"], "disputes", "xlsx").data
        csv_rows = list(
            csv.DictReader(
                io.StringIO(
                    render_report(s, hostile["settings"], "disputes", "csv").data.decode(
                        "utf-8-sig"
                    )
                )  # fmt: skip
            )
        )
        journal = load_workbook(
            io.BytesIO(render_report(s, hostile["settings"], "journal_entries", "xlsx").data)
        ).active
    ws = load_workbook(io.BytesIO(xlsx)).active
    header = [c.value for c in ws[1]]
    amount = ws.cell(2, header.index("amount") + 1)
    assert amount.value == 123.45 and amount.data_type == "n"  # 12,345 cents → 123.45
    assert amount.number_format == '"$"#,##0.00;-"$"#,##0.00'
    assert {r["amount"] for r in csv_rows} == {"123.45"}
    jheader = [c.value for c in journal[1]]
    credits = [journal.cell(r, jheader.index("credit") + 1) for r in range(2, journal.max_row + 1)]
    assert all(isinstance(c.value, int | float) for c in credits)
    assert any(c.value and c.number_format.startswith('"$"') for c in credits)


def test_audit_export_neutralises_tab_cr_and_leading_spaces(hostile: dict[str, Any]) -> None:
    with hostile["Session"].begin() as s:
        for text in FORMULAS:
            audit.record(s, SYSTEM_ACTOR, "note", text, None, {"text": text})
    with hostile["Session"]() as s:
        rows = list(csv.reader(io.StringIO(audit.export_csv(s), newline="")))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if _starts_live(c)]
    targets = [row[5] for row in rows if row[4] == "note"]
    assert targets == [f"'{t}" for t in FORMULAS]


def test_a_neutralised_export_reimported_stays_neutralised(hostile: dict[str, Any]) -> None:
    """The importer strips spaces, never the apostrophe: a round trip does not re-arm a cell."""
    with hostile["Session"]() as s:
        cells = _csv_cells(render_report(s, hostile["settings"], "drift", "csv").data)
    names = [c.removesuffix(" has no owner") for c in cells if c.endswith(" has no owner")]
    assert names and all(n.startswith("'") for n in names)
    body = "Stripe Customer ID,Account Name\n" + "".join(
        f'cus_again{i},"{n.replace(chr(34), chr(34) * 2)}"\n' for i, n in enumerate(names)
    )
    with hostile["Session"].begin() as s:
        result = IMPORTERS["crm"].run(s, body.encode())
    assert result.error_count == 0
    with hostile["Session"]() as s:
        again = _csv_cells(render_report(s, hostile["settings"], "drift", "csv").data)
    assert not [c for c in again if _starts_live(c)]
    for n in names:  # kept with its apostrophe, so exported as it was, not re-armed
        assert f"{n} has no owner" in again, repr(n)
