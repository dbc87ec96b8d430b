"""What a command prints: its data, as a line for people or as JSON with `--json`.

A command returns `Output(data, text, code)`; `python -m jobs` renders it (jobs/__main__.py).
Commands that print once per pass of a loop (sync, process, execute) call `emit` themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Output:
    """The result of one command: data for `--json`, the text for people, the exit code."""

    data: Any
    text: str | Callable[[], str] = ""
    code: int = 0


def _default(value: Any) -> Any:
    if isinstance(value, Path | Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(data: Any, *, indent: bool = True) -> str:
    """`data` as JSON (dataclasses, dates and datetimes included); indented unless told."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(data, default=_default, option=option).decode()


def emit(out: Output, as_json: bool, *, indent: bool = True) -> int:
    """Print `out` as JSON or as its text; return its exit code."""
    if as_json:
        print(to_json(out.data, indent=indent), flush=True)
    else:
        text = out.text() if callable(out.text) else out.text
        if text:
            print(text, flush=True)
    return out.code
