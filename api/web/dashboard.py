"""The manager's dashboard: overdue and due-soon queues, this month's report, on-time rates per month
and per agency, stage attribution; every table has its CSV and XLSX download.

The downloads are the API's (same frames, same `api.exports` layouts), served under /dashboard so
that a link in the page works with the page's own sign-in, not only with an API token.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request

from api import exports
from api.deps import SessionDep
from api.security import scoped_agency
from api.web.common import PageRoute, agencies, blank_to_none, language, render
from api.web.i18n import translator
from procedures import service as catalogue
from sla import queues, reports
from sla.core.calendar import LOCAL_TZ
from sla.core.rates import months_between

router = APIRouter(route_class=PageRoute, include_in_schema=False)

QUEUE_ROWS = 50
DOWNLOAD_ROWS = 10_000
CHART_MONTHS = 12
PERIOD_TITLE = "Tình hình, kết quả giải quyết thủ tục hành chính"

Format = Annotated[Literal["csv", "xlsx"], Query()]
OptionalCode = Annotated[str | None, Query(max_length=64)]


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _download(table: str, **params) -> dict[str, str]:
    """The download route of a table, once per format."""
    kept = {name: value for name, value in params.items() if value is not None}
    return {fmt: f"/dashboard/download/{table}?{urlencode({**kept, 'format': fmt})}" for fmt in ("csv", "xlsx")}


def _months_back(today: date, count: int) -> date:
    month_index = today.year * 12 + today.month - 1 - (count - 1)
    return date(month_index // 12, month_index % 12 + 1, 1)


def _percent(rate) -> float | None:
    return None if rate is None else round(float(rate) * 100, 1)


def _every_month(frame: pd.DataFrame, period: reports.Period) -> list[dict]:
    """One row per month of the period, months without dossiers included (counts 0, rates None)."""
    found = {row["month"]: row for row in _rows(frame) if row["group"] != "total"}
    empty = {"resolved": 0, "on_time_rate": None, "strict_on_time_rate": None}
    return [
        found.get(f"{first:%Y-%m}", {**empty, "month": f"{first:%Y-%m}"})
        for first, _ in months_between(period.first, period.last)
    ]


def _monthly_chart(months: list[dict], lang: str) -> dict:
    t = translator(lang)
    return {
        "type": "monthly",
        "labels": [f"{row['month'][5:]}/{row['month'][:4]}" for row in months],
        "datasets": [
            {"label": t("dash.on_time_rate"), "data": [_percent(row["on_time_rate"]) for row in months]},
            {"label": t("dash.strict_rate"), "data": [_percent(row["strict_on_time_rate"]) for row in months]},
        ],
    }


def _ranking(frame: pd.DataFrame) -> list[dict]:
    rated = [row for row in _rows(frame) if row["group"] != "total" and row["on_time_rate"] is not None]
    return sorted(rated, key=lambda row: (-row["on_time_rate"], -row["resolved"], row["agency_name"]))


def _ranking_chart(ranking: list[dict], lang: str) -> dict:
    return {
        "type": "ranking",
        "labels": [row["agency_name"] for row in ranking],
        "datasets": [
            {"label": translator(lang)("dash.on_time_rate"), "data": [_percent(r["on_time_rate"]) for r in ranking]}
        ],
    }


@router.get("/dashboard")
def dashboard(
    request: Request,
    session: SessionDep,
    agency: OptionalCode = None,
    field: OptionalCode = None,
    procedure: OptionalCode = None,
    within: Annotated[float, Query(gt=0, le=60, description="due-soon horizon in working days")] = 2,
):
    """Queues of the agency and the agencies below it, its reports and rates."""
    every_agency = agencies(session)
    principal = request.state.principal
    agency = scoped_agency(session, principal, blank_to_none(agency)) or next(
        a.code for a in every_agency if a.parent_code is None
    )
    field, procedure = blank_to_none(field), blank_to_none(procedure)
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL_TZ).date()
    calendar = request.app.state.calendars.get(session, agency)
    where = queues.QueueFilter(agency=agency, include_children=True, field=field, procedure=procedure)
    overdue, overdue_total = queues.overdue(session, where=where, calendar=calendar, now=now, page_size=QUEUE_ROWS)
    due_soon, due_soon_total = queues.due_soon(
        session, where=where, calendar=calendar, now=now, within_working_days=within, page_size=QUEUE_ROWS
    )
    month = reports.Period(today.replace(day=1), today)
    year = reports.Period(_months_back(today, CHART_MONTHS), today)
    period = reports.period_report(session, period=month, group_by="agency", agency=agency)
    monthly = _every_month(reports.period_report(session, period=year, group_by="month", agency=agency), year)
    ranking = _ranking(reports.period_report(session, period=year, group_by="agency", agency=agency))
    stages = reports.stage_report(session, period=year, agency=agency)
    lang = language(request)
    queue_params = {"agency": agency, "field": field, "procedure": procedure}
    return render(
        request,
        "web/dashboard.html",
        {
            "agencies": every_agency,
            "fields": catalogue.list_fields(session),
            "agency": agency,
            "field": field,
            "procedure": procedure,
            "within": within,
            "overdue": _rows(overdue),
            "overdue_total": overdue_total,
            "due_soon": _rows(due_soon),
            "due_soon_total": due_soon_total,
            "month": month,
            "year": year,
            "period": _rows(period),
            "monthly": monthly,
            "monthly_chart": _monthly_chart(monthly, lang),
            "ranking": ranking,
            "ranking_chart": _ranking_chart(ranking, lang),
            "stages": _rows(stages),
            "downloads": {
                "overdue": _download("overdue", **queue_params),
                "due_soon": _download("due-soon", **queue_params, within=within),
                "period": _download("period", **{"from": month.first}, to=month.last, agency=agency),
                "monthly": _download("period", **{"from": year.first}, to=year.last, group_by="month", agency=agency),
                "ranking": _download("period", **{"from": year.first}, to=year.last, agency=agency),
                "stages": _download("stages", **{"from": year.first}, to=year.last, agency=agency),
            },
        },
    )


# --- downloads: the same frames and the same CSV / XLSX layouts as the API's routes --------------


@router.get("/dashboard/download/period")
def download_period(
    request: Request,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    format: Format,
    agency: OptionalCode = None,
    group_by: Literal["agency", "month"] = "agency",
):
    """The period report in the national form's layout (XLSX) or as CSV."""
    agency = scoped_agency(session, request.state.principal, agency)
    frame = reports.period_report(session, period=reports.Period(from_, to), group_by=group_by, agency=agency)
    xlsx = None
    if format == "xlsx":
        subtitle = f"Kỳ báo cáo: từ ngày {from_:%d/%m/%Y} đến ngày {to:%d/%m/%Y}" + (f" – {agency}" if agency else "")
        xlsx = exports.period_form_xlsx(frame, group_by=group_by, title=PERIOD_TITLE, subtitle=subtitle)
    return exports.respond(frame, format, name=f"report-{from_}-{to}", meta={}, xlsx=xlsx)


@router.get("/dashboard/download/stages")
def download_stages(
    request: Request,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    format: Format,
    agency: OptionalCode = None,
):
    """Stage attribution per agency, with its total row."""
    agency = scoped_agency(session, request.state.principal, agency)
    frame = reports.stage_report(session, period=reports.Period(from_, to), agency=agency)
    title = f"Kết quả giải quyết theo bước liên thông {from_:%d/%m/%Y} – {to:%d/%m/%Y}"
    return exports.respond(frame, format, name=f"stages-{from_}-{to}", meta={}, title=title, totals=True)


@router.get("/dashboard/download/{queue}")  # after the fixed paths above
def download_queue(
    request: Request,
    session: SessionDep,
    queue: Literal["overdue", "due-soon"],
    agency: Annotated[str, Query(max_length=64)],
    format: Format,
    field: OptionalCode = None,
    procedure: OptionalCode = None,
    within: Annotated[float, Query(gt=0, le=60)] = 2,
):
    """A whole queue of the agency and the agencies below it (at most 10,000 rows)."""
    agency = scoped_agency(session, request.state.principal, agency)
    where = queues.QueueFilter(
        agency=agency, include_children=True, field=blank_to_none(field), procedure=blank_to_none(procedure)
    )
    calendar = request.app.state.calendars.get(session, agency)
    now = datetime.now(UTC)
    if queue == "overdue":
        frame, _ = queues.overdue(session, where=where, calendar=calendar, now=now, page_size=DOWNLOAD_ROWS)
        title = f"Hồ sơ quá hạn – {agency}"
    else:
        frame, _ = queues.due_soon(
            session, where=where, calendar=calendar, now=now, within_working_days=within, page_size=DOWNLOAD_ROWS
        )
        title = f"Hồ sơ sắp đến hạn – {agency}"
    return exports.respond(frame, format, name=queue, meta={}, title=title)
