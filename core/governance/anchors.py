"""The audit chain's head, anchored outside the database.

An anchor is one JSON line appended to AUDIT_ANCHOR_FILE (<data dir>/audit-anchors.jsonl): how
many entries the log had, the id and hash of the newest one, when, and which audit key signed
it, with an HMAC of all that under the audit key (`mac`), so a line cannot be forged without the
key. The head is anchored when a scheduled job has run, by the daily digest and by `audit
export`, each time after checking what was appended since the previous anchor.

`verify_trail` walks the chain and then holds it against the anchor with the most entries:
fewer entries than anchored, or another hash at the anchored position, means the newest entries
were deleted or the chain was rewritten, which the chain alone cannot show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.governance.audit import VerifyResult, session_key, verify, verify_from
from core.models.base import utcnow
from core.models.governance import AuditEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """The head of the chain at one moment: entry count, newest id and hash, time."""

    count: int
    last_id: int
    last_hash: str
    at: str
    keyed: bool  # the head (or an entry before it) is signed with the audit key
    key_id: str  # which audit key signed the line (derived from it; never the key itself)

    def summary(self) -> str:
        """One line for the digest and the export."""
        return (
            f"audit trail head: {self.count} entries, newest entry {self.last_id}, "
            f"hash {self.last_hash}, anchored {self.at}"
        )


def key_id(key: bytes) -> str:
    """A short, public name for the audit key: tells a changed key from a changed entry."""
    return hmac.new(key, b"ledgerdesk audit key id", hashlib.sha256).hexdigest()[:16]


def _canonical(anchor: Anchor) -> bytes:
    return json.dumps(asdict(anchor), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _mac(key: bytes, anchor: Anchor) -> str:
    return hmac.new(key, _canonical(anchor), hashlib.sha256).hexdigest()


def read_newest(path: Path, key: bytes | None) -> tuple[Anchor | None, str | None]:
    """The anchor with the most entries (None before the first), or what is wrong with the file."""
    if not path.exists():
        return None, None
    if key is None:
        return None, (
            f"the audit trail is anchored in {path} but this process has no audit key: "
            "set AUDIT_KEY_FILE to the desk's key file"
        )
    newest: Anchor | None = None
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                mac = data.pop("mac")
                anchor = Anchor(**data)
            except (ValueError, TypeError, KeyError):
                return None, f"line {n} of {path} is not an anchor (the file was edited)"
            if anchor.key_id != key_id(key):
                return None, (
                    f"the audit key is not the one the trail was anchored with (line {n} of "
                    f"{path}): restore the desk's key file and check AUDIT_KEY_FILE"
                )
            if not hmac.compare_digest(str(mac), _mac(key, anchor)):
                return None, f"line {n} of {path} is not signed with the audit key (it was edited)"
            if newest is None or anchor.count >= newest.count:
                newest = anchor
    return newest, None


def check_against(session: Session, result: VerifyResult, anchor: Anchor) -> VerifyResult:
    """An intact walk held against an anchored head: deleted newest entries, rewritten chain."""
    anchored = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == anchor.last_id))
    if anchored is None or result.checked < anchor.count:
        gone = max(anchor.count - result.checked, 1)
        return VerifyResult(
            False,
            result.checked,
            anchor.last_id,
            f"the newest entries were deleted: {anchor.count} entries up to entry "
            f"{anchor.last_id} were anchored {anchor.at}, the log now has {result.checked} "
            f"(at least {gone} missing)",
        )
    if anchored != anchor.last_hash:
        return VerifyResult(
            False,
            result.checked,
            anchor.last_id,
            f"the chain was rewritten: this entry's hash is not the one anchored {anchor.at}",
        )
    return replace(result, anchored_at=anchor.at)


@dataclass(frozen=True)
class HeadCheck:
    """The table held against the newest anchor with a few queries (no walk of the chain)."""

    anchor: Anchor | None
    entries: int  # rows in the table now
    anchored_entries: int  # rows up to the anchored head (all `anchor.count` of them if intact)
    head_present: bool  # the anchored newest entry is still in the table
    state: str  # "verified" | "cut" | "rewritten" | "unanchored" | "unreadable"
    problem: str | None = None  # why the anchor file could not be read


def check_head(session: Session, anchor_file: Path) -> HeadCheck:
    """Are the anchored entries all still there, the anchored head unchanged? Cheap enough for
    every page refresh; the chain itself (edits further back) is walked by `verify`."""
    entries = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    anchor, problem = read_newest(anchor_file, session_key(session))
    if problem:
        return HeadCheck(None, entries, 0, False, "unreadable", problem)
    if anchor is None:
        return HeadCheck(None, entries, 0, False, "unanchored")
    upto = int(session.scalar(select(func.count()).where(AuditEntry.id <= anchor.last_id)) or 0)
    head = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == anchor.last_id))
    if head is None or upto < anchor.count:
        return HeadCheck(anchor, entries, upto, head is not None, "cut")
    if head != anchor.last_hash:
        return HeadCheck(anchor, entries, upto, True, "rewritten")
    return HeadCheck(anchor, entries, upto, True, "verified")


def verify_trail(session: Session, anchor_file: Path) -> VerifyResult:
    """Walk the whole chain and hold it against the newest anchor in `anchor_file`."""
    anchor, problem = read_newest(anchor_file, session_key(session))
    if problem:
        return VerifyResult(False, 0, None, problem)
    result = verify(session)
    if not result.ok or anchor is None:
        return result
    return check_against(session, result, anchor)


def anchor_head(session: Session, anchor_file: Path) -> tuple[Anchor | None, VerifyResult]:
    """Check the entries appended since the newest anchor, then anchor the new head.

    Returns the newest anchor (None while the log is empty or when nothing could be anchored)
    and the check; a broken chain is never anchored.
    """
    key = session_key(session)
    newest, problem = read_newest(anchor_file, key)
    if key is None or problem:
        return None, VerifyResult(False, 0, None, problem or "no audit key")
    if newest is None:
        result = verify(session)
    else:
        since = VerifyResult(True, newest.count, last_id=newest.last_id, last_hash=newest.last_hash)
        result = verify_from(session, replace(since, keyed=newest.keyed))
    if not result.ok:
        log.error("audit chain not anchored: %s", result.summary())
        return None, result
    if newest is not None and result.last_id == newest.last_id:
        return newest, result
    if result.checked == 0:
        return None, result
    anchor = Anchor(
        count=result.checked,
        last_id=result.last_id,
        last_hash=result.last_hash,
        at=utcnow().isoformat(timespec="seconds"),
        keyed=result.keyed,
        key_id=key_id(key),
    )
    line = json.dumps({**asdict(anchor), "mac": _mac(key, anchor)}, sort_keys=True)
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    with anchor_file.open("a", encoding="utf-8") as fh:
        fh.write(
            line + "\n"
        )  # one write of one short line: appends from processes interleave whole
    return anchor, result


def write_head_file(path: Path, anchor: Anchor) -> None:
    """A sidecar naming the head an export or a digest was taken at (no key, no signature)."""
    data = {k: v for k, v in asdict(anchor).items() if k != "key_id"}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
