"""One error shape everywhere: `{"error": ..., "detail": ...}` (plus `errors` where rows or fields are listed)."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from procedures.errors import DomainError
from sla.core.calendar import CalendarError

log = logging.getLogger("motcua.api")


def error_response(status_code: int, error: str, detail: str, errors: list | None = None) -> JSONResponse:
    body: dict = {"error": error, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(status_code=status_code, content=body)


def _describe(problem: dict) -> str:
    where = ".".join(str(part) for part in problem["loc"] if part not in ("body", "query", "path"))
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError):
        return error_response(exc.status_code, exc.error, exc.detail, exc.errors)

    @app.exception_handler(CalendarError)
    async def _calendar(_: Request, exc: CalendarError):
        return error_response(422, "invalid_input", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        problems = [{"loc": [str(p) for p in e["loc"]], "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(_describe(e) for e in exc.errors())
        return error_response(422, "invalid_input", detail, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        error = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, error, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
