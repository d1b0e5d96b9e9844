"""Calendar routes: due instants, elapsed working time, the year's special days, overrides.

Instants are ISO 8601; a naive instant is local time (Asia/Ho_Chi_Minh); answers carry +07:00.
"""

from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from api.deps import SessionDep
from api.security import allow, current_principal
from kernel.errors import InvalidInput
from kernel.schemas import IsoDateTime
from sla import calendars
from sla.core.calendar import LOCAL_TZ, Unit

router = APIRouter(prefix="/calendar", tags=["calendar"], dependencies=[Depends(current_principal)])

InstantQuery = Annotated[
    IsoDateTime, Query(description="ISO 8601 instant; without an offset it is local time (+07:00)")
]
AgencyQuery = Annotated[str | None, Query(max_length=64, description="agency e-ID code: its own closures and hours")]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the override's id (GET /calendar/overrides)")]


def _local(instant: datetime) -> str:
    return instant.astimezone(LOCAL_TZ).isoformat()


def _calendar(request: Request, session, agency: str | None):
    store: calendars.CalendarStore = request.app.state.calendars
    return store.get(session, agency)


@router.get("/due")
def due(
    request: Request,
    session: SessionDep,
    start: InstantQuery,
    amount: Annotated[float | None, Query(ge=0, le=3650, description="omit for same_day")] = None,
    unit: Unit = Unit.WORKING_DAYS,
    agency: AgencyQuery = None,
    cutoff: Annotated[
        time | None, Query(description="HH:MM; received after it, counting starts the next working day")
    ] = None,
):
    """The clock start and due instant of a dossier received at `start`."""
    if amount is None and unit != Unit.SAME_DAY:
        raise InvalidInput(f"unit {unit.value} needs an amount (a number ≥ 0; working_days in halves)")
    received = start
    clock_start, due_at = _calendar(request, session, agency).due_at(received, amount, unit, cutoff)
    return {
        "start": _local(received),
        "clock_start": _local(clock_start),
        "due_at": _local(due_at),
        "amount": amount,
        "unit": unit.value,
    }


@router.get("/elapsed")
def elapsed(request: Request, session: SessionDep, start: InstantQuery, end: InstantQuery, agency: AgencyQuery = None):
    """Working time between two instants."""
    if end < start:
        raise InvalidInput(f"end {_local(end)} is before start {_local(start)}: give end ≥ start")
    calendar = _calendar(request, session, agency)
    minutes = calendar.minutes_between(start, end)
    return {"working_minutes": minutes, "working_days": round(minutes / calendar.minutes_per_day, 4)}


@router.get("/days")
def days(
    request: Request,
    session: SessionDep,
    year: Annotated[int, Query(ge=1900, le=2200)],
    agency: AgencyQuery = None,
):
    """Every weekday off and every working weekend day of the year, with its reason and source."""
    calendar = _calendar(request, session, agency)
    return {
        "year": year,
        "agency_code": agency,
        "working_hours": [[o.strftime("%H:%M"), c.strftime("%H:%M")] for o, c in calendar.working_hours],
        "working_day_count": len(calendar.working_days(datetime(year, 1, 1).date(), datetime(year, 12, 31).date())),
        "days": [
            {
                "date": info.day.isoformat(),
                "weekday": info.day.strftime("%A"),
                "kind": info.kind,
                "reason": info.reason,
                "source": info.source,
                "legal_ref": info.legal_ref,
                "reason_en": info.reason_en,
            }
            for info in calendar.special_days(year)
        ],
    }


@router.get("/overrides", response_model=list[calendars.OverrideRead])
def list_overrides(
    session: SessionDep, year: Annotated[int | None, Query(ge=1900, le=2200)] = None, agency: AgencyQuery = None
):
    return calendars.list_overrides(session, year=year, agency_code=agency)


@router.post(
    "/overrides",
    response_model=calendars.OverrideRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(allow())],
)
def add_override(session: SessionDep, data: calendars.OverrideCreate):
    return calendars.add_override(session, data)


@router.delete("/overrides/{override_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(allow())])
def delete_override(session: SessionDep, override_id: OverrideId):
    calendars.delete_override(session, override_id)
