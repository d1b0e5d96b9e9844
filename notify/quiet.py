"""Quiet hours: citizens are written to only between 07:00 and 21:00 local time (any day); staff only in
their unit's working time, by its working calendar (holidays off, make-up Saturdays on). A message due
outside is held until the next allowed instant."""

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from procedures.service import agency_tree
from sla.calendars import CalendarStore
from sla.core.calendar import LOCAL_TZ, WorkingCalendar
from sla.models import NATIONAL, CalendarOverride

CITIZEN_HOURS = (time(7, 0), time(21, 0))


def next_citizen_instant(at: datetime, hours: tuple[time, time] = CITIZEN_HOURS) -> datetime:
    """`at` if it lies in the citizens' hours, else the next opening of them."""
    local = at.astimezone(LOCAL_TZ)
    opening, closing = hours
    if local.time() < opening:
        return datetime.combine(local.date(), opening, LOCAL_TZ)
    if local.time() >= closing:
        return datetime.combine(local.date() + timedelta(days=1), opening, LOCAL_TZ)
    return at


def next_working_instants(calendar: WorkingCalendar, instants: np.ndarray) -> np.ndarray:
    """Each instant (datetime64[m], UTC) if in working time, else the next working instant of `calendar`."""
    if not instants.size:
        return instants
    return calendar.clock_start(instants.astype("datetime64[m]"))


def next_working_instant(calendar: WorkingCalendar, at: datetime) -> datetime:
    value = np.datetime64(at.astimezone(UTC).replace(tzinfo=None), "m")
    start = next_working_instants(calendar, np.array([value]))[0]
    return max(at, start.astype("datetime64[us]").astype(datetime).replace(tzinfo=UTC))


class Calendars:
    """The working calendar of each agency for a whole run: agencies with neither overrides nor hours of their
    own share the national calendar (built once), so a run over thousands of agencies builds a handful."""

    def __init__(self, session: Session, store: CalendarStore) -> None:
        self._session, self._store = session, store
        self._tree = agency_tree(session)
        self._own = set(
            session.execute(
                select(CalendarOverride.scope).where(CalendarOverride.scope != NATIONAL).distinct()
            ).scalars()
        )
        self._by_id: dict[int | None, WorkingCalendar] = {}

    def of(self, agency_id: int | None) -> WorkingCalendar:
        calendar = self._by_id.get(agency_id)
        if calendar is None:
            agency = self._tree.by_id.get(agency_id) if agency_id is not None else None
            own = agency is not None and (agency.code in self._own or agency.working_hours)
            calendar = self._store.get(self._session, agency.code if own else None)
            self._by_id[agency_id] = calendar
        return calendar

    def groups(self, agency_ids: Iterable[int]) -> dict[int, tuple[WorkingCalendar, list[int]]]:
        """The agencies grouped by the calendar they use: id(calendar) → (calendar, agency ids)."""
        grouped: dict[int, tuple[WorkingCalendar, list[int]]] = {}
        for agency_id in agency_ids:
            calendar = self.of(int(agency_id))
            grouped.setdefault(id(calendar), (calendar, []))[1].append(int(agency_id))
        return grouped
