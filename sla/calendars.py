"""Calendar overrides in the database, and the cached, versioned working calendars built from them.

Every override change bumps `calendar_state.version` in the same transaction; a worker reads that
one integer per request and rebuilds its calendars only when it has moved, so a new override
applies to new computations at once, in every worker.
"""

import threading
from collections.abc import Sequence
from datetime import date, time
from functools import partial
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Engine, select
from sqlmodel import Session

from kernel.db import new_stamp, stamp
from kernel.errors import InvalidInput, NotFound
from kernel.schemas import Input, IsoDate
from procedures.models import Agency
from procedures.service import KnownAgency, agency_tree, get_agency
from sla.core.calendar import CalendarFor, Override, WorkingCalendar
from sla.core.hours import parse_working_hours
from sla.models import NATIONAL, CalendarChange, CalendarOverride, CalendarState


class OverrideCreate(Input):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate
    kind: Literal["off", "workday"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    legal_ref: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    agency_code: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="the agency the override applies to; empty = national"
    )


class OverrideRead(BaseModel):
    id: int
    date: date
    kind: str
    reason: str
    legal_ref: str | None
    agency_code: str | None


def _read(override: CalendarOverride, agency_code: str | None) -> OverrideRead:
    return OverrideRead(
        id=override.id,
        date=override.day,
        kind=override.kind,
        reason=override.reason,
        legal_ref=override.legal_ref,
        agency_code=agency_code,
    )


def add_override(session: Session, data: OverrideCreate) -> OverrideRead:
    agency = get_agency(session, data.agency_code) if data.agency_code else None
    scope = agency.code if agency else NATIONAL
    existing = session.execute(
        select(CalendarOverride).where(CalendarOverride.day == data.date, CalendarOverride.scope == scope)
    ).scalar_one_or_none()
    if existing is not None:
        raise InvalidInput(
            f"{data.date.isoformat()} already has an override for {scope} (id {existing.id}: "
            f"{existing.kind}, {existing.reason!r}); "
            f"delete it first with DELETE /api/v1/calendar/overrides/{existing.id}",
            message_id="override_exists",
            day=data.date.strftime("%d/%m/%Y"),
            reason=existing.reason,
        )
    override = CalendarOverride(
        day=data.date,
        kind=data.kind,
        reason=data.reason,
        legal_ref=data.legal_ref,
        scope=scope,
        agency_id=agency.id if agency else None,
    )
    session.add(override)
    _new_version(session, data.date, scope)
    return _read(override, agency.code if agency else None)


def upsert_overrides(session: Session, overrides: Sequence[OverrideCreate]) -> int:
    """Seed loading: write each override unless its day and scope already have one."""
    written = 0
    for data in overrides:
        scope = data.agency_code or NATIONAL
        if (
            session.execute(
                select(CalendarOverride.id).where(CalendarOverride.day == data.date, CalendarOverride.scope == scope)
            ).first()
            is None
        ):
            add_override(session, data)
            written += 1
    return written


def list_overrides(session: Session, *, year: int | None = None, agency_code: str | None = None) -> list[OverrideRead]:
    query = (
        select(CalendarOverride, Agency.code)
        .outerjoin(Agency, Agency.id == CalendarOverride.agency_id)
        .order_by(CalendarOverride.day, CalendarOverride.scope)
    )
    if year is not None:
        query = query.where(CalendarOverride.day.between(date(year, 1, 1), date(year, 12, 31)))
    if agency_code is not None:
        query = query.where(CalendarOverride.scope.in_((NATIONAL, get_agency(session, agency_code).code)))
    return [_read(override, code) for override, code in session.execute(query).all()]


def delete_override(session: Session, override_id: int) -> None:
    override = session.get(CalendarOverride, override_id)
    if override is None:
        raise NotFound(f"no calendar override with id {override_id}; GET /api/v1/calendar/overrides lists them")
    session.delete(override)
    _new_version(session, override.day, override.scope)


def _new_version(session: Session, day: date, scope: str) -> None:
    """A new calendar stamp, logged with the day whose status it may change (see CalendarChanges)."""
    new_stamp(session, CalendarState)
    session.add(CalendarChange(version=calendar_version(session), day=day, scope=scope))


def calendar_version(session: Session) -> str:
    """The calendar stamp, read with the other stamps once per session (`kernel.db.stamp`)."""
    return stamp(session, CalendarState)


class CalendarChanges:
    """The calendar change log: which local days may differ between the calendar of a past stamp and
    today's, for an agency (its own overrides and the national ones)."""

    def __init__(self, rows: Sequence[tuple[str, date | None, str | None]]) -> None:
        self._rows = list(rows)  # (version, day, scope) in the order they were written
        self._position = {version: index for index, (version, _, _) in enumerate(self._rows)}
        self._since: dict[tuple[str, str], list[date] | None] = {}

    def since(self, version: str, agency_code: str) -> list[date] | None:
        """The days changed after `version` for `agency_code`'s calendar; None when the log does not
        know `version` (derived before the log began: any day may differ)."""
        key = (version, agency_code)
        if key not in self._since:
            position = self._position.get(version)
            self._since[key] = (
                None
                if position is None
                else sorted(
                    {day for _, day, scope in self._rows[position + 1 :] if day and scope in (NATIONAL, agency_code)}
                )
            )
        return self._since[key]


def calendar_changes(session: Session) -> CalendarChanges:
    rows = session.execute(
        select(CalendarChange.version, CalendarChange.day, CalendarChange.scope).order_by(CalendarChange.id)
    ).all()
    return CalendarChanges([tuple(row) for row in rows])


class CalendarStore:
    """Working calendars per agency (national rules + the agency's overrides and hours), cached per version.

    A calendar is kept for one calendar stamp and one agency-tree stamp (an agency's working hours are
    part of its calendar); the cache is looked at before the agency, so a request that finds its
    calendar reads only the stamps.
    """

    def __init__(self, *, first_year: int, last_year: int, working_hours: tuple[tuple[time, time], ...]) -> None:
        self.first_year = first_year
        self.last_year = last_year
        self.working_hours = working_hours
        self._lock = threading.Lock()
        self._version: tuple[str, str] | None = None
        self._calendars: dict[str | None, WorkingCalendar] = {}

    def get(self, session: Session, agency_code: str | None = None) -> WorkingCalendar:
        """The calendar of `agency_code` (the national one for None); raises NotFound for an unknown agency."""
        tree = agency_tree(session)
        version = (calendar_version(session), tree.version)
        with self._lock:
            if version != self._version:
                self._calendars.clear()
                self._version = version
            calendar = self._calendars.get(agency_code)
        if calendar is None:
            agency = tree.get(agency_code) if agency_code else None
            calendar = self._build(session, agency, version[0])
            with self._lock:
                if self._version == version:
                    self._calendars[agency_code] = calendar
        return calendar

    def calendar_for(self, session: Session) -> CalendarFor:
        """The calendars by agency code, read through `session`: what the services take as `calendar_for`."""
        return partial(self.get, session)

    def calendar_for_engine(self, engine: Engine) -> CalendarFor:
        """As :meth:`calendar_for`, each look-up in a short session of its own: a long load (the generator, an
        import) keeps no transaction open while it works."""

        def calendar_for(agency_code: str) -> WorkingCalendar:
            with Session(engine) as session:
                return self.get(session, agency_code)

        return calendar_for

    def _build(self, session: Session, agency: KnownAgency | None, version: str) -> WorkingCalendar:
        scopes = (NATIONAL,) if agency is None else (NATIONAL, agency.code)
        rows = session.execute(select(CalendarOverride).where(CalendarOverride.scope.in_(scopes))).scalars()
        national_first = sorted(rows, key=lambda o: (o.scope != NATIONAL, o.day))
        hours = self.working_hours
        if agency is not None and agency.working_hours:
            hours = parse_working_hours(agency.working_hours)
        return WorkingCalendar(
            first_year=self.first_year,
            last_year=self.last_year,
            overrides=[Override(o.day, o.kind, o.reason, o.legal_ref) for o in national_first],
            working_hours=hours,
            version=f"{version}:{agency.code if agency else NATIONAL}",
        )
