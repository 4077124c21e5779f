"""Agents at work: their state history and breaks (C6)."""
