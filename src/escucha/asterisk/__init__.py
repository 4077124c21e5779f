"""Asterisk: escucha runs the line on the organisation's own PBX through ARI (ADR 22)."""
