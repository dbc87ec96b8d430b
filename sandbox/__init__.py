"""A Stripe-compatible sandbox server: realistic account data behind Stripe's HTTP semantics."""

API_VERSION = "2026-10-28.endive"
DEFAULT_API_KEY = "sk_test_sandbox"
