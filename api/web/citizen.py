"""The citizen's public lookup page: status by dossier code and the last 4 digits of the phone.

The digits are posted, not put in the address (they would stay in the browser history and the logs).
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request

from api.deps import SessionDep, audit_dossier
from api.web.common import PAGE_ERRORS, PageRoute, Problem, render
from dossiers import lookup as dossier_lookup
from procedures.errors import NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


@router.get("/lookup")
def lookup_form(request: Request):
    return render(request, "web/lookup.html", {"code": "", "result": None})


@router.post("/lookup")
def lookup(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Form(max_length=dossier_lookup.CODE_MAX_LENGTH)] = "",
    phone_last4: Annotated[str, Form(max_length=8)] = "",
):
    audit_dossier(request, code.strip())  # the code asked and the answer, never the digits
    request.app.state.lookup_limiter.check(request.client.host if request.client else None, "lookup")
    context = {"code": code.strip(), "result": None, "not_found": False}
    status_code = 200
    try:
        context["result"] = dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)
    except NotFound:
        context["not_found"], status_code = True, 404
    except PAGE_ERRORS as exc:
        context["problem"] = problem = Problem.of(exc)
        status_code = problem.status_code
    response = render(request, "web/lookup.html", context, status_code=status_code, page_path="/lookup")
    response.headers.update(PRIVATE)
    return response
