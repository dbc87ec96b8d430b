"""Run a registered report for a period and render it in one format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import InputError
from core.reports import get_report
from core.reports.writers import FORMATS, check_format, to_csv, to_pdf, to_xlsx


@dataclass(frozen=True)
class RenderedReport:
    """A rendered report file, ready to write to disk, mail or offer as a download."""

    name: str
    title: str
    fmt: str
    data: bytes
    filename: str
    mime: str
    rows: int


def parse_day(text: str | None, name: str) -> date | None:
    """A YYYY-MM-DD date from the command line or a form, or a clear InputError."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{name} {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-31."
        ) from None


def period_label(date_from: date | None, date_to: date | None) -> str:
    """A human period line for titles and file names."""
    if date_from and date_to:
        return f"{date_from.isoformat()} to {date_to.isoformat()}"
    if date_from:
        return f"from {date_from.isoformat()}"
    if date_to:
        return f"up to {date_to.isoformat()}"
    return "all time"


def report_frame(
    session: Session,
    settings: Settings,
    name: str,
    date_from: date | None,
    date_to: date | None,
) -> pd.DataFrame:
    """The report's data as a DataFrame (what the pages show)."""
    if date_from and date_to and date_from > date_to:
        raise InputError(f"--from {date_from} is after --to {date_to}: swap them.")
    return get_report(name).data_fn()(session, settings, date_from, date_to)


def render_report(
    session: Session,
    settings: Settings,
    name: str,
    fmt: str,
    date_from: date | None = None,
    date_to: date | None = None,
) -> RenderedReport:
    """Run report `name` for the period and render it as csv, xlsx or pdf."""
    spec = get_report(name)
    check_format(fmt)
    df = report_frame(session, settings, name, date_from, date_to)
    if fmt == "csv":
        data = to_csv(df)
    elif fmt == "xlsx":
        data = to_xlsx(df, spec.title, spec.money)
    else:
        chart_fn = spec.chart_fn()
        chart = chart_fn(df) if chart_fn else None
        data = to_pdf(df, spec.title, f"Period: {period_label(date_from, date_to)}", chart)
    suffix = "_".join(d.isoformat() for d in (date_from, date_to) if d) or "all"
    mime, ext = FORMATS[fmt]
    return RenderedReport(name, spec.title, fmt, data, f"{name}_{suffix}.{ext}", mime, len(df))
