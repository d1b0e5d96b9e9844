"""The city the generator works over: agencies, procedure versions and their rules, calendars,
and the arrival model (which procedure, where, by which channel, on which day)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from procedures.models import Agency, AgencyLevel, Field, Procedure
from procedures.schemas import ComponentRead
from procedures.service import components_of, procedure_rule, steps_of
from seed.generator import realism as R
from seed.generator.scenario import CHANNEL_COUNTER, CHANNEL_ONLINE, CHANNEL_POST
from sla.core.calendar import LOCAL_TZ, CalendarFor, WorkingCalendar
from sla.core.replay import ProcedureRule

RECEIVING_ROLES = ("receiving", "commune", "commune_social")


@dataclass
class Version:
    id: int
    code: str
    name: str
    level: str
    agency_id: int | None
    field_code: str
    online_level: str | None
    has_fee: bool
    result_kind: str | None
    effective_from: date
    effective_to: date | None
    rule: ProcedureRule
    step_roles: list[tuple[str | None, int | None]]  # per step (seq order): (role, fixed agency id)
    components: tuple[ComponentRead, ...] = ()  # the component list (procedure_component), in order
    fee_lines: tuple[tuple[str, int], ...] = ()  # what a dossier is charged: (name, amount in đồng); see charged_fees


@dataclass
class City:
    agency_codes: dict[int, str]
    agency_names: dict[int, str]
    communes: np.ndarray  # receiving communes (int32 ids)
    police: dict[int, int]  # commune id -> its police unit (or a nearby one)
    versions: dict[str, list[Version]]  # by code, in effective_from order
    calendars: dict[int, WorkingCalendar]  # by receiving agency id
    calendar_class: dict[int, int]  # receiving agency id -> index of an equivalent calendar
    class_calendars: list[WorkingCalendar] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # procedure codes not generated, and why

    def version_on(self, code: str, day: date) -> Version | None:
        for version in reversed(self.versions[code]):
            if version.effective_from <= day and (version.effective_to is None or day <= version.effective_to):
                return version
        return None


def load_city(session: Session, calendar_for: CalendarFor, first_day: date, last_day: date) -> City:
    agencies = list(session.execute(select(Agency).order_by(Agency.id)).scalars())
    by_id = {a.id: a for a in agencies}
    codes = {a.id: a.code for a in agencies}

    def is_sub_unit(agency: Agency) -> bool:
        parent = by_id.get(agency.parent_id)
        return parent is not None and parent.level == AgencyLevel.COMMUNE

    communes = [a.id for a in agencies if a.active and a.level == AgencyLevel.COMMUNE and not is_sub_unit(a)]
    police_units = [a for a in agencies if a.active and is_sub_unit(a)]
    police = {p.parent_id: p.id for p in police_units}
    for number, commune in enumerate(communes):
        if commune not in police and police_units:
            police[commune] = police_units[number % len(police_units)].id

    fields = dict(session.execute(select(Field.id, Field.code)).all())
    procedures = list(session.execute(select(Procedure).order_by(Procedure.code, Procedure.effective_from)).scalars())
    steps = steps_of(session, [p.id for p in procedures])
    components = components_of(session, [p.id for p in procedures])
    versions: dict[str, list[Version]] = {}
    left_out = []
    province = next((a.id for a in agencies if a.level == AgencyLevel.PROVINCE and a.active), None)
    for procedure in procedures:
        rows = steps[procedure.id]
        roles = [(step.role, step.agency_id) for step, _ in rows]
        if any(role == "commune_police" for role, _ in roles) and not police:
            left_out.append(f"{procedure.code}: its chain needs a commune police unit and the catalogue has none")
            continue
        agency_id = procedure.agency_id
        if procedure.level != AgencyLevel.COMMUNE and procedure.level != AgencyLevel.DISTRICT and agency_id is None:
            agency_id = province
        versions.setdefault(procedure.code, []).append(
            Version(
                id=procedure.id,
                code=procedure.code,
                name=procedure.name,
                level=procedure.level,
                agency_id=agency_id,
                field_code=fields[procedure.field_id],
                online_level=procedure.online_level,
                has_fee=any(amount > 0 for _, amount in charged_fees(procedure)),
                result_kind=procedure.result_kind,
                effective_from=procedure.effective_from,
                effective_to=procedure.effective_to,
                rule=procedure_rule(procedure, rows),
                step_roles=roles,
                components=tuple(components[procedure.id]),
                fee_lines=charged_fees(procedure),
            )
        )
    for code in list(versions):
        if not _covers(versions[code], first_day, last_day):
            left_out.append(f"{code}: no version in force on every day from {first_day} to {last_day}")
            del versions[code]
        elif versions[code][-1].level in (AgencyLevel.COMMUNE, AgencyLevel.DISTRICT) and not communes:
            left_out.append(f"{code}: commune-level and the catalogue has no active commune")
            del versions[code]

    receiving = set(communes) | {v.agency_id for vs in versions.values() for v in vs if v.agency_id}
    calendars = {agency_id: calendar_for(codes[agency_id]) for agency_id in sorted(receiving)}
    classes: dict[tuple, int] = {}
    class_calendars: list[WorkingCalendar] = []
    calendar_class = {}
    for agency_id, calendar in calendars.items():
        key = _calendar_key(calendar, first_day.year, last_day.year + 1)
        if key not in classes:
            classes[key] = len(class_calendars)
            class_calendars.append(calendar)
        calendar_class[agency_id] = classes[key]
    return City(
        agency_codes=codes,
        agency_names={a.id: a.name for a in agencies},
        communes=np.asarray(communes, dtype=np.int32),
        police=police,
        versions=versions,
        calendars=calendars,
        calendar_class=calendar_class,
        class_calendars=class_calendars,
        left_out=left_out,
    )


_AMOUNT = re.compile(r"\d+(?:[.,]\d{3})*")


def charged_fees(procedure: Procedure) -> tuple[tuple[str, int], ...]:
    """The fee lines a generated dossier of this version is charged: the version's own (`fee_lines`, `[]`: none);
    where they were not recorded, one line of `fee_vnd`; without it, one line of the first amount the fee text
    names (a tariff such as "2000/trang; …" read for one unit); none when the text names no amount above 0."""
    if procedure.fee_lines is not None:
        return tuple((line["name"], int(line["amount_vnd"])) for line in procedure.fee_lines)
    if procedure.fee_vnd:
        return ((R.FEE_LINE_NAME, procedure.fee_vnd),)
    amounts = [int(re.sub(r"[.,]", "", a)) for a in _AMOUNT.findall(procedure.fee or "")]
    charged = [a for a in amounts if a > 0]
    return ((R.FEE_LINE_NAME, charged[0]),) if charged else ()


def _covers(versions: list[Version], first_day: date, last_day: date) -> bool:
    day = first_day
    for version in versions:
        if version.effective_from > day:
            return False
        if version.effective_to is None or version.effective_to >= last_day:
            return True
        day = max(day, version.effective_to + timedelta(days=1))
    return False


def _calendar_key(calendar: WorkingCalendar, first_year: int, last_year: int) -> tuple:
    """Calendars with the same key give the same answers over the years the generator uses."""
    years = range(max(first_year, calendar.first_year), min(last_year, calendar.last_year) + 1)
    days = tuple((d.day, d.kind) for year in years for d in calendar.special_days(year))
    return calendar.working_hours, calendar.first_year, calendar.last_year, days


# --- arrivals ------------------------------------------------------------------------------------


@dataclass
class Profiles:
    """Every (procedure code, receiving agency, channel) a dossier can have, with its probability."""

    code: list[str]
    code_index: np.ndarray
    agency: np.ndarray
    channel: np.ndarray
    calendar_class: np.ndarray
    online: np.ndarray  # bool: the online day and hour model applies
    probability: np.ndarray


def intake_profiles(city: City, rng: np.random.Generator) -> Profiles:
    codes = sorted(city.versions)
    commune_weight = rng.lognormal(0.0, 0.5, len(city.communes))
    commune_weight /= commune_weight.sum()
    rows = []
    for index, code in enumerate(codes):
        version = city.versions[code][-1]
        weight = R.PROCEDURE_WEIGHTS.get(code, R.DEFAULT_WEIGHT.get(version.level, 0.05))
        online = R.ONLINE_SHARE.get(version.online_level, R.ONLINE_SHARE[None])
        post = R.POST_SHARE.get(version.level, 0.02)
        channels = ((CHANNEL_COUNTER, 1 - online - post), (CHANNEL_ONLINE, online), (CHANNEL_POST, post))
        if version.agency_id is not None and version.level not in (AgencyLevel.COMMUNE, AgencyLevel.DISTRICT):
            places = [(version.agency_id, 1.0)]
        else:
            places = list(zip(city.communes.tolist(), commune_weight.tolist(), strict=True))
        for agency, share in places:
            for channel, channel_share in channels:
                if channel_share > 0:
                    rows.append((index, agency, channel, weight * share * channel_share))
    index, agency, channel, probability = (np.asarray(column) for column in zip(*rows, strict=True))
    return Profiles(
        code=codes,
        code_index=index.astype(np.int32),
        agency=agency.astype(np.int32),
        channel=channel.astype(np.int8),
        calendar_class=np.asarray([city.calendar_class[a] for a in agency.tolist()], dtype=np.int32),
        online=channel == CHANNEL_ONLINE,
        probability=probability / probability.sum(),
    )


def local_days(first_day: date, last_day: date) -> np.ndarray:
    return np.arange(np.datetime64(first_day, "D"), np.datetime64(last_day, "D") + 1)


def day_weights(calendar: WorkingCalendar, days: np.ndarray, online: bool) -> np.ndarray:
    """Relative arrivals per local day: weekday, month and the Tết dip; desks only on working days."""
    working = calendar.is_working_day(days)
    weekday = (days.view(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = days.astype("datetime64[M]").view(np.int64) % 12
    weight = np.asarray(R.MONTH_FACTOR)[month] * np.asarray(R.WEEKDAY_FACTOR)[weekday]
    weight *= _tet_factor(calendar, days)
    if online:
        return np.where(working, weight, R.ONLINE_DAY_OFF_FACTOR)
    return np.where(working, weight, 0.0)


def _tet_factor(calendar: WorkingCalendar, days: np.ndarray) -> np.ndarray:
    factor = np.ones(len(days))
    for year in np.unique(days.astype("datetime64[Y]").view(np.int64) + 1970).tolist():
        tet = [
            np.datetime64(d.day, "D")
            for d in calendar.special_days(year)
            if d.kind == "off" and d.day.weekday() < 5 and date(year, 1, 10) <= d.day <= date(year, 2, 28)
        ]
        if not tet:
            continue
        first, last = min(tet), max(tet)
        before = (days >= first - R.PRE_TET_DAYS) & (days < first)
        factor[before] *= R.PRE_TET_FACTOR
        since = (days - last).astype(np.int64)
        after = (since > 0) & (since <= R.POST_TET_DAYS)
        factor[after] *= R.POST_TET_LOW + (1 - R.POST_TET_LOW) * since[after] / R.POST_TET_DAYS
    return factor


def local_midnight_utc(days: np.ndarray) -> np.ndarray:
    """int64 UTC minutes of each local date's midnight (the local zone is a fixed UTC+07:00)."""
    offset = int(datetime.combine(date(2000, 1, 1), time(), LOCAL_TZ).utcoffset().total_seconds() // 60)
    return days.astype("datetime64[m]").view(np.int64) - offset
