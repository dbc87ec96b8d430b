"""Scale-out on PostgreSQL: several `jobs process` / `jobs execute` workers share one database.

Each worker is a real `python -m jobs` process with its own connections. A fifth worker is
killed (SIGKILL) while it holds claimed work, detected from the database (its connection has a
transaction id: it has locked rows), not from a clock. Afterwards every event and every action
must have been handled exactly once, the outcome must equal one worker's run over the same
backlog, and the keyed audit chain must verify.
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import text

from core.config import ensure_audit_key
from core.db import make_engine, make_sessionmaker, migrate
from core.governance import actions, audit
from core.governance.executor import METADATA_KEY
from core.models.base import utcnow
from core.sync.ingest import ingest_events
from core.sync.processing import _claim, load_handler_modules, process_batch
from tests.conftest import settings_for
from tests.support.cli import run_jobs, start_jobs
from tests.support.governance import make_refund_request, make_team
from tests.support.pg import ThrowawayPostgres
from tests.support.recovery import failure_backlog as backlog
from tests.support.sandbox import SANDBOX_KEY

INVOICES = 50  # about 200 events: a failure each, a second for a third, half paid, plus noise
ACTIONS = 16
WORKERS = 4


@pytest.fixture
def pg(pg_server: ThrowawayPostgres | None) -> ThrowawayPostgres:
    if pg_server is None:
        pytest.skip("no PostgreSQL server binaries installed (apt-get install postgresql)")
    return pg_server


def copy_database(pg: ThrowawayPostgres, url: str) -> str:
    """A second database with the same content (PostgreSQL's template copy)."""
    source, name = url.rsplit("/", 1)[1], "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(
        f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return url.rsplit("/", 1)[0] + "/" + name


def named(url: str, name: str) -> str:
    """The URL with a connection name the test can find the worker's connections by."""
    return f"{url}?application_name={name}"


def holds_claim(url: str, name: str) -> bool:
    """True while the worker's connection is inside a transaction that locked rows."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity "
            "where application_name = %s and backend_xid is not null",
            (name,),
        ).fetchone()
    return bool(row and row[0])


def row_lock_waits(url: str) -> int:
    """Worker connections waiting for another's row lock (SKIP LOCKED never should)."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where application_name like 'worker%%' "
            "and wait_event_type = 'Lock' and wait_event in ('transactionid', 'tuple')"
        ).fetchone()
    return int(row[0]) if row else 0


def until(check: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll `check` (a safety limit only: the test waits on progress, not on time)."""
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.005)


def run_with_victim(
    folder: Path, url: str, command: list[str], env: dict[str, str], done: Callable[[], bool]
) -> int:
    """Start a victim, then four workers; SIGKILL the victim while it holds a claim; wait until
    `done`; stop the workers. Returns how many row-lock waits were seen on the way."""
    victim = start_jobs(folder, *command, database_url=named(url, "victim"), **env)
    workers: list[subprocess.Popen[str]] = []
    waits = 0
    try:

        def victim_claims() -> bool:
            assert victim.poll() is None, victim.communicate()[1][-3000:]
            return holds_claim(url, "victim")

        until(victim_claims, "the victim's first claim")
        workers = [
            start_jobs(folder, *command, database_url=named(url, f"worker{n}"), **env)
            for n in range(WORKERS)
        ]
        until(lambda: holds_claim(url, "victim"), "the victim's claim beside the workers")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)

        def finished() -> bool:
            nonlocal waits
            waits += row_lock_waits(url)
            for w in workers:
                assert w.poll() is None, w.communicate()[1][-3000:]
            return done()

        until(finished, "the backlog to drain", limit=120)
    finally:
        for p in [victim, *workers]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [victim, *workers]:
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
    assert victim.returncode == -signal.SIGKILL
    return waits


def outcome(url: str) -> dict[str, Any]:
    """What processing left behind, in comparable form."""
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            q: Callable[[str], list[Any]] = lambda sql: [tuple(r) for r in c.execute(text(sql))]  # noqa: E731
            return {
                "events": q("select status, attempts, count(*) from events group by 1, 2"),
                "cases": sorted(
                    q(
                        "select invoice_id, status, closed_reason, recovered_amount, attempt_count "
                        "from recovery_cases"
                    )
                ),
                "case_rows": q("select count(*), count(distinct invoice_id) from recovery_cases"),
                "timeline": Counter(
                    q(
                        "select c.invoice_id, t.source_key from recovery_timeline t "
                        "join recovery_cases c on c.id = t.case_id"
                    )
                ),
                "audit": Counter(q("select action, target from audit_log")),
            }
    finally:
        engine.dispose()


def test_four_workers_and_a_killed_fifth_process_a_backlog_exactly_once(
    pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    settings = ensure_audit_key(settings_for(pg.create_database(), tmp_path))
    reference_url = settings.database_url
    engine = make_engine(reference_url)
    migrate(engine)
    with make_sessionmaker(engine, settings.audit_key).begin() as s:
        ingest_events(s, backlog(INVOICES), source="poll")
    engine.dispose()
    shared_url = copy_database(pg, reference_url)

    # One worker, in this process: what the outcome must be.
    load_handler_modules()
    engine = make_engine(reference_url)
    one = make_sessionmaker(engine, settings.audit_key)
    while process_batch(one, 500, settings=settings).claimed:
        pass
    engine.dispose()
    expected = outcome(reference_url)
    assert expected["case_rows"] == [(INVOICES, INVOICES)]

    def drained() -> bool:
        with psycopg.connect(shared_url.replace("postgresql+psycopg", "postgresql")) as conn:
            row = conn.execute("select count(*) from events where status <> 'processed'").fetchone()
        return row[0] == 0

    env = {"SYNC_INTERVAL_SECONDS": "1"}
    waits = run_with_victim(tmp_path, shared_url, ["process", "--limit", "20"], env, drained)
    got = outcome(shared_url)
    assert got["events"] == expected["events"]  # all processed, none retried
    assert got["case_rows"] == [(INVOICES, INVOICES)]  # every case created once
    assert got["cases"] == expected["cases"]
    assert got["timeline"] == expected["timeline"]
    assert got["audit"] == expected["audit"]  # every entry once: nothing was handled twice
    assert waits == 0, f"workers waited {waits} times for each other's rows"
    verify = run_jobs(tmp_path, "audit", "verify", database_url=shared_url)
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout, verify.stdout


def test_four_executors_and_a_killed_fifth_run_every_approved_action_once(
    pg: ThrowawayPostgres, tmp_path: Path, sandbox: Any
) -> None:
    settings = ensure_audit_key(
        settings_for(
            pg.create_database(),
            tmp_path,
            STRIPE_API_KEY=SANDBOX_KEY,
            STRIPE_API_BASE=sandbox.url,
            LEDGERDESK_SANDBOX="1",
        )
    )
    url = settings.database_url
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine, settings.audit_key)
    charges = fresh_charges(sandbox.url, ACTIONS)
    with Session.begin() as s:
        team = make_team(s)
    ids = []
    for ch in charges:
        with Session.begin() as s:
            action = make_refund_request(s, team["operator"], ch["id"], amount=200)
        with Session.begin() as s:
            actions.approve(s, team["approver"], action.id, "checked")
        ids.append(action.id)
    engine.dispose()

    def all_done() -> bool:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            row = conn.execute(
                "select count(*) from action_requests where status <> 'succeeded'"
            ).fetchone()
        return row[0] == 0

    env = {
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": sandbox.url,
        "LEDGERDESK_SANDBOX": "1",
    }
    command = ["execute", "--interval", "0.2", "--lease-seconds", "2"]
    waits = run_with_victim(tmp_path, url, command, env, all_done)
    assert waits == 0, f"executors waited {waits} times for each other's rows"
    for ch, action_id in zip(charges, ids, strict=True):  # the sandbox's own truth
        refunds = requests.get(
            f"{sandbox.url}/v1/refunds",
            params={"charge": ch["id"], "limit": 100},
            auth=(SANDBOX_KEY, ""),
            timeout=10,
        ).json()["data"]
        ours = [r["amount"] for r in refunds if r["metadata"].get(METADATA_KEY) == str(action_id)]
        assert ours == [200], (ch["id"], refunds)  # one refund per approved action
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            succeeded = c.execute(
                text("select count(*) from audit_log where action = 'action.succeeded'")
            ).scalar()
        assert succeeded == ACTIONS
    finally:
        engine.dispose()
    verify = run_jobs(tmp_path, "audit", "verify", database_url=url)
    assert verify.returncode == 0 and "audit chain intact" in verify.stdout, verify.stdout


def fresh_charges(base: str, n: int) -> list[dict[str, Any]]:
    """`n` successful, unrefunded, undisputed USD charges of the sandbox."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    while len(out) < n:
        params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
        page = requests.get(
            f"{base}/v1/charges", params=params, auth=(SANDBOX_KEY, ""), timeout=10
        ).json()
        out += [
            c
            for c in page["data"]
            if c["status"] == "succeeded"
            and not c["refunded"]
            and not c["disputed"]
            and c["amount_refunded"] == 0
            and c["currency"] == "usd"
            and c["amount"] > 1000
        ]
        assert page["has_more"] or len(out) >= n, "the sandbox has too few fresh charges"
        after = page["data"][-1]["id"]
    return out[:n]


def test_a_second_worker_takes_other_events_without_waiting(
    pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    """The claim itself: while one batch holds its events, another gets the next ones at once
    (with a lock timeout, a claim that waited would fail), and the audit chain takes no lock
    while a batch is open, only for the short append at its commit."""
    settings = settings_for(pg.create_database(), tmp_path)
    engine = make_engine(settings.database_url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        ingest_events(s, backlog(20), source="poll")
    first, second = Session(), Session()
    try:
        for s in (first, second):
            s.execute(text("SET lock_timeout = '2s'"))
        a = {r.id for r in _claim(first, 10, utcnow())}
        audit.record(first, "worker-a", "note", "x", None, {"n": 1})
        b = {r.id for r in _claim(second, 10, utcnow())}
        audit.record(second, "worker-b", "note", "y", None, {"n": 2})
        assert len(a) == 10 and len(b) == 10 and not a & b
        second.commit()  # appends while the first batch is still open
        nested = second.begin_nested()
        audit.record(second, "worker-b", "note", "rolled back", None, None)
        nested.rollback()  # a failed event's savepoint: its entries go with it
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    dropped = Session()
    audit.record(dropped, "worker-c", "note", "closed without commit", None, None)
    dropped.close()  # nothing of it reaches a later transaction
    with Session.begin() as s:
        audit.record(s, "worker-c", "note", "z", None, None)
    with Session() as s:
        result = audit.verify(s)
        targets = [t for (t,) in s.execute(text("select target from audit_log order by id"))]
    assert result.ok and result.checked == 3, result.summary()
    assert targets == ["y", "x", "z"]  # chained in commit order
    engine.dispose()
