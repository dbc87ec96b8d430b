"""Ledgerdesk's command-line entry points: `python -m jobs <command>`."""
