"""Plain text at every door: path and query parameters and form fields hold no invisible, direction (bidi)
or control characters. JSON bodies are held to the same rule by their shapes (`procedures.schemas.Input`).

One check for every route (the application's dependency), run before the route reads anything: a NUL
byte in a dossier code never reaches the database (PostgreSQL would refuse it, SQLite would store it).
"""

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from api.deps import SessionDep
from procedures.schemas import hidden_character_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def plain_parameters(request: Request, _session: SessionDep) -> None:  # async: no I/O, no thread hop
    """422 naming each parameter or form field that holds a hidden character (forms may hold line breaks).

    It takes the request's session (opening one does no I/O) so that a refused write is audited as refused.
    """
    problems = []

    def check(where: str, name: str, value: object, *, multiline: bool) -> None:
        if isinstance(value, str) and (problem := hidden_character_problem(value, multiline=multiline)):
            problems.append({"type": "hidden_character", "loc": (where, name), "msg": problem, "input": value})

    for name, value in request.path_params.items():
        check("path", name, value, multiline=False)
    for name, value in request.query_params.multi_items():
        check("query", name, value, multiline=False)
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        for name, value in (await request.form()).multi_items():  # the parsed form FastAPI keeps
            check("form", name, value, multiline=True)  # uploads (not text) are the importers' to check
    if problems:
        raise RequestValidationError(problems)
