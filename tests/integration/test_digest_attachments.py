"""The digest e-mail carries its reports as attachments (not server paths), and the large-dispute
alert reaches the team address by e-mail too. Real components: an SMTP server on loopback
(aiosmtpd) receiving through the outbox, SQLite and PostgreSQL."""

from __future__ import annotations

import email
from datetime import date
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.disputes.handlers import apply_dispute
from core.disputes.settings import DisputeConfig
from core.governance import deliveries
from core.models.governance import OutboxAttachment
from core.reports.digest import write_digest
from tests.conftest import settings_for
from tests.support import disputes as f
from tests.support.receivers import smtp_server


def parsed(raw: str) -> EmailMessage:
    msg = email.message_from_string(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_the_digest_arrives_with_its_files_attached(
    Session: Any, db_url: str, tmp_path: Path
) -> None:
    with smtp_server() as (port, received):
        settings = settings_for(
            db_url, tmp_path, SMTP_URL=f"smtp://127.0.0.1:{port}",
            DIGEST_RECIPIENTS="cfo@example.com", DIGEST_DIR=str(tmp_path / "digest"),
        )  # fmt: skip
        with Session.begin() as s:
            result = write_digest(s, settings, date(2026, 1, 5))
        expected = {p.name: p.read_bytes() for p in result.files}  # what the mail carries
        with Session.begin() as s:  # a second run the same day: one mail, files attached once
            result = write_digest(s, settings, date(2026, 1, 5))
        assert not result.failed and result.files
        assert deliveries.deliver(Session, settings, timeout=5).counts == {"sent": 1}
        assert len(received) == 1
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxAttachment)) == len(result.files) + (
            1 if result.audit_head else 0
        )
    mail = parsed(received[0]["data"])
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert str(result.folder) not in text and str(tmp_path) not in text
    files = {a.get_filename(): a.get_payload(decode=True) for a in mail.iter_attachments()}
    assert set(expected) == {p.name for p in result.files}
    for name, data in expected.items():
        assert files[name] == data, name
        assert name in text
    pdfs = [n for n in files if n.endswith(".pdf")]
    assert pdfs and all(files[n].startswith(b"%PDF") for n in pdfs)
    if result.audit_head is not None:
        assert b'"count"' in files["audit-head.json"] or b"count" in files["audit-head.json"]


def test_a_large_dispute_alert_is_mailed_to_the_team_address(Session: Any, db_url: str) -> None:
    now = f.ts(2026, 3, 20, 12)
    cfg = DisputeConfig(alert_threshold=50_000, escalation_email="leads@example.com")
    with Session.begin() as s:
        cus = f.customer(s)
        ch = f.charge(s, cus, 75_000, now - 10 * f.DAY)
        case, _ = apply_dispute(
            s, f.dispute(ch, due_by=now + 9 * f.DAY), event_created=now, cfg=cfg, now=now
        )
        dispute_id = case.dispute_id
    with smtp_server() as (port, received):
        settings = settings_for(db_url, SMTP_URL=f"smtp://127.0.0.1:{port}")
        deliveries.deliver(Session, settings, timeout=5)
    alerts = [parsed(m["data"]) for m in received if "Large dispute" in m["data"]]
    assert len(alerts) == 1 and alerts[0]["To"] == "leads@example.com"
    assert str(alerts[0]["Subject"]) == "Large dispute: Ada Lovelace, $750.00 (Fraudulent)"
    assert dispute_id in alerts[0].get_body(("plain",)).get_content()  # the id in the text
