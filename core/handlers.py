"""Where the domains plug into the shared machinery, named as module paths so that the sync
and governance packages never import the domains that react to them.

HANDLER_MODULES register event handlers (`@handles`) with the processing queue.
EXECUTOR_MODULES register action executors (`@executor`) with the governance executor.
OUTBOX_CHECK_MODULES register re-checks (`@still_true`) with the outbox.
BRIEF_MODULES register the briefs alerts carry (`@alert_brief` of core.disputes.reminders).
"""

HANDLER_MODULES: list[str] = [
    "core.disputes.handlers",
    "core.recovery.handlers",
]

EXECUTOR_MODULES: list[str] = [
    "core.governance.executors",
    "core.disputes.submission",
]

OUTBOX_CHECK_MODULES: list[str] = [
    "core.recovery.message_checks",
    "core.disputes.message_checks",
]

BRIEF_MODULES: list[str] = [
    "core.reports.briefs.alerts",
]
