"""Settings, read once from the environment and `.streamlit/secrets.toml`.

Environment variables win over `secrets.toml` (whose root keys Streamlit also exports to the
environment when the dashboard runs). Every problem is reported as one `ConfigError` that names
the setting and says how to fix it. Secrets are wrapped in `Secret`, whose repr never shows them.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.config_sections import (
    AI_ROLES,
    AiLimits,
    Secret,
    WebhookLimits,
    parse_database_url,
    parse_http_url,
    parse_positive,
    read_ai_limits,
    read_audit_key,
    read_books_settings,
    read_sign_in_settings,
    read_webhook_limits,
    redact_url,
)
from core.errors import ConfigError

__all__ = [
    "AI_ROLES",
    "AiLimits",
    "Secret",
    "Settings",
    "WebhookLimits",
    "ensure_audit_key",
    "load_settings",
    "read_run_file",
    "redact_url",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
STRIPE_DEFAULT_BASE = "https://api.stripe.com"
STRIPE_API_VERSION = "2026-10-28.endive"
CRASH_ENV = "LEDGERDESK_CRASH_AFTER_STRIPE_CALL"
DEFAULT_POLICY_FILE = PROJECT_ROOT / "core" / "governance" / "policy.toml"
AUDIT_KEY_NAME = "audit.key"
AUDIT_ANCHOR_NAME = "audit-anchors.jsonl"
# `make run` (python -m jobs up) writes this file into the data folder while it runs, so that
# commands in another terminal find its sandbox and database without settings of their own.
RUN_FILE_NAME = "run.json"
# The built-in sandbox's fixed test key: it opens nothing but the local sandbox.
SANDBOX_API_KEY = "sk_test_sandbox"

_KEY_RE = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_ACCOUNT_RE = re.compile(r"^acct_[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Settings:
    """Everything Ledgerdesk can be configured with; see the README's configuration table."""

    database_url: str
    data_dir: Path
    stripe_api_key: Secret | None = None
    stripe_api_base: str = STRIPE_DEFAULT_BASE
    stripe_accounts: tuple[str, ...] = ()
    connect_all: bool = False  # STRIPE_ACCOUNTS=all: every connected account Stripe lists
    stripe_webhook_secret: Secret | None = None
    stripe_rate_limit: float | None = None
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    smtp_url: Secret | None = None
    smtp_from: str = "finance@ledgerdesk.local"
    slack_webhook_url: Secret | None = None
    team_timezone: str = "UTC"
    sandbox: bool = False
    sync_interval_seconds: int = 30
    policy_file: Path = field(default=DEFAULT_POLICY_FILE)
    # books, drift and reports
    chart_of_accounts_file: Path | None = None
    digest_dir: Path | None = None
    digest_recipients: tuple[str, ...] = ()
    drift_mrr_tolerance_pct: float = 5.0
    # the audit trail: HMAC key (kept outside the database) and the file of anchored chain heads
    audit_key: Secret | None = None
    audit_key_file: Path | None = None
    audit_anchor_file: Path | None = None
    webhook: WebhookLimits = field(default_factory=WebhookLimits)
    ai: AiLimits = field(default_factory=AiLimits)
    # sign-in: failures within the window lock an account (or a source) for a while; each
    # failure before that doubles the wait before the next attempt; sessions end when idle or old
    sign_in_lock_after: int = 5
    sign_in_source_lock_after: int = 20
    sign_in_window_minutes: float = 15.0
    sign_in_lock_minutes: float = 15.0
    sign_in_backoff_seconds: float = 1.0
    session_idle_minutes: float = 30.0
    session_max_hours: float = 12.0
    # test hook for the crash tests: the executor dies after Stripe answered, before the commit
    crash_after_stripe_call: bool = False

    def __post_init__(self) -> None:
        # Every numeric setting, present and future: NaN compares false with everything and
        # infinity never runs out, so either would turn a limit or a tolerance into no limit.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"{f.name.upper()}={value!r} is not allowed: set it to a finite number of "
                    "zero or more."
                )

    @property
    def audit_key_path(self) -> Path:
        """AUDIT_KEY_FILE, or <data dir>/audit.key."""
        return self.audit_key_file or self.data_dir / AUDIT_KEY_NAME

    @property
    def audit_anchor_path(self) -> Path:
        """AUDIT_ANCHOR_FILE, or <data dir>/audit-anchors.jsonl."""
        return self.audit_anchor_file or self.data_dir / AUDIT_ANCHOR_NAME

    @property
    def stripe_mode(self) -> str:
        """'sandbox', 'test' or 'live' — what the desk is connected to."""
        if self.sandbox:
            return "sandbox"
        if self.stripe_api_key and "_live_" in self.stripe_api_key.reveal():
            return "live"
        return "test"

    @property
    def database_kind(self) -> str:
        """'sqlite' or 'postgresql'."""
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @property
    def effective_rate_limit(self) -> float:
        """Requests per second the sync may use: configured, else below Stripe's mode limit."""
        if self.stripe_rate_limit:
            return self.stripe_rate_limit
        return 90.0 if self.stripe_mode == "live" else 20.0

    @property
    def tz(self) -> ZoneInfo:
        """The team's time zone."""
        return ZoneInfo(self.team_timezone)

    def require_stripe_key(self) -> Secret:
        """Return the Stripe key or explain how to set one."""
        if not self.stripe_api_key:
            raise ConfigError(
                "STRIPE_API_KEY is not set: export STRIPE_API_KEY=sk_test_... (or rk_ for a "
                "read-only key), or run `make run` without a key to use the built-in sandbox."
            )
        return self.stripe_api_key

    def public_summary(self) -> dict[str, str]:
        """What may be shown about the configuration: no secret values, only whether set."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret) or (value is None and "key" in f.name):
                out[f.name] = "set" if value else "not set"
            elif f.name == "database_url":
                out[f.name] = redact_url(value)
            else:
                out[f.name] = str(value)
        return out


def _read_secrets_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file or remove it.") from None
    return {k: str(v) for k, v in data.items() if not isinstance(v, dict)}


def load_settings(
    env: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> Settings:
    """Read and validate all settings; raise one ConfigError naming what to fix."""
    source: dict[str, str] = dict(_read_secrets_file(secrets_file or SECRETS_FILE))
    source.update(os.environ if env is None else env)

    def get(name: str) -> str:
        return source.get(name, "").strip()

    data_dir = Path(get("LEDGERDESK_DATA_DIR") or PROJECT_ROOT / "data")
    source.update(_from_running_desk(source, data_dir))
    key = get("STRIPE_API_KEY")
    if key and not _KEY_RE.match(key):
        raise ConfigError(
            "STRIPE_API_KEY does not look like a Stripe secret key: it must start with sk_test_, "
            "sk_live_, rk_test_ or rk_live_ (copy it from the Stripe dashboard, Developers → API keys)."
        )
    accounts = tuple(a.strip() for a in get("STRIPE_ACCOUNTS").split(",") if a.strip())
    every_connected = [a.lower() for a in accounts] == ["all"]
    for acct in () if every_connected else accounts:
        if not _ACCOUNT_RE.match(acct):
            raise ConfigError(
                f"STRIPE_ACCOUNTS contains {acct!r}: list connected account ids separated by "
                "commas, e.g. acct_1Abc,acct_2Def, or set it to all to sync every connected "
                "account of the platform."
            )
    webhook_secret = get("STRIPE_WEBHOOK_SECRET")
    if webhook_secret and not webhook_secret.startswith("whsec_"):
        raise ConfigError(
            "STRIPE_WEBHOOK_SECRET must start with whsec_: copy the endpoint's signing secret "
            "from the Stripe dashboard or from `stripe listen`."
        )
    tz = get("TEAM_TIMEZONE") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"TEAM_TIMEZONE={tz!r} is not a known time zone: use an IANA name such as Europe/Berlin."
        ) from None
    smtp = get("SMTP_URL")
    if smtp and urlparse(smtp).scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ConfigError(
            "SMTP_URL must look like smtp://user:password@host:587 (or smtps:// / smtp+starttls://)."
        )
    slack = get("SLACK_WEBHOOK_URL")
    policy = get("POLICY_FILE")
    return Settings(
        database_url=parse_database_url(get("DATABASE_URL"), data_dir),
        data_dir=data_dir,
        stripe_api_key=Secret(key) if key else None,
        stripe_api_base=parse_http_url("STRIPE_API_BASE", get("STRIPE_API_BASE"))
        if get("STRIPE_API_BASE")
        else STRIPE_DEFAULT_BASE,
        stripe_accounts=() if every_connected else accounts,
        connect_all=every_connected,
        stripe_webhook_secret=Secret(webhook_secret) if webhook_secret else None,
        stripe_rate_limit=float(
            parse_positive("STRIPE_RATE_LIMIT", get("STRIPE_RATE_LIMIT"), float)
        )
        if get("STRIPE_RATE_LIMIT")
        else None,
        openai_api_key=Secret(get("OPENAI_API_KEY")) if get("OPENAI_API_KEY") else None,
        openai_base_url=parse_http_url("OPENAI_BASE_URL", get("OPENAI_BASE_URL"))
        if get("OPENAI_BASE_URL")
        else None,
        openai_model=get("OPENAI_MODEL") or "gpt-4o-mini",
        smtp_url=Secret(smtp) if smtp else None,
        smtp_from=get("SMTP_FROM") or "finance@ledgerdesk.local",
        slack_webhook_url=Secret(parse_http_url("SLACK_WEBHOOK_URL", slack)) if slack else None,
        team_timezone=tz,
        sandbox=get("LEDGERDESK_SANDBOX").lower() in ("1", "true", "yes"),
        sync_interval_seconds=int(
            parse_positive("SYNC_INTERVAL_SECONDS", get("SYNC_INTERVAL_SECONDS"))
        )
        if get("SYNC_INTERVAL_SECONDS")
        else 30,
        policy_file=Path(policy) if policy else DEFAULT_POLICY_FILE,
        crash_after_stripe_call=get(CRASH_ENV) == "1",
        webhook=read_webhook_limits(get),
        ai=read_ai_limits(get),
        **read_books_settings(get),
        **_audit_settings(get, data_dir),
        **read_sign_in_settings(get),
    )


def read_run_file(data_dir: Path) -> dict[str, Any] | None:
    """What a running `make run` recorded in <data dir>/run.json; None when none is running."""
    try:
        info = json.loads((data_dir / RUN_FILE_NAME).read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)  # signal 0: only asks whether the process exists
    except PermissionError:
        return dict(info)  # it exists, under another user
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no file, a damaged one, or left behind by a desk that is gone
    return dict(info)


def _from_running_desk(source: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The running desk's sandbox and database, for whatever no setting names."""
    desk = read_run_file(data_dir)
    if desk is None:
        return {}
    out: dict[str, str] = {}
    stripe_set = any(source.get(n, "").strip() for n in ("STRIPE_API_KEY", "STRIPE_API_BASE"))
    if desk.get("sandbox_url") and not stripe_set:
        out.update(
            STRIPE_API_KEY=SANDBOX_API_KEY,
            STRIPE_API_BASE=str(desk["sandbox_url"]),
            LEDGERDESK_SANDBOX="1",
        )
    if desk.get("database_url") and not source.get("DATABASE_URL", "").strip():
        out["DATABASE_URL"] = str(desk["database_url"])
    return out


def _audit_settings(get: Callable[[str], str], data_dir: Path) -> dict[str, Any]:
    """AUDIT_KEY_FILE (the key is read here when the file exists) and AUDIT_ANCHOR_FILE."""
    key_file = Path(get("AUDIT_KEY_FILE") or data_dir / AUDIT_KEY_NAME)
    anchor_file = Path(get("AUDIT_ANCHOR_FILE") or data_dir / AUDIT_ANCHOR_NAME)
    return {
        "audit_key": read_audit_key(key_file) if key_file.exists() else None,
        "audit_key_file": key_file,
        "audit_anchor_file": anchor_file,
    }


def ensure_audit_key(settings: Settings) -> Settings:
    """On first start, create the audit key file (32 random bytes, mode 0600); return settings with it.

    A missing key is only created while the audit trail has never been anchored: once anchors
    exist, entries were signed with a key, and a fresh one would make every one of them fail.
    """
    if settings.audit_key:
        return settings
    path, anchors = settings.audit_key_path, settings.audit_anchor_path
    if anchors.exists() and anchors.stat().st_size > 0:
        raise ConfigError(
            f"AUDIT_KEY_FILE {path} is missing, but the audit trail was already signed with a key "
            f"(anchors in {anchors}): restore the key file from your backup."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        pass  # another process created it first: use theirs
    except OSError as exc:
        raise ConfigError(
            f"Could not create the audit key file {path} ({exc.strerror}): make the data folder "
            "writable or point AUDIT_KEY_FILE at a writable place."
        ) from None
    return replace(settings, audit_key=read_audit_key(path))
