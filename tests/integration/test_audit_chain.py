"""The hash-chained audit log catches an edited, a deleted and a reordered entry; CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import text

from core.governance import audit
from core.governance.auth import SYSTEM_ACTOR, Actor


def write_entries(Session: Any, n: int = 6) -> None:
    alice = Actor(1, "alice", "approver")
    with Session.begin() as s:
        for i in range(n):
            audit.record(
                s,
                alice if i % 2 else SYSTEM_ACTOR,
                f"action.step{i}",
                f"action:{i}",
                {"status": "requested"},
                {"status": "approved", "amount": 100 * i},
            )


def test_an_untouched_chain_verifies(Session: Any) -> None:
    write_entries(Session)
    with Session() as s:
        result = audit.verify(s)
    assert result.ok and result.checked == 6 and "intact" in result.summary()


def test_an_edited_entry_is_caught(Session: Any) -> None:
    write_entries(Session)
    with Session.begin() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    with Session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_id == 3 and "changed" in (result.problem or "")


def test_an_edited_json_value_is_caught(Session: Any) -> None:
    write_entries(Session)
    with Session.begin() as s:
        row = s.get(audit.AuditEntry, 4)
        row.after = {"status": "approved", "amount": 1}
    with Session() as s:
        assert audit.verify(s).broken_id == 4


def test_a_deleted_entry_is_caught(Session: Any) -> None:
    write_entries(Session)
    with Session.begin() as s:
        s.execute(text("DELETE FROM audit_log WHERE id = 2"))
    with Session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_id == 3 and "deleted or moved" in (result.problem or "")


def test_reordered_entries_are_caught(Session: Any) -> None:
    write_entries(Session)
    with Session.begin() as s:  # swap entries 4 and 5 by renumbering them
        s.execute(text("UPDATE audit_log SET id = 1000 WHERE id = 4"))
        s.execute(text("UPDATE audit_log SET id = 4 WHERE id = 5"))
        s.execute(text("UPDATE audit_log SET id = 5 WHERE id = 1000"))
    with Session() as s:
        result = audit.verify(s)
    assert not result.ok and result.broken_id == 4


def test_search_and_csv_export_are_safe_for_spreadsheets(Session: Any) -> None:
    write_entries(Session, 3)
    with Session.begin() as s:
        audit.record(s, SYSTEM_ACTOR, "note", '=HYPERLINK("http://x")', None, {"text": "+1"})
    with Session() as s:
        assert [e.actor for e in audit.search(s, audit.AuditFilter(actor="alice"))] == ["alice"]
        assert len(audit.search(s, audit.AuditFilter(action="action."))) == 3
        rows = list(csv.reader(io.StringIO(audit.export_csv(s))))
    assert rows[0][:4] == ["id", "at", "actor", "actor_role"] and len(rows) == 5
    assert rows[-1][5].startswith("'=")
