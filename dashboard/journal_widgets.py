"""Widgets of the Payouts & books page: journal batches and their export."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.books.journal import (
    EXPORT_ROLES,
    ExportedFile,
    SuspenseCategory,
    batch_currencies,
    batch_suspense_counts,
    list_batches,
    record_export,
    render_batch,
    suspense_categories,
)
from core.books.journal_export import FORMAT_TITLES
from core.books.ledger_mapping import unmapped_hint
from core.books.views import batch_count
from core.config import Settings
from core.errors import CoreError
from core.governance.auth import Actor, has_role
from dashboard import books_widgets as w
from dashboard import format as fmt


def journal_tab(Session: sessionmaker[Session], settings: Settings, actor: Actor) -> None:
    """The recent journal batches, and a form to export one for the accounting system."""
    with Session() as session:  # read, then close: the export below writes
        batches = list_batches(session, limit=100)
        currencies = batch_currencies(session, [b.id for b in batches])
        in_suspense = batch_suspense_counts(session, [b.id for b in batches])
        unmapped = suspense_categories(session)
        n_batches = batch_count(session)
        session.expunge_all()
    if "journal_flash" in st.session_state:
        st.info(st.session_state.pop("journal_flash"))
    if unmapped:
        unmapped_warning(unmapped)
    if n_batches > len(batches):
        st.caption(f"The {len(batches)} most recent of {fmt.number(n_batches)} batches.")
    w.table(
        [
            {
                "id": b.id,
                "batch": b.key,
                "entries": b.entry_count,
                "debits": fmt.money(b.total_debit, currencies.get(b.id)),
                "exported": fmt.when(b.exported_at, settings.tz) if b.exported_at else "not yet",
                "exports": b.export_count,
                "suspense": in_suspense.get(b.id, 0),
            }
            for b in batches
        ],
        "No journal batches yet: press Refresh above to book the synced balance transactions.",
        column_config={
            "id": "#",
            "batch": "Batch",
            "entries": "Entries",
            "debits": "Total debits",
            "exported": f"Exported ({settings.team_timezone})",
            "exports": "Exports",
            "suspense": st.column_config.NumberColumn(
                "In suspense", help="Entries of an unknown reporting category", format="%d"
            ),
        },  # fmt: skip
    )
    if batches:
        _export_form(Session, settings, actor, [b.key for b in batches])


def unmapped_warning(unmapped: list[SuspenseCategory]) -> None:
    """Entries booked to suspense because their reporting category has no account."""
    entries = sum(u.entries for u in unmapped)
    st.warning(
        f"{fmt.number(entries)} journal entries in {len(unmapped)} unknown reporting "
        f"categor{'y' if len(unmapped) == 1 else 'ies'} were booked to the suspense account: "
        + ", ".join(f"`{u.category}` ({fmt.number(u.entries)})" for u in unmapped[:20])
        + ". To book them properly, "
        + unmapped_hint([u.category for u in unmapped])
        + "."
    )
    exported = sum(u.exported_entries for u in unmapped)
    if exported:
        st.caption(
            f"{fmt.number(exported)} of them are in exported batches, which stay as exported: "
            "move them out of suspense in the accounting system."
        )


def _export_form(
    Session: sessionmaker[Session], settings: Settings, actor: Actor, keys: list[str]
) -> None:
    """Pick a batch and a format; the batch is booked as exported when its file is downloaded
    (downloading the same file again books nothing more)."""
    if not has_role(actor, *EXPORT_ROLES):
        st.caption("Exporting a batch to the books is for operators and above; viewers read.")
        return
    with st.form("journal_export"):
        pick = st.selectbox("Batch", keys, key="journal_batch")
        fmt_name = st.selectbox(
            "Format", list(FORMAT_TITLES), format_func=FORMAT_TITLES.get, key="journal_fmt"
        )
        force = st.checkbox("Export again (marked as a re-export)", key="journal_force")
        go = st.form_submit_button("Prepare the file")
    if go:
        try:
            with Session() as tx:
                out = render_batch(tx, settings, str(pick), str(fmt_name), force=force,
                                   actor=actor)  # fmt: skip
            st.session_state["journal_file"] = out
        except CoreError as exc:
            st.error(str(exc))
    out = st.session_state.get("journal_file")
    if isinstance(out, ExportedFile):
        st.download_button(
            f"Download {out.filename}",
            out.data,
            file_name=out.filename,
            mime="text/csv",
            key="journal_dl",
            on_click=_record_download,
            args=(Session, actor, out),
        )
        st.caption("The batch counts as exported once the file is downloaded.")


def _record_download(Session: sessionmaker[Session], actor: Actor, out: ExportedFile) -> None:
    try:
        with Session.begin() as tx:
            booked = record_export(tx, out, actor=actor)
    except CoreError as exc:
        st.session_state["journal_flash"] = str(exc)
        return
    st.session_state["journal_flash"] = (
        f"Batch {out.batch} booked as exported ({out.format})."
        if booked
        else f"Batch {out.batch}: the same file again, not booked twice."
    )
