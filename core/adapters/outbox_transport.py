"""The outbox's transports: an email written and sent through SMTP, a message posted to a Slack
incoming webhook. Each raises TemporaryFailure (try again later) or PermanentFailure (retrying
will not help); core/adapters/outbox.py decides what becomes of the message.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from core.adapters.outbox_files import Attachment
from core.models.governance import OutboxMessage

TIMEOUT_SECONDS = 15


class TemporaryFailure(Exception):
    """The server could not take the message now; try again later."""


class PermanentFailure(Exception):
    """The server refused the message; retrying will not help."""


def message_id(dedupe_key: str) -> str:
    """A stable Message-ID, so a receiving server can recognise a duplicate too."""
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}@ledgerdesk>"


def build_email(
    sender: str, msg: OutboxMessage, attachments: Sequence[Attachment] = ()
) -> EmailMessage:
    """The email as it will be sent; PermanentFailure when it cannot be written safely."""
    names = [("attachment name", name) for name, _, _ in attachments]
    for name, value in (
        ("recipient", msg.recipient),
        ("subject", msg.subject),
        ("sender", sender),
        *names,
    ):
        if "\r" in value or "\n" in value:
            raise PermanentFailure(f"the {name} contains a line break: {value!r}")
    email = EmailMessage()
    try:
        email["From"] = sender
        email["To"] = msg.recipient
        email["Subject"] = msg.subject
        email["Message-ID"] = message_id(msg.dedupe_key)
        email.set_content(msg.body)
        for filename, content_type, data in attachments:
            maintype, _, subtype = content_type.partition("/")
            email.add_attachment(
                data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=filename,
            )
    except (ValueError, TypeError, IndexError) as exc:
        raise PermanentFailure(f"the message cannot be written as an email: {exc}") from None
    return email


def send_email(
    smtp_url: str,
    sender: str,
    msg: OutboxMessage,
    timeout: float = TIMEOUT_SECONDS,
    attachments: Sequence[Attachment] = (),
) -> None:
    """Send one email through SMTP (smtp://, smtp+starttls://, smtps://; user:password optional)."""
    url = urlparse(smtp_url)
    email = build_email(sender, msg, attachments)
    host = url.hostname or "localhost"
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host,
                url.port or 465,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(host, url.port or 25, timeout=timeout)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(email)
    except smtplib.SMTPResponseException as exc:
        text = f"SMTP server answered {exc.smtp_code}: {exc.smtp_error!r}"
        if 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPAuthenticationError):
            raise PermanentFailure(text) from None
        raise TemporaryFailure(text) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentFailure(
            f"SMTP server refused the recipient: {list(exc.recipients)}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryFailure(f"could not reach the SMTP server at {host}: {exc}") from None


def post_to_slack(webhook_url: str, text: str, timeout: float = TIMEOUT_SECONDS) -> None:
    """POST one message to a Slack incoming webhook."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        text_err = f"Slack webhook answered HTTP {exc.code}"
        if exc.code == 429 or exc.code >= 500:
            raise TemporaryFailure(text_err) from None
        raise PermanentFailure(text_err + " (check SLACK_WEBHOOK_URL)") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TemporaryFailure(f"could not reach the Slack webhook: {reason}") from None
