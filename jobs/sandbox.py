"""`python -m jobs sandbox`: run the Stripe-compatible sandbox server."""

from __future__ import annotations

HELP = "run the Stripe-compatible sandbox server (demo, tests, benchmarks)"
PASSTHROUGH = True


def main(argv: list[str]) -> int:
    """Hand over to the sandbox's own command line (see sandbox/README.md for its flags)."""
    from sandbox.cli import main as sandbox_main

    return sandbox_main(argv)
