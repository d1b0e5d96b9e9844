"""One error shape everywhere: `{"error": ..., "detail": ...}` (plus `errors` where rows or fields are listed)."""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

import sla  # noqa: F401  (imported, sla has translated its core's errors: `install` handles them)
from kernel.errors import DomainError, as_domain_error, translated_errors

log = logging.getLogger("motcua.api")
MAX_LISTED_ERRORS = 200  # an answer lists the first 200 problems and counts the rest


class ErrorBody(BaseModel):
    """Every error answer: a short code, a sentence for the user, and the rows or fields at fault."""

    error: str
    detail: str
    errors: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not signed in, or the token is unknown or expired",
        403: "Outside your role or agency scope",
        404: "Not found",
        409: "Conflict with the current state (e.g. an event the status does not admit)",
        413: "Request body too large",
        422: "Invalid input: what was wrong and what is accepted",
        429: "Too many requests",
        503: "The database cannot be reached for a moment: retry after `Retry-After` seconds",
    }.items()
}


def error_response(
    status_code: int, error: str, detail: str, errors: list | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict = {"error": error, "detail": detail}
    if errors:
        body["errors"] = errors[:MAX_LISTED_ERRORS]
        if len(errors) > MAX_LISTED_ERRORS:
            rest = len(errors) - MAX_LISTED_ERRORS
            body["detail"] += f" (`errors` lists the first {MAX_LISTED_ERRORS} … and {rest:,} more)"
    return JSONResponse(status_code=status_code, content=body, headers=headers)


def _allowed_methods(app: FastAPI, path: str) -> str | None:
    """Every method of the documented path `path` falls under (Starlette's 405 names only its first route's)."""
    for template, operations in app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), path):
            methods = {method.upper() for method in operations} | ({"HEAD"} if "get" in operations else set())
            return ", ".join(sorted(methods))
    return None


def _describe(problem: dict) -> str:
    where = ".".join(str(part) for part in problem["loc"] if part not in ("body", "query", "path"))
    return f"{where}: {problem['msg']}" if where else problem["msg"]


API_PATHS = ("/api/", "/static/", "/openapi.json")


def wants_page(request: Request) -> bool:
    """A browser asking for a page: not an API or asset path, and `Accept` names text/html (before JSON).

    Such a request gets its error as an HTML page in the site's layout; every other client keeps
    the JSON shape `{"error", "detail"}`."""
    path = request.url.path
    if path == "/api" or path.startswith(API_PATHS):
        return False
    accept = request.headers.get("accept", "").lower()
    html, json = accept.find("text/html"), accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


PAGE_MESSAGES = (403, 404, 405, 500)


def page_response(request: Request, status_code: int, error: str, headers: dict[str, str] | None = None):
    """The error page (web/error.html) for `status_code`, in the reader's language (`?lang=`, cookie);
    None when it cannot be rendered (the caller then answers JSON)."""
    from api.web.common import WORDED, Problem, language, render  # the pages import the API, not the other way
    from api.web.i18n import translator

    try:
        detail = translator(language(request))(f"error.http_{status_code}")
        problem = Problem(status_code, error, detail, message_id=WORDED)
        response = render(request, "web/error.html", {"problem": problem}, status_code=status_code, page_path="/")
    except Exception:  # an error page must never fail: the JSON answer is still there
        log.exception("the error page could not be rendered")
        return None
    response.headers.update(headers or {})
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError):
        response = error_response(exc.status_code, exc.error, exc.detail, exc.errors)
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    async def _translated(request: Request, exc: Exception):
        return await _domain(request, as_domain_error(exc))

    for error in translated_errors():  # the pure core's errors (kernel.errors.translate)
        app.exception_handler(error)(_translated)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        problems = [{"loc": [str(p) for p in e["loc"]], "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(_describe(e) for e in exc.errors()[:20])
        if len(exc.errors()) > 20:
            detail += f" … and {len(exc.errors()) - 20:,} more"
        return error_response(422, "invalid_input", detail, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        error = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",  # api.limits.TooLarge: a chunked body over the cap
        }.get(exc.status_code, "http_error")
        headers = exc.headers
        if exc.status_code == 405 and (allowed := _allowed_methods(request.app, request.url.path)):
            headers = {**(headers or {}), "Allow": allowed}
        if exc.status_code in PAGE_MESSAGES and wants_page(request):
            page = page_response(request, exc.status_code, error, headers)
            if page is not None:
                return page
        return error_response(exc.status_code, error, str(exc.detail), headers=headers)

    @app.exception_handler(DataError)
    async def _unstorable(_: Request, exc: DataError):
        # A value the database refuses that validation let through (PostgreSQL: a NUL character in a text).
        log.warning("value refused by the database (%s): %s", type(exc.orig).__name__, exc.orig)
        detail = "a value in the request cannot be stored (a NUL character, or a number out of range)"
        return error_response(422, "invalid_input", detail)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_: Request, exc: OperationalError):
        # Connection refused or lost (a restart, a failover), a lock or serialization timeout: the
        # transaction was rolled back, and a retry (with the same Idempotency-Key) is safe.
        log.warning("database unavailable (%s): %s", type(exc.orig).__name__, exc.orig)
        detail = "the database cannot be reached just now; retry in a moment"
        return error_response(503, "unavailable", detail, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        if wants_page(request) and (page := page_response(request, 500, "internal_error")) is not None:
            return page
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
