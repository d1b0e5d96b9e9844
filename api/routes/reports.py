"""Managers' queues, period reports, stage attribution and index scores; every one as JSON, CSV or XLSX."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from api import exports
from api.accounts import Principal, Role
from api.deps import PagingDep, SessionDep
from api.security import READERS_OF_REPORTS, allow, scoped_agency
from procedures.schemas import IsoDate
from sla import queues, reports, scores
from sla.core.calendar import LOCAL_TZ

router = APIRouter(tags=["queues and reports"])
Manager = Annotated[Principal, Depends(allow(Role.MANAGER))]
ReportReader = Annotated[Principal, Depends(allow(*READERS_OF_REPORTS))]

Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx (national form layout)")]
AgencyCode = Annotated[str, Query(max_length=64, description="agency e-ID code")]
OptionalAgency = Annotated[str | None, Query(max_length=64, description="agency e-ID code (and its children)")]
DOWNLOADS = exports.documented_downloads("csv", "xlsx")


def _queue_response(frame, total: int, paging, fmt: str, name: str, meta: dict):
    response = exports.respond(
        frame,
        fmt,
        name=name,
        meta={**meta, "total": total, "page": paging.page, "page_size": paging.page_size},
        title=meta["title"],
    )
    response.headers["X-Total-Count"] = str(total)
    return response


@router.get("/queues/overdue", responses=DOWNLOADS)
def overdue_queue(
    request: Request,
    session: SessionDep,
    principal: Manager,
    paging: PagingDep,
    agency: AgencyCode,
    include_children: bool = False,
    as_of: Annotated[IsoDate | None, Query(description="overdue as of this date (default today)")] = None,
    field: Annotated[str | None, Query(max_length=64)] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    format: Format = "json",
):
    """Open dossiers held by the agency past their due, most overdue first (count in `total` and X-Total-Count)."""
    agency = scoped_agency(session, principal, agency)
    where = queues.QueueFilter(agency=agency, include_children=include_children, field=field, procedure=procedure)
    frame, total = queues.overdue(
        session,
        where=where,
        calendar=request.app.state.calendars.get(session, agency),
        now=datetime.now(UTC),
        as_of=as_of,
        page=paging.page,
        page_size=paging.page_size,
    )
    title = f"Hồ sơ quá hạn – {agency}"
    meta = {"title": title, "agency": agency, "as_of": (as_of or datetime.now(LOCAL_TZ).date()).isoformat()}
    return _queue_response(frame, total, paging, format, "overdue", meta)


@router.get("/queues/due-soon", responses=DOWNLOADS)
def due_soon_queue(
    request: Request,
    session: SessionDep,
    principal: Manager,
    paging: PagingDep,
    agency: AgencyCode,
    within_working_days: Annotated[float, Query(gt=0, le=60)] = 2,
    include_children: bool = False,
    field: Annotated[str | None, Query(max_length=64)] = None,
    procedure: Annotated[str | None, Query(max_length=64)] = None,
    format: Format = "json",
):
    """Open dossiers due within N working days (at risk), soonest first."""
    agency = scoped_agency(session, principal, agency)
    where = queues.QueueFilter(agency=agency, include_children=include_children, field=field, procedure=procedure)
    frame, total = queues.due_soon(
        session,
        where=where,
        calendar=request.app.state.calendars.get(session, agency),
        now=datetime.now(UTC),
        within_working_days=within_working_days,
        page=paging.page,
        page_size=paging.page_size,
    )
    meta = {"title": f"Hồ sơ sắp đến hạn – {agency}", "agency": agency, "within_working_days": within_working_days}
    return _queue_response(frame, total, paging, format, "due-soon", meta)


@router.get("/reports/period", responses=DOWNLOADS)
def period_report(
    session: SessionDep,
    principal: ReportReader,
    from_: Annotated[IsoDate, Query(alias="from", description="first day, YYYY-MM-DD")],
    to: Annotated[IsoDate, Query(description="last day, YYYY-MM-DD")],
    group_by: Literal["agency", "procedure", "field", "channel", "month"] = "agency",
    agency: OptionalAgency = None,
    format: Format = "json",
):
    """The national report form over any period: one row per group and a total row."""
    agency = scoped_agency(session, principal, agency)
    period = reports.Period(from_, to)
    frame = reports.period_report(session, period=period, group_by=group_by, agency=agency)
    subtitle = f"Kỳ báo cáo: từ ngày {from_:%d/%m/%Y} đến ngày {to:%d/%m/%Y}" + (f" – {agency}" if agency else "")
    title = "Tình hình, kết quả giải quyết thủ tục hành chính"
    xlsx = None
    if format == "xlsx":
        xlsx = exports.period_form_xlsx(frame, group_by=group_by, title=title, subtitle=subtitle)
    meta = {"from": from_.isoformat(), "to": to.isoformat(), "group_by": group_by, "agency": agency}
    return exports.respond(frame, format, name=f"report-{from_}-{to}", meta=meta, xlsx=xlsx)


@router.get("/reports/stages", responses=DOWNLOADS)
def stage_report(
    session: SessionDep,
    principal: ReportReader,
    from_: Annotated[IsoDate, Query(alias="from")],
    to: IsoDate,
    group_by: Literal["agency"] = "agency",
    agency: OptionalAgency = None,
    format: Format = "json",
):
    """Hand-off attribution: per agency, steps on time and late, working days overrun, dossiers made late."""
    agency = scoped_agency(session, principal, agency)
    frame = reports.stage_report(session, period=reports.Period(from_, to), agency=agency)
    meta = {"from": from_.isoformat(), "to": to.isoformat(), "group_by": group_by, "agency": agency}
    title = f"Kết quả giải quyết theo bước liên thông {from_:%d/%m/%Y} – {to:%d/%m/%Y}"
    return exports.respond(frame, format, name=f"stages-{from_}-{to}", meta=meta, title=title, totals=True)


@router.get("/index/scores")
def index_scores(
    request: Request,
    session: SessionDep,
    principal: ReportReader,
    period: Annotated[str, Query(description="2025, 2025-Q1 or 2025-03", max_length=7)],
    agency: OptionalAgency = None,
):
    """On-time rates, the 766 progress score and the PAR criterion per agency, each with its formula id."""
    agency = scoped_agency(session, principal, agency)
    return scores.agency_scores(session, period=period, agency=agency, par=request.app.state.settings.par_scoring)
