"""The dashboard as served by `make run`: `streamlit run dashboard/serve.py`.

Streamlit's own server (its ASGI app, `st.App`) running `dashboard/app.py`, with the desk's
security headers added to every answer (dashboard/headers.py). Running `dashboard/app.py`
directly still works for development, without those headers.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Streamlit puts only this folder on sys.path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from dashboard.headers import SecurityHeaders  # noqa: E402

app = st.App(ROOT / "dashboard" / "app.py", middleware=[Middleware(SecurityHeaders)])

if __name__ == "__main__":
    app.run()
