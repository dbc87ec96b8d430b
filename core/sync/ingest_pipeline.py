"""Ingestion of many pages: fetch and prepare in a helper thread, store in grouped transactions."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from core.sync.ingest import IngestResult, store_batch
from core.sync.ingest_prepare import merge_batches, prepare_events

GROUP_PAGES = 25
GROUP_WAIT_S = 0.05
GROUP_SPAN_S = 1.0


def store_pipelined(
    session_factory: Any,
    pages: Iterable[Sequence[Any]],
    *,
    account: str = "",
    source: str = "poll",
    max_group: int = GROUP_PAGES,
    group_wait: float = GROUP_WAIT_S,
    group_span: float = GROUP_SPAN_S,
    on_commit: Any = None,
) -> IngestResult:
    """Fetch and prepare pages in a helper thread while this thread stores them in groups.

    Pages that arrive within `group_wait` of each other are stored in one transaction (whole
    pages, up to `max_group`): each commit rewrites every index page it touched, and the
    event-id and object-id indexes are touched at random, so a backlog committed a page at a
    time costs about three times what the same pages cost a hundred at a time. A page fetched
    over the network alone is committed `group_wait` after it arrives.

    The helper runs while this thread waits for pages or commits (one long call without the
    GIL), and pauses while rows are inserted: SQLite hands the GIL back on every row, and a busy
    helper turns each hand-back into a wait, which made two threads slower than one.
    `on_commit(session, pages)` runs inside each transaction (the pages it stores, in the order
    given), e.g. to move a cursor with the events it covers.
    """
    raw_json = True  # encoded once, handed to the driver as text on either database
    ready: queue.Queue[Any] = queue.Queue(maxsize=max_group)
    done = object()
    failure: list[BaseException] = []
    gate = threading.Event()  # set: the helper may work
    gate.set()
    stopped = threading.Event()  # set: this thread has given up (an error), the helper ends

    def hand_over(item: Any) -> None:
        while not stopped.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for page in pages:
                gate.wait()
                if stopped.is_set():
                    return
                batch = prepare_events(page, account=account, source=source, raw_json=raw_json)
                hand_over((batch, page))
        except BaseException as exc:  # noqa: BLE001 - handed to the storing thread, re-raised there
            failure.append(exc)
        finally:
            hand_over(done)

    worker = threading.Thread(target=produce, name="ingest-prepare", daemon=True)
    worker.start()
    total = IngestResult()
    finished = False
    try:
        while not finished:
            group = [ready.get()]
            until = time.monotonic() + group_span
            while group[-1] is not done and len(group) < max_group:
                try:
                    group.append(ready.get(timeout=group_wait))
                except queue.Empty:
                    # Nothing for a moment: the next page is on its way over the network (the
                    # helper hands over `done` when there is none); wait while the group is young.
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        group.append(ready.get(timeout=left))
                    except queue.Empty:
                        break
            if group[-1] is done:
                group.pop()
                finished = True
            if group:
                with session_factory.begin() as session:
                    gate.clear()
                    try:
                        total.add(store_batch(session, merge_batches([b for b, _ in group])))
                        if on_commit is not None:
                            on_commit(session, [p for _, p in group])
                    finally:
                        gate.set()
    except BaseException:
        stopped.set()
        raise
    worker.join()
    if failure:
        raise failure[0]
    return total
