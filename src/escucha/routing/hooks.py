"""The routing domain's session hooks: every flush that changes what routing sees moves the
routing version on (:mod:`escucha.routing.cache`), and every commit tells the live streams
which agents, contacts and users changed (:mod:`escucha.db.changes`, ADR 25).
:func:`escucha.db.registry.load_models` finds this file by its name, as it finds ``models.py``
(ADR 9), and calls :func:`install`."""

from __future__ import annotations

from collections.abc import Iterable

from escucha.auth.models import User, UserSession
from escucha.contacts.models import Contact
from escucha.db import changes
from escucha.org.models import AgentProfile
from escucha.routing import cache
from escucha.routing.models import AgentStatus


def _contact(c: Contact) -> Iterable[str]:
    yield from (f"contact:{c.id}", "floor")
    if c.agent_id is not None:
        yield f"agent:{c.agent_id}"


def _session(s: UserSession) -> Iterable[str]:
    if s.ended_at is not None:  # signed out: the user's streams end
        yield f"user:{s.user_id}"


def install() -> None:
    cache.install()
    changes.install()
    changes.register(Contact, _contact)
    changes.register(AgentStatus, lambda a: (f"agent:{a.user_id}", "floor"))
    changes.register(AgentProfile, lambda p: (f"agent:{p.user_id}", "floor"))
    changes.register(User, lambda u: (f"user:{u.id}", f"agent:{u.id}", "floor"))
    changes.register(UserSession, _session)
