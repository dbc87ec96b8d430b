"""Operational controls: token-bucket rate limit, fault injection, stats and the request log."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from typing import Any

from sandbox.config import FAULT_KINDS, SandboxConfig


class TokenBucket:
    """N requests per second with a burst of about N; 0 means unlimited."""

    def __init__(self, rate: float) -> None:
        self.lock = threading.Lock()
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Change the rate (and refill the bucket)."""
        with self.lock:
            self.rate = float(rate)
            self.capacity = max(1.0, self.rate)
            self.tokens = self.capacity
            self.stamp = time.monotonic()

    def take(self) -> bool:
        """Consume one token; False when the caller must be answered 429."""
        if self.rate <= 0:
            return True
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class Controls:
    """Runtime-adjustable controls plus counters, shared by all request threads."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.lock = threading.Lock()
        self.latency_ms = cfg.latency_ms
        self.fault_rate = cfg.fault_rate
        self.fault_kinds = tuple(cfg.fault_kinds)
        self.hang_seconds = cfg.hang_seconds
        self.bucket = TokenBucket(cfg.rate_limit)
        self.rng = random.Random(f"faults-{cfg.seed}")  # reproducible fault sequence per seed
        self.requests: Counter[str] = Counter()
        self.by_account: Counter[str] = Counter()
        self.rate_limited = 0
        self.faults: Counter[str] = Counter()
        self.fail_next = 0  # the next N API requests fail, whatever fault_rate says
        self.replays = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=50000)
        self.log_seq = 0

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply `/_sandbox/config` changes after validating them."""
        out: dict[str, Any] = {}
        if "latency_ms" in changes:
            value = int(changes["latency_ms"])
            if value < 0:
                raise ValueError("latency_ms must be >= 0")
            self.latency_ms = out["latency_ms"] = value
        if "rate_limit" in changes:
            rate = float(changes["rate_limit"])
            if rate < 0:
                raise ValueError("rate_limit must be >= 0")
            self.bucket.set_rate(rate)
            out["rate_limit"] = rate
        if "fault_rate" in changes:
            rate = float(changes["fault_rate"])
            if not 0.0 <= rate <= 1.0:
                raise ValueError("fault_rate must be between 0 and 1")
            self.fault_rate = out["fault_rate"] = rate
        if "fault_kinds" in changes:
            kinds = changes["fault_kinds"]
            kinds = kinds.split(",") if isinstance(kinds, str) else list(kinds)
            bad = [k for k in kinds if k not in FAULT_KINDS]
            if bad or not kinds:
                raise ValueError(f"fault_kinds must be a subset of {','.join(FAULT_KINDS)}")
            self.fault_kinds = tuple(kinds)
            out["fault_kinds"] = list(kinds)
        if "fail_next" in changes:
            count = int(changes["fail_next"])
            if count < 0:
                raise ValueError("fail_next must be a whole number >= 0")
            self.fail_next = out["fail_next"] = count
        if "hang_seconds" in changes:
            self.hang_seconds = out["hang_seconds"] = float(changes["hang_seconds"])
        return out

    def settings(self) -> dict[str, Any]:
        """Current control values."""
        return {
            "latency_ms": self.latency_ms,
            "rate_limit": self.bucket.rate,
            "fault_rate": self.fault_rate,
            "fault_kinds": list(self.fault_kinds),
            "hang_seconds": self.hang_seconds,
            "fail_next": self.fail_next,
        }

    def pick_fault(self) -> str | None:
        """The fault to inject into this request, if any."""
        if self.fault_rate <= 0 and self.fail_next <= 0:
            return None
        with self.lock:
            if self.fail_next > 0:  # a fixed number of failures, for tests that need exactly one
                self.fail_next -= 1
            elif self.rng.random() >= self.fault_rate:
                return None
            kind = self.rng.choice(self.fault_kinds)
            self.faults[kind] += 1
            return kind

    def count_request(self, method: str, group: str, account: str) -> None:
        """Count a served API request."""
        with self.lock:
            self.requests[f"{method} {group}"] += 1
            self.by_account[account] += 1

    def count_429(self) -> None:
        """Count a rate-limited answer."""
        with self.lock:
            self.rate_limited += 1

    def count_replay(self) -> None:
        """Count an idempotent replay."""
        with self.lock:
            self.replays += 1

    def record(self, entry: dict[str, Any]) -> None:
        """Append to the request log (with a monotonically increasing `seq`)."""
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)

    def log_since(self, since: int, limit: int = 1000) -> dict[str, Any]:
        """Request-log entries after `since` (a `seq`), oldest first."""
        with self.lock:
            items = [e for e in self.log if e["seq"] > since][:limit]
            return {
                "requests": items,
                "next_since": items[-1]["seq"] if items else since,
                "latest": self.log_seq,
            }

    def snapshot(self) -> dict[str, Any]:
        """Counters for `/_sandbox/stats`."""
        with self.lock:
            return {
                "requests_served": sum(self.requests.values()),
                "requests_by_route": dict(self.requests),
                "requests_by_account": dict(self.by_account),
                "rate_limited_429": self.rate_limited,
                "faults_injected": dict(self.faults),
                "idempotent_replays": self.replays,
            }
