"""The daily digest: yesterday's reports written to a folder and, with SMTP set, mailed out.

Each report is rendered on its own, so one failing report is listed in the digest instead of
stopping the others. Mail goes through the outbox (one message per recipient and day, deduped),
with the headline figures in the body and the reports attached (up to MAX_ATTACHED_BYTES in all;
a file past that is named in the body as kept on the desk). The digest also anchors the audit
chain's head (core/governance/anchors.py), writes it to audit-head.json, attaches it and names
it in the mail, so a copy of the head lives outside the desk.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from core.adapters.outbox import Attachment, enqueue_email
from core.config import Settings
from core.errors import CoreError
from core.governance.anchors import Anchor, anchor_head, write_head_file
from core.reports import REPORTS
from core.reports.figures import HeadlineFigures, headline_figures
from core.reports.run import render_report

DIGEST_FORMATS = ("pdf", "csv")
MAX_ATTACHED_BYTES = 15 * 1024 * 1024  # most mail servers refuse messages above 20-25 MB


@dataclass
class DigestResult:
    """What the digest wrote and whom it mailed."""

    day: date
    folder: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    mailed: list[str] = field(default_factory=list)
    audit_head: Anchor | None = None
    audit_problem: str | None = None  # why the head was not anchored (a broken chain)
    figures: HeadlineFigures | None = None  # the headline figures, as the pages show them

    def summary(self) -> str:
        """One line for the CLI and the scheduler log."""
        text = f"digest {self.day}: {len(self.files)} files in {self.folder}"
        if self.audit_problem:
            text += f", audit head NOT anchored ({self.audit_problem})"
        if self.failed:
            text += f", {len(self.failed)} reports failed ({', '.join(sorted(self.failed))})"
        return text + (f", mailed to {len(self.mailed)}" if self.mailed else "")


def digest_folder(settings: Settings, day: date) -> Path:
    """DIGEST_DIR (or <data dir>/digest) / YYYY-MM-DD."""
    return (settings.digest_dir or settings.data_dir / "digest") / day.isoformat()


def write_digest(
    session: Session,
    settings: Settings,
    day: date | None = None,
    reports: tuple[str, ...] | None = None,
    formats: tuple[str, ...] = DIGEST_FORMATS,
    reader: Session | None = None,
) -> DigestResult:
    """Render the reports for the day before `day` into the digest folder; mail when set up.

    With `reader` (a `core.db.reading` session) the reports and figures are read through it,
    and `session` is used only for the few writes at the end (the audit anchor, the e-mails):
    on SQLite the write lock is then held for those writes, not for every report's rendering."""
    reads = reader or session
    today = day or datetime.now(UTC).astimezone(settings.tz).date()
    period = today - timedelta(days=1)
    result = DigestResult(period, digest_folder(settings, period))
    result.folder.mkdir(parents=True, exist_ok=True)
    for name in reports or tuple(REPORTS):
        for fmt in formats:
            try:
                # A savepoint per report: one failing report cannot spoil the others' reads.
                with reads.begin_nested():
                    rendered = render_report(reads, settings, name, fmt, period, period)
            except CoreError as exc:
                result.failed[name] = str(exc)
                break
            path = result.folder / rendered.filename
            path.write_bytes(rendered.data)
            result.files.append(path)
            result.rows[name] = rendered.rows
    result.figures = headline_figures(reads, settings, today)
    _anchor_audit(session, settings, result)
    if settings.smtp_url and settings.digest_recipients:
        _mail(session, settings, result)
    return result


def _anchor_audit(session: Session, settings: Settings, result: DigestResult) -> None:
    head, checked = anchor_head(session, settings.audit_anchor_path)
    result.audit_head = head
    if head is not None:
        write_head_file(result.folder / "audit-head.json", head)
    elif not checked.ok:
        result.audit_problem = checked.summary()


def _mail(session: Session, settings: Settings, result: DigestResult) -> None:
    lines = [f"Ledgerdesk daily digest for {result.day}.", ""]
    if result.figures is not None:
        lines += [*result.figures.lines(), ""]
    for name, rows in sorted(result.rows.items()):
        lines.append(f"- {REPORTS[name].title}: {rows} rows")
    for name, why in sorted(result.failed.items()):
        lines.append(f"- {name}: not produced ({why})")
    if result.audit_head is not None:
        lines += ["", result.audit_head.summary()]
    elif result.audit_problem:
        lines += ["", f"Audit trail: {result.audit_problem}"]
    files, left_out = attachments(result)
    if files:
        lines += ["", "Attached: " + ", ".join(name for name, _, _ in files) + "."]
    if left_out:
        lines += [
            f"Not attached (the e-mail would be too large): {', '.join(left_out)}; "
            "download them from the Reports page."
        ]
    body = "\n".join(lines)
    for to in settings.digest_recipients:
        enqueue_email(
            session,
            to,
            f"Ledgerdesk digest {result.day}",
            body,
            dedupe_key=f"digest:{result.day.isoformat()}:{to}",
            related=f"digest:{result.day.isoformat()}",
            attachments=files,
        )
        result.mailed.append(to)


def attachments(result: DigestResult) -> tuple[list[Attachment], list[str]]:
    """The digest's files to attach (reports, then the audit head), and the names left out
    because the e-mail would grow past MAX_ATTACHED_BYTES."""
    paths = list(result.files)
    head = result.folder / "audit-head.json"
    if result.audit_head is not None and head.exists():
        paths.append(head)
    files: list[Attachment] = []
    left_out: list[str] = []
    total = 0
    for path in paths:
        data = path.read_bytes()
        if total + len(data) > MAX_ATTACHED_BYTES:
            left_out.append(path.name)
            continue
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append((path.name, kind, data))
        total += len(data)
    return files, left_out
