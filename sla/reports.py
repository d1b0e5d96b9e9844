"""Period reports and stage attribution, aggregated in SQL in one scan and shaped with pandas.

Definitions (domain.md §5): refusals at intake and online submissions not yet received are left
out; outcomes are against the original due; `withdrawn` counts withdrawn, stopped and abandoned
dossiers, apart from `resolved`, so `total = resolved + withdrawn + open`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from dossiers.models import Dossier, Stage
from procedures.db import UTCDateTime
from procedures.errors import InvalidInput
from procedures.models import Agency, Field, Procedure
from procedures.service import agency_subtree_ids
from sla.core.calendar import LOCAL_TZ
from sla.core.rates import COUNT_COLUMNS, add_rates, months_between

GROUPINGS = ("agency", "procedure", "field", "channel", "month")
CLOCK_STOPPED_STATUSES = (5, 6)  # waiting for a supplement or a financial obligation: the due is not running
MINUTES_PER_WORKING_DAY = 480
GROUP_LABELS = {
    "agency": ["agency_code", "agency_name"],
    "procedure": ["procedure_code", "procedure_name"],
    "field": ["field_code", "field_name"],
    "channel": ["channel"],
    "month": ["month"],
}
REPORT_VALUES = [
    *COUNT_COLUMNS,
    "on_time_rate",
    "strict_on_time_rate",
    "progress_score_766",
    "avg_resolution_working_days",
]


def day_start(day: date) -> datetime:
    """Local midnight of `day` as an aware instant."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidInput(f"the period ends ({self.last}) before it starts ({self.first}): give from ≤ to")
        if (self.last - self.first).days > 3660:
            raise InvalidInput("a period is at most 10 years long")

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return day_start(self.last + timedelta(days=1))


def _counts(start, end, last_day_start):
    """SUM(CASE …) columns for one period; `start`/`end` are bind values or period columns."""
    d = Dossier
    finished_in = and_(d.finished_at.is_not(None), d.finished_at < end)
    still_open = or_(d.finished_at.is_(None), d.finished_at >= end)
    within = or_(
        d.original_due_at >= last_day_start,
        and_(d.finished_at.is_(None), d.status_code.in_(CLOCK_STOPPED_STATUSES)),
    )
    resolved = and_(finished_in, d.outcome.in_(("early", "on_time", "late")))

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    new = d.received_at >= start
    return [
        count(d.received_at < start).label("carried_over"),
        count(new).label("received_new"),
        count(and_(new, d.channel == "counter")).label("received_counter"),
        count(and_(new, d.channel == "online")).label("received_online"),
        count(and_(new, d.channel == "post")).label("received_post"),
        func.count().label("total"),
        count(resolved).label("resolved"),
        count(and_(finished_in, d.outcome == "early")).label("early"),
        count(and_(finished_in, d.outcome == "on_time")).label("on_time"),
        count(and_(finished_in, d.outcome == "late")).label("late"),
        count(and_(finished_in, d.outcome == "withdrawn")).label("withdrawn"),
        count(still_open).label("open"),
        count(and_(still_open, within)).label("open_within"),
        count(and_(still_open, ~within)).label("open_overdue"),
        func.sum(case((resolved, d.resolution_working_minutes), else_=0)).label("resolution_minutes"),
    ]


def _in_scope(start, end):
    d = Dossier
    return and_(
        d.received_at.is_not(None),
        d.status_code != 3,
        d.received_at < end,
        or_(d.finished_at.is_(None), d.finished_at >= start),
    )


def _group_key(group_by: str, query: Select) -> tuple[Select, list]:
    if group_by == "agency":
        return query, [Dossier.receiving_agency_id.label("agency_id")]
    if group_by == "procedure":
        return query, [Dossier.procedure_code.label("procedure_code")]
    if group_by == "channel":
        return query, [Dossier.channel.label("channel")]
    if group_by == "field":
        joined = query.join(Procedure, Procedure.id == Dossier.procedure_id)
        return joined, [Procedure.field_id.label("field_id")]
    raise InvalidInput(f"unknown group_by {group_by!r}; accepted: {', '.join(GROUPINGS)}")


def _aggregate(session: Session, period: Period, group_by: str, agency_ids: Sequence[int] | None) -> pd.DataFrame:
    """Counts per group; for `month`, one row per calendar month of the period."""
    last_day_start = day_start(period.last)
    if group_by == "month":
        months = months_between(period.first, period.last)
        periods = union_all(
            *(
                select(
                    literal(f"{first:%Y-%m}").label("month"),
                    literal(day_start(first), UTCDateTime()).label("start"),
                    literal(day_start(last + timedelta(days=1)), UTCDateTime()).label("end"),
                    literal(day_start(last), UTCDateTime()).label("last_day_start"),
                )
                for first, last in months
            )
        ).subquery("months")
        query = select(periods.c.month, *_counts(periods.c.start, periods.c.end, periods.c.last_day_start))
        query = query.select_from(Dossier).join(periods, _in_scope(periods.c.start, periods.c.end))
        keys = [periods.c.month]
    else:
        query, keys = _group_key(group_by, select().select_from(Dossier))
        query = query.add_columns(*keys, *_counts(period.start, period.end, last_day_start))
        query = query.where(_in_scope(period.start, period.end))
    if agency_ids is not None:
        query = query.where(Dossier.receiving_agency_id.in_(agency_ids))
    rows = session.execute(query.group_by(*keys)).mappings().all()
    columns = [key.name for key in keys] + [*COUNT_COLUMNS, "resolution_minutes"]
    frame = pd.DataFrame(rows, columns=columns)
    numeric = [*COUNT_COLUMNS, "resolution_minutes"]
    frame[numeric] = frame[numeric].fillna(0).astype("int64")
    return frame


def _label(session: Session, frame: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Name each group: `group` plus the readable columns of its kind."""
    if group_by == "agency":
        names = pd.DataFrame(
            session.execute(select(Agency.id, Agency.code, Agency.name)).all(),
            columns=["agency_id", "agency_code", "agency_name"],
        )
        frame = frame.merge(names, on="agency_id", how="left").drop(columns="agency_id")
        frame["group"] = frame["agency_code"]
    elif group_by == "field":
        names = pd.DataFrame(
            session.execute(select(Field.id, Field.code, Field.name)).all(),
            columns=["field_id", "field_code", "field_name"],
        )
        frame = frame.merge(names, on="field_id", how="left").drop(columns="field_id")
        frame["group"] = frame["field_code"]
    elif group_by == "procedure":
        names = pd.DataFrame(_latest_procedure_names(session), columns=["procedure_code", "procedure_name"])
        frame = frame.merge(names, on="procedure_code", how="left")
        frame["group"] = frame["procedure_code"]
    else:
        frame["group"] = frame[group_by]
    return frame.sort_values("group", kind="stable").reset_index(drop=True)


def _latest_procedure_names(session: Session) -> list[tuple[str, str]]:
    """Each procedure code with the name of its latest version (the catalogue is small)."""
    latest = {}
    for code, name in session.execute(select(Procedure.code, Procedure.name).order_by(Procedure.effective_from)).all():
        latest[code] = name
    return list(latest.items())


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = add_rates(frame)
    average = frame["resolution_minutes"] / frame["resolved"].replace(0, float("nan")) / MINUTES_PER_WORKING_DAY
    frame["avg_resolution_working_days"] = average.round(2).astype(object).where(frame["resolved"] != 0, None)
    return frame.drop(columns="resolution_minutes")


def period_report(
    session: Session, *, period: Period, group_by: str = "agency", agency: str | None = None
) -> pd.DataFrame:
    """One row per group and a last row `group == "total"` for the whole period (and agency scope)."""
    if group_by not in GROUPINGS:
        raise InvalidInput(f"unknown group_by {group_by!r}; accepted: {', '.join(GROUPINGS)}")
    agency_ids = agency_subtree_ids(session, agency) if agency else None
    groups = _label(session, _aggregate(session, period, group_by, agency_ids), group_by)
    if group_by == "month":
        total = (
            _aggregate(session, period, "channel", agency_ids)[[*COUNT_COLUMNS, "resolution_minutes"]]
            .sum()
            .to_frame()
            .T
        )
    else:
        total = groups[[*COUNT_COLUMNS, "resolution_minutes"]].sum().to_frame().T
    total["group"] = "total"
    frame = pd.concat([groups, total], ignore_index=True)
    frame[[*COUNT_COLUMNS, "resolution_minutes"]] = frame[[*COUNT_COLUMNS, "resolution_minutes"]].astype("int64")
    frame = _finish(frame)[["group", *GROUP_LABELS[group_by], *REPORT_VALUES]]
    return frame.astype(object).where(frame.notna(), None)


def stage_report(session: Session, *, period: Period, agency: str | None = None) -> pd.DataFrame:
    """Hand-off attribution per agency: steps finished on time and late in the period, working days
    overrun, and dossiers it made late (a late stage of a dossier whose outcome is late)."""
    s, d = Stage, Dossier
    graded = and_(s.ended_at >= period.start, s.ended_at < period.end, s.outcome.in_(("early", "on_time", "late")))
    late = s.outcome == "late"
    query = (
        select(
            s.agency_id,
            func.sum(case((s.outcome.in_(("early", "on_time")), 1), else_=0)).label("steps_on_time"),
            func.sum(case((late, 1), else_=0)).label("steps_late"),
            func.sum(case((late, s.overrun_minutes), else_=0)).label("overrun_minutes"),
            func.count(func.distinct(case((and_(late, d.outcome == "late"), s.dossier_id)))).label(
                "dossiers_made_late"
            ),
        )
        .join(d, d.id == s.dossier_id)
        .where(graded, d.status_code != 3)
        .group_by(s.agency_id)
    )
    if agency:
        query = query.where(s.agency_id.in_(agency_subtree_ids(session, agency)))
    frame = pd.DataFrame(
        session.execute(query).all(),
        columns=["agency_id", "steps_on_time", "steps_late", "overrun_minutes", "dossiers_made_late"],
    )
    counts = ["steps_on_time", "steps_late", "overrun_minutes", "dossiers_made_late"]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    frame = _label(session, frame, "agency")
    total = frame[counts].sum().to_frame().T
    total["group"] = "total"
    frame = pd.concat([frame, total], ignore_index=True)
    frame["steps"] = frame["steps_on_time"] + frame["steps_late"]
    frame["step_on_time_rate"] = (frame["steps_on_time"] / frame["steps"].replace(0, float("nan"))).astype(object)
    frame["overrun_working_days"] = (frame["overrun_minutes"] / MINUTES_PER_WORKING_DAY).round(2)
    frame = frame.drop(columns="overrun_minutes")
    ordered = [
        "group",
        "agency_code",
        "agency_name",
        "steps",
        "steps_on_time",
        "steps_late",
        "step_on_time_rate",
        "overrun_working_days",
        "dossiers_made_late",
    ]
    frame = frame[ordered]
    return frame.astype(object).where(frame.notna(), None)
