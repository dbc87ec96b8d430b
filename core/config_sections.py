"""The parts of the settings: the `Secret` wrapper, the grouped limits, and the readers that turn
one group of raw setting strings into checked values.

Nothing here reads the environment: `core.config.load_settings` gathers the raw strings and hands
each reader a `get(name)` function. Every reader raises one `ConfigError` that names the setting
and says how to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.errors import ConfigError


class Secret:
    """A string that never shows itself in repr, str, logs or the UI."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class WebhookLimits:
    """What the webhook endpoint accepts: body size, JSON depth, signature age, read time, load."""

    max_body_bytes: int = 1024 * 1024  # WEBHOOK_MAX_BODY_BYTES: larger bodies get 413
    max_json_depth: int = 64  # WEBHOOK_MAX_JSON_DEPTH: deeper bodies get 400
    tolerance_seconds: int = 300  # WEBHOOK_TOLERANCE_SECONDS: signature age, past or future
    read_timeout_seconds: float = 10.0  # WEBHOOK_READ_TIMEOUT_SECONDS: headers, then body (408)
    max_connections: int = 100  # WEBHOOK_MAX_CONNECTIONS: open connections beyond get 503


AI_ROLES = ("viewer", "operator", "approver", "admin")


@dataclass(frozen=True)
class AiLimits:
    """What the model may spend per day, and which roles see briefs and the desk assistant."""

    daily_tokens: int = 200_000  # AI_DAILY_TOKEN_BUDGET: prompt + completion tokens per UTC day
    daily_cost_usd: float = 2.0  # AI_DAILY_COST_BUDGET_USD: estimated dollars per UTC day
    brief_roles: tuple[str, ...] = AI_ROLES  # AI_BRIEF_ROLES: who sees model-written briefs
    assistant_roles: tuple[str, ...] = AI_ROLES[1:]  # AI_ASSISTANT_ROLES: who may ask the desk


def redact_url(url: str) -> str:
    """Hide the password in a URL such as postgresql://user:pw@host/db."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1****@", url)


def parse_positive(name: str, raw: str, kind: type = int) -> float | int:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: set it to a positive number.") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number: set it to a positive number.")
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero.")
    return value


def parse_http_url(name: str, raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL: use e.g. http://127.0.0.1:12111.")
    return raw.rstrip("/")


def parse_database_url(raw: str, data_dir: Path) -> str:
    if not raw:
        return f"sqlite:///{data_dir / 'ledgerdesk.db'}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    if not (raw.startswith("sqlite:///") or raw.startswith("postgresql+psycopg://")):
        raise ConfigError(
            f"DATABASE_URL={redact_url(raw)!r} is not supported: use sqlite:///path/to/file.db "
            "or postgresql://user:password@host:5432/dbname."
        )
    return raw


def read_ai_limits(get: Callable[[str], str]) -> AiLimits:
    """AI_DAILY_TOKEN_BUDGET, AI_DAILY_COST_BUDGET_USD, AI_BRIEF_ROLES, AI_ASSISTANT_ROLES."""
    out: dict[str, Any] = {}
    if get("AI_DAILY_TOKEN_BUDGET"):
        out["daily_tokens"] = int(
            parse_positive("AI_DAILY_TOKEN_BUDGET", get("AI_DAILY_TOKEN_BUDGET"))
        )
    if get("AI_DAILY_COST_BUDGET_USD"):
        cost = parse_positive("AI_DAILY_COST_BUDGET_USD", get("AI_DAILY_COST_BUDGET_USD"), float)
        out["daily_cost_usd"] = float(cost)
    for name, key in (("AI_BRIEF_ROLES", "brief_roles"), ("AI_ASSISTANT_ROLES", "assistant_roles")):
        raw = get(name).strip().lower()
        if not raw:
            continue
        roles = () if raw == "none" else tuple(r.strip() for r in raw.split(",") if r.strip())
        unknown = [r for r in roles if r not in AI_ROLES]
        if unknown:
            raise ConfigError(
                f"{name} names {', '.join(unknown)}: list roles from {', '.join(AI_ROLES)} "
                "separated by commas, or none to switch it off."
            )
        out[key] = roles
    return AiLimits(**out)


def read_webhook_limits(get: Callable[[str], str]) -> WebhookLimits:
    """WEBHOOK_MAX_BODY_BYTES, _MAX_JSON_DEPTH, _TOLERANCE_SECONDS, _READ_TIMEOUT_SECONDS and
    _MAX_CONNECTIONS; each unset one keeps its default."""
    given: dict[str, Any] = {}
    for f in fields(WebhookLimits):
        name = "WEBHOOK_" + f.name.upper()
        if get(name):
            value = parse_positive(name, get(name), float if f.type == "float" else int)
            if not math.isfinite(value):
                raise ConfigError(f"{name}={get(name)!r} must be a finite number of seconds.")
            given[f.name] = value
    return WebhookLimits(**given)


def read_sign_in_settings(get: Callable[[str], str]) -> dict[str, Any]:
    """SIGN_IN_* (failed-attempt limits, lock and backoff) and SESSION_* (timeouts)."""
    out: dict[str, Any] = {}
    for name, kind in (
        ("SIGN_IN_LOCK_AFTER", int),
        ("SIGN_IN_SOURCE_LOCK_AFTER", int),
        ("SIGN_IN_WINDOW_MINUTES", float),
        ("SIGN_IN_LOCK_MINUTES", float),
        ("SIGN_IN_BACKOFF_SECONDS", float),
        ("SESSION_IDLE_MINUTES", float),
        ("SESSION_MAX_HOURS", float),
    ):
        if get(name):
            value = parse_positive(name, get(name), kind)
            if not math.isfinite(value):
                raise ConfigError(f"{name}={get(name)!r} must be a finite number, e.g. 15.")
            out[name.lower()] = kind(value)
    return out


def read_audit_key(path: Path) -> Secret:
    try:
        raw = path.read_text(encoding="ascii").strip()
        bytes.fromhex(raw)
    except (OSError, UnicodeDecodeError, ValueError):
        raw = ""
    if len(raw) < 64:
        raise ConfigError(
            f"AUDIT_KEY_FILE {path} is not a readable audit key (64 hexadecimal characters): "
            "restore the key file from your backup."
        )
    return Secret(raw)


def read_books_settings(get: Callable[[str], str]) -> dict[str, Any]:
    """CHART_OF_ACCOUNTS_FILE, DIGEST_DIR, DIGEST_RECIPIENTS and DRIFT_MRR_TOLERANCE_PCT."""
    chart = get("CHART_OF_ACCOUNTS_FILE")
    if chart and not Path(chart).is_file():
        raise ConfigError(
            f"CHART_OF_ACCOUNTS_FILE={chart!r} does not exist: point it at a TOML file with "
            "[accounts.<role>] code/name tables, or unset it to use the built-in chart."
        )
    recipients = tuple(r.strip() for r in get("DIGEST_RECIPIENTS").split(",") if r.strip())
    for r in recipients:
        if "@" not in r or " " in r:
            raise ConfigError(
                f"DIGEST_RECIPIENTS contains {r!r}: list e-mail addresses separated by commas."
            )
    tolerance = get("DRIFT_MRR_TOLERANCE_PCT")
    return {
        "chart_of_accounts_file": Path(chart) if chart else None,
        "digest_dir": Path(get("DIGEST_DIR")) if get("DIGEST_DIR") else None,
        "digest_recipients": recipients,
        "drift_mrr_tolerance_pct": float(
            parse_positive("DRIFT_MRR_TOLERANCE_PCT", tolerance, float)
        )
        if tolerance
        else 5.0,
    }
