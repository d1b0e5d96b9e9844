"""The one calendar provider: the store of working calendars as the settings describe it (`calendar_store`), and
the look-up by agency code a request's services take (`calendar_for`).

The web process keeps one store for its life (`app.state.calendars`); the scheduler's jobs, the CLI and the
benches build theirs here. A store rebuilds a calendar only when the calendar stamp or the agency tree moved
(sla/calendars.py), so every process sees a new override at once.
"""

from fastapi import Request
from sqlmodel import Session

from api.settings import Settings
from sla.calendars import CalendarStore
from sla.core.calendar import CalendarFor


def calendar_store(settings: Settings) -> CalendarStore:
    """The working calendars of the settings' years and hours (MOTCUA_CALENDAR_*, MOTCUA_WORKING_HOURS)."""
    return CalendarStore(
        first_year=settings.calendar_first_year,
        last_year=settings.calendar_last_year,
        working_hours=settings.working_periods,
    )


def calendar_for(request: Request, session: Session) -> CalendarFor:
    """The app's calendars by agency code, read through the request's session: what both doors (the JSON API and
    the pages) hand the services."""
    return request.app.state.calendars.calendar_for(session)
