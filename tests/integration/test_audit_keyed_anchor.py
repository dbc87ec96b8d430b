"""The keyed, anchored audit trail: a cut tail, a re-hashed chain and a wrong key are all caught.

Each database runs the same attacks someone with write access to the table (but neither the
audit key nor the data folder) could make, and `verify_trail` must name what is wrong.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from core.config import Secret
from core.db import make_sessionmaker
from core.errors import ConfigError
from core.governance import anchors, audit
from core.governance.auth import SYSTEM_ACTOR, Actor
from core.models.governance import AuditEntry
from core.reports.digest import write_digest
from tests.conftest import settings_for

KEY = Secret("a1" * 32)
OTHER_KEY = Secret("b2" * 32)


def write(Session: sessionmaker[Any], n: int, start: int = 0) -> None:
    alice = Actor(1, "alice", "approver")
    with Session.begin() as s:
        for i in range(start, start + n):
            audit.record(
                s,
                alice if i % 2 else SYSTEM_ACTOR,
                f"action.step{i}",
                f"action:{i}",
                {"status": "requested"},
                {"status": "approved", "amount": 100 * i},
            )


def anchor(Session: sessionmaker[Any], path: Path) -> anchors.Anchor | None:
    with Session() as s:
        head, checked = anchors.anchor_head(s, path)
    assert checked.ok, checked.summary()
    return head


def verify(Session: sessionmaker[Any], path: Path) -> audit.VerifyResult:
    with Session() as s:
        return anchors.verify_trail(s, path)


def rehash_unkeyed(Session: sessionmaker[Any], from_id: int, version: int | None = None) -> None:
    """Recompute every hash from `from_id` on with the plain formula, as an intruder could."""
    with Session.begin() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        prev = audit.GENESIS
        for row in rows:
            if row.id >= from_id:
                row.prev_hash = prev
                row.hash = audit.entry_hash(
                    prev, row.at, row.actor, row.actor_role, row.action, row.target,
                    row.before, row.after,
                )  # fmt: skip
                if version is not None:
                    row.hash_version = version
                s.flush()
            prev = row.hash


@pytest.fixture
def keyed(engine: Any) -> sessionmaker[Any]:
    return make_sessionmaker(engine, KEY)


@pytest.fixture
def anchor_file(tmp_path: Path) -> Path:
    return tmp_path / "audit-anchors.jsonl"


def test_an_untouched_chain_with_entries_from_before_the_key_verifies(
    engine: Any, keyed: sessionmaker[Any], anchor_file: Path
) -> None:
    write(make_sessionmaker(engine), 3)  # written before the desk had an audit key
    write(keyed, 3, start=3)
    head = anchor(keyed, anchor_file)
    write(keyed, 2, start=6)
    result = verify(keyed, anchor_file)
    assert result.ok and result.checked == 8, result.summary()
    assert head is not None and result.anchored_at == head.at
    assert "8 entries verified, matches the head anchored" in result.summary()
    with keyed() as s:
        versions = list(s.scalars(select(AuditEntry.hash_version).order_by(AuditEntry.id)))
    assert versions == [1, 1, 1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("deleted", [1, 50, "all"])
def test_deleting_the_newest_entries_is_caught(
    keyed: sessionmaker[Any], anchor_file: Path, deleted: int | str
) -> None:
    write(keyed, 60)
    anchor(keyed, anchor_file)
    where = "" if deleted == "all" else f" WHERE id > {60 - int(deleted)}"
    with keyed.begin() as s:
        s.execute(text("DELETE FROM audit_log" + where))
    result = verify(keyed, anchor_file)
    assert not result.ok and result.broken_id == 60
    assert "newest entries were deleted" in (result.problem or ""), result.summary()
    assert "60 entries up to entry 60" in result.summary()


def test_an_actor_rewritten_and_rehashed_without_the_key_is_caught(
    keyed: sessionmaker[Any], anchor_file: Path
) -> None:
    write(keyed, 6)
    with keyed.begin() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    rehash_unkeyed(keyed, 3)
    result = verify(keyed, anchor_file)  # no anchor yet: the key alone catches it
    assert not result.ok and result.broken_id == 3 and "changed" in (result.problem or "")


def test_a_chain_downgraded_to_unkeyed_and_rehashed_is_caught(
    keyed: sessionmaker[Any], anchor_file: Path
) -> None:
    write(keyed, 6)
    anchor(keyed, anchor_file)
    with keyed.begin() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    rehash_unkeyed(keyed, 3, version=audit.UNKEYED)  # only the tail: the mix gives it away
    tail = verify(keyed, anchor_file)
    assert not tail.ok and tail.broken_id == 3 and "without the key" in (tail.problem or "")
    rehash_unkeyed(keyed, 1, version=audit.UNKEYED)  # the whole chain: the anchor gives it away
    whole = verify(keyed, anchor_file)
    assert not whole.ok and whole.broken_id == 6 and "rewritten" in (whole.problem or "")


def test_a_wrong_or_missing_key_fails_clearly(
    engine: Any, keyed: sessionmaker[Any], anchor_file: Path
) -> None:
    write(keyed, 4)
    unanchored = verify(make_sessionmaker(engine, OTHER_KEY), anchor_file)
    assert not unanchored.ok and unanchored.broken_id == 1
    assert "audit key" in (unanchored.problem or "")
    no_key = verify(make_sessionmaker(engine), anchor_file)
    assert not no_key.ok and "AUDIT_KEY_FILE" in (no_key.problem or "")
    anchor(keyed, anchor_file)
    anchored = verify(make_sessionmaker(engine, OTHER_KEY), anchor_file)
    assert not anchored.ok and "audit key is not the one" in anchored.summary()
    with pytest.raises(ConfigError, match="AUDIT_KEY_FILE"):
        write(make_sessionmaker(engine), 1)  # no unkeyed entry after a keyed one


def test_a_forged_anchor_line_is_caught(keyed: sessionmaker[Any], anchor_file: Path) -> None:
    write(keyed, 5)
    anchor(keyed, anchor_file)
    line = json.loads(anchor_file.read_text())
    line["count"], line["last_id"] = 3, 3  # hide the two newest entries before deleting them
    anchor_file.write_text(json.dumps(line) + "\n")
    result = verify(keyed, anchor_file)
    assert not result.ok and "not signed with the audit key" in result.summary()


def test_the_digest_anchors_the_head_and_names_it(db_url: str, tmp_path: Path) -> None:
    settings = settings_for(
        db_url, tmp_path, SMTP_URL="smtp://127.0.0.1:2525", DIGEST_RECIPIENTS="cfo@example.com"
    )
    from core.config import ensure_audit_key
    from core.db import make_engine, migrate

    settings = ensure_audit_key(settings)
    engine = make_engine(db_url)
    migrate(engine)
    Session = make_sessionmaker(engine, settings.audit_key)
    write(Session, 4)
    with Session.begin() as s:
        result = write_digest(s, settings, date(2026, 1, 5), reports=("failed_payments",))
    assert result.audit_head is not None and result.audit_head.count == 4
    head = json.loads((result.folder / "audit-head.json").read_text())
    assert head["count"] == 4 and head["last_hash"] == result.audit_head.last_hash
    with Session() as s:
        mail = s.execute(text("SELECT body FROM outbox_messages")).scalar_one()
    assert result.audit_head.summary() in mail
    key = settings.audit_key.reveal() if settings.audit_key else "missing"
    files = [*result.folder.iterdir(), settings.audit_anchor_path]
    assert all(key not in p.read_bytes().decode("latin-1") for p in files) and key not in mail
    with Session.begin() as s:
        s.execute(text("DELETE FROM audit_log WHERE id = 4"))
    with Session() as s:
        cut = anchors.verify_trail(s, settings.audit_anchor_path)
    assert not cut.ok and "newest entries were deleted" in cut.summary()
    engine.dispose()
