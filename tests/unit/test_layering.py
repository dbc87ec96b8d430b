"""Dependencies point inward: walk every import and fail on a violation of the house rules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PURE_MODULES = {
    # pure rule modules: plain data in, plain data out
    "core/classification.py",
    "core/policy_rules.py",
    "core/drafting.py",
    "core/action_states.py",
    "core/ledger_mapping.py",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_core_and_jobs_never_import_streamlit() -> None:
    bad = [rel(p) for p in files("core") + files("jobs") if "streamlit" in imports_of(p)]
    assert bad == []


def test_only_the_gateway_imports_stripe() -> None:
    bad = [
        rel(p)
        for p in files("core") + files("jobs") + files("dashboard") + files("pages")
        if "stripe" in imports_of(p) and rel(p) != "core/stripe_gateway.py"
    ]
    assert bad == []


def test_only_the_llm_adapter_imports_openai() -> None:
    bad = [
        rel(p)
        for p in files("core") + files("jobs") + files("dashboard") + files("pages")
        if "openai" in imports_of(p) and rel(p) != "core/llm.py"
    ]
    assert bad == []


def test_pure_rule_modules_import_no_frameworks() -> None:
    banned = {"sqlalchemy", "streamlit", "stripe", "openai", "pandas"}
    bad = {m: sorted(imports_of(ROOT / m) & banned) for m in PURE_MODULES if (ROOT / m).exists()}
    assert {m: v for m, v in bad.items() if v} == {}


def test_sandbox_imports_nothing_from_the_product() -> None:
    bad = [
        rel(p) for p in files("sandbox") if imports_of(p) & {"core", "jobs", "dashboard", "pages"}
    ]
    assert bad == []


def test_pages_do_not_import_the_database_layer() -> None:
    bad = [rel(p) for p in files("pages") if "sqlalchemy" in imports_of(p)]
    assert bad == []
