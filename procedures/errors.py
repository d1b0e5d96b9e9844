"""The one error hierarchy of the domain services; `api` maps it to `{"error", "detail"}` responses."""


class DomainError(Exception):
    """Base of every error a service raises on purpose. `detail` is written for a clerk."""

    status_code = 400
    error = "bad_request"

    def __init__(self, detail: str, *, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


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
