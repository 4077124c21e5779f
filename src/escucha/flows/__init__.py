"""Flows: work that spans several domains, decided above them (docs/architecture.md, ADR 14).

A flow calls domain services in a stated order inside the caller's transaction; no domain
calls a flow, and no domain calls up into another to finish a flow's work.
"""
