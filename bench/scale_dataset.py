"""Build (once) a benchmark database from the sandbox generator, through the product's own paths.

The sandbox's generator runs in-process (no HTTP) in chunks of customers, so memory stays bounded.
Each chunk's objects are stored the way a backfill stores them (`core.sync.snapshots.store_fetched`),
its events go through `core.sync.ingest.ingest_events`, and `core.sync.processing.process_batch` runs the
real handlers, which open the recovery and dispute cases. A final refresh reconciles payouts,
builds journal batches and records drift (`core.drift.refresh.refresh_books`: payouts and drift).

The result is cached under data/bench/ keyed by the parameters; a JSON file beside it keeps the
build figures (seconds per step, rows per table).

    python -m bench.scale_dataset [--demo] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

CACHE_DIR = ROOT / "data" / "bench"
SNAPSHOT_TYPES = (
    "customer", "subscription", "invoice", "charge", "payment_intent", "refund", "dispute",
    "radar.early_fraud_warning", "payout", "balance_transaction",
)  # fmt: skip
# Events the product's handlers act on: always ingested. The rest fill the event budget,
# newest first (what an incremental sync of the 30-day window would hold).
HANDLED_PREFIXES = (
    "invoice.payment_failed", "invoice.payment_action_required", "invoice.marked_uncollectible",
    "invoice.voided", "charge.failed", "payment_intent.payment_failed", "charge.dispute.",
    "radar.early_fraud_warning.", "payout.", "customer.subscription.deleted", "refund.",
    "charge.refunded",
)  # fmt: skip
ADMIN = ("bench_admin", "bench-admin-password-1")


@dataclass(frozen=True)
class ScaleParams:
    """What to generate; the cache key is derived from these."""

    customers: int = 100_000
    chunk: int = 10_000
    days: int = 90
    payout_days: int = 730  # a small extra account gives two years of daily payouts
    payout_customers: int = 400
    events: int = 500_000
    seed: int = 42
    books_refresh: bool = True

    @property
    def key(self) -> str:
        """A short stable name for the cache file."""
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"c{self.customers}-e{self.events}-{digest[:8]}"


SCALE = ScaleParams()
DEMO = ScaleParams(customers=300, chunk=300, payout_days=0, events=10**9)


def sized(customers: int | None, base: ScaleParams = SCALE) -> ScaleParams:
    """The scale shape with fewer customers (events scaled alike), for a machine that cannot
    build the full size in time; LEDGERDESK_BENCH_CUSTOMERS picks it for `bench pages`."""
    if not customers or customers == base.customers:
        return base
    return ScaleParams(**{**asdict(base), "customers": customers,
                          "chunk": min(base.chunk, customers),
                          "events": base.events * customers // base.customers})  # fmt: skip


def paths(params: ScaleParams) -> tuple[Path, Path]:
    """The database file and its build-figures JSON."""
    return CACHE_DIR / f"{params.key}.db", CACHE_DIR / f"{params.key}.json"


def _chunks(params: ScaleParams) -> Iterator[tuple[int, int, int]]:
    """(seed, customers, days) per generator run."""
    left, i = params.customers, 0
    while left > 0:
        n = min(params.chunk, left)
        yield params.seed + i, n, params.days
        left, i = left - n, i + 1
    if params.payout_days:
        yield params.seed + 10_000, params.payout_customers, params.payout_days


def _generate(seed: int, customers: int, days: int, now: int) -> Any:
    from sandbox.generator import build_account
    from sandbox.store import Account

    class FullHistoryAccount(Account):
        """Keeps every event's body: the handlers need the whole history, not Stripe's window."""

        def window_start(self) -> int:
            return 0

    account = FullHistoryAccount(f"acct_bench{seed}", seed, lambda: float(now))
    build_account(account, seed=seed, customers=customers, days=days)
    return account


def _pick_events(events: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Every handled event, then the newest others, up to `budget`; oldest first."""
    handled = [e for e in events if e["type"].startswith(HANDLED_PREFIXES)]
    failed_invoices = {
        e["data"]["object"]["id"] for e in handled if e["type"] == "invoice.payment_failed"
    }
    # invoice.paid closes a recovery case: keep it for every invoice that ever failed.
    closing = [
        e
        for e in events
        if e["type"] == "invoice.paid" and e["data"]["object"]["id"] in failed_invoices
    ]
    chosen = {id(e) for e in handled + closing}
    rest = sorted((e for e in events if id(e) not in chosen), key=lambda e: -e["created"])
    picked = handled + closing + rest[: max(0, budget - len(chosen))]
    return sorted(picked, key=lambda e: (e["created"], e["id"]))


def _batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _timed(figures: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    figures[name] = round(figures.get(name, 0.0) + time.perf_counter() - started, 2)
    return result


def _store_chunk(
    Session: sessionmaker[Session],  # noqa: N803
    account: Any,
    budget: int,
    now: int,
    figures: dict[str, float],
) -> int:
    from core.sync.ingest import ingest_events
    from core.sync.snapshots import store_fetched

    def snapshots() -> None:
        for otype in SNAPSHOT_TYPES:
            objs = list(account.iter_type(otype))
            for part in _batched(objs, 5000):
                with Session.begin() as session:
                    store_fetched(session, part, account="", fetched_at=now)

    _timed(figures, "store_objects_s", snapshots)
    events = _timed(
        figures, "pick_events_s", lambda: _pick_events(list(account.iter_type("event")), budget)
    )

    def ingest() -> None:
        for page in _batched(events, 1000):
            with Session.begin() as session:
                ingest_events(session, page, source="backfill")

    _timed(figures, "ingest_s", ingest)
    return len(events)


def _process(
    Session: sessionmaker[Session],  # noqa: N803
    log: Callable[[str], None] = lambda m: None,
) -> int:
    from core.sync.processing import load_handler_modules, process_batch

    load_handler_modules()
    done, started, next_log = 0, time.perf_counter(), 10_000
    while True:
        report = process_batch(Session)  # the scheduler's default batch size
        done += report.claimed
        if done >= next_log:
            elapsed = time.perf_counter() - started
            log(f"    {done:,} events processed, {done / max(elapsed, 0.001):,.0f}/s")
            next_log += 10_000
        if not report.claimed:
            return done


def _counts(session: Session) -> dict[str, int]:
    from core.models.disputes import DisputeCase
    from core.models.recovery import RecoveryCase
    from core.models.sync import Event, StripeObject

    by_type = dict(
        session.execute(
            select(StripeObject.object_type, func.count()).group_by(StripeObject.object_type)
        ).all()
    )
    return {
        "customers": int(by_type.get("customer", 0)),
        "invoices": int(by_type.get("invoice", 0)),
        "charges": int(by_type.get("charge", 0)),
        "payouts": int(by_type.get("payout", 0)),
        "balance_transactions": int(by_type.get("balance_transaction", 0)),
        "events": int(session.scalar(select(func.count()).select_from(Event)) or 0),
        "recovery_cases": int(session.scalar(select(func.count()).select_from(RecoveryCase)) or 0),
        "dispute_cases": int(session.scalar(select(func.count()).select_from(DisputeCase)) or 0),
    }


def build(
    params: ScaleParams = SCALE,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda m: print(m, flush=True),
) -> Path:
    """The database for `params`, built on first use (or when forced); returns its path."""
    from core.books.payouts import reconcile_payouts
    from core.books.read_models import store_read_models
    from core.config import load_settings
    from core.db import make_engine, make_sessionmaker, migrate
    from core.drift.checks import take_snapshot
    from core.governance.auth import SYSTEM_ACTOR, create_user

    db, meta = paths(params)
    if db.exists() and meta.exists() and not force:
        # A dataset cached before a schema change is upgraded in place, as a user's store is.
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        _ensure_read_models(engine, params)
        engine.dispose()
        return db
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in (db, meta, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    now = int(time.time())
    figures: dict[str, float] = {}
    chunks = list(_chunks(params))
    budget = params.events // max(1, len(chunks))
    started = time.perf_counter()
    ingested = 0
    for n, (seed, customers, days) in enumerate(chunks, 1):
        account = _timed(
            figures, "generate_s", lambda s=seed, c=customers, d=days: _generate(s, c, d, now)
        )
        ingested += _store_chunk(Session, account, budget, now, figures)
        del account
        log(f"  chunk {n}/{len(chunks)}: {customers} customers, {ingested:,} events so far, "
            f"{time.perf_counter() - started:,.0f} s")  # fmt: skip
    log(f"  stored and ingested in {time.perf_counter() - started:,.0f} s; processing…")
    processed = _timed(figures, "process_s", lambda: _process(Session, log))
    log(f"  processed {processed:,} events in {figures['process_s']} s")
    figures["process_events_per_s"] = round(processed / max(figures["process_s"], 0.001))
    settings = load_settings({"DATABASE_URL": url, "LEDGERDESK_DATA_DIR": str(CACHE_DIR)},
                             secrets_file=Path("/nonexistent"))  # fmt: skip
    if params.books_refresh:
        # Payouts and drift as the books refresh does them; the journal rebuild is left out
        # (measured separately: it is the slow step of `refresh_books` at this size).
        def reconcile() -> None:
            with Session.begin() as session:
                reconcile_payouts(session, None, None)

        def drift() -> None:
            with Session.begin() as session:
                take_snapshot(session, settings)

        _timed(figures, "reconcile_payouts_s", reconcile)
        log(f"  payouts reconciled in {figures['reconcile_payouts_s']} s")
        _timed(figures, "drift_snapshot_s", drift)
        log(f"  drift recorded in {figures['drift_snapshot_s']} s")
        _timed(figures, "read_models_s", lambda: store_read_models(Session, settings))
        log(f"  page read models stored in {figures['read_models_s']} s")
    with Session.begin() as session:
        create_user(session, SYSTEM_ACTOR, ADMIN[0], "admin", password=ADMIN[1],
                    must_change_password=False)  # fmt: skip
    with Session() as session:
        counts = _counts(session)
    engine.dispose()
    figures["total_s"] = round(time.perf_counter() - started, 1)
    meta.write_text(json.dumps({"params": asdict(params), "built_at": now, "seconds": figures,
                                "rows": counts, "db_mb": round(db.stat().st_size / 2**20)},
                               indent=2))  # fmt: skip
    return db


def _ensure_read_models(engine: Any, params: ScaleParams) -> None:
    """Store the page read models in a cached dataset built before one of them existed."""
    from core.books.read_models import store_read_models
    from core.books.views import CHARGES, read_model
    from core.config import load_settings
    from core.db import make_sessionmaker

    if not params.books_refresh:
        return
    Session = make_sessionmaker(engine)
    with Session() as session:
        if read_model(session, CHARGES) is not None:
            return
    settings = load_settings({"DATABASE_URL": str(engine.url)}, secrets_file=Path("/nonexistent"))
    store_read_models(Session, settings)


def figures(params: ScaleParams) -> dict[str, Any]:
    """The build figures saved beside the database."""
    return json.loads(paths(params)[1].read_text())


def main(argv: list[str]) -> int:
    """Build the scale (or demo) dataset and print its figures."""
    parser = argparse.ArgumentParser(description="Build the benchmark database.")
    parser.add_argument("--demo", action="store_true", help="the sandbox's demo size instead")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--customers", type=int, help="override the customer count (testing)")
    args = parser.parse_args(argv)
    params = DEMO if args.demo else sized(args.customers)
    db = build(params, force=args.force)
    print(db)
    print(json.dumps(figures(params), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
