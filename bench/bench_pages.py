"""Page render times (server side, AppTest, signed-in admin) at demo size and at scale.

For each database: every registered page is rendered through `dashboard/app.py` (the real
navigation) several times; the first (cold: empty caches) and the median of the rest are
reported. Then the core query functions the pages call are timed one by one, heaviest first,
with SQLite's query plan for the Overview's aggregates.

    python -m bench pages            # demo + scale (builds the scale dataset once, cached)
    LEDGERDESK_BENCH_SIZES=demo python -m bench pages
    LEDGERDESK_BENCH_CUSTOMERS=25000 python -m bench pages   # a smaller "scale" dataset
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scale_dataset import ADMIN, DEMO, ScaleParams, build, sized
from bench.scale_dataset import figures as build_figures

ROOT = Path(__file__).resolve().parent.parent
RUNS = 4  # one cold run, then the median of three warm ones
TARGETS = {"demo": 0.3, "scale": 1.0}


def _env(url: str, folder: Path) -> dict[str, str | None]:
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "LEDGERDESK_DATA_DIR")}
    os.environ["DATABASE_URL"] = url
    os.environ["LEDGERDESK_DATA_DIR"] = str(folder)
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "SMTP_URL", "SLACK_WEBHOOK_URL"):
        os.environ.pop(name, None)
    return saved


def _actor(url: str) -> Any:
    from core.db import make_engine, make_sessionmaker
    from core.governance.auth import Actor
    from core.models.governance import User

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        user = session.query(User).filter_by(username=ADMIN[0]).one()
        actor = Actor(user_id=user.id, username=user.username, role=user.role)
    engine.dispose()
    return actor


def render_pages(url: str, folder: Path, runs: int = RUNS) -> dict[str, dict[str, float]]:
    """Cold and warm render seconds of every registered page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from dashboard.auth import SESSION_KEY
    from dashboard.registry import PAGES

    saved = _env(url, folder)
    st.cache_resource.clear()
    st.cache_data.clear()
    out: dict[str, dict[str, float]] = {}
    try:
        actor = _actor(url)
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
        at.session_state[SESSION_KEY] = actor
        at.run()
        for spec in PAGES:
            rel = os.path.relpath(ROOT / spec.file, ROOT / "dashboard")
            times, error = [], None
            for _ in range(runs):
                at.switch_page(rel)
                started = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - started)
                if at.exception:
                    error = str(at.exception[0].value)[:200]
                    break
            warm = times[1:] or times
            out[spec.title] = {
                "cold_s": round(times[0], 3),
                "warm_median_s": round(statistics.median(warm), 3),
                **({"error": error} if error else {}),  # type: ignore[dict-item]
            }
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def _queries(settings: Any, actor: Any) -> dict[str, Callable[[Any], Any]]:
    from core.books import payouts
    from core.disputes import cases as disputes
    from core.drift import checks as drift
    from core.governance import audit
    from core.governance import queries as action_queries
    from core.reports import overview
    from core.sync import health

    now = time.time()
    return {
        "overview.overview": lambda s: overview.overview(s, settings, actor, now=now),
        "overview.recovery_trend": lambda s: overview.recovery_trend(s, settings, now=now),
        "overview.dispute_trend": lambda s: overview.dispute_trend(s, settings, now=now),
        "overview.failure_trend": lambda s: overview.failure_trend(s, settings, now=now),
        "health.account_health": lambda s: health.account_health(s, settings, now=now),
        "health.queue_health": health.queue_health,
        "health.sync_history": lambda s: health.sync_history(s, hours=24),
        "disputes.board": lambda s: disputes.board(s, int(now)),
        "action_queries.awaiting": lambda s: action_queries.awaiting(s, actor),
        "audit.search": lambda s: audit.search(s, audit.AuditFilter()),
        "payouts.reconciliations": payouts.reconciliations,
        "drift.run_checks": lambda s: drift.run_checks(s, settings),
    }


def time_queries(url: str) -> dict[str, float]:
    """Seconds per core query function (one run each, on a fresh session), heaviest first."""
    from pathlib import Path as _P

    from core.config import load_settings
    from core.db import make_engine, make_sessionmaker

    settings = load_settings({"DATABASE_URL": url}, secrets_file=_P("/nonexistent"))
    engine = make_engine(url)
    Session = make_sessionmaker(engine)
    actor = _actor(url)
    out: dict[str, float] = {}
    for name, fn in _queries(settings, actor).items():
        with Session() as session:
            started = time.perf_counter()
            try:
                fn(session)
                out[name] = round(time.perf_counter() - started, 3)
            except Exception as exc:  # noqa: BLE001 - a failing query is reported, not fatal
                out[name] = -1.0
                print(f"  {name} failed: {type(exc).__name__}: {exc}"[:200])
    engine.dispose()
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def explain_overview(url: str) -> dict[str, list[str]]:
    """SQLite's plans for the Overview's heaviest aggregates (index use at a glance)."""
    import sqlite3

    path = url.removeprefix("sqlite:///")
    sql = {
        "failed_today": "SELECT count(*) FROM events WHERE type='invoice.payment_failed' "
        "AND created >= 0",
        "at_risk": "SELECT currency, count(*), sum(amount_remaining) FROM recovery_cases "
        "WHERE status='open' GROUP BY currency",
        "disputes_due": "SELECT count(*), min(due_by) FROM dispute_cases WHERE status IN "
        "('needs_response') AND submission_count=0 AND due_by > 0",
        "queue_health": "SELECT status, count(*) FROM events WHERE status IN "
        "('pending', 'failed', 'dead') GROUP BY status",
    }
    with sqlite3.connect(path) as conn:
        return {
            k: [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + q)] for k, q in sql.items()
        }


def measure(label: str, params: ScaleParams) -> dict[str, Any]:
    """Build (or reuse) one dataset and take every figure on it."""
    db = build(params)
    url = f"sqlite:///{db}"
    pages = render_pages(url, db.parent)
    slow = {t: p["warm_median_s"] for t, p in pages.items() if p["warm_median_s"] > TARGETS[label]}
    return {
        "dataset": build_figures(params),
        "pages": pages,
        "over_target": slow,
        "queries": time_queries(url),
        "plans": explain_overview(url),
    }


def run() -> dict[str, Any]:
    """Figures at demo size and at scale (LEDGERDESK_BENCH_SIZES=demo,scale)."""
    sizes = os.environ.get("LEDGERDESK_BENCH_SIZES", "demo,scale").split(",")
    # LEDGERDESK_BENCH_CUSTOMERS scales the "scale" dataset down when the full size cannot be
    # built on this machine; the figures record the size they were taken at.
    customers = int(os.environ.get("LEDGERDESK_BENCH_CUSTOMERS") or 0) or None
    chosen = {"demo": DEMO, "scale": sized(customers)}
    return {size: measure(size, chosen[size]) for size in sizes if size in chosen}
