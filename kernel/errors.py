"""The one error hierarchy of the domain services; `api` maps it to `{"error", "detail"}` responses."""


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
