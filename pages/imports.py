"""Imports: upload a CSV export (CRM accounts, help-desk tickets, and every other registered importer)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.imports import IMPORTERS
from dashboard.auth import require_user
from dashboard.context import get_sessionmaker, get_settings
from dashboard.format import md_text
from dashboard.payouts_widgets import statement_account

actor = require_user()
st.title("Imports")
st.caption(
    "Context from outside Stripe. Any common export works: the columns are matched by name, the "
    "encoding and delimiter are detected, and a re-import updates rows instead of duplicating them."
)
if actor.role == "viewer":
    st.info("Viewers can see this page; importing needs the operator role or above.")

names = list(IMPORTERS)
name = st.radio(
    "What does the file hold?",
    names,
    format_func=lambda n: IMPORTERS[n].title,
    horizontal=True,
    key="imp_kind",
)
importer = IMPORTERS[name]
st.markdown(importer.description)
st.caption("Recognised headers include: " + ", ".join(importer.example_headers()))
upload = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key=f"imp_file_{name}")
options = {}
if name == "bank":  # each Stripe account is paid out to its own bank account
    options["account"] = statement_account(get_sessionmaker(), get_settings(), "imp_bank_account")

if upload is not None and st.button("Import", type="primary", disabled=actor.role == "viewer"):
    try:
        with get_sessionmaker().begin() as session:
            result = importer.run_for(session, actor, upload.getvalue(), **options)
    except CoreError as exc:
        st.error(f"Nothing was imported: {md_text(exc)}")
        st.stop()
    (st.warning if result.error_count else st.success)(result.summary())
    st.caption(
        f"Read as {result.encoding}, delimiter {md_text(repr(result.delimiter))}. Columns used: "
        + ", ".join(f"{md_text(h)} → {f}" for f, h in result.mapping.items())
        + (
            f". Ignored: {md_text(', '.join(result.ignored_headers))}"
            if result.ignored_headers
            else ""
        )
    )
    if result.errors:
        st.markdown(
            "**Rows not loaded** (fix them in the file and import it again; loaded rows update):"
        )
        st.dataframe(
            pd.DataFrame([{"Line": e.line, "Problem": e.message} for e in result.errors]),
            hide_index=True,
            width="stretch",
        )
