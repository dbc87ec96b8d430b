"""Account leases between sync workers: a live holder keeps its account, a holder on another
machine is waited out until its lease expires, a dead one on this machine is not."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker, migrate
from core.models.sync import AccountLease
from core.sync.leases import SPACE, AccountLeases


def test_leases_expire_for_other_machines_and_die_with_local_workers(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    Session = make_sessionmaker(engine)  # noqa: N806 - the factory's usual name
    elsewhere = AccountLeases(Session, holder="otherhost:4242:abc123:00000000", seconds=2.0)
    elsewhere.register(["", "acct_1"])
    assert elsewhere.claim(threshold=elsewhere.start()) == ""
    here = AccountLeases(Session, seconds=60)
    pass_start = here.start()
    assert here.claim(threshold=pass_start) == "acct_1"  # the free one, at once
    assert here.claim(threshold=pass_start) is None  # the other is held, not expired
    here.release("acct_1")
    while here.start() < elsewhere_expiry(Session):
        assert here.claim(threshold=pass_start) is None  # never before the expiry
        time.sleep(0.1)
    assert here.claim(threshold=pass_start) == ""  # the other machine's worker is waited out

    # A worker of this machine that has exited: its lease is taken over before it expires.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = AccountLeases(Session, holder=f"here:{gone.stdout.strip()}:dead01:{SPACE}")
    alive = AccountLeases(Session, holder=f"here:{os.getppid()}:live01:{SPACE}")
    dead.register(["", "acct_1", "acct_2", "acct_3"])
    assert dead.claim(threshold=dead.start(), only="acct_2") == "acct_2"
    assert alive.claim(threshold=alive.start(), only="acct_3") == "acct_3"
    other = AccountLeases(Session, seconds=60)
    later = other.start()
    assert other.claim(threshold=later, only="acct_3") is None  # alive: kept
    assert other.claim(threshold=later, only="acct_2") == "acct_2"  # dead: taken at once
    engine.dispose()


def elsewhere_expiry(Session: sessionmaker[Session]) -> datetime:
    with Session() as s:
        expiry = s.scalar(select(AccountLease.expires_at).where(AccountLease.account == ""))
    assert expiry is not None
    return expiry


def test_workers_starting_together_register_the_same_accounts_once(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    Session = make_sessionmaker(engine)  # noqa: N806 - the factory's usual name
    accounts = ["", *(f"acct_1W{n:04d}" for n in range(400))]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def register() -> None:
        start.wait()
        try:
            AccountLeases(Session).register(accounts)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session() as s:
        assert sorted(s.scalars(select(AccountLease.account))) == accounts
