"""One error family for the whole system.

Services raise subclasses of :class:`EscuchaError`; each carries its HTTP status and a stable
machine code. The API renders them as ``{"error": code, "detail": message}`` and the screens as
an HTML page or fragment.
"""

from __future__ import annotations

__pure__ = True  # imports only the standard library


class EscuchaError(Exception):
    """Base error: ``message`` is safe to show to the person who caused it."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EscuchaError):
    status_code = 404
    code = "not_found"


class Conflict(EscuchaError):
    status_code = 409
    code = "conflict"


class InvalidInput(EscuchaError):
    status_code = 422
    code = "invalid_input"


class Unauthenticated(EscuchaError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(EscuchaError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(EscuchaError):
    status_code = 429
    code = "too_many_requests"


class ConfigurationError(EscuchaError):
    status_code = 500
    code = "configuration_error"
