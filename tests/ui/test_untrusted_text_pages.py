"""AppTest: outside text reaches the pages as text, never as a live link, image or badge.

The desk is seeded with a Stripe customer named like a tracking pixel, a CRM owner written as a
phishing link and a ticket subject written as a Streamlit badge (tests/support/hostile.py). Every
Markdown-rendered string of the pages that show them (markdown, captions, headers, alerts,
expander and metric labels, tooltips, st.table cells) must hold them only in escaped form.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from core.db import make_sessionmaker
from dashboard.auth import SESSION_KEY
from dashboard.format import md_text
from tests.conftest import settings_for
from tests.support.hostile import BADGE, MARKDOWN, PHISH, PHISH_OWNER, PIXEL, seed_hostile
from tests.support.pages import page_desk

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
CLEARED = ("STRIPE_API_KEY", "STRIPE_API_BASE", "LEDGERDESK_SANDBOX", "OPENAI_API_KEY")
MARKDOWN_KINDS = ("markdown", "caption", "title", "header", "subheader", "info", "warning",
                  "error", "success", "expander", "metric", "tab")  # fmt: skip
# Live Markdown from the payloads: an image, a link anywhere but the Stripe dashboard (the desk's
# own id links), a badge directive, or a bare URL the renderer would turn into a link.
LIVE = re.compile(
    r"(?<!\\)!(?<!\\)\[|(?<!\\)\]\((?!https://dashboard\.stripe\.com/)"
    r"|(?<!\\):green-badge|https?://(?!dashboard\.stripe\.com/)|www\."
)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("hostile")
    with page_desk(folder, "ui.db", CLEARED) as (url, engine):
        yield seed_hostile(make_sessionmaker(engine), settings_for(url, folder), int(time.time()))


def _rendered(at: AppTest) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer."""
    out: list[str] = []
    for kind in MARKDOWN_KINDS:
        for e in at.get(kind):
            for attr in ("value", "label", "help", "body"):
                v = getattr(e, attr, None)
                if isinstance(v, str):
                    out.append(v)
    for table in at.get("table"):
        out.extend(str(v) for v in table.value.to_numpy().ravel())  # st.table cells are Markdown
        out.extend(str(v) for v in table.value.index)
    return out


def _page(desk: dict[str, Any], role: str, page: str) -> list[str]:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[SESSION_KEY] = desk["team"][role]
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return _rendered(at)


@pytest.mark.parametrize(
    ("page", "role", "shown"),
    [
        ("../pages/failed_payments.py", "operator", (PIXEL, PHISH, BADGE)),
        ("../pages/disputes.py", "operator", (PHISH_OWNER.lower(),)),
        ("../pages/approvals.py", "approver", (PIXEL, PHISH, BADGE)),
        ("../pages/drift.py", "operator", ()),
        ("../pages/overview.py", "approver", ()),
    ],
)
def test_outside_text_is_shown_escaped(
    desk: dict[str, Any], page: str, role: str, shown: tuple[str, ...]
) -> None:
    texts = _page(desk, role, page)
    live = [t for t in texts if LIVE.search(t)]
    assert not live, f"{page}: live Markdown {live}"
    joined = "\n".join(texts)
    for payload in (*MARKDOWN, PHISH_OWNER.lower()):
        assert payload not in joined, f"{page} shows {payload!r} unescaped"
    for payload in shown:  # and the text is there, escaped: the check is not vacuous
        assert md_text(payload) in joined, f"{page} does not show {payload!r}"
