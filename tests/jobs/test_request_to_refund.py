"""The whole path of a refund an operator asks for on a page: the first sync stores the sandbox's
charges, the operator requests a full refund on the Disputes page (no amount: the whole
remainder, above the two-approver threshold), two approvers approve it on the Approvals page,
`python -m jobs execute` runs it, and the sandbox holds exactly one refund — also after a rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.db import make_engine, make_sessionmaker, migrate
from core.governance.executor import METADATA_KEY
from core.models.governance import ActionRequest
from tests.conftest import settings_for
from tests.support.cli import run_jobs
from tests.support.governance import make_user
from tests.support.sandbox import SANDBOX_KEY

ROOT = Path(__file__).resolve().parents[2]


def _page(name: str, actor: Any) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    at.session_state["ledgerdesk_actor"] = actor
    return at.run()


def _big_charge(gw: StripeGateway) -> dict[str, Any]:
    """A succeeded USD charge above $500, untouched by refunds and disputes."""
    after = None
    while True:
        page = gw.list_page(
            "charges", {"limit": 100, **({"starting_after": after} if after else {})}
        )
        for c in page["data"]:
            if (
                c["status"] == "succeeded"
                and c["currency"] == "usd"
                and c["amount"] > 50_000
                and c["amount_refunded"] == 0
                and not c["refunded"]
                and not c["disputed"]
            ):
                return c
        if not page["has_more"]:
            raise AssertionError("the sandbox has no charge above $500 left")
        after = page["data"][-1]["id"]


def test_a_full_refund_requested_on_the_page_is_made_once_after_two_approvals(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ld.db'}"
    stripe_env = {
        "STRIPE_API_KEY": SANDBOX_KEY,
        "STRIPE_API_BASE": sandbox.url,
        "LEDGERDESK_SANDBOX": "1",
    }
    for name, value in {
        "DATABASE_URL": url,
        "LEDGERDESK_DATA_DIR": str(tmp_path),
        **stripe_env,
    }.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    migrate(engine)
    Session = make_sessionmaker(engine)
    with Session.begin() as s:
        operator = make_user(s, "otto", "operator")
        approvers = [make_user(s, "abe", "approver"), make_user(s, "ada", "approver")]
    synced = run_jobs(tmp_path, "sync", "--once", database_url=url, **stripe_env)
    assert synced.returncode == 0, synced.stderr
    gw = StripeGateway(make_client(settings_for(url, tmp_path, **stripe_env)))
    charge = _big_charge(gw)

    at = _page("disputes.py", operator)
    assert not at.exception, at.exception
    at.text_input(key="refund_charge").input(charge["id"]).run()
    assert "**Approvals needed:** 2" in "\n".join(m.value for m in at.markdown)
    at.text_input(key=f"refund_{charge['id']}_reason").input("charged for a canceled order").run()
    at.button(key=f"refund_{charge['id']}_submit").click().run()
    assert not at.exception, at.exception
    assert any("Requested as action #" in s.value for s in at.success), at.error
    with Session() as s:
        [action] = s.query(ActionRequest).all()
        action_id = action.id
        assert (action.amount, action.required_approvals) == (charge["amount"], 2)

    for n, approver in enumerate(approvers):
        page = _page("approvals.py", approver)
        page.text_input(key=f"reason-{action_id}").input(f"checked the order ({n})")
        page.button(key=f"approve-{action_id}").click().run()
        page.button(key=f"confirm-{action_id}").click().run()
        assert not page.exception, page.exception
        with Session() as s:  # one approval is not enough above $500
            status = s.get(ActionRequest, action_id).status  # type: ignore[union-attr]
        assert status == ("requested" if n == 0 else "approved")
    with Session() as s:
        assert s.get(ActionRequest, action_id).status == "approved"  # type: ignore[union-attr]

    for _ in range(2):  # a second run finds nothing left to do
        done = run_jobs(tmp_path, "execute", "--once", database_url=url, **stripe_env)
        assert done.returncode == 0, done.stdout + done.stderr
    refunds = gw.list_refunds(charge=charge["id"])
    assert [(r["amount"], r["metadata"][METADATA_KEY]) for r in refunds] == [
        (charge["amount"], str(action_id))
    ]
    with Session() as s:
        assert s.get(ActionRequest, action_id).status == "succeeded"  # type: ignore[union-attr]
    engine.dispose()
