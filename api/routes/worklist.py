"""An officer's worklist: the steps the user's agencies hold now, the one due first on top (sla/worklist.py)."""

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlmodel import Session

from accounts.service import Principal
from api.deps import Paging, PagingDep, SessionDep
from api.security import STAFF, allow, scoped_agency
from procedures.service import get_agency
from sla.worklist import ResultItem, WorkItem, results_waiting, worklist

router = APIRouter(tags=["dossiers"])
Staff = Annotated[Principal, Depends(allow(*STAFF))]


class Worklist(BaseModel):
    items: list[WorkItem]
    total: int
    page: int
    page_size: int


class ResultList(BaseModel):
    items: list[ResultItem]
    total: int
    page: int
    page_size: int


def _agencies(session: Session, principal: Principal, agency: str | None) -> tuple[str | None, Collection[int] | None]:
    """`agency` checked against the user's scope and its id, else the user's whole scope (None: every agency)."""
    agency = scoped_agency(session, principal, agency) if agency else None
    return agency, ({get_agency(session, agency).id} if agency else principal.scope)


def result_items(
    session: Session, principal: Principal, agency: str | None, paging: Paging
) -> tuple[list[ResultItem], int]:
    """The results waiting at `agency` (within the user's scope), else in the user's scope."""
    _, agency_ids = _agencies(session, principal, agency)
    return results_waiting(session, agency_ids=agency_ids, page=paging.page, page_size=paging.page_size)


def work_items(
    request: Request, session: Session, principal: Principal, agency: str | None, paging: Paging
) -> tuple[list[WorkItem], int]:
    """The worklist of `agency` (within the user's scope), else of the user's scope (an administrator: every agency)."""
    agency, agency_ids = _agencies(session, principal, agency)
    calendar = request.app.state.calendars.get(session, agency or principal.agency_code)
    return worklist(
        session,
        agency_ids=agency_ids,
        calendar=calendar,
        now=datetime.now(UTC),
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get("/worklist", response_model=Worklist)
def get_worklist(
    request: Request,
    session: SessionDep,
    principal: Staff,
    paging: PagingDep,
    agency: Annotated[
        str | None, Query(max_length=64, description="one agency of your scope (default: all of it)")
    ] = None,
):
    """Running dossiers whose open step is held by your agencies, in step-due order (overdue steps first), with
    the step's remaining working time (`remaining_working_minutes`, negative when overdue)."""
    items, total = work_items(request, session, principal, agency, paging)
    return Worklist(
        items=items,
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )


@router.get("/worklist/results", response_model=ResultList)
def get_results_waiting(
    session: SessionDep,
    principal: Staff,
    paging: PagingDep,
    agency: Annotated[
        str | None, Query(max_length=64, description="one agency of your scope (default: all of it)")
    ] = None,
):
    """Resolved dossiers your agencies hold, oldest resolution first: at a processing agency the result waits
    to be sent back to the receiving desk (`next_event` result_sent_to_desk), at the desk to be returned to the
    applicant (`next_event` result_returned)."""
    items, total = result_items(session, principal, agency, paging)
    return ResultList(
        items=items,
        total=total,
        page=paging.page,
        page_size=paging.page_size,
    )
