"""Sync: Stripe events and objects into the store (poll, backfill, webhooks), the processing queue, snapshots and sync health."""
