"""One truth per figure: MRR, MRR at risk, unmatched bank deposits and the recovery rate read the
same on every surface — the pages (AppTest), the reports (through the registry), the daily
digest and `python -m jobs status` — on a store synced from the sandbox.

The store (tests/support/figures.py): a backfilled sandbox account with failed payments, some
paid again, its CRM, entitlements and bank statement imported, plus a second statement with
deposits no payout explains — two in the bank window, one older, and a withdrawal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.books import figures
from core.reports.digest import write_digest
from core.reports.figures import HeadlineFigures, headline_figures
from core.reports.run import report_frame
from core.reports.status import status_report
from dashboard import format as fmt
from tests.support.figures import DECLINES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(figures_store: dict[str, Any]) -> dict[str, Any]:
    rt = figures_store["rt"]
    with rt.Session() as session:
        expected = headline_figures(session, rt.settings, figures_store["today"])
    return {**figures_store, "expected": expected}


def test_the_dataset_has_every_figure(store: dict[str, Any]) -> None:
    """Nothing here is equal because it is empty."""
    f: HeadlineFigures = store["expected"]
    assert f.mrr and f.mrr_at_risk and f.unmatched_deposits == 2
    assert 0 < f.mrr_at_risk["usd"] < f.mrr["usd"]
    assert f.recovery_cases >= len(DECLINES) * 2 and 0 < f.recovered_cases < f.recovery_cases


def _page(store: dict[str, Any], page: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", store["url"])
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(store["folder"]))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=90)
    at.session_state["ledgerdesk_actor"] = store["actor"]
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_pages_show_the_figures(store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    f: HeadlineFigures = store["expected"]
    recovery = _metrics(_page(store, "failed_payments.py", monkeypatch))
    assert recovery["MRR at risk"] == fmt.amounts(f.mrr_at_risk)
    assert recovery["Recovery rate"] == fmt.percent(f.recovery_rate)
    books = _metrics(_page(store, "payouts_books.py", monkeypatch))
    assert books["MRR"] == fmt.amounts(f.mrr)
    assert books["MRR at risk"] == fmt.amounts(f.mrr_at_risk)
    assert books["Unmatched deposits"] == fmt.number(f.unmatched_deposits)
    drift = _page(store, "drift.py", monkeypatch).dataframe[0].value
    counts = dict(zip(drift["check"], drift["count"], strict=True))
    assert counts["bank_unknown_deposit"] == f.unmatched_deposits


def test_reports_show_the_figures(store: dict[str, Any]) -> None:
    f: HeadlineFigures = store["expected"]
    rt = store["rt"]
    start, end = figures.bank_window(store["today"])
    with rt.Session() as session:
        life = report_frame(session, rt.settings, "lifecycle", None, None)
        bank = report_frame(session, rt.settings, "bank_matching", start, end)
        failed = report_frame(session, rt.settings, "failed_payments", None, None)
    now = life[life["month"] == "now (subscriptions)"].set_index("currency")
    assert now["mrr"].to_dict() == {c: v / 100 for c, v in f.mrr.items()}
    assert now["mrr_at_risk"].to_dict() == {c: f.mrr_at_risk.get(c, 0) / 100 for c in f.mrr}
    assert (bank["kind"] == "unmatched deposit").sum() == f.unmatched_deposits
    total = failed[failed["bucket"] == "all buckets"].iloc[0]
    assert (total["cases"], total["recovered"]) == (f.recovery_cases, f.recovered_cases)
    assert total["recovery_rate"] == round(f.recovery_rate, 3)
    # The breakdown per bucket adds up to the headline.
    buckets = failed[failed["bucket"] != "all buckets"]
    assert (buckets["cases"].sum(), buckets["recovered"].sum()) == (
        f.recovery_cases,
        f.recovered_cases,
    )


def test_digest_and_status_show_the_figures(store: dict[str, Any]) -> None:
    f: HeadlineFigures = store["expected"]
    rt = store["rt"]
    with rt.Session.begin() as session:
        digest = write_digest(session, rt.settings, store["today"], reports=("lifecycle",))
    assert digest.figures == f
    text = "\n".join(digest.figures.lines())
    assert f"MRR at risk (failing payments): {fmt.amounts(f.mrr_at_risk)}" in text
    assert f": {f.unmatched_deposits:,}\n" in text
    with rt.Session() as session:
        status = status_report(session, rt.settings)["figures"]
    assert status["mrr"] == f.mrr and status["mrr_at_risk"] == f.mrr_at_risk
    assert status["unmatched_deposits"] == f.unmatched_deposits
    assert status["recovery_rate"] == f.recovery_rate
