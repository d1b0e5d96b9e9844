"""Plain text at every door: path and query parameters and form fields hold no invisible, direction (bidi)
or control characters. JSON bodies are held to the same rule by their shapes (`kernel.schemas.Input`).

One check for every route (the application's dependency), run before the route reads anything: a NUL
byte in a dossier code never reaches the database (PostgreSQL would refuse it, SQLite would store it).
"""

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from api.deps import record_refusal
from kernel.schemas import hidden_character_at, hidden_character_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def plain_parameters(request: Request) -> None:  # async: no I/O, no thread hop unless it refuses
    """422 naming each parameter or form field that holds a hidden character (forms may hold line breaks).

    It runs before the request's session is opened (so that no dependency a route declares before its session,
    such as the lookup's attempt, is left waiting on a transaction), and records a refused write itself.
    """
    problems = []

    def check(where: str, name: str, value: object, *, multiline: bool) -> None:
        if isinstance(value, str) and (problem := hidden_character_problem(value, multiline=multiline)):
            at = hidden_character_at(value, multiline=multiline)  # for the pages' own words
            problems.append(
                {"type": "hidden_character", "loc": (where, name), "msg": problem, "input": value, "ctx": at}
            )

    for name, value in request.path_params.items():
        check("path", name, value, multiline=False)
    for name, value in request.query_params.multi_items():
        check("query", name, value, multiline=False)
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        for name, value in (await request.form()).multi_items():  # the parsed form FastAPI keeps
            check("form", name, value, multiline=True)  # uploads (not text) are the importers' to check
    if problems:
        await run_in_threadpool(record_refusal, request, 422)
        raise RequestValidationError(problems)
