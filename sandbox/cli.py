"""Command line: `python -m jobs sandbox [flags]` (also `python -m sandbox`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.config import SandboxConfig


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """One clear line and exit 2, instead of usage noise."""
        self.exit(2, f"sandbox: error: {message}\n")


def _positive(name: str, allow_zero: bool = False):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(
                f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}"
            )
        return value

    return parse


def _port(text: str) -> int:
    value = _positive("--port", allow_zero=True)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"--port must be between 0 and 65535, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate-limit must be a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--rate-limit must be >= 0, got {text}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--fault-rate must be a number between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"--fault-rate must be between 0 and 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox flags (shared with `python -m jobs sandbox`)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=12111, help="port (0 = any free port; default 12111)"
    )
    parser.add_argument(
        "--seed", type=_positive("--seed", True), default=42, help="data seed (default 42)"
    )
    parser.add_argument(
        "--customers", type=_positive("--customers"), default=300, help="customers (default 300)"
    )
    parser.add_argument(
        "--days", type=_positive("--days"), default=730, help="days of history (default 730)"
    )
    parser.add_argument(
        "--live", action="store_true", help="keep producing new activity every few seconds"
    )
    parser.add_argument(
        "--latency-ms", type=_positive("--latency-ms", True), default=0, help="added latency"
    )
    parser.add_argument(
        "--rate-limit", type=_rate, default=0.0, help="requests/second, 0 = unlimited"
    )
    parser.add_argument(
        "--fault-rate", type=_probability, default=0.0, help="share of requests that fail"
    )
    parser.add_argument(
        "--connected-accounts",
        type=_positive("--connected-accounts", True),
        default=0,
        help="extra Connect accounts with their own data",
    )
    parser.add_argument(
        "--exports-dir",
        default="data/sandbox_exports",
        help="where CRM/help-desk/entitlement/bank CSVs are written ('' = none)",
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """A SandboxConfig from parsed flags."""
    return SandboxConfig(
        host=args.host,
        port=args.port,
        seed=args.seed,
        customers=args.customers,
        days=args.days,
        live=args.live,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fault_rate=args.fault_rate,
        connected_accounts=args.connected_accounts,
        exports_dir=args.exports_dir or None,
    )


def run(args: argparse.Namespace) -> int:
    """Start the server from parsed flags and serve until Ctrl-C / SIGTERM."""
    from sandbox.server import SandboxServer

    cfg = config_from_args(args)
    try:
        server = SandboxServer(cfg)
        url = server.start()
    except OSError as exc:
        print(
            f"sandbox: error: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C and SIGTERM just ask the wait loop to finish: no KeyboardInterrupt mid-print.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    counts = server.state.platform.counts()
    print(f"Stripe sandbox listening on {url}", flush=True)
    print(
        f"  API key: {cfg.api_key}  (any sk_test_... works; rk_test_... is read-only)", flush=True
    )
    print(
        f"  account {server.state.platform.id}: {counts.get('customer', 0)} customers, "
        f"{counts.get('invoice', 0)} invoices, {counts.get('event', 0)} events"
        f"{'; live activity on' if cfg.live else ''}",
        flush=True,
    )
    if server.state.truth.get("exports_dir"):
        print(f"  exports: {server.state.truth['exports_dir']}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("Stripe sandbox stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse flags and run; exit code 2 on bad flags."""
    parser = _Parser(prog="sandbox", description="Stripe-compatible sandbox server")
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 0
