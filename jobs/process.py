"""`python -m jobs process`: run the event handlers over the queue of stored events."""

from __future__ import annotations

import argparse
import time

from core.errors import NotFound
from core.sync.processing import ProcessReport, load_handler_modules, process_batch, replay
from jobs.output import Output, emit
from jobs.runtime import Runtime, open_runtime

HELP = "process stored events with the registered handlers (retries, dead letters, replay)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the process command."""
    parser.add_argument("--once", action="store_true", help="drain the due events once, then exit")
    parser.add_argument("--limit", type=int, default=500, help="events per batch (default 500)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--replay", metavar="EVENT_ID", help="re-queue one event (e.g. a dead one)")
    group.add_argument("--all-dead", action="store_true", help="re-queue every dead event")


def drain(runtime: Runtime, limit: int = 500) -> ProcessReport:
    """Process batches until nothing is due."""
    load_handler_modules()
    total = ProcessReport()
    while True:
        report = process_batch(runtime.Session, limit, settings=runtime.settings)
        for name in ("claimed", "processed", "retrying", "dead"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.claimed < limit:
            return total


def scheduled(runtime: Runtime) -> str:
    """The scheduler's process job."""
    return drain(runtime).summary()


def run(args: argparse.Namespace) -> Output | int:
    """Replay, or process once / in a loop."""
    runtime = open_runtime()
    if args.replay or args.all_dead:
        with runtime.Session.begin() as session:
            count = replay(session, event_id=args.replay, all_dead=args.all_dead)
        if args.replay and count == 0:
            raise NotFound(f"No stored event {args.replay}: check the id on the Sync health page.")
        text = f"re-queued {count} event(s); they run on the next `python -m jobs process`."
        return Output({"requeued": count}, text)
    while True:
        report = drain(runtime, args.limit)
        emit(Output(report.__dict__, report.summary()), args.json, indent=False)
        if args.once:
            return 0
        time.sleep(runtime.settings.sync_interval_seconds)
