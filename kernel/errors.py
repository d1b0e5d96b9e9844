"""The one error hierarchy of every domain; `api` maps it to `{"error", "detail"}` responses (and pages to
their own words), in one place each.

The pure core (`sla/core`) imports nothing of ours, so its errors (`CalendarError`, `ReplayError`) cannot
subclass `DomainError`: the package that owns them registers them here (`translate`), once, and every
door turns them into domain errors with `as_domain_error`.
"""

from collections.abc import Callable


class DomainError(Exception):
    """Base of every error a service raises on purpose. `detail` is written for a clerk (the API's English).

    `message_id` (with its `params`) names the message stably, so that pages show their own words for it
    (api/web/messages.py: keyed by the error class and this id) rather than the API's `detail`.
    """

    status_code = 400
    error = "bad_request"

    def __init__(
        self, detail: str, *, errors: list[dict] | None = None, message_id: str | None = None, **params
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.message_id = message_id
        self.params = params


class NotFound(DomainError):
    status_code = 404
    error = "not_found"


class Conflict(DomainError):
    status_code = 409
    error = "conflict"


class InvalidTransition(Conflict):
    error = "invalid_transition"


class InvalidInput(DomainError):
    status_code = 422
    error = "invalid_input"


class Unauthorized(DomainError):
    status_code = 401
    error = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    error = "forbidden"


_TRANSLATIONS: dict[type[Exception], Callable[[Exception], DomainError]] = {}


def translate(*errors: type[Exception], to: type[DomainError] | Callable[[Exception], DomainError]) -> None:
    """Register errors from outside the hierarchy (the pure core's) as a domain error: a class (built with the
    error's message) or a function of the error."""
    for error in errors:
        _TRANSLATIONS[error] = (lambda exc, cls=to: cls(str(exc))) if isinstance(to, type) else to


def translated_errors() -> tuple[type[Exception], ...]:
    """The registered outside errors (for `except` clauses and exception handlers)."""
    return tuple(_TRANSLATIONS)


def as_domain_error(exc: BaseException) -> DomainError | None:
    """`exc` as a domain error: itself, its registered translation (its nearest registered class), or None."""
    if isinstance(exc, DomainError):
        return exc
    for cls in type(exc).__mro__:
        if cls in _TRANSLATIONS:
            return _TRANSLATIONS[cls](exc)
    return None
