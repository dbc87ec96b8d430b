"""The sandbox's whole world: accounts (platform + connected), keys, controls, truth."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from sandbox import connect, exports
from sandbox.config import SandboxConfig
from sandbox.controls import Controls
from sandbox.errors import ApiError
from sandbox.generator import Built, build_account
from sandbox.store import Account, AccountNotFound

KEY_RE = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{1,247}$")
MISSING_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
    "for details, or we can help at https://support.stripe.com/."
)


def mask(key: str) -> str:
    """Stripe shows only the prefix and the last four characters of a key."""
    head = key[:8] if key.count("_") >= 2 else key[:3]
    return head + "*" * max(4, len(key) - len(head) - 4) + key[-4:]


class SandboxClock:
    """The sandbox's notion of now: the configured clock plus an offset moved by a control."""

    def __init__(self, base: Callable[[], float]) -> None:
        self.base = base
        self.offset = 0.0

    def __call__(self) -> float:
        return self.base() + self.offset

    def advance(self, seconds: float) -> float:
        """Move time forward (never back: Stripe's clock does not rewind); returns the new now."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0: the sandbox clock only moves forward")
        self.offset += seconds
        return self()


class SandboxState:
    """Accounts and controls behind one server; safe to inspect in-process from tests."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.clock = SandboxClock(cfg.now)
        self.controls = Controls(cfg)
        self.revoked: set[str] = set()
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.built: dict[str, Built] = {}
        self.truth: dict[str, Any] = {}
        self.platform = self._make_account(
            cfg.platform_account, cfg.seed, cfg.customers, connected=False
        )
        self.truth = exports.write(
            self.platform, self.built[self.platform.id], cfg.seed, cfg.exports_dir
        )
        first = self.platform.now_int() - cfg.days * 86400
        for n in range(cfg.connected_accounts):
            seed = cfg.seed * 1000 + n + 1
            acct_id = "acct_1Sandbox" + f"{seed:011d}"[-11:]
            self._make_account(acct_id, seed, max(5, cfg.customers // 4), connected=True)
            # onboarded over the platform's history, oldest first, as `GET /v1/accounts` lists
            created = first + (n + 1) * cfg.days * 86400 // (cfg.connected_accounts + 1)
            self.platform.add(connect.account_object(acct_id, seed, created, n))

    def _make_account(self, acct_id: str, seed: int, customers: int, connected: bool) -> Account:
        account = Account(acct_id, seed, self.clock, connected=connected)
        self.built[acct_id] = build_account(
            account, seed=seed, customers=customers, days=self.cfg.days
        )
        self.accounts[acct_id] = account
        return account

    def authenticate(self, header: str | None) -> tuple[str, bool]:
        """(key, restricted) from an Authorization header, or Stripe's 401."""
        if not header:
            raise ApiError(401, MISSING_KEY)
        scheme, _, value = header.strip().partition(" ")
        key = value.strip()
        if scheme.lower() == "basic":
            import base64
            import binascii

            try:
                key = base64.b64decode(key).decode().split(":", 1)[0]
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(
                    401, "Invalid API Key provided: malformed Basic credentials"
                ) from None
        elif scheme.lower() != "bearer":
            raise ApiError(401, MISSING_KEY)
        if not key:
            raise ApiError(401, MISSING_KEY)
        if key in self.revoked:
            raise ApiError(401, f"Expired API Key provided: {mask(key)}", code="api_key_expired")
        if not KEY_RE.match(key):
            raise ApiError(401, f"Invalid API Key provided: {mask(key)}")
        return key, key.startswith("rk_")

    def account_for(self, header: str | None, key: str) -> Account:
        """The account a request acts on (`Stripe-Account` header or the platform)."""
        if not header or header == self.platform.id:
            return self.platform
        account = self.accounts.get(header.strip())
        if account is None or not account.connected:
            err = AccountNotFound(header.strip())
            err.message = err.message.replace("sk_test_*****", mask(key))
            raise err
        return account

    def stats(self) -> dict[str, Any]:
        """`/_sandbox/stats`: requests, 429s, faults, replays, and object/event counts per account."""
        out = self.controls.snapshot()
        out["accounts"] = {}
        for acct_id, account in self.accounts.items():
            with account.lock:
                window = account.window_start()
                listable = sum(1 for e in account.iter_type("event") if e["created"] >= window)
                out["accounts"][acct_id] = {
                    "objects": account.counts(),
                    "events": account.event_counts(),
                    "events_listable": listable,
                    "connected": account.connected,
                }
        out["platform_account"] = self.platform.id
        return out
