"""Dispute evidence: the checklist, the facts gathered from the store, the narrative, the packet and its PDF."""
