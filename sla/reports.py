"""Period reports and stage attribution, aggregated in SQL in one scan and shaped with pandas.

Definitions (domain.md §5): refusals at intake and online submissions not yet received are left
out; outcomes are against the original due; `withdrawn` counts withdrawn, stopped and abandoned
dossiers, apart from `resolved`, so `total = resolved + withdrawn + open`. A dossier whose clock
stands still (status 5, 6) is within its due, unless it was already past it when the clock stopped.

Integrity figures (docs/event-time.md), from a second small query over the flagged events:
`events_recorded_late` (back-dated beyond the grace) and `apologies_late` (recorded less than one
working day before the due), counted in the period they were recorded in, per the dossier's group.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_, select, text
from sqlmodel import Session

from dossiers.models import FLAGGED_EVENT_CONDITION, Dossier, DossierEvent, Stage
from kernel.db import UTCDateTime
from kernel.errors import InvalidInput
from procedures.models import Agency, Field, Procedure
from procedures.service import agency_subtree_ids
from sla.core.calendar import LOCAL_TZ, RESOLVED_OUTCOMES
from sla.core.lifecycle import CLOCK_STOPPED_STATUSES, Status
from sla.core.rates import COUNT_COLUMNS, add_rates, months_between, period_bounds, year_earlier
from sla.selection import Selection, selected_ids

GROUPINGS = ("agency", "procedure", "field", "channel", "month")
MINUTES_PER_WORKING_DAY = 480
GROUP_LABELS = {
    "agency": ["agency_code", "agency_name"],
    "procedure": ["procedure_code", "procedure_name"],
    "field": ["field_code", "field_name"],
    "channel": ["channel"],
    "month": ["month"],
}
INTEGRITY_COLUMNS = ("events_recorded_late", "apologies_late")
FLAGGED_INDEX = "ix_dossier_event_flagged"
REPORT_VALUES = [
    *COUNT_COLUMNS,
    "on_time_rate",
    "strict_on_time_rate",
    "progress_score_766",
    "avg_resolution_working_days",
    *INTEGRITY_COLUMNS,
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
            raise InvalidInput(
                f"the period ends ({self.last}) before it starts ({self.first}): give from ≤ to",
                message_id="period_reversed",
                first=self.first.strftime("%d/%m/%Y"),
                last=self.last.strftime("%d/%m/%Y"),
            )
        if (self.last - self.first).days > 3660:
            raise InvalidInput("a period is at most 10 years long")

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return day_start(self.last + timedelta(days=1))


def _bucket(column, bounds: Sequence[datetime]):
    """Index of the first bound `column` is below; `len(bounds)` when at or past them all (or NULL)."""
    return case(*((column < literal(bound, UTCDateTime()), i) for i, bound in enumerate(bounds)), else_=len(bounds))


# PostgreSQL plans the tally badly on its own: it cannot estimate how few groups the bucket
# expressions make (it assumes ~100,000, for a few hundred), so it sorts ~N rows instead of hashing
# them; and it prices a full read of the narrow covering index `ix_dossier_report` above a
# sequential scan of the five-times-wider rows (or, on small tables, a bitmap scan through
# `ix_dossier_finished_at` and the rows). For this one statement: hash, and read the index.
REPORT_INDEX = "ix_dossier_report"
_PLAN_SETTINGS = ("enable_sort", "enable_incremental_sort", "enable_seqscan", "enable_bitmapscan")


@contextmanager
def _covering_scan(session: Session) -> Iterator[None]:
    if session.get_bind().dialect.name != "postgresql":
        yield  # SQLite is told with INDEXED BY
        return
    session.execute(text("; ".join(f"SET LOCAL {name} = off" for name in _PLAN_SETTINGS)))
    yield  # on an error the transaction is rolled back, and SET LOCAL with it
    session.execute(text("; ".join(f"SET LOCAL {name} TO DEFAULT" for name in _PLAN_SETTINGS)))


GROUP_COLUMNS = {"agency": "agency_id", "procedure": "procedure_id", "field": "procedure_id"}
CHANNELS = ("counter", "online", "post")
OUTCOMES = ("early", "on_time", "late", "withdrawn")  # then: none yet (open) or another


def _code(column, values: Sequence[str]):
    """The index of `column` in `values`, or len(values) for NULL or anything else."""
    return case(*((column == value, i) for i, value in enumerate(values)), else_=len(values))


def _tally(
    session: Session,
    periods: Sequence[Period],
    group_by: str,
    agency_ids: Sequence[int] | None,
    procedure_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One scan of the dossiers, grouped on where each one falls against the periods' bounds.

    `periods` are consecutive. Per row: `received` is the index of the period the dossier was
    received in (-1 before the first), `finished` that of its end (len(periods) past the last, or
    still open), `overdue_from` the first period at whose last day it is overdue if still open then
    (len(periods): never, e.g. its clock is stopped for a supplement or an obligation and it was
    not yet past its due when it stopped); and its
    channel, outcome and group (agency or procedure id). The rows are few (groups × buckets ×
    channel × outcome), so the counts of every period follow in pandas.

    The six are packed into one integer in SQL and unpacked here: grouping on one BIGINT instead
    of six columns (two of them text) halves the cost of the scan's aggregation on both databases
    (SQLite sorts every row for a GROUP BY that its index order does not give).
    """
    d = Dossier
    n = len(periods)
    starts = [period.start for period in periods] + [periods[-1].end]
    last_days = [day_start(period.last) for period in periods]
    # on hold, and not past the due when the clock stopped (then it is not overdue while it waits)
    clock_stopped = and_(
        d.finished_at.is_(None),
        d.status_code.in_(CLOCK_STOPPED_STATUSES),
        or_(d.clock_stopped_since.is_(None), d.original_due_at >= d.clock_stopped_since),
    )
    group_column = GROUP_COLUMNS.get(group_by)
    group = {"agency_id": d.receiving_agency_id, "procedure_id": d.procedure_id, None: literal(0)}[group_column]
    # (name, SQL value ≥ 0, radix): the mixed-radix digits of the key, most significant first
    digits = [
        ("channel", _code(d.channel, CHANNELS), len(CHANNELS) + 1),
        ("outcome", _code(d.outcome, OUTCOMES), len(OUTCOMES) + 1),
        ("received", _bucket(d.received_at, starts), n + 2),  # received + 1
        ("finished", _bucket(d.finished_at, starts), n + 2),  # finished + 1
        ("overdue_from", case((clock_stopped, n), else_=_bucket(d.original_due_at, last_days)), n + 1),
    ]
    key = cast(group, BigInteger)
    for _, value, radix in digits:
        key = key * radix + value
    key = key.label("key")
    query = select(key, func.count().label("dossiers"), func.sum(d.resolution_working_minutes).label("minutes"))
    query = query.where(
        d.received_at.is_not(None),
        d.status_code != Status.REFUSED,
        d.received_at < periods[-1].end,
        or_(d.finished_at.is_(None), d.finished_at >= periods[0].start),
    )
    if agency_ids is not None:
        query = query.where(d.receiving_agency_id.in_(agency_ids))
    if procedure_ids is not None:
        query = query.where(d.procedure_id.in_(procedure_ids))
    query = query.with_hint(Dossier, f"INDEXED BY {REPORT_INDEX}", "sqlite")
    with _covering_scan(session):
        rows = session.execute(query.group_by(key)).all()
    frame = pd.DataFrame(rows, columns=["key", "dossiers", "minutes"])
    packed = frame["key"].to_numpy(dtype="int64")
    for name, _, radix in reversed(digits):
        packed, frame[name] = np.divmod(packed, radix)
    if group_column:
        frame[group_column] = packed
    frame["channel"] = np.array([*CHANNELS, None], dtype=object)[frame["channel"]]
    frame["outcome"] = np.array([*OUTCOMES, None], dtype=object)[frame["outcome"]]
    frame["received"] -= 1
    frame["finished"] -= 1
    for column in ("dossiers", "minutes"):
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    return frame.drop(columns="key")



def _counts_in(tally: pd.DataFrame, index: int, group: str | None) -> pd.DataFrame:
    """The report's counts for period `index` of the tally, per `group` (None: one row)."""
    received, finished, n = tally["received"], tally["finished"], tally["dossiers"]
    new = received == index
    closed = finished == index
    still_open = (received <= index) & (finished > index)
    overdue = still_open & (tally["overdue_from"] <= index)
    resolved = closed & tally["outcome"].isin(RESOLVED_OUTCOMES)
    columns = {
        "carried_over": (received < index) & (finished >= index),
        "received_new": new,
        "received_counter": new & (tally["channel"] == "counter"),
        "received_online": new & (tally["channel"] == "online"),
        "received_post": new & (tally["channel"] == "post"),
        "total": (received <= index) & (finished >= index),
        "resolved": resolved,
        "early": closed & (tally["outcome"] == "early"),
        "on_time": closed & (tally["outcome"] == "on_time"),
        "late": closed & (tally["outcome"] == "late"),
        "withdrawn": closed & (tally["outcome"] == "withdrawn"),
        "open": still_open,
        "open_within": still_open & ~overdue,
        "open_overdue": overdue,
    }
    counts = pd.DataFrame({name: n.where(mask, 0) for name, mask in columns.items()})
    counts["resolution_minutes"] = tally["minutes"].where(resolved, 0)
    if group is None:
        return counts.sum().to_frame().T.astype("int64")
    counts[group] = tally[group]
    return counts.groupby(group, sort=False, dropna=False).sum().reset_index()


def _coarsen(tally: pd.DataFrame, periods: int) -> pd.DataFrame:
    """The tally of `periods` consecutive periods as one period (the total of a month-by-month report)."""
    whole = tally.copy()
    whole["received"] = np.where(tally["received"] < 0, -1, 0)
    whole["finished"] = np.select([tally["finished"] < 0, tally["finished"] < periods], [-1, 0], 1)
    whole["overdue_from"] = np.where(tally["overdue_from"] < periods, 0, 1)  # overdue at the last day, or not
    return whole


def _integrity(
    session: Session,
    periods: Sequence[Period],
    group_by: str,
    agency_ids: Sequence[int] | None,
    procedure_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Events recorded late and late apologies per group and period of recording (`period`: its index).

    Only the flagged events are read, off the partial index `ix_dossier_event_flagged`, then meet
    their dossiers by primary key (for the group and the agency scope).
    """
    e, d = DossierEvent, Dossier
    starts = [p.start for p in periods] + [periods[-1].end]
    group = {"agency": d.receiving_agency_id, "procedure": d.procedure_id, "field": d.procedure_id}.get(group_by)
    if group_by == "channel":
        group = d.channel
    query = (
        select(
            (group if group is not None else literal(0)).label("group_key"),
            (_bucket(e.recorded_at, starts) - 1).label("period"),
            func.sum(case((e.backdate_reason.is_not(None), 1), else_=0)).label("events_recorded_late"),
            func.sum(case((e.apology_late, 1), else_=0)).label("apologies_late"),
        )
        .join(d, d.id == e.dossier_id)
        .where(
            text(f"({FLAGGED_EVENT_CONDITION})"),  # as the partial index states it
            e.recorded_at >= literal(starts[0], UTCDateTime()),
            e.recorded_at < literal(starts[-1], UTCDateTime()),
        )
    )
    if agency_ids is not None:
        query = query.where(d.receiving_agency_id.in_(agency_ids))
    if procedure_ids is not None:
        query = query.where(d.procedure_id.in_(procedure_ids))
    query = query.with_hint(DossierEvent, f"INDEXED BY {FLAGGED_INDEX}", "sqlite")
    rows = session.execute(query.group_by(text("1"), text("2"))).all()
    frame = pd.DataFrame(rows, columns=["group_key", "period", *INTEGRITY_COLUMNS])
    for column in ("period", *INTEGRITY_COLUMNS):
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    return frame


def _add_integrity(counts: pd.DataFrame, integrity: pd.DataFrame, key: str | None) -> pd.DataFrame:
    """`counts` with the integrity columns of its groups (groups with flagged events only are added)."""
    if key is None:
        totals = integrity[list(INTEGRITY_COLUMNS)].sum()
        counts = counts.copy()
        for column in INTEGRITY_COLUMNS:
            counts[column] = int(totals[column])
        return counts
    per_group = integrity.groupby(key, sort=False, dropna=False)[list(INTEGRITY_COLUMNS)].sum().reset_index()
    merged = counts.merge(per_group, on=key, how="outer")
    numeric = [*COUNT_COLUMNS, "resolution_minutes", *INTEGRITY_COLUMNS]
    merged[numeric] = merged[numeric].fillna(0).astype("int64")
    return merged


def _aggregate(
    session: Session,
    period: Period,
    group_by: str,
    agency_ids: Sequence[int] | None,
    procedure_ids: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per group (for `month`, one row per calendar month of the period) and of the whole period."""
    if group_by == "month":
        months = [Period(first, last) for first, last in months_between(period.first, period.last)]
        tally = _tally(session, months, group_by, agency_ids, procedure_ids)
        integrity = _integrity(session, months, group_by, agency_ids, procedure_ids)
        groups = pd.concat(
            [
                _add_integrity(_counts_in(tally, i, None), integrity[integrity["period"] == i], None)
                for i in range(len(months))
            ],
            ignore_index=True,
        )
        groups.insert(0, "month", [f"{month.first:%Y-%m}" for month in months])
        return groups, _add_integrity(_counts_in(_coarsen(tally, len(months)), 0, None), integrity, None)
    tally = _tally(session, [period], group_by, agency_ids, procedure_ids)
    integrity = _integrity(session, [period], group_by, agency_ids, procedure_ids)
    if group_by in ("procedure", "field"):
        catalogue = pd.DataFrame(
            session.execute(select(Procedure.id, Procedure.code, Procedure.field_id)).all(),
            columns=["procedure_id", "procedure_code", "field_id"],
        )
        tally = tally.merge(catalogue, on="procedure_id", how="left")
        integrity = integrity.merge(catalogue, left_on="group_key", right_on="procedure_id", how="left")
    key = {"agency": "agency_id", "procedure": "procedure_code", "field": "field_id", "channel": "channel"}[group_by]
    if group_by in ("agency", "channel"):
        integrity = integrity.rename(columns={"group_key": key})
    return _add_integrity(_counts_in(tally, 0, key), integrity, key), _add_integrity(
        _counts_in(tally, 0, None), integrity, None
    )


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
    session: Session,
    *,
    period: Period,
    group_by: str = "agency",
    agency: str | None = None,
    selection: Selection | None = None,
) -> pd.DataFrame:
    """One row per group and a last row `group == "total"` for the whole period (and agency scope), counting
    the dossiers of the procedures `selection` keeps (every one without it)."""
    if group_by not in GROUPINGS:
        raise InvalidInput(f"unknown group_by {group_by!r}; accepted: {', '.join(GROUPINGS)}")
    agency_ids = agency_subtree_ids(session, agency) if agency else None
    groups, total = _aggregate(session, period, group_by, agency_ids, selected_ids(session, selection or Selection()))
    groups = _label(session, groups, group_by)
    total["group"] = "total"
    frame = pd.concat([groups, total], ignore_index=True)
    counted = [*COUNT_COLUMNS, "resolution_minutes", *INTEGRITY_COLUMNS]
    frame[counted] = frame[counted].astype("int64")
    frame = _finish(frame)[["group", *GROUP_LABELS[group_by], *REPORT_VALUES]]
    return frame.astype(object).where(frame.notna(), None)


def stage_report(
    session: Session, *, period: Period, agency: str | None = None, selection: Selection | None = None
) -> pd.DataFrame:
    """Hand-off attribution per agency: steps finished on time and late in the period, working days
    overrun, and dossiers it made late (a late stage of a dossier whose outcome is late); with `selection`,
    the stages of its procedures' dossiers only."""
    s, d = Stage, Dossier
    ended = and_(s.ended_at >= period.start, s.ended_at < period.end)
    late = s.outcome == "late"
    # Stages alone (a dossier refused at intake has none): one scan of the stage rows, no join.
    steps = select(
        s.agency_id,
        func.sum(case((s.outcome.in_(("early", "on_time")), 1), else_=0)).label("steps_on_time"),
        func.sum(case((late, 1), else_=0)).label("steps_late"),
        func.sum(case((late, s.overrun_minutes), else_=0)).label("overrun_minutes"),
    ).where(ended, s.outcome.in_(("early", "on_time", "late")))
    # Only the late stages (a few percent) meet their dossiers, by primary key.
    made_late = (
        select(s.agency_id, func.count(func.distinct(s.dossier_id)).label("dossiers_made_late"))
        .join(d, d.id == s.dossier_id)
        .where(ended, late, d.outcome == "late", d.status_code != Status.REFUSED)
    )
    if agency:
        scope = s.agency_id.in_(agency_subtree_ids(session, agency))
        steps, made_late = steps.where(scope), made_late.where(scope)
    kept = selected_ids(session, selection or Selection())
    if kept is not None:
        of_kept = s.dossier_id.in_(select(d.id).where(d.procedure_id.in_(kept)))
        steps, made_late = steps.where(of_kept), made_late.where(of_kept)
    frame = pd.DataFrame(
        session.execute(steps.group_by(s.agency_id)).all(),
        columns=["agency_id", "steps_on_time", "steps_late", "overrun_minutes"],
    ).merge(
        pd.DataFrame(
            session.execute(made_late.group_by(s.agency_id)).all(), columns=["agency_id", "dossiers_made_late"]
        ),
        on="agency_id",
        how="left",
    )
    counts = ["steps_on_time", "steps_late", "overrun_minutes", "dossiers_made_late"]
    frame[counts] = frame[counts].apply(pd.to_numeric).fillna(0).astype("int64")
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


CELL_COLUMNS = (
    "total",
    "carried_over",
    "received_new",
    "resolved",
    "early",
    "on_time",
    "late",
    "withdrawn",
    "open",
    "open_within",
    "open_overdue",
)


def cell_condition(period: Period, column: str):
    """The SQL condition a dossier meets to be counted in `column` of the period's report (as `_counts_in`)."""
    d = Dossier
    start, end = literal(period.start, UTCDateTime()), literal(period.end, UTCDateTime())
    received_before_end = d.received_at < end
    not_finished_before = or_(d.finished_at.is_(None), d.finished_at >= start)
    finished_in = and_(d.finished_at >= start, d.finished_at < end)
    still_open = and_(received_before_end, or_(d.finished_at.is_(None), d.finished_at >= end))
    clock_stopped = and_(
        d.finished_at.is_(None),
        d.status_code.in_(CLOCK_STOPPED_STATUSES),
        or_(d.clock_stopped_since.is_(None), d.original_due_at >= d.clock_stopped_since),
    )
    # as the tally decides it: a condition that is NULL is not met
    last_day = literal(day_start(period.last), UTCDateTime())
    overdue_flag = case((clock_stopped, 0), (d.original_due_at < last_day, 1), else_=0)
    overdue, within = overdue_flag == 1, overdue_flag == 0
    conditions = {
        "total": and_(received_before_end, not_finished_before),
        "carried_over": and_(d.received_at < start, not_finished_before),
        "received_new": and_(d.received_at >= start, received_before_end),
        "resolved": and_(finished_in, d.outcome.in_(RESOLVED_OUTCOMES)),
        "open": still_open,
        "open_within": and_(still_open, within),
        "open_overdue": and_(still_open, overdue),
    }
    for outcome in OUTCOMES:
        conditions[outcome] = and_(finished_in, d.outcome == outcome)
    if column not in conditions:
        raise InvalidInput(f"unknown report column {column!r}; accepted: {', '.join(CELL_COLUMNS)}")
    return conditions[column]


def cell_dossiers(
    session: Session,
    *,
    period: Period,
    column: str,
    agency: str | None = None,
    selection: Selection | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[pd.DataFrame, int]:
    """The dossiers behind one cell of the period report (received at `agency` and the agencies under it),
    oldest received first, with how many there are: the figure of the cell."""
    d = Dossier
    query = select(d.id).where(
        d.received_at.is_not(None), d.status_code != Status.REFUSED, cell_condition(period, column)
    )
    if agency:
        query = query.where(d.receiving_agency_id.in_(agency_subtree_ids(session, agency)))
    kept = selected_ids(session, selection or Selection())
    if kept is not None:
        query = query.where(d.procedure_id.in_(kept))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ids = query.order_by(d.received_at, d.id).offset((page - 1) * page_size).limit(page_size)
    rows = session.execute(
        select(
            d.code,
            d.procedure_code,
            Procedure.name.label("procedure_name"),
            d.status,
            d.status_code,
            d.outcome,
            d.received_at,
            d.original_due_at,
            d.finished_at,
        )
        .join(Procedure, Procedure.id == d.procedure_id)
        .where(d.id.in_(ids.scalar_subquery()))
        .order_by(d.received_at, d.id)
    ).all()
    return pd.DataFrame(rows, columns=list(rows[0]._fields) if rows else None), total


def period_of(period: str | None, first: date | None, last: date | None) -> Period:
    """The period a request names: `period` (2025, 2025-H1, 2025-Q1, 2025-03), or `from` and `to`."""
    if period and (first or last):
        raise InvalidInput("give either period (e.g. 2025-Q1) or from and to, not both")
    if period:
        try:
            return Period(*period_bounds(period))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    if first is None or last is None:
        raise InvalidInput("give a period (2025, 2025-H1, 2025-Q1 or 2025-03), or both from and to (YYYY-MM-DD)")
    return Period(first, last)


def year_before(period: Period) -> Period:
    """The same period a year earlier, for comparison."""
    return Period(*year_earlier(period.first, period.last))
