"""Render a report DataFrame as CSV, XLSX (openpyxl) or PDF (fpdf2: a chart and a table).

The PDF is meant to be read on paper by a finance lead: landscape A4, a title and period, the
chart drawn with fpdf2's own vector primitives (no browser or image toolchain needed), then the
table with repeated headings. The built-in PDF fonts only cover Latin-1, so text is transliterated.

Every text cell goes through `core.adapters.cells.neutralise` first: text a spreadsheet would run as
a formula gets a leading apostrophe in every format, and XLSX cells are values, never formulas.
Money columns (named by the report) are numbers in major units with their currency's format.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
from openpyxl import Workbook

from core.adapters.cells import neutralise
from core.errors import InputError
from core.money import excel_number_format, to_major
from core.reports import ChartSpec

FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    "pdf": ("application/pdf", "pdf"),
}
PDF_MAX_ROWS = 1500
_PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
]
_TRANSLIT = {
    "—": "-",
    "–": "-",
    "→": "->",
    "€": "EUR ",
    "“": '"',
    "”": '"',
    "’": "'",
    "…": "...",
}


def check_format(fmt: str) -> str:
    """Return the format if known, else raise an InputError naming the choices."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    return fmt


def major_units(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Money columns in minor units converted to major units with each row's `currency`."""
    out = df.copy()
    for name in columns:
        out[name] = [
            None if v is None or pd.isna(v) else to_major(int(v), str(cur))
            for v, cur in zip(out[name], out["currency"], strict=True)
        ]
    return out


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell (and heading) neutralised; number columns untouched."""
    out = df.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        series = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        out[out.columns[i]] = series.astype(object).map(_safe_cell)
    return out


def _safe_cell(value: Any) -> Any:
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None  # an empty cell (NaN, NA, NaT)
    return neutralise(value)


def to_csv(df: pd.DataFrame) -> bytes:
    """CSV with a header row, UTF-8 with BOM so spreadsheet programs pick the encoding.

    Rows end in CRLF (RFC 4180), which also makes pandas quote a cell holding a bare CR: unquoted,
    a spreadsheet would start a new row there, and the text after it would be a cell of its own.
    """
    return safe_frame(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx_value(value: Any) -> Any:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()  # numpy scalar → Python number
    return value


def to_xlsx(df: pd.DataFrame, title: str, money: Sequence[str] = ()) -> bytes:
    """An XLSX workbook with one sheet named after the report, columns sized to fit.

    Cells are values, never formulas; `money` columns (major units, with a `currency` column
    beside them) are numbers shown in their currency's format.
    """
    sheet = (title[:31] or "Report").replace("/", "-")
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    safe = safe_frame(df)
    ws.append(list(safe.columns))
    for record in safe.itertuples(index=False, name=None):
        ws.append([_xlsx_value(v) for v in record])
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":  # nothing is written as a formula, whatever its text
                cell.data_type = "s"
    columns = list(df.columns)
    currencies = list(df["currency"]) if "currency" in df.columns else []
    for name in money:
        if name not in columns or not currencies:
            continue
        col = columns.index(name) + 1
        for r, currency in enumerate(currencies, start=2):
            cell = ws.cell(row=r, column=col)
            if isinstance(cell.value, int | float) and isinstance(currency, str) and currency:
                cell.number_format = excel_number_format(currency)
    ws.freeze_panes = "A2"
    for i, col in enumerate(df.columns, start=1):
        width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)]) + 2
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width, 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _latin1(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    for a, b in _TRANSLIT.items():
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return _latin1(neutralise(value))[:80]


def _draw_chart(pdf: Any, df: pd.DataFrame, chart: ChartSpec) -> None:
    """Bars or lines over x, with a value axis and a legend, in the current page's width."""
    if chart.frame is not None:
        df = chart.frame
    ys = [y for y in chart.y if y in df.columns]
    if chart.x not in df.columns or not ys or df.empty:
        return
    data = df[[chart.x, *ys]].head(60)
    values = data[ys].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    lo, hi = min(0.0, float(values.min().min())), max(0.0, float(values.max().max()))
    if hi == lo:
        hi = lo + 1.0
    left, top, width, height = pdf.l_margin + 18, pdf.get_y() + 8, pdf.epw - 22, 60.0
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, _latin1(chart.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 7)
    scale = height / (hi - lo)
    zero_y = top + hi * scale
    pdf.set_draw_color(160, 160, 160)
    pdf.line(left, top, left, top + height)
    pdf.line(left, zero_y, left + width, zero_y)
    for frac in (0.0, 0.5, 1.0):  # value axis ticks
        v = lo + (hi - lo) * frac
        y = top + height - (v - lo) * scale
        pdf.set_xy(pdf.l_margin, y - 2)
        pdf.cell(17, 4, _latin1(f"{v:,.0f}"), align="R")
    n = len(data)
    slot = width / max(n, 1)
    bar_w = slot * 0.8 / len(ys)
    for j, y_col in enumerate(ys):
        color = _PALETTE[j % len(_PALETTE)]
        pdf.set_fill_color(*color)
        pdf.set_draw_color(*color)
        prev: tuple[float, float] | None = None
        for i, v in enumerate(values[y_col]):
            x0 = left + i * slot
            y_v = zero_y - float(v) * scale
            if chart.kind == "line":
                point = (x0 + slot / 2, y_v)
                if prev:
                    pdf.line(prev[0], prev[1], point[0], point[1])
                prev = point
            else:
                pdf.rect(
                    x0 + slot * 0.1 + j * bar_w,
                    min(y_v, zero_y),
                    bar_w,
                    abs(zero_y - y_v),
                    "F",
                )
    pdf.set_text_color(60, 60, 60)
    step = max(1, n // 12)  # label at most ~12 x positions so they stay readable
    for i in range(0, n, step):
        pdf.set_xy(left + i * slot, top + height + 1)
        pdf.cell(slot * step, 4, _latin1(data[chart.x].iloc[i])[:14])
    legend_y = top + height + 6
    for j, y_col in enumerate(ys):
        pdf.set_fill_color(*_PALETTE[j % len(_PALETTE)])
        pdf.rect(left + j * 45, legend_y + 1, 3, 3, "F")
        pdf.set_xy(left + j * 45 + 4, legend_y)
        pdf.cell(40, 5, _latin1(y_col))
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(legend_y + 9)


def _fit(natural: list[float], room: float) -> tuple[float, ...]:
    """Column widths that fill the page: when the natural widths do not fit, only the widest
    columns give way (down to one common cap), so dates and codes never wrap."""
    if sum(natural) <= room:
        return tuple(natural)
    lo, hi = 0.0, max(natural)
    for _ in range(40):  # the cap c with sum(min(w, c)) == room
        cap = (lo + hi) / 2
        lo, hi = (cap, hi) if sum(min(w, cap) for w in natural) < room else (lo, cap)
    return tuple(min(w, lo) for w in natural)


WHITE = (255, 255, 255)
GRID = (190, 190, 190)
HEADING_FILL = (225, 230, 240)


def to_pdf(
    df: pd.DataFrame, title: str, subtitle: str = "", chart: ChartSpec | None = None
) -> bytes:
    """A landscape PDF: title, period line, the chart (if any) and the table."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(_latin1(title))
    pdf.set_creator("Ledgerdesk")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    if subtitle:
        pdf.cell(0, 6, _latin1(subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"{len(df):,} rows", new_x="LMARGIN", new_y="NEXT")
    if chart is not None:
        _draw_chart(pdf, df, chart)
    if df.empty:
        pdf.set_font("Helvetica", "I", 10)
        pdf.cell(0, 8, "Nothing in this period.", new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())
    shown = df.head(PDF_MAX_ROWS)
    cols = list(shown.columns)[:14]  # wider tables stay readable in the CSV / XLSX
    pdf.set_font("Helvetica", "", 7 if len(cols) > 8 else 8)
    # fpdf2 keeps one fill and draw colour for the whole document: the chart's last bar colour
    # would otherwise paint every table cell. The table sets its own, on white.
    pdf.set_fill_color(*WHITE)
    pdf.set_draw_color(*GRID)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    cells = [[_cell(v) for v in record] for record in shown[cols].itertuples(index=False)]
    # Columns as wide as their longest value (within bounds), so short codes do not take the
    # room a link or a reason needs.
    natural = [
        max(pdf.get_string_width(t) for t in [str(c), *(r[i] for r in cells[:200])]) + 4
        for i, c in enumerate(cols)
    ]
    widths = _fit(natural, pdf.epw)
    with pdf.table(
        col_widths=widths,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
        cell_fill_color=WHITE,
        cell_fill_mode="ALL",
        borders_layout="HORIZONTAL_LINES",
        line_height=4.5,
        text_align="LEFT",
        repeat_headings=1,
    ) as table:
        table.row([_latin1(neutralise(str(c))) for c in cols])
        for row in cells:
            table.row(row)
    if len(df) > PDF_MAX_ROWS:
        pdf.set_font("Helvetica", "I", 8)
        pdf.cell(
            0,
            6,
            f"First {PDF_MAX_ROWS:,} of {len(df):,} rows; the CSV has all of them.",
        )
    return bytes(pdf.output())
