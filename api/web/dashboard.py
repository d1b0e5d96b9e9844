"""The manager's dashboard over a period (a month, quarter, half, year, or from/to) compared with the same
period a year earlier: overdue and due-soon queues, the period report, on-time rates per month and per
agency, stage attribution; every table has its CSV and XLSX download, and every report cell opens the
dossiers it counts.

Every filter (agency and the agencies under it, field, procedure level, procedure by code or name)
applies to the queues, the report and the charts alike (`sla.selection`). The figures are those of the
report routes: the page calls `sla.reports` as they do, and the downloads ARE the routes' responses
(`api.routes.reports.period_response`, `stages_response`, `queue_response`), served under /dashboard so that a
link in the page works with the page's own sign-in, not only with an API token.
"""

import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.routes import reports as report_routes
from api.security import scoped_agency
from api.web.common import PageRoute, agencies, blank_to_none, language, render, typed_date
from api.web.i18n import Formats, translator
from procedures import service as catalogue
from procedures.models import ProcedureLevel
from sla import queues, reports
from sla.core.calendar import LOCAL_TZ
from sla.core.rates import months_between
from sla.selection import Selection

router = APIRouter(route_class=PageRoute, include_in_schema=False)

QUEUE_ROWS = 50
CELL_ROWS = 100
DOWNLOAD_ROWS = 10_000
CHART_MONTHS = 12  # a period shorter than three months is charted over the twelve months up to its end
LINKED_COLUMNS = reports.CELL_COLUMNS

Format = Annotated[Literal["csv", "xlsx"], Query()]
OptionalCode = Annotated[str | None, Query(max_length=64)]
ProcedureName = Annotated[str | None, Query(max_length=200)]
PeriodName = Annotated[str | None, Query(max_length=7)]
OptionalDay = Annotated[date | None, Query()]


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _link(path: str, **params) -> str:
    kept = {name.rstrip("_"): value for name, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}"


def _download(table: str, **params) -> dict[str, str]:
    """The download route of a table, once per format."""
    return {fmt: _link(f"/dashboard/download/{table}", **params, format=fmt) for fmt in ("csv", "xlsx")}


def _percent(rate) -> float | None:
    return None if rate is None else round(float(rate) * 100, 1)


def _chart_range(period: reports.Period) -> reports.Period:
    """The months a chart shows: the period's own when it has three or more, else the twelve up to its end."""
    if len(months_between(period.first, period.last)) >= 3:
        return period
    index = period.last.year * 12 + period.last.month - 1 - (CHART_MONTHS - 1)
    return reports.Period(date(index // 12, index % 12 + 1, 1), period.last)


def _every_month(frame: pd.DataFrame, period: reports.Period) -> list[dict]:
    """One row per month of the period, months without dossiers included (counts 0, rates None)."""
    found = {row["month"]: row for row in _rows(frame) if row["group"] != "total"}
    empty = {"resolved": 0, "on_time_rate": None, "strict_on_time_rate": None}
    return [
        found.get(f"{first:%Y-%m}", {**empty, "month": f"{first:%Y-%m}"})
        for first, _ in months_between(period.first, period.last)
    ]


def _scale(values: list[float | None], target: float) -> dict:
    """The value axis of a rate chart fitted to its data (and the target): 92–98 % is not drawn on 0–100 %."""
    shown = [value for value in values if value is not None] + [target]
    return {"min": max(0, math.floor((min(shown) - 2) / 5) * 5), "max": 100}


def _rate_chart(kind: str, labels: list[str], series: list[tuple[str, list]], *, target: float, lang: str) -> dict:
    t = translator(lang)
    values = [value for _, data in series for value in data]
    return {
        "type": kind,
        "labels": labels,
        "datasets": [{"label": label, "data": data} for label, data in series],
        "target": {"label": t("dash.target", target=Formats(lang).percent(target)), "value": round(target * 100, 1)},
        "scale": _scale(values, target * 100),
        "axis": {
            "value": t("dash.axis_rate"),
            "category": t("dash.axis_month" if kind == "monthly" else "dash.agency"),
        },
        "locale": "vi-VN" if lang == "vi" else "en-GB",
        "unit": " %" if lang == "vi" else "%",
    }


def _ranking(frame: pd.DataFrame) -> list[dict]:
    rated = [row for row in _rows(frame) if row["group"] != "total" and row["on_time_rate"] is not None]
    return sorted(rated, key=lambda row: (-row["on_time_rate"], -row["resolved"], row["agency_name"]))


def _total(frame: pd.DataFrame) -> dict:
    return next(row for row in _rows(frame) if row["group"] == "total")


def _period_label(period: reports.Period, fmt: Formats) -> str:
    return f"{fmt.day(period.first)} – {fmt.day(period.last)}"


def _presets(today: date) -> list[tuple[str, str]]:
    """Periods offered in the picker: (value, what it is), newest first."""
    quarter = (today.month - 1) // 3 + 1
    half = 1 if today.month <= 6 else 2
    last_month = today.replace(day=1) - timedelta(days=1)
    return [
        (f"{today:%Y-%m}", f"{today:%m/%Y}"),
        (f"{last_month:%Y-%m}", f"{last_month:%m/%Y}"),
        (f"{today.year}-Q{quarter}", f"Q{quarter}/{today.year}"),
        (f"{today.year}-H{half}", f"H{half}/{today.year}"),
        (f"{today.year}", f"{today.year}"),
        (f"{today.year - 1}", f"{today.year - 1}"),
    ]


@router.get("/dashboard")
def dashboard(
    request: Request,
    session: SessionDep,
    agency: OptionalCode = None,
    field: OptionalCode = None,
    level: OptionalCode = None,
    procedure: ProcedureName = None,
    period: PeriodName = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Annotated[str | None, Query(max_length=10)] = None,
    within: Annotated[float, Query(gt=0, le=60, description="due-soon horizon in working days")] = 2,
):
    """Queues of the agency and the agencies below it, its report over the period and the year before, its rates."""
    every_agency = agencies(session)
    principal = request.state.principal
    agency = scoped_agency(session, principal, blank_to_none(agency)) or next(
        a.code for a in every_agency if a.parent_code is None
    )
    field, level, procedure = blank_to_none(field), blank_to_none(level), blank_to_none(procedure)
    period, first, last = blank_to_none(period), blank_to_none(from_), blank_to_none(to)
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL_TZ).date()
    if not (period or first or last):
        period = f"{today:%Y-%m}"
    chosen = reports.period_of(period, _day(request, first, "dash.from"), _day(request, last, "dash.to"))
    earlier = reports.year_before(chosen)
    selection = Selection(field=field, level=level, procedure=procedure)
    calendar = request.app.state.calendars.get(session, agency)
    where = queues.QueueFilter(agency=agency, include_children=True, field=field, procedure=procedure, level=level)
    overdue, overdue_total = queues.overdue(session, where=where, calendar=calendar, now=now, page_size=QUEUE_ROWS)
    due_soon, due_soon_total = queues.due_soon(
        session, where=where, calendar=calendar, now=now, within_working_days=within, page_size=QUEUE_ROWS
    )
    report = reports.period_report(session, period=chosen, group_by="agency", agency=agency, selection=selection)
    report_before = reports.period_report(
        session, period=earlier, group_by="agency", agency=agency, selection=selection
    )
    span = _chart_range(chosen)
    span_before = reports.year_before(span)
    monthly = _every_month(
        reports.period_report(session, period=span, group_by="month", agency=agency, selection=selection), span
    )
    monthly_before = _every_month(
        reports.period_report(session, period=span_before, group_by="month", agency=agency, selection=selection),
        span_before,
    )
    ranking = _ranking(report)
    stages = reports.stage_report(session, period=chosen, agency=agency, selection=selection)
    lang = language(request)
    t, fmt = translator(lang), Formats(lang)
    target = request.app.state.settings.on_time_target
    monthly_chart = _rate_chart(
        "monthly",
        [f"{row['month'][5:]}/{row['month'][:4]}" for row in monthly],
        [
            (t("dash.on_time_rate"), [_percent(row["on_time_rate"]) for row in monthly]),
            (t("dash.strict_rate"), [_percent(row["strict_on_time_rate"]) for row in monthly]),
            (t("dash.year_before_rate"), [_percent(row["on_time_rate"]) for row in monthly_before]),
        ],
        target=target,
        lang=lang,
    )
    ranking_chart = _rate_chart(
        "ranking",
        [row["agency_name"] for row in ranking],
        [(t("dash.on_time_rate"), [_percent(row["on_time_rate"]) for row in ranking])],
        target=target,
        lang=lang,
    )
    filters = {"field": field, "level": level, "procedure": procedure}
    span_params = {"from_": chosen.first.isoformat(), "to": chosen.last.isoformat(), **filters}

    def cell_link(row_agency: str | None, column: str, which: reports.Period = chosen) -> str:
        return _link(
            "/dashboard/dossiers",
            agency=row_agency or agency,
            from_=which.first.isoformat(),
            to=which.last.isoformat(),
            column=column,
            **filters,
        )

    return render(
        request,
        "web/dashboard.html",
        {
            "agencies": every_agency,
            "fields": catalogue.list_fields(session),
            "levels": [level.value for level in ProcedureLevel],
            "agency": agency,
            "field": field,
            "level": level,
            "procedure": procedure,
            "period_name": period or "",
            "period_from": chosen.first.isoformat() if not period else "",
            "period_to": chosen.last.isoformat() if not period else "",
            "presets": _presets(today),
            "within": within,
            "overdue": _rows(overdue),
            "overdue_total": overdue_total,
            "due_soon": _rows(due_soon),
            "due_soon_total": due_soon_total,
            "chosen": chosen,
            "chosen_label": _period_label(chosen, fmt),
            "earlier": earlier,
            "earlier_label": _period_label(earlier, fmt),
            "span_label": _period_label(span, fmt),
            "report": _rows(report),
            "total": _total(report),
            "total_before": _total(report_before),
            "linked_columns": LINKED_COLUMNS,
            "cell_link": cell_link,
            "monthly": [
                {**row, "before": before} for row, before in zip(monthly, monthly_before, strict=True)
            ],
            "monthly_chart": monthly_chart,
            "ranking": ranking,
            "ranking_chart": ranking_chart,
            "stages": _rows(stages),
            "target": target,
            "downloads": {
                "overdue": _download("overdue", agency=agency, **filters),
                "due_soon": _download("due-soon", agency=agency, **filters, within=within),
                "period": _download("period", **span_params, agency=agency),
                "monthly": _download(
                    "period",
                    from_=span.first.isoformat(),
                    to=span.last.isoformat(),
                    group_by="month",
                    agency=agency,
                    **filters,
                ),
                "ranking": _download("period", **span_params, agency=agency),
                "stages": _download("stages", **span_params, agency=agency),
            },
        },
    )


def _selection(field: str | None, level: str | None, procedure: str | None) -> Selection:
    """The filters as typed (a blank one is no filter)."""
    return Selection(field=blank_to_none(field), level=blank_to_none(level), procedure=blank_to_none(procedure))


def _day(request: Request, value: str | None, label_key: str) -> date | None:
    """A `from`/`to` day typed day first (dd/mm/yyyy) or ISO: `common.typed_date`, the pages' one parser."""
    typed = typed_date(request, value, label_key, date_only=True)
    return date.fromisoformat(typed) if typed else None


@router.get("/dashboard/dossiers")
def cell_dossiers(
    request: Request,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    column: Literal[LINKED_COLUMNS],  # type: ignore[valid-type]
    agency: OptionalCode = None,
    field: OptionalCode = None,
    level: OptionalCode = None,
    procedure: ProcedureName = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
):
    """The dossiers behind one cell of the period report: as many as the cell says."""
    agency = scoped_agency(session, request.state.principal, blank_to_none(agency))
    period = reports.Period(from_, to)
    selection = _selection(field, level, procedure)
    frame, total = reports.cell_dossiers(
        session, period=period, column=column, agency=agency, selection=selection, page=page, page_size=CELL_ROWS
    )
    lang = language(request)
    back = _link("/dashboard", agency=agency, from_=from_.isoformat(), to=to.isoformat(), **vars(selection))
    return render(
        request,
        "web/dashboard_dossiers.html",
        {
            "rows": _rows(frame),
            "total": total,
            "page": page,
            "pages": max(1, -(-total // CELL_ROWS)),
            "column": column,
            "agency_name": report_routes.agency_name(session, agency, lang),
            "period_label": _period_label(period, Formats(lang)),
            "selection": selection,
            "back": back,
            "page_link": lambda number: _link(
                "/dashboard/dossiers",
                agency=agency,
                from_=from_.isoformat(),
                to=to.isoformat(),
                column=column,
                **vars(selection),
                page=number,
            ),
        },
    )


# --- downloads: the report routes' own responses ---------------------------------------------------


@router.get("/dashboard/download/period")
def download_period(
    request: Request,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    format: Format,
    agency: OptionalCode = None,
    group_by: Literal["agency", "month"] = "agency",
    field: OptionalCode = None,
    level: OptionalCode = None,
    procedure: ProcedureName = None,
    raw: bool = False,
):
    """The period report in the national form's layout (XLSX) or as CSV: the route's own response."""
    return report_routes.period_response(
        session,
        period=reports.Period(from_, to),
        group_by=group_by,
        agency=scoped_agency(session, request.state.principal, agency),
        selection=_selection(field, level, procedure),
        fmt=format,
        lang=language(request),
        raw=raw,
    )


@router.get("/dashboard/download/stages")
def download_stages(
    request: Request,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    format: Format,
    agency: OptionalCode = None,
    field: OptionalCode = None,
    level: OptionalCode = None,
    procedure: ProcedureName = None,
    raw: bool = False,
):
    """Stage attribution per agency, with its total row: the route's own response."""
    return report_routes.stages_response(
        session,
        period=reports.Period(from_, to),
        agency=scoped_agency(session, request.state.principal, agency),
        selection=_selection(field, level, procedure),
        fmt=format,
        lang=language(request),
        raw=raw,
    )


@router.get("/dashboard/download/{queue}")  # after the fixed paths above
def download_queue(
    request: Request,
    session: SessionDep,
    queue: Literal["overdue", "due-soon"],
    agency: Annotated[str, Query(max_length=64)],
    format: Format,
    field: OptionalCode = None,
    level: OptionalCode = None,
    procedure: ProcedureName = None,
    within: Annotated[float, Query(gt=0, le=60)] = 2,
    raw: bool = False,
):
    """A whole queue of the agency and the agencies below it (at most 10,000 rows)."""
    agency = scoped_agency(session, request.state.principal, agency)
    where = queues.QueueFilter(
        agency=agency,
        include_children=True,
        field=blank_to_none(field),
        procedure=blank_to_none(procedure),
        level=blank_to_none(level),
    )
    return report_routes.queue_response(
        session,
        queue,
        where=where,
        calendar=request.app.state.calendars.get(session, agency),
        fmt=format,
        lang=language(request),
        raw=raw,
        page=1,
        page_size=DOWNLOAD_ROWS,
        within_working_days=within,
    )
