"""`python -m jobs webhook`: receive Stripe webhooks (or `stripe listen --forward-to`)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

from core.errors import ConfigError
from core.sync.webhook_receiver import WebhookReceiver, WebhookServer
from jobs.runtime import open_runtime

HELP = "receive signed Stripe webhooks, verify them and store the events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the webhook command."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    parser.add_argument(
        "--tolerance",
        type=int,
        default=None,
        help="max age (and lead) of a signature in seconds (default WEBHOOK_TOLERANCE_SECONDS, 300)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    runtime = open_runtime()
    secret = runtime.settings.stripe_webhook_secret
    if not secret:
        raise ConfigError(
            "STRIPE_WEBHOOK_SECRET is not set: copy the endpoint's signing secret (whsec_...) from "
            "the Stripe dashboard, or from the output of `stripe listen`."
        )
    limits = runtime.settings.webhook
    if args.tolerance is not None:
        if args.tolerance <= 0:
            raise ConfigError("--tolerance must be a positive number of seconds.")
        limits = replace(limits, tolerance_seconds=args.tolerance)
    receiver = WebhookReceiver(runtime.Session, [secret.reveal()], limits=limits)
    try:
        server = WebhookServer(receiver, args.host, args.port)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port} ({why}): stop what uses the port or pass "
            "--port N."
        ) from None
    print(f"listening on {server.url} — forward with: stripe listen --forward-to {server.url}")
    server.serve_forever()
    return 0
