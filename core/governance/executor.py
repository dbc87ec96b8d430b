"""The executor: runs approved actions against Stripe exactly once.

For each action: (1) claim it, `approved → executing`, saving the idempotency key derived from
the action id, and commit; (2) in a new transaction, run its type's executor, which re-reads the
Stripe object first (and supersedes the action when the world has changed), then calls Stripe
with that key; record the result and commit. A crash between the Stripe call and the commit
leaves the action `executing`; the next run reclaims it after a lease and sends the same key,
so Stripe replays the first response instead of moving money twice. Keys older than Stripe's
24-hour memory are backed by a metadata lookup in the executors (`ledgerdesk_action_id`).

Transient failures (network, 5xx, 429, an unexpected error) keep the action `executing` and are
retried with backoff, up to MAX_ATTEMPTS; a definite refusal (a 4xx) marks it `failed`, keeping
the error for the approver.

Test hook: with the environment variable LEDGERDESK_CRASH_AFTER_STRIPE_CALL=1 the process exits
immediately after an executor returns and before its result is committed (crash injection).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Settings
from core.errors import CoreError, InvalidTransition, StripeError, StripePermissionError
from core.governance import audit
from core.governance.actions import transition
from core.governance.auth import SYSTEM_ACTOR, Actor, require_role
from core.governance.claims import (
    DEFAULT_LEASE_SECONDS,
    claim,
    claim_next,
    idempotency_key_for,
)
from core.governance.queries import get_action
from core.governance.states import ActionStatus, ActionType
from core.handlers import EXECUTOR_MODULES, HANDLER_MODULES
from core.models.base import utcnow
from core.models.governance import ActionRequest

log = logging.getLogger(__name__)
S = ActionStatus
MAX_ATTEMPTS = 5
KEY_MEMORY = timedelta(hours=23)  # Stripe may forget keys after 24 h; stay on the safe side
METADATA_KEY = "ledgerdesk_action_id"
METADATA_IDEMPOTENCY = "ledgerdesk_idempotency_key"

ExecutorFn = Callable[["ExecutionContext"], dict[str, Any]]
EXECUTORS: dict[str, ExecutorFn] = {}
_DEFAULTS: set[str] = set()
GatewayFactory = Callable[[Settings, str], StripeGateway]


class Superseded(Exception):
    """Raised by ctx.supersede(): the world changed and the action no longer applies."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def executor(
    action_type: ActionType | str, *, default: bool = False
) -> Callable[[ExecutorFn], ExecutorFn]:
    """Register the executor for one action type; a domain module's executor replaces a default."""
    key = str(ActionType(action_type))

    def register(fn: ExecutorFn) -> ExecutorFn:
        if default and key in EXECUTORS and key not in _DEFAULTS:
            return fn  # a domain module already registered its own
        if not default and key in EXECUTORS and key not in _DEFAULTS:
            raise ValueError(f"two executors registered for {key}")
        EXECUTORS[key] = fn
        if default:
            _DEFAULTS.add(key)
        else:
            _DEFAULTS.discard(key)
        return fn

    return register


@dataclass
class ExecutionContext:
    """What an executor gets: the open session, the action, a gateway and its idempotency key."""

    session: Session
    action: ActionRequest
    gateway: StripeGateway
    idempotency_key: str
    settings: Settings
    now: datetime
    actor: Actor = SYSTEM_ACTOR

    @property
    def is_retry(self) -> bool:
        """True when an earlier attempt may already have reached Stripe."""
        return self.action.attempts > 1

    @property
    def key_is_fresh(self) -> bool:
        """True while Stripe still remembers the key (so a re-send is replayed)."""
        saved = self.action.key_saved_at or self.now
        return self.now - saved < KEY_MEMORY

    @property
    def metadata(self) -> dict[str, str]:
        """Metadata to tag Stripe objects with, so they can be found again."""
        return {
            METADATA_KEY: str(self.action.id),
            METADATA_IDEMPOTENCY: self.idempotency_key,
        }

    def supersede(self, reason: str) -> NoReturn:
        """Stop: the action no longer applies (shown to the approver as the reason)."""
        raise Superseded(reason)


@dataclass
class ExecutionReport:
    """What one executor run did."""

    outcomes: list[tuple[int, str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many actions ended in `status` this run."""
        return sum(1 for _, s, _ in self.outcomes if s == status)

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.outcomes:
            return "execute: nothing to do"
        parts = [
            f"{self.count(s)} {s}"
            for s in ("succeeded", "failed", "superseded", "retrying")
            if self.count(s)
        ]
        return "execute: " + ", ".join(parts)


def load_executors() -> None:
    """Import the governance executors and every domain module that may register its own."""
    for name in (*EXECUTOR_MODULES, *HANDLER_MODULES):
        importlib.import_module(name)


def default_gateway_factory() -> GatewayFactory:
    """A factory sharing one StripeClient per settings object for this run."""
    clients: dict[int, Any] = {}

    def make(settings: Settings, account: str) -> StripeGateway:
        client = clients.get(id(settings))
        if client is None:
            client = clients[id(settings)] = make_client(settings, max_network_retries=2)
        return StripeGateway(client, account or None)

    return make


PERMISSION_PAUSE = timedelta(hours=1)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _record_failure(
    Session: sessionmaker[Session],
    action_id: int,
    exc: BaseException,
    actor: Actor,
    now: datetime,
) -> str:
    retryable = not isinstance(exc, CoreError) or getattr(exc, "retryable", False)
    message = (
        str(exc) if isinstance(exc, CoreError) else f"internal error: {type(exc).__name__}: {exc}"
    )
    with Session.begin() as session:
        action = get_action(session, action_id)
        if action.status != S.EXECUTING:
            return action.status
        if isinstance(exc, StripePermissionError):
            # The key may not do this (a read-only rk_ key): nothing moved, and the approval
            # stands. The action goes back to the approvers' in-flight list with the reason and
            # is tried again after a pause, or at once with "Run now" once the key is fixed.
            transition(
                session,
                action,
                S.APPROVED,
                actor,
                note=f"returned: {message}",
                last_error=(
                    f"{message} — set a STRIPE_API_KEY that may make this call (an rk_ key is "
                    "read-only); the approval stands and the action runs again after "
                    f"{(now + PERMISSION_PAUSE):%H:%M} UTC or on Run now."
                ),
                claimed_at=None,
                next_attempt_at=now + PERMISSION_PAUSE,
            )
            return "returned"
        if retryable and action.attempts < MAX_ATTEMPTS:
            session.execute(
                update(ActionRequest)
                .where(
                    ActionRequest.id == action_id,
                    ActionRequest.version == action.version,
                )
                .values(
                    last_error=message,
                    claimed_at=None,
                    next_attempt_at=now + _backoff(action.attempts),
                    version=ActionRequest.version + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            audit.record(
                session,
                actor,
                "action.retry_scheduled",
                f"action:{action_id}",
                None,
                {"error": message, "attempt": action.attempts},
            )
            return "retrying"
        error: dict[str, Any] = {"error": message}
        if isinstance(exc, StripeError):
            error.update(code=exc.code, http_status=exc.http_status, request_id=exc.request_id)
        transition(
            session,
            action,
            S.FAILED,
            actor,
            note=message,
            last_error=message,
            result=error,
        )
        return S.FAILED.value


def execute_action(
    Session: sessionmaker[Session],
    settings: Settings,
    action_id: int,
    *,
    actor: Actor = SYSTEM_ACTOR,
    gateway_factory: GatewayFactory | None = None,
    now: datetime | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> str | None:
    """Claim and run one action; returns its new status, or None when it was not ours to run."""
    load_executors()
    now = now or utcnow()
    if not claim(Session, action_id, actor=actor, now=now, lease_seconds=lease_seconds):
        return None
    return _run_claimed(Session, settings, action_id, actor, gateway_factory, now)


def _run_claimed(
    Session: sessionmaker[Session],
    settings: Settings,
    action_id: int,
    actor: Actor,
    gateway_factory: GatewayFactory | None,
    now: datetime,
) -> str:
    """Run an action this worker has claimed; returns its new status."""
    factory = gateway_factory or default_gateway_factory()
    try:
        with Session.begin() as session:
            action = get_action(session, action_id)
            fn = EXECUTORS.get(action.action_type)
            if fn is None:
                raise InvalidTransition(f"No executor is registered for '{action.action_type}'.")
            ctx = ExecutionContext(
                session=session,
                action=action,
                gateway=factory(settings, action.account),
                idempotency_key=action.idempotency_key or idempotency_key_for(action),
                settings=settings,
                now=now,
                actor=actor,
            )
            try:
                result = fn(ctx)
            except Superseded as sup:
                transition(
                    session,
                    action,
                    S.SUPERSEDED,
                    actor,
                    note=sup.reason,
                    result={"superseded": sup.reason},
                )
                return S.SUPERSEDED.value
            if settings.crash_after_stripe_call:
                os._exit(70)  # test hook: die after Stripe answered, before the commit
            transition(
                session,
                action,
                S.SUCCEEDED,
                actor,
                result=result,
                last_error=None,
                note=result.get("summary") if isinstance(result, dict) else None,
            )
            return S.SUCCEEDED.value
    except Exception as exc:
        if not isinstance(exc, CoreError):
            log.exception("action %s: executor error", action_id)
        return _record_failure(Session, action_id, exc, actor, utcnow())


def run_now(
    Session: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    action_id: int,
    **kwargs: Any,
) -> str | None:
    """The "run now" button: the same code path as the job, for one action, by a person."""
    require_role(actor, "operator")
    return execute_action(Session, settings, action_id, actor=actor, **kwargs)


def run_pending(
    Session: sessionmaker[Session],
    settings: Settings,
    *,
    limit: int = 50,
    gateway_factory: GatewayFactory | None = None,
    now: datetime | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> ExecutionReport:
    """Execute up to `limit` due actions, each claimed by this worker alone; per-action errors
    are recorded, never raised. Any number of workers may run this over one database."""
    load_executors()
    report = ExecutionReport()
    factory = gateway_factory or default_gateway_factory()
    for _ in range(limit):
        at = now or utcnow()
        action_id = claim_next(Session, now=at, lease_seconds=lease_seconds)
        if action_id is None:
            break
        status = _run_claimed(Session, settings, action_id, SYSTEM_ACTOR, factory, at)
        with Session() as session:
            action = get_action(session, action_id)
            report.outcomes.append(
                (action_id, status, action.outcome_note or action.last_error or "")
            )
    return report
