"""The registry of CLI commands: name → module with HELP, add_arguments(parser) and run(args)."""

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
    "reminders": "jobs.reminders",
    "export": "jobs.export",
    "journal": "jobs.journal",
    "books": "jobs.books",
    "digest": "jobs.digest",
}
