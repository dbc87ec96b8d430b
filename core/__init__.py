"""Ledgerdesk core: domain logic and storage, free of any UI framework."""
