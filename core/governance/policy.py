"""The approval policy: who may request and approve each action type, and when two approvers
are needed. Loaded from a versioned TOML file; pure (no database, no framework).

The policy version is the file's `version` plus the first 8 hex digits of the file's SHA-256,
so any edit, even one that forgets to bump `version`, yields a new version.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.config import DEFAULT_POLICY_FILE
from core.errors import ConfigError
from core.governance.states import ActionType

_KNOWN_ROLES = ("viewer", "operator", "approver", "admin")


@dataclass(frozen=True)
class ActionPolicy:
    """The rules for one action type."""

    action_type: str
    approval: bool
    request_roles: tuple[str, ...]
    roles: tuple[str, ...]
    two_approvers_above: int | None
    two_approvers_above_by_currency: dict[str, int]
    expires_after_hours: float

    def threshold(self, currency: str | None) -> int | None:
        """The amount (minor units) above which two approvers are needed, for a currency."""
        if self.two_approvers_above is None:
            return None  # not a money move: one approver whatever the amount
        if currency and currency.lower() in self.two_approvers_above_by_currency:
            return self.two_approvers_above_by_currency[currency.lower()]
        return self.two_approvers_above

    def required_approvals(self, amount: int | None, currency: str | None) -> int:
        """0 for internal actions, 2 above the threshold, else 1."""
        if not self.approval:
            return 0
        limit = self.threshold(currency)
        if limit is not None and amount is not None and abs(amount) > limit:
            return 2
        return 1


@dataclass(frozen=True)
class Policy:
    """A loaded policy file: version, per-action rules and other owners' sections."""

    version: str
    file_version: str
    digest: str
    actions: dict[str, ActionPolicy]
    raw: dict[str, Any] = field(repr=False)

    def for_action(self, action_type: str) -> ActionPolicy:
        """The rules for `action_type`; unknown types raise ConfigError."""
        try:
            return self.actions[str(action_type)]
        except KeyError:
            raise ConfigError(
                f"The policy has no rules for action type {action_type!r}: add an "
                f"[actions.{action_type}] section to the policy file."
            ) from None

    def section(self, name: str) -> dict[str, Any]:
        """Another owner's section (e.g. "recovery", "disputes"), or {} when absent."""
        value = self.raw.get(name, {})
        return dict(value) if isinstance(value, dict) else {}


def _roles(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(r in _KNOWN_ROLES for r in value):
        raise ConfigError(f"Policy {where}: roles must be a list of {', '.join(_KNOWN_ROLES)}.")
    return tuple(value)


def _amount(where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"Policy {where}: amounts are whole minor units (cents), e.g. 100000.")
    return value


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Parse and validate policy TOML text."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the file.") from None
    file_version = raw.get("version")
    if not isinstance(file_version, str) or not file_version.strip():
        raise ConfigError(f'{source} needs a version, e.g. version = "2026.11.1".')
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    defaults = raw.get("defaults", {})
    sections = raw.get("actions", {})
    actions: dict[str, ActionPolicy] = {}
    for action_type in ActionType:
        merged = {**defaults, **sections.get(str(action_type), {})}
        where = f"[actions.{action_type}]"
        by_currency = merged.get("two_approvers_above_by_currency", {})
        actions[str(action_type)] = ActionPolicy(
            action_type=str(action_type),
            approval=bool(merged.get("approval", True)),
            request_roles=_roles(
                where, merged.get("request_roles", ["operator", "approver", "admin"])
            ),
            roles=_roles(where, merged.get("roles", ["approver", "admin"])),
            two_approvers_above=_amount(where, merged.get("two_approvers_above")),
            two_approvers_above_by_currency={
                str(k).lower(): _amount(where, v) or 0 for k, v in by_currency.items()
            },
            expires_after_hours=float(merged.get("expires_after_hours", 72)),
        )
    unknown = set(sections) - {str(t) for t in ActionType}
    if unknown:
        raise ConfigError(
            f"{source} has rules for unknown action types: {', '.join(sorted(unknown))}."
        )
    return Policy(
        version=f"{file_version.strip()}+{digest[:8]}",
        file_version=file_version.strip(),
        digest=digest,
        actions=actions,
        raw=raw,
    )


def load_policy(path: Path | str | None = None) -> Policy:
    """Load the policy file: `Settings.policy_file` (POLICY_FILE), passed in by the caller; the
    shipped core/governance/policy.toml when None. Cached per path and content."""
    file = Path(path or DEFAULT_POLICY_FILE)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the policy file {file} ({exc.strerror}); set POLICY_FILE."
        ) from None
    return _parse_cached(text, str(file))


@lru_cache(maxsize=16)
def _parse_cached(text: str, source: str) -> Policy:
    return parse_policy(text, source)
