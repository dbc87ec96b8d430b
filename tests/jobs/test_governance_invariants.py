"""The governance promise as a stateful property: whatever order requests, approvals by any user
and role, rejections, expiries, executions, crashes, forgotten idempotency keys, payments and
role changes happen in, after every step

- no money moved in Stripe without the policy's approvers, counted from what Stripe moved;
- at most one Stripe effect per action;
- no customer email delivered about an invoice that was already paid;
- every state change is in the audit chain, and the chain verifies.

Real components throughout: the sandbox over HTTP through the real stripe client, an SMTP server
on loopback, SQLite and PostgreSQL, and a forked executor that dies right after its Stripe call.

Every example starts with the sequences the promises are most about (see `world`): three
requests above the two-approver threshold (a refund naming no amount of a charge above it, a
partial refund, a credit) each get exactly one approver and run (now, by the job, in a process
that crashes, or later), and a reminder is approved and queued, then its customer pays before the
outbox runs. Aimed rules repeat these later in the example, between rules that do anything in any
order. At the end of each example the scheduler runs once more (every approved action, then the
outbox), so whatever was left approved or queued is carried out and checked too.

The run is derandomized (the same examples on every run and in CI) and does not shrink: a
failure is reported with the steps that led to it at once, instead of minutes later.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from core.adapters.stripe_gateway import StripeGateway, make_client
from core.config import Secret
from core.db import make_engine, make_sessionmaker
from core.errors import CoreError
from core.governance import actions, audit, deliveries
from core.governance.auth import SYSTEM_ACTOR, current_actor, set_role
from core.governance.executor import execute_action, run_pending
from core.governance.policy import load_policy
from core.models.base import utcnow
from core.models.governance import ActionRequest, OutboxMessage
from core.sync.ingest import ingest_events
from core.sync.processing import load_handler_modules, process_batch
from core.sync.snapshots import refresh_requested
from tests.support.governance import make_user
from tests.support.invariants import (
    Since,
    audit_problems,
    delivered_about,
    effect_problems,
    stripe_effects,
)
from tests.support.receivers import smtp_server
from tests.support.sandbox import running_sandbox
from tests.support.sync import control, sandbox_runtime

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
load_handler_modules()

PEOPLE = ("operator", "approver1", "approver2", "admin", "viewer")
ROLES = {"operator": "operator", "approver1": "approver", "approver2": "approver"}
ROLES |= {"admin": "admin", "viewer": "viewer"}
DECIDERS = ("approver1", "approver2", "admin")
HOW = ("run now", "job", "crash")
EXAMPLES = 12
STEPS = 10
BIG = 80_000  # a charge above the shipped policy's $500.00 two-approver threshold
BIG_KINDS: dict[str, tuple[str, int, int | None]] = {  # (type, charge or credit, amount)
    "full refund": ("refund", BIG, None),  # no amount: Stripe says how much (all of it)
    "partial refund": ("refund", BIG, BIG - 5_000),
    "credit": ("customer_credit", BIG, BIG - 5_000),
}
WORLD_STATS: dict[str, int] = {}


def tally(outcome: str | None) -> None:
    """Count what happened, to show the machine reaches the paths that matter."""
    key = outcome or "not ours"
    WORLD_STATS[key] = WORLD_STATS.get(key, 0) + 1


@dataclasses.dataclass
class World:
    """What lives across examples: the sandbox, the desk runtime, the mail server."""

    sandbox: Any
    rt: Any
    gw: StripeGateway
    smtp: Any
    received: list[dict[str, Any]]
    customers: list[str]
    offset: timedelta = timedelta(0)
    examples: Any = dataclasses.field(default_factory=itertools.count)
    credits: Any = dataclasses.field(default_factory=itertools.count)


WORLD: World | None = None


def simulate(kind: str, **params: str) -> dict[str, Any]:
    assert WORLD is not None
    resp = requests.post(f"{WORLD.sandbox.url}/_sandbox/simulate/{kind}", data=params, timeout=10)
    resp.raise_for_status()
    return dict(resp.json())


def sync_events(event_ids: list[str]) -> None:
    """What the sync does with new events: store them, read what they name, run the handlers."""
    assert WORLD is not None
    gw, Session = WORLD.gw, WORLD.rt.Session
    events = [gw.retrieve("events", e) for e in event_ids]
    with Session.begin() as s:
        ingest_events(s, sorted(events, key=lambda e: (e["created"], e["id"])))
    process_batch(Session)
    refresh_requested(Session, gw.retrieve, gw.list_page, account="")
    process_batch(Session, now=utcnow() + timedelta(hours=1))


class Governance(RuleBasedStateMachine):
    """Requests, decisions, time, executions, crashes, payments and roles in any order."""

    requests = Bundle("requests")  # every request of this example
    big = Bundle("big")  # money requests above the two-approver threshold
    queued = Bundle("queued")  # unpaid invoices whose approved reminder waits in the outbox

    @initialize(
        targets=(requests, big),
        order=st.permutations(list(BIG_KINDS)),
        deciders=st.lists(st.sampled_from(DECIDERS), min_size=3, max_size=3),
        hows=st.lists(st.sampled_from((*HOW, "later")), min_size=3, max_size=3),
        synced=st.booleans(),
        deliver_now=st.booleans(),
    )
    def world(
        self,
        order: list[str],
        deciders: list[str],
        hows: list[str],
        synced: bool,
        deliver_now: bool,
    ) -> Any:
        """A fresh team; then, in every example, the sequences the promises are most about:

        - three requests above the two-approver threshold (a refund naming no amount of a
          charge above it, a partial refund and a credit above it) each get exactly one
          approver, and run now, by the job, in a process that crashes, or later;
        - a reminder is approved and queued, then the customer pays (the desk may not have
          synced it yet) and the outbox runs now or later.
        """
        self.start_example()
        ids = {kind: self._request_money("operator", *BIG_KINDS[kind]) for kind in order}
        for kind, who, how in zip(order, deciders, hows, strict=True):
            action_id = ids[kind]
            assert action_id is not None
            self.one_approver_then_run(action_id, who, how)
        self.queue_then_pay("operator", "approver1", synced, deliver_now)
        return multiple(*(i for i in ids.values() if i is not None))

    def start_example(self) -> None:
        assert WORLD is not None
        self.w = WORLD
        self.Session = WORLD.rt.Session
        self.policy = load_policy(WORLD.rt.settings.policy_file)
        n = next(WORLD.examples)
        self.prefix = f"e{n}-"
        self.w.offset = timedelta(0)  # each example's desk clock starts now
        with self.Session.begin() as s:
            # earlier examples' open actions were checked in their run and are closed now, so
            # that no request here joins one of theirs
            for action in s.scalars(
                select(ActionRequest).where(ActionRequest.status.in_(("requested", "approved")))
            ):
                actions.supersede(s, SYSTEM_ACTOR, action.id, "the next example starts")
        with self.Session() as s:
            self.since = Since.now(s, self.prefix)
        with self.Session.begin() as s:
            self.ids = {p: make_user(s, f"{self.prefix}{p}", ROLES[p]).user_id for p in PEOPLE}
        self.verified: audit.VerifyResult | None = None
        self.approved_at: dict[tuple[int, str], Any] = {}
        self.paid: set[str] = set()
        self.unpaid: list[str] = []
        self.charges: set[str] = set()
        self.credited: set[str] = set()
        self.stripe_may_have_moved = False
        self.effects: list[Any] = []
        self.status: dict[int, str] = {}

    def now(self) -> Any:
        return utcnow() + self.w.offset

    def actor(self, who: str) -> Any:
        with self.Session() as s:
            return current_actor(s, self.ids[who])

    # --- requests ---------------------------------------------------------------------------

    @rule(
        target=requests,
        kind=st.sampled_from(["refund", "customer_credit"]),
        size=st.sampled_from([BIG, 30_000]),
        part=st.sampled_from(["full", "large", "small"]),
        who=st.sampled_from(["operator", "approver1"]),
    )
    def request_money(self, kind: str, size: int, part: str, who: str) -> Any:
        """A refund (partial, or with no amount: full) or a credit, below or above $500."""
        amount = {"small": 10_000, "large": size - 5_000, "full": None}[part]
        action_id = self._request_money(who, kind, size, amount)
        return multiple() if action_id is None else action_id

    def _request_money(self, who: str, kind: str, size: int, amount: int | None) -> int | None:
        if kind == "customer_credit":
            cus = self.w.customers[next(self.w.credits) % len(self.w.customers)]
            self.credited.add(cus)
            params = {"customer": cus, "amount": amount or size, "currency": "usd"}
            return self._request(who, kind, cus, params)
        charge = simulate("invoice_paid", amount=str(size))["charge"]
        self.charges.add(charge)
        params = {"charge": charge, "currency": "usd"}
        if amount is not None:
            params["amount"] = amount
        return self._request(who, kind, charge, params)

    @rule(target=requests, who=st.sampled_from(["operator", "approver1"]))
    def request_message(self, who: str) -> Any:
        """A payment fails (the desk syncs it and opens a case); a reminder is requested."""
        found = self._request_reminder(who)
        return multiple() if found is None else found[0]

    def _request_reminder(self, who: str) -> tuple[int, str] | None:
        failed = simulate("payment_failed")
        sync_events(failed["events"])
        invoice = str(failed["invoice"])
        self.unpaid.append(invoice)
        params = {
            "to": f"customer-{invoice.lower()}@example.com",
            "subject": "Your payment failed",
            "body": "Please update your card.",
            "invoice": invoice,
        }
        action_id = self._request(who, "send_message", invoice, params)
        return None if action_id is None else (action_id, invoice)

    def _request(self, who: str, kind: str, target: str, params: dict[str, Any]) -> int | None:
        try:
            with self.Session.begin() as s:
                action = actions.request_action(
                    s,
                    self.actor(who),
                    action_type=kind,
                    target_id=target,
                    params=params,
                    reason=f"{kind} asked by {who}",
                    now=self.now(),
                )
                return int(action.id)
        except CoreError:  # e.g. their role was changed to one that may not ask
            return None

    # --- decisions ---------------------------------------------------------------------------

    @rule(
        action_id=requests,
        who=st.sampled_from(PEOPLE),
        what=st.sampled_from(["approve", "reject", "run now", "crash"]),
    )
    def decide(self, action_id: int, who: str, what: str) -> None:
        """Anyone does anything to any request, in any state."""
        if what == "approve":
            self._approve(action_id, who)
            return
        if what in ("run now", "crash"):
            self.execute(action_id, what)
            return
        try:
            with self.Session.begin() as s:
                actions.reject(s, self.actor(who), action_id, "not convinced", now=self.now())
        except CoreError:
            pass

    def _approve(self, action_id: int, who: str) -> bool:
        now = self.now()
        try:
            with self.Session.begin() as s:
                actions.approve(s, self.actor(who), action_id, "checked", now=now)
        except CoreError as exc:
            tally(f"approve refused: {type(exc).__name__}")
            return False
        tally("approval accepted")
        self.approved_at[(action_id, f"{self.prefix}{who}")] = now
        return True

    @rule(
        action_id=requests,
        deciders=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True),
        how=st.sampled_from(HOW),
    )
    def decide_and_run(self, action_id: int, deciders: list[str], how: str) -> None:
        """The path that matters most, in one step: some people approve, then it runs."""
        for who in deciders:
            self._approve(action_id, who)
        self.execute(action_id, how)

    @rule(action_id=big, who=st.sampled_from(DECIDERS), how=st.sampled_from(HOW))
    def one_approver_on_a_big_request(self, action_id: int, who: str, how: str) -> None:
        """Aimed: exactly one (more) approver says yes to a request above the two-approver
        threshold (or to a refund whose amount Stripe puts above it), and it is run at once."""
        self.one_approver_then_run(action_id, who, how)

    def one_approver_then_run(self, action_id: int, who: str, how: str) -> None:
        if self._approve(action_id, who):
            tally("one approver on a big request")
        if how != "later":  # else a later step, or the job at the end of the example, runs it
            self.execute(action_id, how)

    @precondition(lambda self: "requested" in self.status.values())
    @rule(
        data=st.data(),
        who=st.sampled_from(["approver1", "approver2", "admin", "viewer"]),
        then_run=st.booleans(),
    )
    def approve_an_open_request(self, data: st.DataObject, who: str, then_run: bool) -> None:
        """Aimed: one person approves a request still open, and maybe it is run at once."""
        open_ids = sorted(i for i, s in self.status.items() if s == "requested")
        action_id = data.draw(st.sampled_from(open_ids))
        self._approve(action_id, who)
        if then_run:
            self.execute(action_id, "run now")

    @precondition(lambda self: {"approved", "executing"} & set(self.status.values()))
    @rule(data=st.data(), how=st.sampled_from(HOW))
    def run_an_approved_action(self, data: st.DataObject, how: str) -> None:
        """Aimed: an approved (or crashed, still executing) action is run."""
        ready = sorted(i for i, s in self.status.items() if s in ("approved", "executing"))
        self.execute(data.draw(st.sampled_from(ready)), how)

    # --- reminders while the customer pays ------------------------------------------------------

    @rule(target=queued, who=st.sampled_from(["operator", "approver1"]))
    def queue_a_reminder(self, who: str) -> Any:
        """Aimed: a reminder is requested, approved and run, so its email waits in the outbox."""
        approver = "approver2" if who == "approver1" else "approver1"
        invoice = self._queue_reminder(who, approver)
        return multiple() if invoice is None else invoice

    def queue_then_pay(self, who: str, approver: str, synced: bool, deliver_now: bool) -> None:
        invoice = self._queue_reminder(who, approver)
        assert invoice is not None, "the example's own team could not queue a reminder"
        self.customer_pays_while_queued(invoice, synced, deliver_now)

    def _queue_reminder(self, who: str, approver: str) -> str | None:
        found = self._request_reminder(who)
        if found is None:
            return None
        action_id, invoice = found
        self._approve(action_id, approver)
        self.execute(action_id, "run now")
        with self.Session() as s:
            waiting = s.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.dedupe_key == f"action:{action_id}",
                    OutboxMessage.status.in_(("pending", "held")),
                )
            )
        if waiting is None:  # e.g. the approver's role was changed: nothing was queued
            return None
        tally("reminder queued")
        return invoice

    @rule(invoice=consumes(queued), synced=st.booleans(), then_deliver=st.booleans())
    def customer_pays_while_queued(self, invoice: str, synced: bool, then_deliver: bool) -> None:
        """Aimed: the customer pays while their reminder waits (the desk may not know yet); the
        outbox may run at once or later (at the latest when the example ends)."""
        if invoice in self.unpaid:
            self.customer_pays(invoice, synced)
            tally("paid while a reminder was queued")
        if then_deliver:
            self.deliver_and_check()

    # --- time, execution, crashes --------------------------------------------------------------

    @rule(
        data=st.data(),
        what=st.sampled_from(["12 minutes", "1 hour", "25 hours", "73 hours", "payment", "role"]),
    )
    def world_moves(self, data: st.DataObject, what: str) -> None:
        """Time passes (past 24 h Stripe forgets keys), a customer pays, or a role changes."""
        if what == "payment" and self.unpaid:
            self.customer_pays(data.draw(st.sampled_from(self.unpaid)), data.draw(st.booleans()))
        elif what == "role":
            who = data.draw(st.sampled_from(["approver1", "approver2", "viewer", "operator"]))
            role = data.draw(st.sampled_from(["viewer", "operator", "approver"]))
            with self.Session.begin() as s:
                set_role(s, self.actor("admin"), f"{self.prefix}{who}", role)
        elif what != "payment":
            number, unit = what.split()
            self.time_passes(int(number) * (60 if unit == "minutes" else 3600))

    def time_passes(self, seconds: int) -> None:
        """The desk's clock and the sandbox's move together."""
        control(self.w.sandbox.url, "clock/advance", {"seconds": str(seconds)})
        self.w.offset += timedelta(seconds=seconds)
        with self.Session.begin() as s:
            actions.expire_due(s, now=self.now())

    def execute(self, action_id: int | None, how: str) -> None:
        """Run one action (None: what the scheduled job finds due)."""
        if how == "crash" and action_id is not None:
            self.crash_run(action_id)
            self.stripe_may_have_moved = True
        elif how == "job" or action_id is None:
            report = run_pending(self.Session, self.w.rt.settings, now=self.now())
            for _, outcome, _ in report.outcomes:
                tally(outcome)
            self.stripe_may_have_moved |= bool(report.outcomes)
        else:
            outcome = execute_action(self.Session, self.w.rt.settings, action_id, now=self.now())
            tally(outcome)
            self.stripe_may_have_moved |= outcome is not None

    def crash_run(self, action_id: int) -> None:
        """An executor process that dies right after Stripe answered, before it commits."""
        settings = dataclasses.replace(self.w.rt.settings, crash_after_stripe_call=True)
        now = self.now()
        pid = os.fork()
        if pid == 0:  # the child never returns into the test runner
            code = 0
            try:
                engine = make_engine(settings.database_url)
                child = make_sessionmaker(engine, settings.audit_key)
                execute_action(child, settings, action_id, now=now)
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        assert code in (0, 70)
        tally("crashed after the Stripe call" if code == 70 else "crash run ended normally")

    # --- the world moves --------------------------------------------------------------------------

    def customer_pays(self, invoice: str, synced: bool) -> None:
        """The invoice is paid in Stripe; the desk may or may not have synced it yet."""
        paid = simulate("invoice_paid", invoice=invoice)
        self.unpaid.remove(invoice)
        self.paid.add(invoice)
        if synced:
            sync_events(paid["events"])

    @rule()
    def deliver(self) -> None:
        """The outbox runs."""
        self.deliver_and_check()

    def deliver_and_check(self) -> None:
        """Nothing may reach a customer whose invoice was paid before the outbox ran."""
        paid_before = set(self.paid)
        seen = len(self.w.received)
        deliveries.deliver(self.Session, self.w.smtp, now=self.now(), timeout=5)
        with self.Session() as s:
            about = delivered_about(s, self.w.received[seen:])
        if about:
            tally("emails delivered")
        late = [a for a in about if a in paid_before]
        assert not late, f"emails delivered about invoices already paid: {late}"

    # --- after every step ---------------------------------------------------------------------

    @invariant()
    def promises_hold(self) -> None:
        if not hasattr(self, "w"):
            return
        tally("step")
        if self.stripe_may_have_moved:  # only the executor moves money in Stripe
            found = stripe_effects(self.w.gw, self.charges, self.credited)
            self.effects = [e for e in found if e.action_id > self.since.action_id]
            self.stripe_may_have_moved = False
        with self.Session() as s:
            problems = effect_problems(s, self.effects, self.policy, self.approved_at)
            problems += audit_problems(s, self.since)
            self.status = dict(
                s.execute(
                    select(ActionRequest.id, ActionRequest.status).where(
                        ActionRequest.id > self.since.action_id
                    )
                ).all()
            )
            self.verified = audit.verify_from(s, self.verified)  # only what was appended since
        assert self.verified.ok, self.verified.summary()
        assert not problems, "\n".join(problems)

    def teardown(self) -> None:
        """The scheduler's next round: every approved action runs, then the outbox."""
        if not hasattr(self, "w"):
            return
        self.execute(None, "job")
        self.deliver_and_check()
        self.promises_hold()


def test_governance_invariants_hold_in_any_order(db_url: str, tmp_path: Path) -> None:
    global WORLD
    with running_sandbox(customers=12, days=10) as sandbox, smtp_server() as (port, received):
        rt = sandbox_runtime(db_url, sandbox.url, tmp_path)
        gw = StripeGateway(make_client(rt.settings))
        customers = [c["id"] for c in gw.list_page("customers", {"limit": 12})["data"]]
        smtp = dataclasses.replace(rt.settings, smtp_url=Secret(f"smtp://127.0.0.1:{port}"))
        WORLD = World(sandbox, rt, gw, smtp, received, customers)
        WORLD_STATS.clear()
        try:
            run_state_machine_as_test(
                Governance,
                settings=settings(
                    max_examples=EXAMPLES,
                    stateful_step_count=STEPS,
                    deadline=None,
                    derandomize=True,  # the same examples on every run, here and in CI
                    database=None,
                    phases=(Phase.explicit, Phase.generate),  # report at once, no shrinking
                    report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            WORLD = None
            print(f"\n{db_url.split(':')[0]}: {dict(sorted(WORLD_STATS.items()))}")
        with rt.Session() as s:
            assert audit.verify(s).ok
        rt.engine.dispose()
        # The aimed paths were reached, so a pass means something.
        assert WORLD_STATS.get("one approver on a big request", 0) >= 3 * EXAMPLES
        assert WORLD_STATS.get("paid while a reminder was queued", 0) >= EXAMPLES
