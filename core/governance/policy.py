"""The approval policy: who may request and approve each action type, and when two approvers
are needed. Loaded from a versioned TOML file; pure (no database, no framework).

The policy version is the file's `version` plus the first 8 hex digits of the file's SHA-256,
so any edit, even one that forgets to bump `version`, yields a new version.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.config import DEFAULT_POLICY_FILE
from core.errors import ConfigError
from core.governance.states import INTERNAL_TYPES, MONEY_TYPES, ActionType

_KNOWN_ROLES = ("viewer", "operator", "approver", "admin")
# What a policy rule may pre-approve: customer messages from approved templates, nothing else.
PRE_APPROVABLE = frozenset({ActionType.SEND_MESSAGE})
_SEQUENCE_KEYS = frozenset({"id", "action", "segments", "currency", "up_to", "days"})
_PRE_APPROVAL_WORDS = frozenset({"pre_approved", "pre_approve", "auto_approve", "sequence"})


@dataclass(frozen=True)
class SequenceRule:
    """A dunning sequence the policy pre-approves (`[[recovery.sequences]]`): the approved
    template, unchanged, goes out on each of `days` after the first failed payment without a
    per-message approval, for customers of `segments` owing at most `up_to` in `currency`."""

    rule_id: str
    segments: tuple[str, ...]
    currency: str
    up_to: int
    days: tuple[int, ...]
    action_type: str = str(ActionType.SEND_MESSAGE)

    def covers(self, segment: str | None, amount: int, currency: str | None) -> bool:
        """Whether a case of this segment, amount and currency is pre-approved by the rule."""
        return (
            ("*" in self.segments or (segment or "") in self.segments)
            and (currency or "").lower() == self.currency
            and 0 <= amount <= self.up_to
        )


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
    sequences: tuple[SequenceRule, ...] = ()

    def allows(self, action_type: str) -> bool:
        """Whether the policy has a section for this action type (none: not allowed)."""
        return str(action_type) in self.actions

    def for_action(self, action_type: str) -> ActionPolicy:
        """The rules for `action_type`; a type the policy has no section for raises."""
        try:
            return self.actions[str(action_type)]
        except KeyError:
            raise ConfigError(
                f"The policy does not allow {action_type!r}: it has no [actions.{action_type}] "
                "section. Add one to the policy file to allow it."
            ) from None

    def sequence(self, rule_id: str) -> SequenceRule | None:
        """The pre-approving sequence rule with this id, or None."""
        return next((r for r in self.sequences if r.rule_id == rule_id), None)

    def section(self, name: str) -> dict[str, Any]:
        """Another owner's section (e.g. "recovery", "disputes"), or {} when absent."""
        value = self.raw.get(name, {})
        return dict(value) if isinstance(value, dict) else {}


_ACTION_KEYS = frozenset(
    {
        "approval",
        "request_roles",
        "roles",
        "two_approvers_above",
        "two_approvers_above_by_currency",
        "expires_after_hours",
    }
)


class _Problems:
    """Finds the line a problem is on, so the one message says where to fix the file."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def line_of(self, table: str, key: str | None = None, item: int | None = None) -> int | None:
        """The line of `key` inside `[table]` (or of the table header), 1-based; with `item`, in
        the item-th `[[table]]` of an array of tables."""
        header = f"[{table}]" if item is None else f"[[{table}]]"
        starts = [n for n, line in enumerate(self.lines) if line.strip().startswith(header)]
        index = 0 if item is None else item
        start = starts[index] if index < len(starts) else None
        if start is None:
            return None
        if key is None:
            return start + 1
        for n in range(start + 1, len(self.lines)):
            stripped = self.lines[n].strip()
            if stripped.startswith("["):
                break
            if stripped.split("=", 1)[0].strip() == key:
                return n + 1
        return start + 1

    def fail(
        self, table: str, key: str | None, message: str, item: int | None = None
    ) -> ConfigError:
        line = self.line_of(table, key, item)
        where = f"{self.source}, line {line}" if line else self.source
        what = (f"[{table}]" if item is None else f"[[{table}]] #{item + 1}") + (
            f" {key}" if key else ""
        )
        return ConfigError(f"{where}: {what} — {message}")


def _roles(problems: _Problems, table: str, key: str, value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(r, str) and r in _KNOWN_ROLES for r in value)
    ):
        raise problems.fail(
            table,
            key,
            f"must be a non-empty list of roles from {', '.join(_KNOWN_ROLES)}, "
            'e.g. ["approver", "admin"].',
        )
    if key == "roles" and "viewer" in value:
        raise problems.fail(table, key, "a viewer only reads: it cannot approve or reject.")
    return tuple(value)


def _amount(problems: _Problems, table: str, key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise problems.fail(
            table, key, "amounts are whole minor units (cents) of zero or more, e.g. 100000."
        )
    return value


def _hours(problems: _Problems, table: str, value: Any) -> float:
    """A positive, finite number of hours (NaN, infinity, zero and text are refused)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise problems.fail(
            table, "expires_after_hours", "must be a positive number of hours, e.g. 72."
        )
    return float(value)


def _action(
    problems: _Problems, action_type: ActionType, defaults: dict[str, Any], own: dict[str, Any]
) -> ActionPolicy:
    table = f"actions.{action_type}"
    unknown = set(own) - _ACTION_KEYS
    if unknown & _PRE_APPROVAL_WORDS:
        raise problems.fail(
            table,
            sorted(unknown & _PRE_APPROVAL_WORDS)[0],
            "an action cannot be pre-approved here. Only customer e-mails from approved "
            "templates can, through a [[recovery.sequences]] rule; "
            + (
                "money moves never can. Remove the line."
                if action_type in MONEY_TYPES
                else "remove the line."
            ),
        )
    if unknown:
        key = sorted(unknown)[0]
        raise problems.fail(
            table, key, f"is not a policy setting; use one of {', '.join(sorted(_ACTION_KEYS))}."
        )
    merged = {**defaults, **own}
    approval = merged.get("approval", True)
    if not isinstance(approval, bool):
        raise problems.fail(table, "approval", "must be true or false.")
    if not approval and action_type not in INTERNAL_TYPES:
        raise problems.fail(
            table,
            "approval",
            f"cannot be false: {action_type} moves money or reaches a customer, so a person "
            "must approve it. Remove the line.",
        )
    by_currency = merged.get("two_approvers_above_by_currency", {})
    if not isinstance(by_currency, dict):
        raise problems.fail(
            table, "two_approvers_above_by_currency", "must be a table, e.g. { jpy = 75000 }."
        )
    return ActionPolicy(
        action_type=str(action_type),
        approval=approval,
        request_roles=_roles(
            problems,
            table,
            "request_roles",
            merged.get("request_roles", ["operator", "approver", "admin"]),
        ),
        roles=_roles(problems, table, "roles", merged.get("roles", ["approver", "admin"])),
        two_approvers_above=_amount(
            problems, table, "two_approvers_above", merged.get("two_approvers_above")
        ),
        two_approvers_above_by_currency={
            str(k).lower(): _amount(problems, table, "two_approvers_above_by_currency", v) or 0
            for k, v in by_currency.items()
        },
        expires_after_hours=_hours(problems, table, merged.get("expires_after_hours", 72)),
    )


def parse_policy(text: str, source: str = "policy") -> Policy:
    """Parse and validate policy TOML text; the one error names the line to fix.

    An action type without its own `[actions.<type>]` section is not allowed at all; money
    moves and customer messages can never be set to `approval = false`.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the file.") from None
    problems = _Problems(text, source)
    file_version = raw.get("version")
    if not isinstance(file_version, str) or not file_version.strip():
        raise ConfigError(f'{source} needs a version, e.g. version = "2026.11.1".')
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    defaults = raw.get("defaults", {})
    sections = raw.get("actions", {})
    if not isinstance(defaults, dict) or not isinstance(sections, dict):
        raise ConfigError(f"{source}: [defaults] and [actions.<type>] must be tables.")
    unknown = set(sections) - {str(t) for t in ActionType}
    if unknown:
        name = sorted(unknown)[0]
        raise problems.fail(
            f"actions.{name}",
            None,
            f"unknown action types: {', '.join(sorted(unknown))}; use one of "
            f"{', '.join(str(t) for t in ActionType)}.",
        )
    if set(defaults) - _ACTION_KEYS:
        raise problems.fail(
            "defaults", sorted(set(defaults) - _ACTION_KEYS)[0], "is not a policy setting."
        )
    for key in ("request_roles", "roles"):
        if key in defaults:
            _roles(problems, "defaults", key, defaults[key])
    if "expires_after_hours" in defaults:
        _hours(problems, "defaults", defaults["expires_after_hours"])
    actions: dict[str, ActionPolicy] = {}
    for action_type in ActionType:
        own = sections.get(str(action_type))
        if own is None:
            continue  # no section: the desk may not do this at all
        if not isinstance(own, dict):
            raise problems.fail(f"actions.{action_type}", None, "must be a table.")
        actions[str(action_type)] = _action(problems, action_type, defaults, own)
    return Policy(
        version=f"{file_version.strip()}+{digest[:8]}",
        file_version=file_version.strip(),
        digest=digest,
        actions=actions,
        raw=raw,
        sequences=_sequences(problems, raw, actions),
    )


def _sequences(
    problems: _Problems, raw: dict[str, Any], actions: dict[str, ActionPolicy]
) -> tuple[SequenceRule, ...]:
    """The `[[recovery.sequences]]` rules, validated; each problem names its line."""
    recovery = raw.get("recovery", {})
    items = recovery.get("sequences", []) if isinstance(recovery, dict) else []
    table = "recovery.sequences"
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise problems.fail(table, None, "write each sequence as its own [[recovery.sequences]].")
    rules: list[SequenceRule] = []
    for n, item in enumerate(items):

        def bad(key: str | None, message: str, n: int = n) -> ConfigError:
            return problems.fail(table, key, message, item=n)

        unknown = set(item) - _SEQUENCE_KEYS
        if unknown:
            raise bad(
                sorted(unknown)[0],
                f"is not a sequence setting; use {', '.join(sorted(_SEQUENCE_KEYS))}.",
            )
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            raise bad("id", 'every sequence needs an id, e.g. id = "DUN-SMB".')
        if any(r.rule_id == rule_id.strip() for r in rules):
            raise bad("id", f"{rule_id!r} is used twice; give each sequence its own id.")
        action = item.get("action", str(ActionType.SEND_MESSAGE))
        if action not in PRE_APPROVABLE:
            money = action in {str(t) for t in MONEY_TYPES}
            raise bad(
                "action",
                f"{action!r} can never be pre-approved"
                + (": it moves money, so a person approves every one." if money else "; ")
                + ("" if money else 'only "send_message" (approved templates) can.'),
            )
        if action not in actions:
            raise bad("action", f"the policy has no [actions.{action}] section to send with.")
        segments = item.get("segments")
        if (
            not isinstance(segments, list)
            or not segments
            or not all(isinstance(s, str) and s.strip() for s in segments)
        ):
            raise bad(
                "segments",
                'must be a non-empty list of CRM segments, e.g. ["smb"] ("*" for every one).',
            )
        currency = item.get("currency")
        if not isinstance(currency, str) or len(currency.strip()) != 3:
            raise bad("currency", 'must be a three-letter currency code, e.g. "usd".')
        up_to = item.get("up_to")
        if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to <= 0:
            raise bad("up_to", "must be the largest amount due in minor units (cents), e.g. 20000.")
        days = item.get("days")
        ok_days = (
            isinstance(days, list)
            and 0 < len(days) <= 10
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 60 for d in days)
            and all(a < b for a, b in zip(days, days[1:], strict=False))
        )
        if not ok_days:
            raise bad(
                "days",
                "must list up to 10 days after the failure, rising, from 0 to 60, e.g. [0, 3, 7].",
            )
        rules.append(
            SequenceRule(
                rule_id=rule_id.strip(),
                segments=tuple(s.strip() for s in segments),
                currency=currency.strip().lower(),
                up_to=up_to,
                days=tuple(days),
                action_type=str(action),
            )
        )
    return tuple(rules)


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
