"""The registry of CLI commands: name → module with HELP, add_arguments(parser) and run(args).

SUMMARY is each command's one line in `python -m jobs --help`, kept here so that listing the
commands imports none of them. Every command takes `--json` except those in SERVERS, which run
until stopped and print no data.
"""

COMMANDS: dict[str, str] = {
    "up": "jobs.stack",
    "migrate": "jobs.migrate",
    "sandbox": "jobs.sandbox",
    "sync": "jobs.sync",
    "backfill": "jobs.backfill",
    "webhook": "jobs.webhook",
    "process": "jobs.process",
    "scheduler": "jobs.scheduler",
    "status": "jobs.status",
    "users": "jobs.users",
    "execute": "jobs.execute",
    "audit": "jobs.audit",
    "outbox": "jobs.outbox",
    "import": "jobs.imports",
    "predunning": "jobs.predunning",
    "dunning": "jobs.dunning",
    "reminders": "jobs.reminders",
    "export": "jobs.export",
    "journal": "jobs.journal",
    "books": "jobs.books",
    "digest": "jobs.digest",
    "briefs": "jobs.briefs",
}

SUMMARY: dict[str, str] = {
    "up": "what `make run` starts: sandbox, scheduler and dashboard",
    "migrate": "create or upgrade the database schema",
    "sandbox": "run the Stripe-compatible sandbox server on its own",
    "sync": "pull new Stripe events for every account into the store",
    "backfill": "load Stripe objects by date, for a first start or a long gap",
    "webhook": "receive signed Stripe webhooks and store their events",
    "process": "run the event handlers over stored events; replay dead ones",
    "scheduler": "run every job on its interval (one scheduler at a time)",
    "status": "sync health, queue, recovery buckets and disputes due",
    "users": "add, list, change or disable desk users; reset passwords",
    "execute": "carry out approved actions against Stripe, exactly once each",
    "audit": "verify the audit log's chain, or export it as CSV",
    "outbox": "send queued e-mails and alerts, or list the outbox",
    "import": "load a CSV from the CRM, help desk, bank or other systems",
    "predunning": "draft card-update e-mails for cards that expire soon",
    "dunning": "send the due steps of pre-approved dunning sequences",
    "reminders": "send dispute deadline reminders that are due",
    "export": "export a report as CSV, XLSX or PDF",
    "journal": "build journal batches and export them for the books",
    "books": "reconcile payouts, rebuild journal batches and record drift",
    "digest": "write the daily digest's reports; mail them when SMTP is set",
    "briefs": "have the model write the briefs of waiting requests ahead",
}

# Long-running commands with nothing to print as data: no --json.
SERVERS: frozenset[str] = frozenset({"up", "sandbox", "webhook", "scheduler"})
