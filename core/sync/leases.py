"""Stripe accounts leased per sync worker, so any number of workers share a Connect platform.

Each account has a row in `account_leases`. A worker claims one due account at a time with
`SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises claims):
two workers never pick the same row and never wait for each other. The claim writes the
worker's name and an expiry on the database's clock, so machines with different clocks agree.
While the account syncs, a heartbeat renews the lease; the release records when it finished.
A worker that dies leaves its lease to expire; the account is then due again for anyone. On
the dead worker's own machine the lease is taken over at once: its process is known to be gone.

An account is due when its last sync never finished, or started before `threshold`: the start
of a one-shot pass (`jobs sync --once`, the scheduler's sync), or "one interval ago" for a
looping worker, so every account is synced once per interval whatever the number of workers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import insert_ignore
from core.models.sync import AccountLease

LEASE_SECONDS = 60.0
log = logging.getLogger("ledgerdesk.sync.leases")


def database_now(session: Session) -> datetime:
    """The time on the database's clock (PostgreSQL); SQLite lives on this machine's."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(select(func.clock_timestamp()))
        if isinstance(value, datetime):
            return value.astimezone(UTC)
    return datetime.now(UTC)


def _process_space() -> str:
    """A tag shared exactly by the processes whose pids this one can check: same kernel boot,
    same PID namespace (containers on one machine differ)."""
    parts = []
    for path in (Path("/proc/sys/kernel/random/boot_id"), Path("/proc/self/ns/pid")):
        try:
            parts.append(str(path.readlink()) if path.name == "pid" else path.read_text())
        except OSError:  # not Linux: the host name stands in
            parts.append(socket.gethostname())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


SPACE = _process_space()


def worker_name() -> str:
    """host:pid:random:space, unique per process (a restarted pid is a new worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}:{SPACE}"


def dead_here(holder: str | None) -> bool:
    """Whether `holder` is a worker of this machine (and PID namespace) that no longer runs:
    its lease need not be waited out. Workers elsewhere are only known dead by expiry."""
    parts = (holder or "").split(":")
    if len(parts) != 4 or parts[3] != SPACE or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class AccountLeases:
    """One worker's view of the account leases; `claims()` yields the accounts it may sync."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        holder: str | None = None,
        seconds: float = LEASE_SECONDS,
    ) -> None:
        self.Session = session_factory
        self.holder = holder or worker_name()
        self.seconds = seconds
        self.held: set[str] = set()
        self.lost: set[str] = set()
        self._lock = threading.Lock()

    def register(self, accounts: Sequence[str]) -> None:
        """A row per configured account; rows of accounts no longer configured (and not held)
        are dropped. Every worker sharing a database is expected to share one configuration."""
        wanted = set(accounts)
        with self.Session.begin() as session:
            now = database_now(session)
            known = set(session.scalars(select(AccountLease.account)))
            missing = [{"account": a} for a in accounts if a not in known]
            for start in range(0, len(missing), 1000):
                # workers starting together register the same accounts: the first one wins
                rows = missing[start : start + 1000]
                insert_ignore(session, AccountLease.__table__, rows, ["account"])  # type: ignore[arg-type]
            gone = sorted(known - wanted)
            for start in range(0, len(gone), 1000):
                session.execute(
                    delete(AccountLease)
                    .where(AccountLease.account.in_(gone[start : start + 1000]))
                    .where(_free(now))
                )

    def start(self) -> datetime:
        """Now, on the database's clock: the threshold of a one-shot pass."""
        with self.Session() as session:
            return database_now(session)

    def claim(
        self,
        *,
        threshold: datetime | None = None,
        every: float | None = None,
        only: str | None = None,
    ) -> str | None:
        """Lease the longest-waiting due account (None when none is free and due).

        `threshold`: due when last started before it; `every`: due when last started at least
        that many seconds ago (a looping worker); `only`: just this account.
        """
        with self.Session.begin() as session:
            now = database_now(session)
            limit = threshold if every is None else now - timedelta(seconds=every)
            if limit is None:
                raise ValueError("claim() needs a threshold or an interval")
            held_here = session.scalars(
                select(AccountLease.holder)
                .where(AccountLease.expires_at > now)
                .where(AccountLease.holder.like(f"%:{SPACE}"))
                .distinct()
            )
            dead = [h for h in held_here if h != self.holder and dead_here(h)]
            free = or_(_free(now), AccountLease.holder.in_(dead)) if dead else _free(now)
            query = select(AccountLease.account).where(free)
            if only is not None:
                query = query.where(AccountLease.account == only)
            account: Any = session.scalar(
                query.where(
                    or_(
                        AccountLease.finished_at.is_(None),
                        AccountLease.started_at.is_(None),
                        AccountLease.started_at < limit,
                    )
                )
                .order_by(AccountLease.started_at.asc().nulls_first(), AccountLease.account)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if account is None:
                return None
            session.execute(
                update(AccountLease)
                .where(AccountLease.account == account)
                .values(
                    holder=self.holder,
                    expires_at=now + timedelta(seconds=self.seconds),
                    started_at=now,
                    finished_at=None,
                )
            )
        with self._lock:
            self.held.add(account)
        return str(account)

    def seconds_until_due(self, every: float) -> float:
        """How long a looping worker may sleep: until the next free account falls due or the
        next held lease expires (a worker that died), at most `every`."""
        with self.Session() as session:
            now = database_now(session)
            oldest = session.scalar(select(func.min(AccountLease.started_at)).where(_free(now)))
            expiry = session.scalar(
                select(func.min(AccountLease.expires_at)).where(AccountLease.expires_at > now)
            )
        times = [t for t in (oldest and oldest + timedelta(seconds=every), expiry) if t]
        wait = min((t - now).total_seconds() for t in times) if times else every
        return min(every, max(0.01, wait))

    def renew(self) -> None:
        """Push the expiry of every held lease out by a lease length; note any lost."""
        with self._lock:
            held = sorted(self.held)
        if not held:
            return
        with self.Session.begin() as session:
            now = database_now(session)
            kept = set(
                session.scalars(
                    update(AccountLease)
                    .where(AccountLease.account.in_(held))
                    .where(AccountLease.holder == self.holder)
                    .values(expires_at=now + timedelta(seconds=self.seconds))
                    .returning(AccountLease.account)
                )
            )
        for account in set(held) - kept:
            if account not in self.lost:
                log.error(
                    "lease on account %s lost (this worker stalled past its lease); another "
                    "worker may sync it too",
                    account or "platform",
                )
                self.lost.add(account)

    def release(self, account: str) -> None:
        """Give the account back and record that its sync finished."""
        with self._lock:
            self.held.discard(account)
        with self.Session.begin() as session:
            now = database_now(session)
            session.execute(
                update(AccountLease)
                .where(AccountLease.account == account, AccountLease.holder == self.holder)
                .values(expires_at=now, finished_at=now)
            )

    def abandon(self) -> None:
        """On the way out without finishing: free what is held, leaving those accounts due."""
        with self._lock:
            held, self.held = sorted(self.held), set()
        if not held:
            return
        with self.Session.begin() as session:
            session.execute(
                update(AccountLease)
                .where(AccountLease.account.in_(held), AccountLease.holder == self.holder)
                .values(expires_at=database_now(session))
            )

    @contextmanager
    def renewing(self) -> Iterator[None]:
        """Renew the held leases from a background thread, three times per lease length."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.seconds / 3):
                try:
                    self.renew()
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried next time
                    log.error("account leases not renewed: %s", exc)

        thread = threading.Thread(target=beat, name="account-leases", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)


def _free(now: datetime) -> Any:
    """Not held: never leased, released, or the holder's lease expired."""
    return or_(AccountLease.expires_at.is_(None), AccountLease.expires_at <= now)
