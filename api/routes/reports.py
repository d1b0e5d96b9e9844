"""Managers' queues, period reports, stage attribution and index scores; every one as JSON, CSV or XLSX."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from accounts.models import Role
from accounts.service import Principal
from api import exports
from api.deps import PagingDep, SessionDep
from api.security import READERS_OF_REPORTS, allow, scoped_agency
from kernel.schemas import IsoDate
from procedures.service import get_agency
from sla import queues, reports, scores
from sla.core.calendar import LOCAL_TZ
from sla.selection import Selection

router = APIRouter(tags=["queues and reports"])
Manager = Annotated[Principal, Depends(allow(Role.MANAGER))]
ReportReader = Annotated[Principal, Depends(allow(*READERS_OF_REPORTS))]

Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx (national form layout)")]
AgencyCode = Annotated[str, Query(max_length=64, description="agency e-ID code")]
OptionalAgency = Annotated[str | None, Query(max_length=64, description="agency e-ID code (and its children)")]
DOWNLOADS = exports.documented_downloads("csv", "xlsx")
Lang = Annotated[Literal["vi", "en"], Query(description="language of the CSV/XLSX headers and words")]
Raw = Annotated[bool, Query(description="CSV/XLSX with column keys and raw values (fractions, ISO instants)")]
PeriodName = Annotated[str | None, Query(max_length=7, description="2025, 2025-H1, 2025-Q1 or 2025-03 (or from/to)")]
FieldCode = Annotated[str | None, Query(max_length=64, description="field code")]
Level = Annotated[str | None, Query(max_length=16, description="the procedure's level (province, commune, …)")]
ProcedureName = Annotated[
    str | None, Query(max_length=200, description="procedure code, or words of its name (accents optional)")
]
PERIOD_TITLE = {"vi": "Tình hình, kết quả giải quyết thủ tục hành chính", "en": "Administrative procedure results"}
STAGES_TITLE = {"vi": "Kết quả giải quyết theo bước liên thông", "en": "Stage attribution"}
QUEUE_TITLES = {
    "overdue": {"vi": "Hồ sơ quá hạn", "en": "Overdue dossiers"},
    "due-soon": {"vi": "Hồ sơ sắp đến hạn", "en": "Dossiers due soon"},
}
EVERY_AGENCY = {"vi": "Tất cả cơ quan, đơn vị", "en": "All agencies"}


def agency_name(session: Session, agency: str | None, lang: str) -> str:
    return get_agency(session, agency).name if agency else EVERY_AGENCY[lang]


def period_words(period: reports.Period, lang: str) -> str:
    if lang == "en":
        return f"Period: {period.first:%d/%m/%Y} – {period.last:%d/%m/%Y}"
    return f"Kỳ báo cáo: từ ngày {period.first:%d/%m/%Y} đến ngày {period.last:%d/%m/%Y}"


def _selection_meta(selection: Selection) -> dict:
    """The filters given, for the JSON answer (none given: the answer is as it always was)."""
    return {key: value for key, value in vars(selection).items() if value}


def period_response(
    session: Session,
    *,
    period: reports.Period,
    group_by: str,
    agency: str | None,
    selection: Selection,
    fmt: str,
    lang: str = "vi",
    raw: bool = False,
    named: str | None = None,
) -> Response:
    """The period report as JSON, CSV or XLSX: one function for the API route and the dashboard's download."""
    frame = reports.period_report(session, period=period, group_by=group_by, agency=agency, selection=selection)
    xlsx = None
    if fmt == "xlsx":
        subtitle = period_words(period, "vi") + (f" – {agency}" if agency else "")
        heading = None
        if not raw:
            title = f"{PERIOD_TITLE[lang]} – {agency_name(session, agency, lang)}"
            heading = exports.Heading(title=title, subtitle=period_words(period, lang), lang=lang)
        xlsx = exports.period_form_xlsx(
            frame, group_by=group_by, title=PERIOD_TITLE["vi"], subtitle=subtitle, heading=heading
        )
    meta = {"from": period.first.isoformat(), "to": period.last.isoformat(), "group_by": group_by, "agency": agency}
    meta |= ({"period": named} if named else {}) | _selection_meta(selection)
    name = f"report-{period.first}-{period.last}"
    return exports.respond(frame, fmt, name=name, meta=meta, xlsx=xlsx, lang=lang, raw=raw)


def stages_response(
    session: Session,
    *,
    period: reports.Period,
    agency: str | None,
    selection: Selection,
    fmt: str,
    lang: str = "vi",
    raw: bool = False,
    named: str | None = None,
) -> Response:
    """Stage attribution as JSON, CSV or XLSX: one function for the API route and the dashboard's download."""
    frame = reports.stage_report(session, period=period, agency=agency, selection=selection)
    meta = {"from": period.first.isoformat(), "to": period.last.isoformat(), "group_by": "agency", "agency": agency}
    meta |= ({"period": named} if named else {}) | _selection_meta(selection)
    title = f"Kết quả giải quyết theo bước liên thông {period.first:%d/%m/%Y} – {period.last:%d/%m/%Y}"
    heading = exports.Heading(
        title=f"{STAGES_TITLE[lang]} – {agency_name(session, agency, lang)}",
        subtitle=period_words(period, lang),
        lang=lang,
    )
    name = f"stages-{period.first}-{period.last}"
    return exports.respond(
        frame, fmt, name=name, meta=meta, title=title, totals=True, lang=lang, raw=raw, heading=heading
    )


def queue_heading(session: Session, queue: str, agency: str, lang: str) -> exports.Heading:
    today = datetime.now(LOCAL_TZ).date()
    subtitle = f"As of {today:%d/%m/%Y}" if lang == "en" else f"Tính đến ngày {today:%d/%m/%Y}"
    title = f"{QUEUE_TITLES[queue][lang]} – {agency_name(session, agency, lang)}"
    return exports.Heading(title=title, subtitle=subtitle, lang=lang)


def queue_response(
    session: Session,
    queue: Literal["overdue", "due-soon"],
    *,
    where: queues.QueueFilter,
    calendar,
    fmt: str,
    lang: str,
    raw: bool,
    page: int,
    page_size: int,
    as_of: date | None = None,
    within_working_days: float = 2,
) -> Response:
    """A queue of `where.agency` (overdue, or due within `within_working_days`) as JSON, CSV or XLSX, with its count in
    X-Total-Count: one function for the API routes and the dashboard's download."""
    now = datetime.now(UTC)
    agency = where.agency
    title = f"{QUEUE_TITLES[queue]['vi']} – {agency}"
    if queue == "overdue":
        frame, total = queues.overdue(
            session, where=where, calendar=calendar, now=now, as_of=as_of, page=page, page_size=page_size
        )
        meta = {"title": title, "agency": agency, "as_of": (as_of or datetime.now(LOCAL_TZ).date()).isoformat()}
    else:
        frame, total = queues.due_soon(
            session,
            where=where,
            calendar=calendar,
            now=now,
            within_working_days=within_working_days,
            page=page,
            page_size=page_size,
        )
        meta = {"title": title, "agency": agency, "within_working_days": within_working_days}
    response = exports.respond(
        frame,
        fmt,
        name=queue,
        meta={**meta, "total": total, "page": page, "page_size": page_size},
        title=title,
        lang=lang,
        raw=raw,
        heading=queue_heading(session, queue, agency, lang),
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
    field: FieldCode = None,
    procedure: ProcedureName = None,
    level: Level = None,
    format: Format = "json",
    lang: Lang = "vi",
    raw: Raw = False,
):
    """Open dossiers held by the agency past their due, most overdue first (count in `total` and X-Total-Count)."""
    agency = scoped_agency(session, principal, agency)
    where = queues.QueueFilter(
        agency=agency, include_children=include_children, field=field, procedure=procedure, level=level
    )
    return queue_response(
        session,
        "overdue",
        where=where,
        calendar=request.app.state.calendars.get(session, agency),
        fmt=format,
        lang=lang,
        raw=raw,
        page=paging.page,
        page_size=paging.page_size,
        as_of=as_of,
    )


@router.get("/queues/due-soon", responses=DOWNLOADS)
def due_soon_queue(
    request: Request,
    session: SessionDep,
    principal: Manager,
    paging: PagingDep,
    agency: AgencyCode,
    within_working_days: Annotated[float, Query(gt=0, le=60)] = 2,
    include_children: bool = False,
    field: FieldCode = None,
    procedure: ProcedureName = None,
    level: Level = None,
    format: Format = "json",
    lang: Lang = "vi",
    raw: Raw = False,
):
    """Open dossiers due within N working days (at risk), soonest first."""
    agency = scoped_agency(session, principal, agency)
    where = queues.QueueFilter(
        agency=agency, include_children=include_children, field=field, procedure=procedure, level=level
    )
    return queue_response(
        session,
        "due-soon",
        where=where,
        calendar=request.app.state.calendars.get(session, agency),
        fmt=format,
        lang=lang,
        raw=raw,
        page=paging.page,
        page_size=paging.page_size,
        within_working_days=within_working_days,
    )


@router.get("/reports/period", responses=DOWNLOADS)
def period_report(
    session: SessionDep,
    principal: ReportReader,
    from_: Annotated[IsoDate | None, Query(alias="from", description="first day, YYYY-MM-DD")] = None,
    to: Annotated[IsoDate | None, Query(description="last day, YYYY-MM-DD")] = None,
    period: PeriodName = None,
    group_by: Literal["agency", "procedure", "field", "channel", "month"] = "agency",
    agency: OptionalAgency = None,
    field: FieldCode = None,
    level: Level = None,
    procedure: ProcedureName = None,
    format: Format = "json",
    lang: Lang = "vi",
    raw: Raw = False,
):
    """The national report form over any period (`period`, or `from` and `to`): one row per group and a total
    row; `field`, `level` and `procedure` keep the dossiers of those procedures only."""
    agency = scoped_agency(session, principal, agency)
    return period_response(
        session,
        period=reports.period_of(period, from_, to),
        group_by=group_by,
        agency=agency,
        selection=Selection(field=field, level=level, procedure=procedure),
        fmt=format,
        lang=lang,
        raw=raw,
        named=period,
    )


@router.get("/reports/stages", responses=DOWNLOADS)
def stage_report(
    session: SessionDep,
    principal: ReportReader,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: IsoDate | None = None,
    period: PeriodName = None,
    group_by: Literal["agency"] = "agency",
    agency: OptionalAgency = None,
    field: FieldCode = None,
    level: Level = None,
    procedure: ProcedureName = None,
    format: Format = "json",
    lang: Lang = "vi",
    raw: Raw = False,
):
    """Hand-off attribution: per agency, steps on time and late, working days overrun, dossiers made late."""
    agency = scoped_agency(session, principal, agency)
    return stages_response(
        session,
        period=reports.period_of(period, from_, to),
        agency=agency,
        selection=Selection(field=field, level=level, procedure=procedure),
        fmt=format,
        lang=lang,
        raw=raw,
        named=period,
    )


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
