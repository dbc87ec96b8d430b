"""`python -m bench [name ...]`: run the benchmarks, print figures, write bench/results/*.json.

Each module bench/bench_<name>.py defines `run() -> dict` returning its figures. Benchmarks are
measurements, never pass/fail tests. Optional groups (OPTIONAL: they install other tools into
their own virtualenv) run only when named, e.g. `BENCH=peers make bench`.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OPTIONAL = {"peers"}
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _show(key: str, value: object, indent: str) -> None:
    """One figure a line; groups of figures indented under their name."""
    if isinstance(value, dict):
        print(f"{indent}{key}:")
        for k, v in value.items():
            _show(str(k), v, indent + "  ")
    else:
        print(f"{indent}{key}: {value}")


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and save their figures."""
    names = argv or sorted(
        name
        for name in (p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
        if name not in OPTIONAL
    )
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        figures = module.run()
        figures["_meta"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "machine": f"{platform.machine()} {platform.python_version()}",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for key, value in figures.items():
            if key != "_meta":
                _show(key, value, "  ")
        (results_dir / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
