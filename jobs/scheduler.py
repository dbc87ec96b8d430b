"""`python -m jobs scheduler`: run the jobs of jobs/schedule_plan.py on their intervals.

One scheduler at a time: it holds a lease row in `job_leases`, renewed by a heartbeat thread;
a second scheduler (on this machine or another, sharing the database) exits with a clear
message, and takes over only once the first one's lease has expired. A failing job is logged
and retried on its next interval; it never stops the scheduler.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import schedule
from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import insert_ignore, record_storage_error, storage_error
from core.errors import ConflictError
from core.governance.anchors import anchor_head
from core.models.sync import JobLease
from core.sync.connect import synced_accounts
from core.sync.health import first_load
from core.sync.leases import database_now
from jobs.runtime import Runtime, open_runtime
from jobs.schedule_plan import AFTER_FIRST_LOAD, ONE_AT_A_TIME, PLAN

HELP = "run sync, process and the other jobs on their intervals (one scheduler at a time)"
LEASE_NAME = "scheduler"
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 15
log = logging.getLogger("ledgerdesk.scheduler")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the scheduler command."""
    parser.add_argument("--once", action="store_true", help="run every job once, then exit")
    parser.add_argument("--only", action="append", help="run only this job (repeatable)")


def acquire_lease(
    session_factory: sessionmaker[Session], holder: str, *, seconds: int = LEASE_SECONDS
) -> bool:
    """Take or renew the lease; False while another live holder has it.

    One conditional UPDATE decides, on the database's clock: schedulers on several machines
    compare their leases on one clock, whatever theirs say.
    """
    with session_factory.begin() as session:
        now = database_now(session)
        insert_ignore(
            session,
            JobLease.__table__,  # type: ignore[arg-type]
            [
                {
                    "name": LEASE_NAME,
                    "holder": holder,
                    "acquired_at": now,
                    "expires_at": now,
                }
            ],
            ["name"],
        )
        result: Any = session.execute(
            update(JobLease)
            .where(JobLease.name == LEASE_NAME)
            .where(or_(JobLease.holder == holder, JobLease.expires_at <= now))
            .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
        )
        return bool(getattr(result, "rowcount", 0))


RELEASE_WAIT_SECONDS = 5.0


def release_lease(
    session_factory: sessionmaker[Session], holder: str, *, wait: float = RELEASE_WAIT_SECONDS
) -> bool:
    """Give the lease up (on a clean exit) so a successor need not wait for expiry; False when
    that could not be done within `wait` seconds (a job still writing holds SQLite's lock):
    the scheduler stops anyway, and the lease expires by itself within LEASE_SECONDS."""
    done = threading.Event()

    def give_back() -> None:
        try:
            with session_factory.begin() as session:
                session.execute(
                    update(JobLease)
                    .where(JobLease.name == LEASE_NAME, JobLease.holder == holder)
                    .values(expires_at=database_now(session))
                )
            done.set()
        except Exception as exc:  # noqa: BLE001 - stopping must not fail on the way out
            log.warning("scheduler lease not given back (%s); it expires by itself", exc)

    threading.Thread(target=give_back, name="scheduler-release", daemon=True).start()
    if done.wait(wait):
        return True
    log.warning(
        "scheduler lease not given back within %.0f s (a job still holds the database); it "
        "expires by itself within %d s",
        wait,
        LEASE_SECONDS,
    )
    return False


def current_holder(session_factory: sessionmaker[Session]) -> JobLease | None:
    """Who holds the lease now, if anyone."""
    with session_factory() as session:
        lease = session.get(JobLease, LEASE_NAME)
        return lease if lease and lease.expires_at > database_now(session) else None


def resolve(target: str) -> Callable[[Runtime], object]:
    """'jobs.sync:scheduled' → the function."""
    module, _, name = target.partition(":")
    fn: Callable[[Runtime], object] = getattr(importlib.import_module(module), name)
    return fn


def first_load_done(runtime: Runtime) -> bool:
    """Whether every configured account has its first complete load (see core.sync.health)."""
    with runtime.Session() as session:
        return first_load(session, synced_accounts(session, runtime.settings)).complete


def run_job(runtime: Runtime, name: str, fn: Callable[[Runtime], object]) -> bool:
    """Run one job, logging exactly one line; never raise."""
    started = time.monotonic()
    try:
        summary = fn(runtime)
    except Exception as exc:  # noqa: BLE001 - one failing job must not stop the scheduler
        storage = storage_error(exc, runtime.settings.database_url)
        if storage is not None:  # disk full, damaged, locked...: counted for status and the page
            record_storage_error(runtime.settings.data_dir, storage)
        log.error("job=%s FAILED in %.2fs: %s", name, time.monotonic() - started, storage or exc)
        return False
    log.info("job=%s ok in %.2fs: %s", name, time.monotonic() - started, summary or "")
    anchor_audit_head(runtime)
    return True


def anchor_audit_head(runtime: Runtime) -> None:
    """Record the audit chain's head outside the database once a job has moved it; never raise."""
    try:
        with runtime.Session() as session:
            anchor_head(session, runtime.settings.audit_anchor_path)
    except Exception as exc:  # noqa: BLE001 - anchoring must not stop the scheduler
        log.error("audit head not anchored: %s", exc)


def give_back_memory() -> None:
    """Return the memory a finished job freed to the system (glibc keeps freed heap pages
    otherwise), so the next job starts from the scheduler's base, not from the last peak."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl without the symbol): nothing to trim
        return None


_LIBC = _libc()


class JobLanes:
    """Each job runs in its own thread, so a slow one (books, digest) never delays the sync.

    A job whose previous run is still going skips that interval instead of piling up. The jobs
    that read the whole store (ONE_AT_A_TIME) take turns, so their working sets never add up
    (they all start together once the first load has finished).
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.locks: dict[str, threading.Lock] = {}
        self.threads: list[threading.Thread] = []
        self.deferred: dict[str, Callable[[Runtime], object]] = {}
        self.heavy = threading.Lock()
        self._loaded = False
        self._checked = 0.0

    def loaded(self, *, every: float = 5.0) -> bool:
        """Whether the first complete load has finished (checked at most every few seconds)."""
        if not self._loaded and time.monotonic() - self._checked >= every:
            self._checked = time.monotonic()
            self._loaded = first_load_done(self.runtime)
        return self._loaded

    def release_deferred(self) -> None:
        """Run the jobs that waited for the first complete load, once it has finished."""
        if self.deferred and self.loaded():
            waiting, self.deferred = self.deferred, {}
            for name, fn in waiting.items():
                self.launch(name, fn)

    def launch(self, name: str, fn: Callable[[Runtime], object]) -> None:
        """Start one run of `name` unless it is still running (or waits for the first load)."""
        if name in AFTER_FIRST_LOAD and not self.loaded(every=0.0):
            if name not in self.deferred:
                log.info("job=%s waits for the first complete load from Stripe", name)
            self.deferred[name] = fn
            return
        lock = self.locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            log.info("job=%s still running; skipped this interval", name)
            return

        def work() -> None:
            try:
                if name in ONE_AT_A_TIME:
                    with self.heavy:  # waits its turn: a daily job is late, never skipped
                        run_job(self.runtime, name, fn)
                else:
                    run_job(self.runtime, name, fn)
            finally:
                lock.release()
                give_back_memory()

        thread = threading.Thread(target=work, name=f"job-{name}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def wait(self, timeout: float) -> None:
        """Give running jobs a moment to finish on shutdown."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (systemd, docker stop, `make run` ending) stop the scheduler cleanly:
    its lease given back, its jobs left to the next one. SIGINT is handled even when the process
    was started with it ignored (as a background job of a shell script is), where Ctrl-C or a
    supervisor's SIGINT would otherwise leave it running."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminated)


def run(args: argparse.Namespace) -> int:
    """Hold the lease and run the plan until interrupted (or once with --once)."""
    runtime = open_runtime()
    holder = f"{socket.gethostname()}:{os.getpid()}"
    if not acquire_lease(runtime.Session, holder):
        lease = current_holder(runtime.Session)
        who = f"{lease.holder}, lease until {lease.expires_at:%H:%M:%S} UTC" if lease else "?"
        raise ConflictError(
            f"Another scheduler is already running ({who}); stop it first, or wait for its "
            "lease to expire if it crashed."
        )
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            if not acquire_lease(runtime.Session, holder):
                log.error("lost the scheduler lease to another process; stopping")
                stop.set()

    threading.Thread(target=heartbeat, name="scheduler-lease", daemon=True).start()
    stop_on_signals()
    jobs = [
        (name, interval or runtime.settings.sync_interval_seconds, resolve(target))
        for name, interval, target in PLAN
        if not args.only or name in args.only
    ]
    log.info("scheduler %s running %s", holder, ", ".join(f"{n}/{i}s" for n, i, _ in jobs))
    try:
        if args.once:
            results = []
            for name, _, fn in jobs:  # in plan order, so the sync comes first; even after a failure
                if name in AFTER_FIRST_LOAD and not first_load_done(runtime):
                    log.info("job=%s skipped: the first load from Stripe has not finished", name)
                    continue
                results.append(run_job(runtime, name, fn))
            return 0 if all(results) else 1
        lanes = JobLanes(runtime)
        scheduler = schedule.Scheduler()
        for name, interval, fn in jobs:
            lanes.launch(name, fn)  # a first run of everything at start
            scheduler.every(interval).seconds.do(lanes.launch, name, fn)
        while not stop.is_set():
            scheduler.run_pending()
            lanes.release_deferred()
            idle = scheduler.idle_seconds
            stop.wait(min(1.0, max(0.05, idle if idle is not None else 1.0)))
        lanes.wait(timeout=30)
        return 1
    finally:
        stop.set()
        release_lease(runtime.Session, holder)
