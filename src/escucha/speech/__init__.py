"""Speech: recorded calls become transcripts that automatic QA reads (C5)."""
