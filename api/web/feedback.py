"""The ratings' pages: the citizen rates from the lookup's answer, or at the kiosk by the desk (no sign-in,
the dossier named by its code and the last 4 phone digits, limited as the lookup is); the staff's page
shows counts per unit, procedure and period and takes a paper form typed in by a clerk."""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError

from api.deps import SessionDep, audit_dossier
from api.limits import LookupAttemptDep
from api.routes.ratings import rating_summary, record_paper_rating
from api.security import READERS_OF_REPORTS
from api.web.citizen import PRIVATE, answer_publicly
from api.web.common import PAGE_ERRORS, PageRoute, Problem, agencies, blank_to_none, render
from dossiers import lookup as dossier_lookup
from dossiers import ratings
from kernel.errors import InvalidInput
from sla import reports

public_router = APIRouter(route_class=PageRoute, include_in_schema=False)
desk_router = APIRouter(route_class=PageRoute, include_in_schema=False)

Code = Annotated[str, Form(max_length=dossier_lookup.CODE_MAX_LENGTH)]
Digits = Annotated[str, Form(max_length=8)]
Level = Annotated[str, Form(max_length=16)]


async def form_indices(request: Request) -> dict[str, int] | None:
    """The 11-index answers of a rating form (`index_1` … `index_11`, each 2, 1 or 0; unanswered left out)."""
    form = await request.form()
    answers = {}
    for index in ratings.INDICES:
        value = str(form.get(f"index_{index.number}", "")).strip()
        if value:
            answers[str(index.number)] = int(value) if value.isdigit() else value
    return answers or None


Indices = Annotated[dict | None, Depends(form_indices)]


def _rating_in(rating: str, indices: dict | None) -> ratings.RatingIn:
    return ratings.RatingIn(rating=rating, indices=indices)


def _form_context() -> dict:
    return {"levels": ratings.RATING_LEVELS, "indices": ratings.INDICES}


@public_router.post("/lookup/rating")
def rate_from_lookup(
    request: Request,
    attempt: LookupAttemptDep,  # before the session: its refund is settled after the session has ended
    session: SessionDep,
    indices: Indices,
    code: Code = "",
    phone_last4: Digits = "",
    rating: Level = "",
):
    """The lookup's rating form: the citizen rates, then sees the dossier's status again with a thank-you."""
    return _rate_publicly(request, attempt, session, "lookup", code, phone_last4, rating, indices)


def _rate_publicly(request, attempt, session, source, code, phone_last4, rating, indices):
    audit_dossier(request, code.strip())  # the code asked, never the digits nor the rating
    lookup_page = source == "lookup"
    context = {"code": dossier_lookup.normalise_code(code), "result": None, **_form_context()}

    def work(context: dict) -> None:
        with session.begin_nested():
            ratings.rate_public(
                session,
                code=code,
                phone_last4=phone_last4,
                data=_rating_in(rating, indices),
                source=source,
                now=datetime.now(UTC),
            )
        context["rated"] = True
        if lookup_page:
            context["result"] = dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)
        else:
            context["code"] = ""

    def on_problem(context: dict, problem: Problem) -> None:
        context["digits"] = phone_last4 if lookup_page else ""
        if lookup_page and problem.status_code != 404:
            context["result"] = _status_quietly(session, code, phone_last4)

    return answer_publicly(
        request, attempt, code, context, work, on_problem=on_problem, status_code=201,
        template="web/lookup.html" if lookup_page else "web/kiosk.html",
        page_path="/lookup" if lookup_page else "/kiosk",
    )  # fmt: skip


def _status_quietly(session, code: str, phone_last4: str):
    try:
        return dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)
    except PAGE_ERRORS:
        return None


@public_router.get("/kiosk")
def kiosk(request: Request, code: Annotated[str, Query(max_length=dossier_lookup.CODE_MAX_LENGTH)] = ""):
    """The kiosk at the desk: a citizen rates a returned dossier without signing in (once per dossier)."""
    context = {"code": dossier_lookup.normalise_code(code), **_form_context()}
    response = render(request, "web/kiosk.html", context)
    response.headers.update(PRIVATE)
    return response


@public_router.post("/kiosk")
def rate_at_kiosk(
    request: Request,
    attempt: LookupAttemptDep,
    session: SessionDep,
    indices: Indices,
    code: Code = "",
    phone_last4: Digits = "",
    rating: Level = "",
):
    return _rate_publicly(request, attempt, session, "kiosk", code, phone_last4, rating, indices)


# --- the staff's page --------------------------------------------------------------------------------


def _default_period(today: date) -> str:
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _ratings_page(request: Request, session, *, period: str | None, agency: str | None, **extra):
    principal = request.state.principal
    period = period or _default_period(datetime.now(UTC).date())
    context = {
        "period": period,
        "agency": agency or "",
        "summary": None,
        "may_read": principal.role.value in {"admin", *(r.value for r in READERS_OF_REPORTS)},
        "may_record": principal.role.value in ("admin", "clerk", "manager"),
        "agencies": agencies(session),
        **_form_context(),
        **extra,
    }
    if context["may_read"]:
        try:
            named = reports.period_of(period, None, None)
            context["summary"] = rating_summary(session, principal, blank_to_none(agency), named)
        except PAGE_ERRORS as exc:
            context["problem"] = context.get("problem") or Problem.of(exc)
    problem = context.get("problem")
    status_code = problem.status_code if problem else 200
    return render(request, "web/ratings.html", context, status_code=status_code, page_path="/desk/ratings")


@desk_router.get("/desk/ratings")
def ratings_page(
    request: Request,
    session: SessionDep,
    period: Annotated[str | None, Query(max_length=7)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
):
    """Counts per unit and procedure (managers and viewers) and the paper form (clerks and managers)."""
    return _ratings_page(request, session, period=period, agency=agency)


@desk_router.post("/desk/ratings")
def record_paper(
    request: Request,
    session: SessionDep,
    indices: Indices,
    code: Code = "",
    rating: Level = "",
):
    code = dossier_lookup.normalise_code(code)
    try:
        if not code:
            raise InvalidInput("the dossier code is needed")
        with session.begin_nested():
            record_paper_rating(session, request.state.principal, code, _rating_in(rating, indices))
        audit_dossier(request, code)
    except (*PAGE_ERRORS, ValidationError) as exc:
        audit_dossier(request, code or "-")
        return _ratings_page(request, session, period=None, agency=None, problem=Problem.of(exc), paper_code=code)
    return _ratings_page(request, session, period=None, agency=None, recorded=code)
