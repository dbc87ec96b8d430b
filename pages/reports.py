"""Reports: every analysis as CSV, XLSX or PDF, for a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from core.errors import CoreError
from core.reports import REPORTS
from core.reports.run import render_report, report_frame
from core.reports.writers import FORMATS
from dashboard import books_widgets as w
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings

require_user()
settings = get_settings()
Session = get_sessionmaker()
st.title("Reports")
st.caption("The same files as `python -m jobs export <report> --format csv|xlsx|pdf`.")

name = st.selectbox(
    "Report", sorted(REPORTS), format_func=lambda n: REPORTS[n].title, key="report_name"
)
st.caption(REPORTS[name].description)
today = datetime.now(UTC).astimezone(settings.tz).date()
c1, c2, c3 = st.columns(3)
date_from = c1.date_input("From", today - timedelta(days=30), key="report_from")
date_to = c2.date_input("To", today, key="report_to")
fmt = c3.selectbox("Format", list(FORMATS), key="report_format")

try:
    with Session() as session:
        preview = report_frame(session, settings, name, date_from, date_to)
        if st.button("Prepare file", key="report_prepare", type="primary"):
            st.session_state["report_file"] = render_report(
                session, settings, name, fmt, date_from, date_to
            )
except CoreError as exc:
    st.error(f"{exc} Change the period or the report and try again.")
    st.stop()

prepared = st.session_state.get("report_file")
if prepared is not None and prepared.name == name:
    w.download(prepared, key="report_download")
st.subheader(f"Preview ({len(preview)} rows)")
w.table(
    preview.head(500),
    "Nothing in this period: widen the dates or pick another report.",
    column_config={str(c): str(c).replace("_", " ").capitalize() for c in preview.columns},
)
