"""The citizen's public lookup page: status by dossier code and the last 4 digits of the phone.

The digits are posted, not put in the address (they would stay in the browser history and the logs).
"""

import math
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import ValidationError

from api.deps import SessionDep, audit_dossier
from api.limits import LookupAttempt, LookupAttemptDep, RateLimited
from api.web.common import PAGE_ERRORS, PageRoute, Problem, render
from dossiers import lookup as dossier_lookup
from dossiers import ratings
from kernel.errors import NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def answer_publicly(
    request: Request,
    attempt: LookupAttempt,
    code: str,
    context: dict,
    work: Callable[[dict], None],
    *,
    template: str = "web/lookup.html",
    page_path: str = "/lookup",
    status_code: int = 200,
    on_problem: Callable[[dict, Problem], None] | None = None,
) -> Response:
    """The one way the public pages answer what a citizen proves with a dossier code and the phone's last 4
    digits (the lookup, a rating, stopping the messages): the rate limits first, then `work(context)`; an
    unknown code or wrong digits are a 404 counted against the code, too many tries a 429 with Retry-After,
    a refusal its problem (`on_problem` may add to the page); never stored by a browser or a proxy."""
    headers = dict(PRIVATE)
    try:
        attempt.admit(code)
        with attempt.counting():
            work(context)
    except NotFound:
        context["not_found"], status_code = True, 404
    except RateLimited as exc:
        context["retry_minutes"], status_code = math.ceil(exc.retry_after / 60), 429
        headers["Retry-After"] = str(exc.retry_after)
    except (*PAGE_ERRORS, ValidationError) as exc:
        context["problem"] = problem = Problem.of(exc)
        status_code = problem.status_code
        if on_problem is not None:
            on_problem(context, problem)
    response = render(request, template, context, status_code=status_code, page_path=page_path)
    response.headers.update(headers)
    return response


@router.get("/lookup")
def lookup_form(request: Request, code: Annotated[str, Query(max_length=dossier_lookup.CODE_MAX_LENGTH)] = ""):
    """The lookup form; `?code=` (the receipt's QR code) fills in the code, so only the 4 digits are asked.

    Nothing is looked up here: the page is the same for any code (no oracle)."""
    code = dossier_lookup.normalise_code(code)
    response = render(request, "web/lookup.html", {"code": code, "result": None})
    if code:
        response.headers.update(PRIVATE)
    return response


@router.post("/lookup")
def lookup(
    request: Request,
    attempt: LookupAttemptDep,  # before the session: its refund is settled after the session has ended
    session: SessionDep,
    code: Annotated[str, Form(max_length=dossier_lookup.CODE_MAX_LENGTH)] = "",
    phone_last4: Annotated[str, Form(max_length=8)] = "",
):
    audit_dossier(request, code.strip())  # the code asked and the answer, never the digits
    context = {
        "code": dossier_lookup.normalise_code(code),
        "result": None,
        "not_found": False,
        "digits": phone_last4.strip(),  # carried by the rating form (a post; the page is not stored)
        "levels": ratings.RATING_LEVELS,
        "indices": ratings.INDICES,
    }

    def work(context: dict) -> None:
        context["result"] = dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)

    return answer_publicly(request, attempt, code, context, work)
