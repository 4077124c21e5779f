"""Who may do what. Every route names the roles it admits; this is the one ordering."""

from __future__ import annotations

__pure__ = True  # imports only the standard library, NumPy, SciPy and pure modules

RANK = {"agent": 1, "supervisor": 2, "admin": 3}


def allows(role: str, minimum: str) -> bool:
    """Roles are ordered: an admin may do what a supervisor may, who may do what an agent may."""
    return RANK.get(role, 0) >= RANK[minimum]
