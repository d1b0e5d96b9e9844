"""The Decision 766 scorecard of a unit and period, and the dossiers (or procedures) that cost its points."""

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from accounts.service import Principal
from api import exports
from api.deps import PagingDep, SessionDep
from api.security import READERS_OF_REPORTS, allow, scoped_agency
from kernel.errors import InvalidInput
from sla import reports, scorecard

router = APIRouter(tags=["queues and reports"])
ReportReader = Annotated[Principal, Depends(allow(*READERS_OF_REPORTS))]
PeriodName = Annotated[str, Query(max_length=7, description="2026, 2026-H1, 2026-Q3 or 2026-07")]
AgencyCode = Annotated[str | None, Query(max_length=64, description="the unit's e-ID code (default: your agency)")]
Children = Annotated[bool, Query(description="count the agencies under it too")]
Lang = Annotated[Literal["vi", "en"], Query(description="language of the XLSX headers and words")]
TITLE = {"vi": "Bộ chỉ số phục vụ người dân, doanh nghiệp (QĐ 766/QĐ-TTg)", "en": "Decision 766 scorecard"}
COSTLY_TITLE = {"vi": "Các trường hợp bị trừ điểm chỉ số", "en": "What cost indicator"}


def scored_unit(session: Session, principal: Principal, agency: str | None) -> str:
    """The unit to score: `agency` within the user's scope, else the user's own (an administrator must name one)."""
    agency = scoped_agency(session, principal, agency)
    if agency is None:
        raise InvalidInput("give agency: the e-ID code of the unit to score (GET /api/v1/agencies lists them)")
    return agency


def scorecard_of(
    session: Session, request: Request, *, period: str, agency: str, include_children: bool
) -> dict:
    """One unit's scorecard: one function for the API route, the dashboard's page and its XLSX."""
    return scorecard.scorecard(
        session,
        period=reports.period_of(period, None, None),
        period_key=period.strip().upper(),
        agency=agency,
        include_children=include_children,
        calendar=request.app.state.calendars.get(session, None),
    )


def scorecard_frame(card: dict) -> pd.DataFrame:
    """The scorecard's indicators as a table (the XLSX for people)."""
    frame = pd.DataFrame(card["indicators"])
    frame = frame.rename(
        columns={"id": "indicator", "group": "indicator_group", "name": "indicator_name", "threshold": "threshold_rate"}
    )
    return frame[
        ["indicator_group", "indicator", "indicator_name", "formula", "numerator", "denominator", "rate",
         "threshold_rate", "points", "max_points", "points_lost"]
    ]  # fmt: skip


def costly_of(
    session: Session,
    request: Request,
    *,
    indicator: str,
    period: str,
    agency: str,
    include_children: bool,
    page: int,
    page_size: int,
) -> scorecard.Costly:
    """What cost `indicator`'s points, one page: for the API route and the page."""
    return scorecard.costly(
        session,
        indicator=indicator,
        period=reports.period_of(period, None, None),
        agency=agency,
        include_children=include_children,
        calendar=request.app.state.calendars.get(session, None),
        page=page,
        page_size=page_size,
    )


def scorecard_download(session: Session, card: dict, lang: str) -> Response:
    """The scorecard as XLSX, for people (`lang`): the API's `format=xlsx` and the page's download."""
    return Response(
        scorecard_xlsx(session, card, lang),
        media_type=exports.MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="scorecard-{card["agency"]}-{card["period"]}.xlsx"'},
    )


def scorecard_xlsx(session: Session, card: dict, lang: str) -> bytes:
    frame = scorecard_frame(card)
    total = {"indicator_group": "total", "points": card["total_points"], "max_points": card["max_points"]}
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True).astype(object)
    frame = frame.where(frame.notna(), None)
    names = scorecard.agency_names(session)
    period_words = ("Period" if lang == "en" else "Kỳ đánh giá") + f": {card['period']}"
    heading = exports.Heading(
        title=f"{TITLE[lang]} – {names.get(card['agency'], card['agency'])}", subtitle=period_words, lang=lang
    )
    return exports.table_xlsx(frame, title=TITLE[lang], totals=True, heading=heading)


@router.get("/index/scorecard", responses=exports.documented_downloads("xlsx"))
def get_scorecard(
    request: Request,
    session: SessionDep,
    principal: ReportReader,
    period: PeriodName,
    agency: AgencyCode = None,
    include_children: Children = False,
    format: Literal["json", "xlsx"] = "json",
    lang: Lang = "vi",
):
    """Every Decision 766 indicator of the unit for the period: figures, rate, threshold, points and points lost,
    each under its formula id; indicators whose data the unit never recorded are named in `missing_data`."""
    unit = scored_unit(session, principal, agency)
    card = scorecard_of(session, request, period=period, agency=unit, include_children=include_children)
    if format == "json":
        return JSONResponse(card)
    return scorecard_download(session, card, lang)


@router.get("/index/scorecard/{indicator}/dossiers", responses=exports.documented_downloads("csv", "xlsx"))
def costly_dossiers(
    request: Request,
    session: SessionDep,
    principal: ReportReader,
    paging: PagingDep,
    indicator: str,
    period: PeriodName,
    agency: AgencyCode = None,
    include_children: Children = False,
    format: Literal["json", "csv", "xlsx"] = "json",
    lang: Lang = "vi",
):
    """What the unit counted for `indicator` that cost points (in its denominator, not in its numerator), paged:
    `kind` says what the rows are: `dossiers` (oldest received first; 1.4: received and not synced; 5.4: late in
    2.1 or named by a complaint, with `reasons`, and the dissatisfied ratings as counts per unit and procedure in
    `dissatisfied_ratings`, never per dossier), `procedures` (1.1–1.3, 3.1, 3.5, 3.5b), `complaints` (5.2: a clock
    missed; 5.3: that, disliked or repeated; no content) or `agencies` (4.6: not offering electronic certified
    copies)."""
    unit = scored_unit(session, principal, agency)
    found = costly_of(
        session,
        request,
        indicator=indicator,
        period=period,
        agency=unit,
        include_children=include_children,
        page=paging.page,
        page_size=paging.page_size,
    )
    meta = {
        "period": period.strip().upper(),
        "agency": unit,
        "indicator": indicator,
        "kind": found.kind,
        "total": found.total,
        "page": paging.page,
        "page_size": paging.page_size,
    }
    if found.dissatisfied is not None:
        meta["dissatisfied_ratings"] = found.dissatisfied
        meta["dissatisfied_also_complained"] = found.dissatisfied_also_complained
    heading = exports.Heading(title=f"{COSTLY_TITLE[lang]} {indicator} – {unit}", subtitle=meta["period"], lang=lang)
    response = exports.respond(
        found.rows, format, name=f"scorecard-{indicator}-{unit}-{meta['period']}", meta=meta, lang=lang,
        heading=heading,
    )  # fmt: skip
    response.headers["X-Total-Count"] = str(found.total)
    return response
