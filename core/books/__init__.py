"""Books: ledger mapping, journal batches and export, payouts, bank matching, tax, lifecycle and read models."""
