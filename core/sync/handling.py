"""What event handlers see and how they register: `EventContext`, `@handles` (with a batch's
`prepare` loader and `relevant` pre-filter), and the batch's shared dict (`EventContext.batch`,
also reachable from the session while the batch runs). The queue itself is
core/sync/processing.py, which re-exports these names.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Integer, Table, Text, any_, bindparam, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, configure_mappers

from core.config import DEFAULT_POLICY_FILE, Settings
from core.handlers import BRIEF_MODULES, HANDLER_MODULES
from core.models.sync import Event


@dataclass(frozen=True, eq=False)
class EventContext:
    """What a handler sees of one event. The payload is decoded when first read (`payload`,
    `obj`, `previous_attributes`): most events of a batch are ruled out by their type, their
    object id or `mentions` without it."""

    event_id: str
    type: str
    created: int
    account: str
    api_version: str | None
    raw: str | bytes | dict[str, Any] | None  # the stored payload, JSON text until first read
    settings: Settings | None = None  # the run's settings; None in unit tests (shipped defaults)
    # What the batch's `prepare` loaders read in bulk, shared by every event of the batch
    # (empty outside a batch: handlers then look things up one by one).
    batch: dict[str, Any] = field(default_factory=dict, repr=False)
    object_id: str | None = None  # data.object.id, as stored beside the payload
    # Reads the stored payload when `raw` is None (a batch reads those of one type together,
    # when the first of them is read: events ruled out by their type or object id never are).
    fetch: Callable[[], str | bytes | dict[str, Any]] | None = field(default=None, repr=False)

    @cached_property
    def stored(self) -> str | bytes | dict[str, Any]:
        """The stored payload as given (JSON text, or decoded), read when first needed."""
        if self.raw is None and self.fetch is not None:
            return self.fetch()
        return self.raw if self.raw is not None else {}

    @cached_property
    def payload(self) -> dict[str, Any]:
        """The whole event."""
        raw = orjson.loads(self.stored) if isinstance(self.stored, str | bytes) else self.stored
        return raw if isinstance(raw, dict) else {}

    @cached_property
    def obj(self) -> dict[str, Any]:
        """data.object (empty when missing)."""
        data = self.payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        return obj if isinstance(obj, dict) else {}

    @cached_property
    def previous_attributes(self) -> dict[str, Any] | None:
        """data.previous_attributes of an `*.updated` event."""
        data = self.payload.get("data")
        prev = data.get("previous_attributes") if isinstance(data, dict) else None
        return prev if isinstance(prev, dict) else None

    @property
    def object_key(self) -> str:
        """data.object.id as text, without decoding the payload when it was stored apart."""
        return self.object_id if self.object_id is not None else str(self.obj.get("id"))

    def mentions(self, text: str) -> bool:
        """Whether the stored payload may contain `text` (a quoted JSON string such as
        '"canceled"'): False only when it certainly does not, without decoding it."""
        if isinstance(self.stored, str):
            return text in self.stored
        if isinstance(self.stored, bytes):
            return text.encode() in self.stored
        return True

    @property
    def policy_file(self) -> Path:
        """The policy file this run works under (`POLICY_FILE`, wherever it was set)."""
        return self.settings.policy_file if self.settings else DEFAULT_POLICY_FILE

    @property
    def team_timezone(self) -> str:
        """The team's time zone (`TEAM_TIMEZONE`) for texts written while handling."""
        return self.settings.team_timezone if self.settings else "UTC"


Handler = Callable[[Session, EventContext], None]
# Once per batch, given every handled event of the batch: the ids of its own events it has
# work for (events earlier in the batch may create what it looks for, hence the whole batch).
Relevance = Callable[[Session, list[EventContext]], set[str]]
# Once per batch, before any event runs: bulk reads into the batch's shared dict. Only what the
# batch's own handlers never write may be kept there (it is not refreshed between events).
Prepare = Callable[[Session, list[EventContext], dict[str, Any]], None]
# EventContext.batch key: {event id: exception} — events a `prepare` loader already knows to
# fail as their handler would (e.g. MissingObject: what they need is not stored and nothing
# earlier in the batch can store it). They are recorded as failed without running.
FAILS_EARLY = "processing.fails_early"
# session.info key: the running batch's shared dict, for code that is handed only the session.
BATCH_INFO = "ledgerdesk.processing_batch"
# EventContext.batch key: what the running event asked to be done once its work is kept (its
# savepoint released), e.g. a batch-wide tally updated with what it wrote; see `when_kept`.
WHEN_KEPT = "processing.when_kept"
HANDLERS: dict[str, list[Handler]] = {}
RELEVANCE: dict[Handler, Relevance] = {}
PREPARE: dict[Handler, Prepare] = {}
# Handlers whose pre-filter reads no payload (only the stored type, object id, ...): their
# events' payloads are read only for the events it keeps.
LATE_PAYLOAD: set[Handler] = set()
_STARTED: list[bool] = []  # load_handler_modules has frozen the start-up heap


def handles(
    *event_types: str,
    relevant: Relevance | None = None,
    prepare: Prepare | None = None,
    payload_after_relevance: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler for event types ("invoice.payment_failed", or "invoice.*").

    `relevant`, when given, is asked once per batch (shown every handled event of the batch)
    which of the handler's events it has work for; it must never leave out one the handler
    would change anything for. `prepare`, when given, is called once per batch (before
    `relevant`) with the batch's handled events and the dict they share as `event.batch`.
    `payload_after_relevance` (with `relevant`, which then must read no payload): the
    payloads of the handler's events are read only for those `relevant` keeps.
    """

    def register(fn: Handler) -> Handler:
        for etype in event_types:
            bucket = HANDLERS.setdefault(etype, [])
            if fn not in bucket:
                bucket.append(fn)
        if relevant is not None:
            RELEVANCE[fn] = relevant
        if prepare is not None:
            PREPARE[fn] = prepare
        if payload_after_relevance and relevant is not None:
            LATE_PAYLOAD.add(fn)
        return fn

    return register


def handlers_for(event_type: str) -> list[Handler]:
    """Handlers for an exact type, then for its wildcard prefixes ("charge.dispute.*", "*")."""
    found = list(HANDLERS.get(event_type, []))
    parts = event_type.split(".")
    for i in range(len(parts) - 1, -1, -1):
        for fn in HANDLERS.get(".".join(parts[:i] + ["*"]), []):
            if fn not in found:
                found.append(fn)
    return found


def batch_of(session: Session) -> dict[str, Any]:
    """The shared dict of the batch this session is processing (empty outside a batch)."""
    found = session.info.get(BATCH_INFO)
    return found if isinstance(found, dict) else {}


def when_kept(session: Session, fn: Callable[[], None]) -> bool:
    """Run `fn` once the running event's work is kept (not when it fails and is rolled back).
    False outside a batch (nothing is registered: the caller keeps no batch-wide state)."""
    pending = batch_of(session).get(WHEN_KEPT)
    if not isinstance(pending, list):
        return False
    pending.append(fn)
    return True


def load_handler_modules(modules: Iterable[str] | None = None) -> None:
    """Import the handler modules (core/handlers.py) so their @handles run, and what they plug
    into (the alert briefs), then configure the ORM's mappers: a worker does this once as it
    starts rather than in its first batch.

    The first time (a worker starting), what start-up loaded (modules, mappers, compiled
    templates: hundreds of thousands of objects that live as long as the process) is moved out
    of the garbage collector's reach (`gc.freeze`), so its full collections, which a batch's
    decoded payloads trigger, no longer walk all of it each time (~0.1 s each)."""
    for name in HANDLER_MODULES if modules is None else modules:
        importlib.import_module(name)
    if modules is None:
        for name in BRIEF_MODULES:
            importlib.import_module(name)
    configure_mappers()
    if modules is None and not _STARTED:
        _STARTED.append(True)
        gc.collect()
        gc.freeze()


def context_of(
    row: Event | Any,
    settings: Settings | None = None,
    batch: dict[str, Any] | None = None,
    payload: str | bytes | dict[str, Any] | None = None,
    fetch: Callable[[], str | bytes | dict[str, Any]] | None = None,
) -> EventContext:
    """The handler's view of a stored event (an Event, or a row with the same columns; the
    payload, when given apart, may be JSON text: it is decoded when first read; with `fetch`
    and no payload, it is read when first needed)."""
    if payload is None and fetch is None:
        payload = row.payload
    return EventContext(
        event_id=row.event_id,
        type=row.type,
        created=row.created,
        account=row.account,
        api_version=row.api_version,
        raw=payload,
        settings=settings,
        batch=batch if batch is not None else {},
        object_id=getattr(row, "object_id", None),
        fetch=fetch,
    )


def on_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def ids_in(column: Any, postgresql: bool) -> Any:
    """`column` among the `ids` parameter: an IN list on SQLite, `= ANY(array)` on PostgreSQL
    (one parameter: the statement's text is the same whatever the number of ids)."""
    if postgresql:
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


_EVENTS = cast(Table, Event.__table__)
_PAYLOADS = {
    pg: select(_EVENTS.c.id, sql_cast(_EVENTS.c.payload, Text)).where(ids_in(_EVENTS.c.id, pg))
    for pg in (False, True)
}
_CHUNK = 1000  # ids per statement (well under SQLite's parameter limit)


def _payloads(session: Session, ids: list[int]) -> dict[int, str]:
    """The payloads (as JSON text) of these claimed events, in one query per 1,000."""
    found: dict[int, str] = {}
    stmt = _PAYLOADS[on_postgresql(session)]
    for i in range(0, len(ids), _CHUNK):
        for eid, text in session.execute(stmt, {"ids": ids[i : i + _CHUNK]}):
            found[eid] = text
    return found


class BatchPayloads:
    """The payloads of a batch's handled events, read in one query when the first is read,
    except those of types whose handlers' pre-filters need no payload (`handles(...,
    payload_after_relevance=True)`): these are read only for the events the pre-filters keep,
    together, when the first of them is read."""

    def __init__(self, session: Session, rows: list[Any], typed: dict[str, list[Handler]]) -> None:
        self._session = session
        self._later = {t for t, fns in typed.items() if fns and set(fns) <= LATE_PAYLOAD}
        self._pending: dict[str, set[int]] = {}
        for row in rows:
            self._pending.setdefault(row.type, set()).add(row.id)
        self._found: dict[int, str] = {}
        self._filtered = False

    def reader(self, row: Any) -> Any:
        """What reads this event's payload (JSON text; "{}" when it has none)."""
        return lambda: self._read(row.id, row.type)

    def only(self, ids: set[int]) -> None:
        """The pre-filters have run: only these events' payloads are still wanted."""
        for pending in self._pending.values():
            pending &= ids
        self._filtered = True

    def _read(self, event_id: int, event_type: str) -> str:
        if event_id not in self._found:
            wanted = {event_id} | self._pending.pop(event_type, set())
            for etype in list(self._pending):
                if self._filtered or etype not in self._later:
                    wanted |= self._pending.pop(etype)
            self._found |= _payloads(self._session, sorted(wanted))
        return self._found.get(event_id) or "{}"
