"""Managers' queues: open dossiers held by an agency that are overdue, or due within N working days.

Only dossiers whose clock runs (received, processing) are queued: one waiting for a supplement or
a financial obligation has its due on hold. The overdue queue holds the dossiers past their
ORIGINAL due date, as the statistics count them: an apology's new appointment does not take a
dossier out of it (it stays, marked `rescheduled`, docs/event-time.md). The due-soon queue uses the
current due (`due_at`, the rescheduled one after an apology): the appointment the citizen was given.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Row, Select, bindparam, func, literal_column, select
from sqlmodel import Session

from dossiers.models import Dossier, Stage
from procedures.models import Procedure
from procedures.service import agency_subtree_ids, agency_tree, get_agency
from sla.core.calendar import LOCAL_TZ, WorkingCalendar
from sla.core.lifecycle import RUNNING_STATUSES
from sla.reports import day_start
from sla.selection import Selection, selected_ids

QUEUE_COLUMNS = [
    "code",
    "procedure_code",
    "procedure_name",
    "status",
    "status_code",
    "received_at",
    "due_at",
    "original_due_at",
    "rescheduled",
    "holding_agency_code",
    "holding_agency_name",
    "current_stage",
    "current_stage_due_at",
    "working_days_overdue",
    "working_days_left",
]


@dataclass(frozen=True)
class QueueFilter:
    agency: str
    include_children: bool = False
    field: str | None = None
    procedure: str | None = None  # a code, or words of the name (sla.selection)
    level: str | None = None  # the procedure's level


_QUEUE_ROW = (
    Dossier.id,
    Dossier.code,
    Dossier.procedure_code,
    Procedure.name.label("procedure_name"),
    Dossier.status,
    Dossier.status_code,
    Dossier.received_at,
    Dossier.due_at,
    Dossier.original_due_at,
    Dossier.rescheduled_due_at,
    Dossier.current_agency_id,
)
_OPEN_STAGES = (
    select(Stage.dossier_id, Stage.name, Stage.due_at)
    .where(Stage.dossier_id.in_(bindparam("ids", expanding=True)), Stage.ended_at.is_(None))
    .order_by(Stage.dossier_id, Stage.seq)
)


def _base(session: Session, where: QueueFilter) -> Select:
    """The ids of the queue's dossiers, unordered and unpaged."""
    agency_ids = (
        agency_subtree_ids(session, where.agency) if where.include_children else [get_agency(session, where.agency).id]
    )
    # The statuses inline, as the partial index ix_dossier_running states them: neither SQLite nor
    # a generic PostgreSQL plan can tell that bound parameters fall within an index's WHERE.
    running = Dossier.status_code.in_([literal_column(str(int(status))) for status in RUNNING_STATUSES])
    query = select(Dossier.id).where(Dossier.current_agency_id.in_(agency_ids), running)
    kept = selected_ids(session, Selection(field=where.field, level=where.level, procedure=where.procedure))
    if kept is not None:
        query = query.where(Dossier.procedure_id.in_(kept))
    return query


def _page(session: Session, query: Select, page: int, page_size: int, due=Dossier.due_at) -> tuple[list[Row], int]:
    """The page's rows in `due` order, and how many there are in all.

    `query` selects ids only: the count and the page's ids come off `ix_dossier_running` (or, by the
    original due, `ix_dossier_running_original`; for one agency the page is its first entries in
    order); only the page's rows are read, as plain rows.
    """
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ordered = query.order_by(due, Dossier.id).offset((page - 1) * page_size).limit(page_size)
    ids = session.execute(ordered).scalars().all()
    rows = session.execute(
        select(*_QUEUE_ROW).join(Procedure, Procedure.id == Dossier.procedure_id).where(Dossier.id.in_(ids))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id], total


def _utc_naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _frame(session: Session, dossiers: list[Row], calendar: WorkingCalendar, reference: datetime) -> pd.DataFrame:
    if not dossiers:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    open_stages = {
        stage.dossier_id: stage for stage in session.execute(_OPEN_STAGES, {"ids": [d.id for d in dossiers]})
    }
    agencies = agency_tree(session).by_id
    due = np.array([_utc_naive(d.due_at) for d in dossiers], dtype="datetime64[m]")
    original = np.array([_utc_naive(d.original_due_at) for d in dossiers], dtype="datetime64[m]")
    now = np.full(len(dossiers), np.datetime64(_utc_naive(reference), "m"))
    overdue_minutes = calendar.working_minutes(original, now)  # against the original due, as statistics count
    left_minutes = calendar.working_minutes(now, due)  # before the current due (the appointment given)
    per_day = calendar.minutes_per_day
    return pd.DataFrame(
        {
            "code": [d.code for d in dossiers],
            "procedure_code": [d.procedure_code for d in dossiers],
            "procedure_name": [d.procedure_name for d in dossiers],
            "status": [d.status for d in dossiers],
            "status_code": [d.status_code for d in dossiers],
            "received_at": [d.received_at for d in dossiers],
            "due_at": [d.due_at for d in dossiers],
            "original_due_at": [d.original_due_at for d in dossiers],
            "rescheduled": [d.rescheduled_due_at is not None for d in dossiers],
            "holding_agency_code": [agencies[d.current_agency_id].code for d in dossiers],
            "holding_agency_name": [agencies[d.current_agency_id].name for d in dossiers],
            "current_stage": [open_stages[d.id].name if d.id in open_stages else None for d in dossiers],
            "current_stage_due_at": [open_stages[d.id].due_at if d.id in open_stages else None for d in dossiers],
            "working_days_overdue": np.round(overdue_minutes / per_day, 2),
            "working_days_left": np.round(left_minutes / per_day, 2),
        },
        columns=QUEUE_COLUMNS,
    )


def overdue(
    session: Session,
    *,
    where: QueueFilter,
    calendar: WorkingCalendar,
    now: datetime,
    as_of: date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[pd.DataFrame, int]:
    """Open dossiers whose ORIGINAL due date is before `as_of` (today), most overdue first.

    A dossier given a new appointment by an apology stays while it is past its original due
    (`rescheduled` true): statistics count it overdue (domain §3, §5), whatever the new date.
    """
    today = now.astimezone(LOCAL_TZ).date()
    as_of = as_of or today
    reference = now if as_of >= today else day_start(as_of)
    cutoff = day_start(as_of)
    query = _base(session, where).where(Dossier.original_due_at < cutoff)
    dossiers, total = _page(session, query, page, page_size, due=Dossier.original_due_at)
    return _frame(session, dossiers, calendar, reference), total


def due_soon(
    session: Session,
    *,
    where: QueueFilter,
    calendar: WorkingCalendar,
    now: datetime,
    within_working_days: float,
    page: int = 1,
    page_size: int = 20,
) -> tuple[pd.DataFrame, int]:
    """Open dossiers not yet due whose due falls within the next N working days, soonest first."""
    horizon = calendar.shift(now, round(within_working_days * calendar.minutes_per_day))
    query = _base(session, where).where(Dossier.due_at >= now, Dossier.due_at <= horizon)
    dossiers, total = _page(session, query, page, page_size)
    return _frame(session, dossiers, calendar, now), total
