"""Idempotency keys that belong to their caller, with a hash of what was asked (P5).

A key chosen by a client (the ``Idempotency-Key`` header, the web form's ``form_key``) is
stored only as a hash of (channel, caller, key): an API token, a signed-in user or an
anonymous browser session each have their own keys, so nobody can reach another caller's
case by sending the same key. The request's fields are hashed too: the same key with the same
fields gives back the first answer; the same key with other fields is refused with
:class:`IdempotencyKeyReused` before anything is written, telling the caller to send again
without the key or with a new one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, MutableMapping
from typing import Any

from escucha.errors import Conflict

ANONYMOUS_SESSION_KEY = "idem"


class IdempotencyKeyReused(Conflict):
    """The caller used this key before for a request with other fields (409)."""

    code = "idempotency_key_reused"

    def __init__(self, header: str = "Idempotency-Key") -> None:
        super().__init__(
            f"{header}: you already used this key for a request with other fields, so this "
            "one was NOT registered; send it again without the key, or with a new key"
        )


def caller_scope(
    *, via: str, user_id: int | None, authorization: str, session: MutableMapping[str, Any]
) -> str:
    """Who owns a key: the API token, else the signed-in user, else the browser session.

    An anonymous session gets a random identity kept in its signed cookie, created here on
    first use.
    """
    if via == "token":
        raw = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        return "token:" + hashlib.sha256(raw.encode()).hexdigest()
    if user_id is not None:
        return f"user:{user_id}"
    anon = session.get(ANONYMOUS_SESSION_KEY)
    if not isinstance(anon, str) or len(anon) < 16:
        anon = secrets.token_urlsafe(18)
        session[ANONYMOUS_SESSION_KEY] = anon
    return f"session:{anon}"


def scoped_key(channel: str, scope: str, key: str) -> str:
    """The stored form of a client's key: a hash of channel, caller and key (64 hex)."""
    return hashlib.sha256("\x1f".join((channel, scope, key)).encode()).hexdigest()


def request_hash(fields: Mapping[str, Any]) -> str:
    """A hash of the fields of a request, independent of their order (64 hex)."""
    text = json.dumps(dict(fields), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
