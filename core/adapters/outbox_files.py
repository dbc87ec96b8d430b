"""Files attached to outbox e-mails (the digest's reports), stored with the message so it can be
sent, or retried, whatever happens to the file on disk."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.governance import OutboxAttachment

Attachment = tuple[str, str, bytes]
"""(file name, content type such as "application/pdf", content)."""


def attach_once(session: Session, msg_id: int, files: Sequence[Attachment]) -> None:
    """Attach the files to a message that has none yet (a re-queued message keeps its first)."""
    if attachments_of(session, msg_id):
        return
    for filename, content_type, data in files:
        session.add(
            OutboxAttachment(
                message_id=msg_id,
                filename=filename[:255],
                content_type=content_type[:100],
                data=data,
            )
        )
    session.flush()


def attachments_of(session: Session, msg_id: int) -> list[Attachment]:
    """The files attached to one message, in the order they were attached."""
    rows = session.execute(
        select(OutboxAttachment.filename, OutboxAttachment.content_type, OutboxAttachment.data)
        .where(OutboxAttachment.message_id == msg_id)
        .order_by(OutboxAttachment.id)
    )
    return [(name, kind, bytes(data)) for name, kind, data in rows]
