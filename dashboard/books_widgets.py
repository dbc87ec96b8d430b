"""Widgets for the books pages: messages that survive a rerun, tables, downloads, uploads."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.csv_import import ImportResult
from core.reports.run import RenderedReport

FLASH_KEY = "books_flash"


def flash_later(kind: str, text: str) -> None:
    """Show a message on the next run (after a button's rerun)."""
    st.session_state[FLASH_KEY] = (kind, text)


def flash() -> None:
    """Show (once) the message a callback left."""
    item = st.session_state.pop(FLASH_KEY, None)
    if item:
        getattr(st, item[0])(item[1])


def table(rows: list[dict[str, Any]] | pd.DataFrame, empty: str, **kwargs: Any) -> None:
    """A full-width table, or a short note when there is nothing to show."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if df.empty:
        st.caption(empty)
    else:
        st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def download(report: RenderedReport, key: str) -> None:
    """A download button for a rendered report."""
    st.download_button(
        f"Download {report.filename} ({report.rows} rows)",
        report.data,
        file_name=report.filename,
        mime=report.mime,
        key=key,
    )


def import_result(result: ImportResult) -> None:
    """What an upload did, with the rejected rows and their line numbers."""
    (st.success if not result.error_count else st.warning)(result.summary())
    if result.errors:
        table([{"line": e.line, "problem": e.message} for e in result.errors[:200]], "")


def trend_chart(rows: list[dict[str, Any]]) -> None:
    """Daily drift counts per check as lines (plotly, like the other trend charts)."""
    if not rows:
        st.caption(
            "No daily counts yet: they are recorded by `python -m jobs books` (hourly) or by "
            "Refresh now."
        )
        return
    series: dict[str, dict[Any, int]] = {}
    for r in rows:
        per_day = series.setdefault(str(r["check"]), {})
        per_day[r["day"]] = max(per_day.get(r["day"], 0), int(r["count"]))
    fig = go.Figure(
        [
            go.Scatter(x=list(days), y=list(days.values()), mode="lines+markers", name=name)
            for name, days in sorted(series.items())
            if any(days.values())
        ]
    )
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title="Items", legend_title_text="Check")  # fmt: skip
    st.plotly_chart(fig, width="stretch")


def funnel_chart(funnel: dict[str, int]) -> None:
    """Subscriptions per lifecycle status as bars."""
    labels = [k.replace("_", " ").capitalize() for k in funnel]
    fig = go.Figure([go.Bar(x=labels, y=list(funnel.values()))])
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title="Subscriptions")  # fmt: skip
    st.plotly_chart(fig, width="stretch")
