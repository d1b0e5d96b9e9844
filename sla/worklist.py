"""An officer's worklist: the steps an agency holds now, the one due first on top.

A dossier is on the list while its clock runs (received, processing: `RUNNING_STATUSES`) and it has an
open stage (`stage.ended_at IS NULL`) at an agency of the list; it is ordered by that stage's own due
(the step's allotment, form 06), not the dossier's, so overdue steps come first. The page is read off
the partial index `ix_stage_open` (agency, step due, dossier) in order; only its rows are joined.
A dossier waiting for a supplement or a financial obligation is not on the list: its clock is stopped.

Beside it, the results waiting (`results_waiting`): resolved dossiers (status 9) an agency of the list
holds, the one resolved first on top. At the processing agency of a forwarded dossier the result waits
to be sent back to the receiving desk (result_sent_to_desk); at the desk, to be returned to the
applicant (result_returned). Their clock is settled at the resolution: no step due, no remaining time.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, literal_column, select
from sqlmodel import Session

from dossiers.models import Dossier, Stage
from procedures.models import Procedure
from procedures.service import agency_tree
from sla.core.calendar import WorkingCalendar
from sla.core.lifecycle import HAND_BACK, RUNNING_STATUSES, STATUS_NAMES, Status


@dataclass(frozen=True)
class WorkItem:
    code: str
    procedure_code: str
    procedure_name: str
    procedure_name_en: str | None
    status: str
    status_code: int
    holding_agency_code: str
    stage: str
    stage_seq: int
    stage_agency_code: str
    stage_due_at: datetime
    due_at: datetime | None
    remaining_working_minutes: int
    """Working minutes from now to the step's due; negative: the step is overdue by that much."""
    overdue: bool
    """The step is past its own due (`remaining_working_minutes` < 0)."""


@dataclass(frozen=True)
class ResultItem:
    code: str
    procedure_code: str
    procedure_name: str
    procedure_name_en: str | None
    receiving_agency_code: str
    holding_agency_code: str
    resolved_at: datetime
    outcome: str | None
    next_event: str
    """result_sent_to_desk (the result is away from the receiving desk) or result_returned (it is at the desk)."""


def results_waiting(
    session: Session, *, agency_ids: Collection[int] | None, page: int = 1, page_size: int = 20
) -> tuple[list[ResultItem], int]:
    """Resolved dossiers held by `agency_ids` (None: every agency), oldest resolution first, and their count."""
    query = select(Dossier.id).where(Dossier.status_code == literal_column(str(int(Status.RESOLVED))))
    if agency_ids is not None:
        query = query.where(Dossier.current_agency_id.in_(sorted(agency_ids)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ordered = query.order_by(Dossier.finished_at, Dossier.id).offset((page - 1) * page_size).limit(page_size)
    ids = session.execute(ordered).scalars().all()
    if not ids:
        return [], total
    rows = session.execute(
        select(
            Dossier.id,
            Dossier.code,
            Dossier.procedure_code,
            Procedure.name.label("procedure_name"),
            Procedure.name_en.label("procedure_name_en"),
            Dossier.receiving_agency_id,
            Dossier.current_agency_id,
            Dossier.finished_at,
            Dossier.outcome,
        )
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(Dossier.id.in_(ids))
    ).all()
    by_id = {row.id: row for row in rows}
    agencies = agency_tree(session).by_id
    items = []
    for row in (by_id[i] for i in ids if i in by_id):
        holder = row.current_agency_id or row.receiving_agency_id
        items.append(
            ResultItem(
                code=row.code,
                procedure_code=row.procedure_code,
                procedure_name=row.procedure_name,
                procedure_name_en=row.procedure_name_en,
                receiving_agency_code=agencies[row.receiving_agency_id].code,
                holding_agency_code=agencies[holder].code,
                resolved_at=row.finished_at,
                outcome=row.outcome,
                next_event="result_returned" if holder == row.receiving_agency_id else HAND_BACK,
            )
        )
    return items, total


def _open_steps(agency_ids: Collection[int] | None):
    # statuses inline, as ix_dossier_running states them (a bound list is not known to fall within an index)
    running = Dossier.status_code.in_([literal_column(str(int(status))) for status in RUNNING_STATUSES])
    query = (
        select(Stage.id)
        .join(Dossier, Dossier.id == Stage.dossier_id)
        .where(Stage.ended_at.is_(None), Stage.due_at.is_not(None), running)
    )
    if agency_ids is not None:
        query = query.where(Stage.agency_id.in_(sorted(agency_ids)))
    return query


def _utc_naive(instant: datetime) -> np.datetime64:
    return np.datetime64(instant.astimezone(UTC).replace(tzinfo=None), "m")


def remaining_minutes(calendar: WorkingCalendar, now: datetime, dues: list[datetime]) -> list[int]:
    """Working minutes from `now` to each due (negative past it), in the calendar's working time."""
    if not dues:
        return []
    due = np.array([_utc_naive(d) for d in dues], dtype="datetime64[m]")
    start = np.full(len(dues), _utc_naive(now))
    ahead = calendar.working_minutes(start, due)  # 0 past the due
    behind = calendar.working_minutes(due, start)  # 0 before it
    return [int(a) - int(b) for a, b in zip(ahead, behind, strict=True)]


def worklist(
    session: Session,
    *,
    agency_ids: Collection[int] | None,
    calendar: WorkingCalendar,
    now: datetime,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[WorkItem], int]:
    """The open steps of running dossiers at `agency_ids` (None: every agency), in step-due order, and their count."""
    query = _open_steps(agency_ids)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ordered_ids = query.order_by(Stage.due_at, Stage.dossier_id, Stage.id).offset((page - 1) * page_size)
    ids = session.execute(ordered_ids.limit(page_size)).scalars().all()
    if not ids:
        return [], total
    rows = session.execute(
        select(
            Stage.id.label("stage_id"),
            Stage.name.label("stage"),
            Stage.seq.label("stage_seq"),
            Stage.agency_id.label("stage_agency_id"),
            Stage.due_at.label("stage_due_at"),
            Dossier.code,
            Dossier.procedure_code,
            Procedure.name.label("procedure_name"),
            Procedure.name_en.label("procedure_name_en"),
            Dossier.status_code,
            Dossier.due_at,
            Dossier.current_agency_id,
        )
        .join(Dossier, Dossier.id == Stage.dossier_id)
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(Stage.id.in_(ids))
    ).all()
    by_id = {row.stage_id: row for row in rows}
    ordered = [by_id[i] for i in ids if i in by_id]
    agencies = agency_tree(session).by_id
    remaining = remaining_minutes(calendar, now, [row.stage_due_at for row in ordered])
    items = [
        WorkItem(
            code=row.code,
            procedure_code=row.procedure_code,
            procedure_name=row.procedure_name,
            procedure_name_en=row.procedure_name_en,
            status=STATUS_NAMES[Status(row.status_code)],
            status_code=row.status_code,
            holding_agency_code=agencies[row.current_agency_id].code if row.current_agency_id else "",
            stage=row.stage,
            stage_seq=row.stage_seq,
            stage_agency_code=agencies[row.stage_agency_id].code if row.stage_agency_id else "",
            stage_due_at=row.stage_due_at,
            due_at=row.due_at,
            remaining_working_minutes=minutes,
            overdue=minutes < 0,
        )
        for row, minutes in zip(ordered, remaining, strict=True)
    ]
    return items, total
