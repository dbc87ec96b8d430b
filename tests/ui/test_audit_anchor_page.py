"""AppTest for the Audit log page's anchor check: a cut tail and a recomputed chain are shown,
which the hash chain alone cannot show (the same check as `python -m jobs audit verify`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import func, select, text
from streamlit.testing.v1 import AppTest

from core.config import ensure_audit_key
from core.db import make_engine, make_sessionmaker, migrate
from core.governance import anchors, audit
from core.models.governance import AuditEntry
from dashboard.auth import SESSION_KEY
from tests.conftest import settings_for
from tests.support.governance import make_refund_request, make_team

ROOT = Path(__file__).resolve().parents[2]
CUT = re.compile(
    r"The audit trail was cut: the anchor recorded (\d+) entries at \d\d:\d\d, the table has (\d+)"
)


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A desk whose audit trail (team, three requests) was anchored by a scheduled job."""
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path))
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "SMTP_URL"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    settings = ensure_audit_key(settings_for(url, tmp_path))  # the key the page will read
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine, settings.audit_key)
    with Session.begin() as s:
        team = make_team(s)
        for n in range(3):
            make_refund_request(s, team["operator"], f"ch_anchor_{n}", amount=1000 + n)
    with Session() as s:
        head, checked = anchors.anchor_head(s, settings.audit_anchor_path)
        assert head is not None and head.count == 8, checked.summary()  # 5 users + 3 requests
    return {"Session": Session, "team": team, "settings": settings}


def page(actor: Any) -> AppTest:
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "audit_log.py"), default_timeout=30)
    at.session_state[SESSION_KEY] = actor
    return at.run()


def test_an_intact_trail_is_verified_against_its_anchor(desk: dict[str, Any]) -> None:
    at = page(desk["team"]["admin"])
    assert not at.exception and not at.error
    shown = [s.value for s in at.success]
    assert any("audit chain intact" in v for v in shown)
    assert any(
        "Audit trail verified against its anchor: the 8 entries anchored" in v for v in shown
    ), shown
    # The sign-in failures expander is still there.
    assert any("Failed sign-ins" in e.label for e in at.expander)


def test_deleting_the_newest_entries_shows_the_cut(desk: dict[str, Any]) -> None:
    Session = desk["Session"]
    with Session.begin() as s:
        newest = s.scalar(select(func.max(AuditEntry.id)))
        s.execute(text("DELETE FROM audit_log WHERE id > :keep"), {"keep": newest - 3})
    with Session() as s:
        assert audit.verify(s).ok  # the chain alone cannot tell: what is left still links up
        check = anchors.verify_trail(s, desk["settings"].audit_anchor_path)
        assert not check.ok and "deleted" in (check.problem or "")  # `audit verify` says so
    at = page(desk["team"]["admin"])
    assert not at.exception
    errors = [e.value for e in at.error]
    cut = [m for m in (CUT.search(v) for v in errors) if m]
    assert cut and cut[0].groups() == ("8", "5"), errors
    assert not any("verified against its anchor" in s.value for s in at.success)


def test_a_recomputed_chain_shows_the_rewritten_entry(desk: dict[str, Any]) -> None:
    # Someone with the table but not the key rewrites the newest entry's actor and recomputes
    # its hash the only way they can (unkeyed): the anchored head no longer matches.
    Session = desk["Session"]
    with Session.begin() as s:
        row = s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert row is not None
        forged = audit.entry_hash(
            row.prev_hash,
            row.at,
            "mallory",
            row.actor_role,
            row.action,
            row.target,
            row.before,
            row.after,
        )
        s.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE id = :id"),
            {"h": forged, "id": row.id},
        )
    at = page(desk["team"]["admin"])
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "An audit entry was rewritten" in errors and "is not the one anchored" in errors, errors
