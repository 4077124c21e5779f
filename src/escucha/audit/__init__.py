"""The audit trail: append-only, hash-chained events (who, what, when) for tickets."""
