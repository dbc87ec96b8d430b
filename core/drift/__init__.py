"""Drift: checks between Stripe and the team's other systems, their daily snapshots, and the books refresh that records them."""
