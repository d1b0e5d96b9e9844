"""The working calendar of a year: working days, holidays, swaps and make-up Saturdays with their
reasons, and the override controls (every visitor sees them until accounts exist)."""

import calendar as month_grid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from accounts.models import Role
from api.deps import RowId, SessionDep
from api.web.common import PAGE_ERRORS, PageRoute, Problem, agencies, blank_to_none, keep_lang, render, typed_date
from kernel.errors import Forbidden
from sla import calendars
from sla.core.calendar import LOCAL_TZ, DayInfo

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Year = Annotated[int | None, Query(ge=1900, le=2200)]
AgencyCode = Annotated[str | None, Query(max_length=64)]


@dataclass(frozen=True)
class Cell:
    day: date
    kind: str  # working, weekend, off, workday
    info: DayInfo | None


def _months(year: int, working: set[date], special: dict[date, DayInfo]) -> list[list[list[Cell | None]]]:
    """Each month as weeks (Monday first) of cells; None pads the first and last week."""
    months = []
    for month in range(1, 13):
        weeks = []
        for week in month_grid.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                info = special.get(day)
                kind = info.kind if info else ("working" if day in working else "weekend")
                cells.append(Cell(day, kind, info))
            weeks.append(cells)
        months.append(weeks)
    return months


def _page(
    request: Request,
    session: Session,
    *,
    year: int | None,
    agency: str | None,
    form: dict | None = None,
    problem: Problem | None = None,
    done: str | None = None,
) -> Response:
    year = year or datetime.now(LOCAL_TZ).year
    calendar = request.app.state.calendars.get(session, agency)
    special = {info.day: info for info in calendar.special_days(year)}
    working = set(calendar.working_days(date(year, 1, 1), date(year, 12, 31)))
    return render(
        request,
        "web/calendar.html",
        {
            "year": year,
            "years": range(max(calendar.first_year, year - 3), min(calendar.last_year, year + 3) + 1),
            "agency": agency,
            "agencies": [a for a in agencies(session) if a.active],
            "months": _months(year, working, special),
            "special": list(special.values()),
            "working_count": len(working),
            "hours": [f"{opening:%H:%M}–{closing:%H:%M}" for opening, closing in calendar.working_hours],
            "overrides": calendars.list_overrides(session, year=year, agency_code=agency),
            "form": form or {"kind": "off", "agency_code": agency},
            "problem": problem,
            "done": done if done in ("added", "deleted") else None,
        },
        status_code=problem.status_code if problem else 200,
        page_path="/calendar",
    )


def administrators_only(request: Request) -> None:
    if request.state.principal.role != Role.ADMIN:
        raise Forbidden("only administrators add or remove calendar overrides", message_id="administrators_only")


def _back(request: Request, year: int | None, agency: str | None, done: str) -> RedirectResponse:
    params = {name: value for name, value in (("year", year), ("agency", agency), ("done", done)) if value}
    return RedirectResponse(keep_lang(request, f"/calendar?{urlencode(params)}"), status_code=303)


@router.get("/calendar")
def calendar_page(
    request: Request,
    session: SessionDep,
    year: Year = None,
    agency: AgencyCode = None,
    done: Annotated[str | None, Query(max_length=16)] = None,
):
    return _page(request, session, year=year, agency=blank_to_none(agency), done=done)


@router.post("/calendar/overrides")
def add_override(
    request: Request,
    session: SessionDep,
    day: Annotated[str | None, Form(alias="date", max_length=10)] = None,
    kind: Annotated[str | None, Form(max_length=16)] = None,
    reason: Annotated[str | None, Form(max_length=500)] = None,
    legal_ref: Annotated[str | None, Form(max_length=500)] = None,
    agency_code: Annotated[str | None, Form(max_length=64)] = None,
    year: Annotated[int | None, Form(ge=1900, le=2200)] = None,
    agency: Annotated[str | None, Form(max_length=64)] = None,
):
    """Add an override (a day off or a working day, national or for one agency), as the API does."""
    administrators_only(request)
    form = {
        "date": blank_to_none(day),
        "kind": blank_to_none(kind),
        "reason": blank_to_none(reason),
        "legal_ref": blank_to_none(legal_ref),
        "agency_code": blank_to_none(agency_code),
    }
    try:
        with session.begin_nested():
            typed = {**form, "date": typed_date(request, form["date"], "cal.date", date_only=True)}
            calendars.add_override(session, calendars.OverrideCreate(**typed))
    except PAGE_ERRORS as exc:
        return _page(request, session, year=year, agency=blank_to_none(agency), form=form, problem=Problem.of(exc))
    return _back(request, year, blank_to_none(agency), "added")


@router.post("/calendar/overrides/{override_id}/delete")
def delete_override(
    request: Request,
    session: SessionDep,
    override_id: RowId,
    year: Annotated[int | None, Form(ge=1900, le=2200)] = None,
    agency: Annotated[str | None, Form(max_length=64)] = None,
):
    administrators_only(request)
    calendars.delete_override(session, override_id)
    return _back(request, year, blank_to_none(agency), "deleted")
