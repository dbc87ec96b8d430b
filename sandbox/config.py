"""Sandbox configuration (CLI flags map 1:1 onto these fields)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox import DEFAULT_API_KEY

FAULT_KINDS = ("500", "timeout", "disconnect", "truncated", "429")


@dataclass
class SandboxConfig:
    """Everything a sandbox server needs; `now` is injectable so tests can move time."""

    host: str = "127.0.0.1"
    port: int = 12111
    seed: int = 42
    customers: int = 300
    days: int = 730
    live: bool = False
    live_interval: float = 15.0  # one renewal per tick: about four a minute
    latency_ms: int = 0
    rate_limit: float = 0.0  # requests per second; 0 = unlimited
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    hang_seconds: float = 30.0  # a "timeout" fault holds the request this long, then drops it
    connected_accounts: int = 0
    exports_dir: str | None = None  # the CLI defaults to data/sandbox_exports
    api_key: str = DEFAULT_API_KEY
    platform_account: str = "acct_1SandboxPlatform0"
    now: Callable[[], float] = field(default=time.time)
