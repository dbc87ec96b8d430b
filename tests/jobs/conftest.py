"""Fixtures shared by the jobs tier."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.figures import build_store


@pytest.fixture(scope="session")
def figures_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One realistic store from the sandbox for the figures and report tests (built once)."""
    return build_store(tmp_path_factory.mktemp("figures"))
