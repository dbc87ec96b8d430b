"""Shared controls for working a queue in bulk: export it as CSV / XLSX (operators and above;
the file is produced, and audited, only when someone asks to download it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from core.governance.auth import Actor, has_role
from core.reports.queues import EXPORT_FORMATS, QUEUES, export_queue
from core.reports.writers import FORMATS


def export_buttons(queue: str, actor: Actor, Session: Any, tz: Any, key: str) -> None:
    """One download button per format; hidden from viewers (core refuses them too)."""
    if not has_role(actor, "operator", "approver", "admin"):
        return
    stamp = datetime.now(UTC).astimezone(tz).strftime("%Y-%m-%d")
    title = QUEUES[queue].title
    columns = st.columns(len(EXPORT_FORMATS) + 2)
    for fmt, column in zip(EXPORT_FORMATS, columns, strict=False):

        def build(fmt: str = fmt) -> bytes:
            with Session.begin() as session:
                return export_queue(session, actor, queue, fmt, tz).data

        column.download_button(
            f"Export {title.lower()} ({fmt.upper()})",
            data=build,
            file_name=f"ledgerdesk-{queue.replace('_', '-')}-{stamp}.{fmt}",
            mime=FORMATS[fmt][0],
            on_click="ignore",
            key=f"{key}-export-{fmt}",
        )
