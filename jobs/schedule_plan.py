"""What the scheduler runs and how often: (name, interval in seconds, "module:function").

An interval of 0 means "the configured SYNC_INTERVAL_SECONDS". Each function takes a
jobs.runtime.Runtime and returns a one-line summary (or raises; the scheduler logs it).
"""

PLAN: list[tuple[str, int, str]] = [
    ("sync", 0, "jobs.sync:scheduled"),
    ("process", 0, "jobs.process:scheduled"),
    ("execute", 15, "jobs.execute:scheduled"),
    ("outbox-deliver", 30, "jobs.outbox:scheduled"),
    ("reminders", 300, "jobs.reminders:scheduled"),
    ("expire-actions", 300, "jobs.execute:expire_scheduled"),
    ("books", 3600, "jobs.books:scheduled"),
    ("read-models", 60, "jobs.books:read_models_scheduled"),
    ("digest", 86400, "jobs.digest:scheduled"),
    ("predunning", 86400, "jobs.predunning:scheduled"),
    ("dunning", 3600, "jobs.dunning:scheduled"),
    ("briefs", 120, "jobs.briefs:scheduled"),
]

# Jobs that read what the sync stores: they wait for the first complete load (figures computed
# from half an account would be wrong), then run at once rather than an interval later.
AFTER_FIRST_LOAD: frozenset[str] = frozenset(
    {"books", "read-models", "digest", "predunning", "dunning", "briefs"}
)

# Jobs whose working set grows with the store (they read every payout, invoice or report row):
# the scheduler runs them one at a time, so a store's size is paid once, not once per job.
ONE_AT_A_TIME: frozenset[str] = frozenset(
    {"books", "read-models", "digest", "predunning", "dunning", "reminders"}
)
