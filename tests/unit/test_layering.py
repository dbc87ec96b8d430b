"""Dependencies point inward: walk every import and fail on a violation of the house rules.

The domain packages of core/ and the directions they may depend on (README, "Architecture"):

    adapters    → (the shared foundations only)
    sync        → adapters
    governance  → adapters
    recovery    → sync, governance, adapters
    disputes    → sync, governance, adapters
    books       → sync, governance, adapters
    drift       → books, sync, governance, adapters
    imports     → governance, adapters
    reports     → every domain

Every package may use the shared foundations: core/config.py (with config_sections.py),
db.py, errors.py, money.py, handlers.py and core/models/. The foundations import no domain.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOMAINS = ("adapters", "sync", "governance", "recovery", "disputes", "books", "drift", "imports")
ALLOWED: dict[str, set[str]] = {
    "adapters": set(),
    "sync": {"adapters"},
    "governance": {"adapters"},
    "recovery": {"sync", "governance", "adapters"},
    "disputes": {"sync", "governance", "adapters"},
    "books": {"sync", "governance", "adapters"},
    "drift": {"books", "sync", "governance", "adapters"},
    "imports": {"governance", "adapters"},
    "reports": set(DOMAINS),
}
FOUNDATIONS = {"shared", "models"}
MAX_TOP_LEVEL_MODULES = 8

# Pure rule modules: plain data in, plain data out; no framework, no storage.
PURE_MODULES = (
    "core/recovery/classification.py",
    "core/recovery/rules.py",
    "core/recovery/drafting.py",
    "core/disputes/priority.py",
    "core/disputes/labels.py",
    "core/disputes/deadlines.py",
    "core/disputes/evidence/checklist.py",
    "core/governance/policy.py",
    "core/governance/states.py",
    "core/books/ledger_mapping.py",
    "core/books/bank_matching.py",
    "core/books/tax.py",
    "core/books/lifecycle.py",
    "core/adapters/draft_guard.py",
    "core/adapters/guard_text.py",
)
PURE_MAY_IMPORT = {"core.errors", "core.config", "core.money"}
FRAMEWORKS = {"sqlalchemy", "streamlit", "stripe", "openai", "pandas"}
# The Stripe adapter, split by concern: the gateway, its error mapping, webhook signatures.
STRIPE_ADAPTER = (
    "core/adapters/stripe_gateway.py",
    "core/adapters/stripe_errors.py",
    "core/adapters/stripe_webhooks.py",
)
LLM_ADAPTER = "core/adapters/llm.py"


def files(*folders: str) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        out += [p for p in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in p.parts]
    return out


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def module_of(p: Path) -> str:
    parts = list(p.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside |= {id(n) for n in ast.walk(node)}
    return inside


def imported_modules(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module named by an import in the file (`from a.b import c` gives a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree) if runtime_only else set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def top_names(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported_modules(path)}


def area_of_module(module: str) -> str | None:
    """The core package a dotted module belongs to ("shared" for core/*.py), or None."""
    parts = module.split(".")
    if parts[0] != "core" or len(parts) < 2:
        return None
    if (ROOT / "core" / parts[1]).is_dir():
        return parts[1]
    return "shared"


def area_of_file(p: Path) -> str:
    parts = p.relative_to(ROOT / "core").parts
    return parts[0] if len(parts) > 1 else "shared"


def package_edges() -> dict[str, dict[str, set[str]]]:
    """area → imported area → the files that make the edge (run-time imports only)."""
    edges: dict[str, dict[str, set[str]]] = {}
    for p in files("core"):
        src = area_of_file(p)
        for mod in imported_modules(p, runtime_only=True):
            dst = area_of_module(mod)
            if dst is not None and dst != src:
                edges.setdefault(src, {}).setdefault(dst, set()).add(rel(p))
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_core_is_one_package_per_domain() -> None:
    top_modules = sorted(p.name for p in (ROOT / "core").glob("*.py"))
    assert len(top_modules) <= MAX_TOP_LEVEL_MODULES, top_modules
    packages = {p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").exists()}
    assert set(DOMAINS) | {"reports", "models"} <= packages


def test_the_allowed_directions_form_no_cycle() -> None:
    assert find_cycle(ALLOWED) is None


def test_no_cycle_between_domain_packages() -> None:
    graph = {src: set(dsts) for src, dsts in package_edges().items()}
    assert find_cycle(graph) is None


def test_each_domain_imports_only_what_it_may() -> None:
    bad = {}
    for src, dsts in package_edges().items():
        allowed = FOUNDATIONS if src in FOUNDATIONS else ALLOWED[src] | FOUNDATIONS
        for dst, where in dsts.items():
            if dst not in allowed:
                bad[f"{src} → {dst}"] = sorted(where)
    assert bad == {}


def _module_graph() -> dict[str, set[str]]:
    modules = {module_of(p): p for p in files("core")}
    graph: dict[str, set[str]] = {}
    for name, p in modules.items():
        graph[name] = {
            m for m in imported_modules(p, runtime_only=True) if m in modules and m != name
        }
    return graph


def test_no_import_cycle_between_modules() -> None:
    assert find_cycle(_module_graph()) is None


def _function_level_core_imports(p: Path) -> Iterator[tuple[int, str]]:
    source = p.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            named = []
            if isinstance(inner, ast.ImportFrom) and inner.module:
                named = [inner.module]
            elif isinstance(inner, ast.Import):
                named = [a.name for a in inner.names]
            if any(n == "core" or n.startswith("core.") for n in named):
                yield inner.lineno, lines[inner.lineno - 1]


def test_imports_of_core_inside_functions_are_few_and_explained() -> None:
    found = [
        (rel(p), line, text)
        for p in files("core", "jobs", "dashboard", "pages")
        for line, text in _function_level_core_imports(p)
    ]
    assert len(found) <= 5, found
    assert [f for f in found if "#" not in f[2]] == []


def test_core_and_jobs_never_import_streamlit() -> None:
    bad = [rel(p) for p in files("core", "jobs") if "streamlit" in top_names(p)]
    assert bad == []


def test_only_the_stripe_adapter_imports_stripe() -> None:
    bad = [
        rel(p)
        for p in files("core", "jobs", "dashboard", "pages")
        if "stripe" in top_names(p) and rel(p) not in STRIPE_ADAPTER
    ]
    assert bad == []


def test_only_the_llm_adapter_imports_openai() -> None:
    bad = [
        rel(p)
        for p in files("core", "jobs", "dashboard", "pages")
        if "openai" in top_names(p) and rel(p) != LLM_ADAPTER
    ]
    assert bad == []


def test_every_path_named_here_exists() -> None:
    named = [*PURE_MODULES, *STRIPE_ADAPTER, LLM_ADAPTER]
    assert [m for m in named if not (ROOT / m).is_file()] == []
    assert [d for d in DOMAINS if not (ROOT / "core" / d / "__init__.py").is_file()] == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_rule_modules_import_no_frameworks_and_no_storage(module: str) -> None:
    path = ROOT / module
    assert path.is_file(), f"{module} is listed as a pure rule module but does not exist"
    used = imported_modules(path)
    assert {m.split(".")[0] for m in used} & FRAMEWORKS == set()
    pure = {module_of(ROOT / m) for m in PURE_MODULES}
    core_used = {m for m in used if m.startswith("core.") and area_of_module(m) is not None}
    # `from core.x import Name` also yields "core.x.Name"; only real modules count.
    core_modules = {module_of(p) for p in files("core")}
    impure = {m for m in core_used if m in core_modules} - pure - PURE_MAY_IMPORT
    assert impure == set()


def test_foundations_import_no_domain() -> None:
    bad = [
        rel(p)
        for p in [*(ROOT / "core").glob("*.py"), *files("core/models")]
        for m in imported_modules(p, runtime_only=True)
        if area_of_module(m) in ALLOWED
    ]
    assert bad == []


def test_core_never_imports_the_shell() -> None:
    bad = [rel(p) for p in files("core") if top_names(p) & {"jobs", "dashboard", "pages"}]
    assert bad == []


def test_sandbox_imports_nothing_from_the_product() -> None:
    bad = [
        rel(p) for p in files("sandbox") if top_names(p) & {"core", "jobs", "dashboard", "pages"}
    ]
    assert bad == []


def test_pages_do_not_import_the_database_layer() -> None:
    bad = [rel(p) for p in files("pages") if "sqlalchemy" in top_names(p)]
    assert bad == []


def _string_module_paths() -> list[str]:
    from core.handlers import EXECUTOR_MODULES, HANDLER_MODULES, OUTBOX_CHECK_MODULES
    from core.reports import REPORTS
    from jobs.commands import COMMANDS
    from jobs.schedule_plan import PLAN

    paths = [*HANDLER_MODULES, *EXECUTOR_MODULES, *OUTBOX_CHECK_MODULES, *COMMANDS.values()]
    for spec in REPORTS.values():
        paths += [ref for ref in (spec.fn, spec.chart) if isinstance(ref, str)]
    paths += [ref for _, _, ref in PLAN]
    return paths


def test_every_module_path_written_as_a_string_imports() -> None:
    broken = []
    for ref in _string_module_paths():
        module, _, attr = ref.partition(":")
        try:
            loaded = importlib.import_module(module)
        except ImportError as exc:
            broken.append(f"{ref}: {exc}")
            continue
        if attr and not callable(getattr(loaded, attr, None)):
            broken.append(f"{ref}: no function {attr}")
    assert broken == []


def test_dashboard_pages_exist() -> None:
    from dashboard.registry import PAGES

    assert [p.file for p in PAGES if not (ROOT / p.file).is_file()] == []
