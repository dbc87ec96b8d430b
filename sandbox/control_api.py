"""`/_sandbox/...` control endpoints (never rate-limited, faulted or logged as API traffic)."""

from __future__ import annotations

from typing import Any

from sandbox import connect
from sandbox.errors import ApiError
from sandbox.params import as_int
from sandbox.state import SandboxState


def handle(
    state: SandboxState, method: str, path: str, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Route one control request."""
    parts = [p for p in path.split("/") if p][1:]
    route = "/".join(parts)
    if route == "health" and method == "GET":
        return 200, {
            "ok": True,
            "platform_account": state.platform.id,
            "api_key": state.cfg.api_key,
        }
    if route == "stats" and method == "GET":
        return 200, state.stats()
    if route == "requests" and method == "GET":
        since = as_int(params, "since", 0) or 0
        limit = min(max(as_int(params, "limit", 1000) or 1000, 1), 10000)
        return 200, state.controls.log_since(since, limit)
    if route == "config":
        if method == "POST":
            changed = state.controls.configure(params)
            return 200, {"changed": changed, **state.controls.settings()}
        return 200, state.controls.settings()
    if route == "keys/revoke" and method == "POST":
        key = params.get("key")
        if not isinstance(key, str) or not key:
            raise ApiError(400, "Missing required param: key.", param="key")
        state.revoked.add(key)
        return 200, {"revoked": True}
    if route == "accounts" and method == "GET":
        return 200, {
            "platform": state.platform.id,
            "connected": [a for a, acct in state.accounts.items() if acct.connected],
        }
    if route == "accounts/disconnect" and method == "POST":
        acct = state.accounts.get(str(params.get("account") or ""))
        if acct is None or not acct.connected:
            raise ApiError(400, "account must name a connected account.", param="account")
        connect.disconnect(state.platform, acct)
        return 200, {"disconnected": acct.id}
    if route == "clock" and method == "GET":
        return 200, _clock(state)
    if route == "clock/advance" and method == "POST":
        seconds = as_int(params, "seconds")
        if seconds is None or seconds < 0:
            raise ApiError(400, "seconds must be a whole number >= 0.", param="seconds")
        state.clock.advance(seconds)
        return 200, _clock(state)
    if route == "truth" and method == "GET":
        return 200, state.truth
    if route == "webhooks/deliver" and method == "POST":
        from sandbox.webhooks import deliver

        return 200, deliver(state.account_for(params.get("account"), ""), params)
    if parts[:1] == ["simulate"] and len(parts) == 2 and method == "POST":
        from sandbox.live import simulate

        return 200, simulate(state, parts[1], params)
    raise ApiError(404, f"Unknown sandbox control endpoint ({method}: {path}).")


def _clock(state: SandboxState) -> dict[str, Any]:
    return {"now": int(state.clock()), "offset_seconds": int(state.clock.offset)}
