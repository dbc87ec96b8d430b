"""Outside text stays data: spreadsheet cells never start a formula, Markdown never turns live."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook

from core.adapters.cells import is_live, neutralise
from core.books.journal_export import FORMATS, ExportEntry, ExportLine, render
from core.money import excel_number_format
from core.reports.writers import to_csv, to_xlsx
from dashboard.format import WORD_JOINER, md_text
from tests.support.hostile import FORMULAS, MARKDOWN


@pytest.mark.parametrize("text", [*FORMULAS, "+1+1", "-2+3", "\n=1", "＝1+1", "\u00a0@x"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert is_live(text)
    assert neutralise(text) == "'" + text
    assert not is_live(neutralise(text))


@pytest.mark.parametrize(
    "value", [-12.5, 3, Decimal("-1.10"), "-12.50", "+7", "-1,234.56", "1e5", "Zürich", "", None]
)
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert neutralise(value) == value


def test_csv_and_xlsx_writers_keep_numbers_and_disarm_text() -> None:
    df = pd.DataFrame(
        {
            "who": list(FORMULAS),
            "amount": [-1.5, 2.0, 3.25, -4.0, 5.0],
            "currency": ["usd", "eur", "jpy", "chf", "usd"],
        }
    )
    rows = list(csv.reader(io.StringIO(to_csv(df).decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == [f"'{t}" for t in FORMULAS]
    assert [r[1] for r in rows[1:]] == ["-1.5", "2.0", "3.25", "-4.0", "5.0"]
    ws = load_workbook(io.BytesIO(to_xlsx(df, "T", money=("amount",)))).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert [ws.cell(r, 1).value[:2] for r in range(2, 7)] == ["'@", "'=", "'\t", "'\n", "' "]
    assert [ws.cell(r, 2).number_format for r in range(2, 5)] == [
        excel_number_format("usd"),
        excel_number_format("eur"),
        excel_number_format("jpy"),
    ]
    assert ws.cell(2, 2).value == -1.5
    assert excel_number_format("jpy") == '"¥"#,##0;-"¥"#,##0'  # no decimals
    assert excel_number_format("chf") == '#,##0.00" CHF";-#,##0.00" CHF"'


@pytest.mark.parametrize("fmt", FORMATS)
def test_journal_exports_disarm_descriptions_and_keep_amounts(fmt: str) -> None:
    lines = tuple(
        ExportLine("1200", text, 1000 if i % 2 == 0 else 0, 0 if i % 2 == 0 else 1000, text)
        for i, text in enumerate([*FORMULAS, "balance"])
    )
    entry = ExportEntry("JE-1", date(2026, 1, 2), "usd", FORMULAS[1], lines)
    rows = list(csv.reader(io.StringIO(render([entry], fmt), newline="")))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if is_live(c)]
    assert "'" + FORMULAS[0] in " ".join(cells)
    assert "-10.00" in cells or "10.00" in cells  # amounts are numbers, not neutralised text


@pytest.mark.parametrize("text", MARKDOWN)
def test_md_text_escapes_every_markdown_special(text: str) -> None:
    escaped = md_text(text)
    for special in "![]():":
        assert special not in escaped.replace("\\" + special, "")
    assert escaped.replace("\\", "").replace(WORD_JOINER, "") == text


def test_md_text_breaks_bare_links_and_line_structure() -> None:
    assert md_text("see https://evil.example") == f"see https\\:{WORD_JOINER}\\/\\/evil\\.example"
    assert md_text("www.evil.example") == f"www{WORD_JOINER}\\.evil\\.example"
    assert md_text("a\n# b\r\n---") == "a \\# b \\-\\-\\-"
    assert md_text(":material/check: :smile:") == "\\:material\\/check\\: \\:smile\\:"
    assert md_text(None) == ""
