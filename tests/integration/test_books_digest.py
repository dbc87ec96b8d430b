"""The daily digest writes every report to its folder and queues one mail per recipient."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.db import make_engine, make_sessionmaker, migrate
from core.models.governance import OutboxMessage
from core.reports import REPORTS
from core.reports.digest import write_digest
from tests.conftest import settings_for


def test_digest_writes_files_and_mails_once(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    settings = settings_for(
        sqlite_url, tmp_path, SMTP_URL="smtp://127.0.0.1:2525",
        DIGEST_RECIPIENTS="cfo@example.com,books@example.com", DIGEST_DIR=str(tmp_path / "d"),
    )  # fmt: skip
    for _ in range(2):  # a second run the same day rewrites files, never mails twice
        with Session.begin() as session:
            result = write_digest(session, settings, date(2026, 1, 5))
    assert result.folder == tmp_path / "d" / "2026-01-04" and not result.failed
    names = {p.name for p in result.folder.iterdir()}
    assert {f"{n}_2026-01-04_2026-01-04.pdf" for n in REPORTS} <= names
    with Session() as session:
        mails: list[Any] = session.scalars(select(OutboxMessage)).all()
    assert sorted(m.recipient for m in mails) == [
        "books@example.com",
        "cfo@example.com",
    ]
    engine.dispose()
