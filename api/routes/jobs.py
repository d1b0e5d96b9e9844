"""Job runs, frozen period snapshots and the index feed."""

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api import exports
from api.deps import SessionDep
from api.security import READERS_OF_REPORTS, PrincipalDep, allow, scoped_agency
from kernel.spreadsheets import csv_bytes
from sla import snapshots

router = APIRouter(tags=["jobs and index"], dependencies=[Depends(allow(*READERS_OF_REPORTS))])

PeriodQuery = Annotated[str, Query(max_length=7, description="2025, 2025-Q1 or 2025-03")]


@router.get("/jobs")
def recent_jobs(
    session: SessionDep,
    job: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
):
    """Recent runs, newest first: start, end, status, rows written, error."""
    return snapshots.recent_runs(session, job=job, limit=limit)


@router.get("/index/snapshots")
def period_snapshots(
    session: SessionDep,
    principal: PrincipalDep,
    period: PeriodQuery,
    agency: Annotated[str | None, Query(max_length=64)] = None,
):
    """The frozen rows of a period with every revision (a forced re-freeze keeps the older ones): those of the
    agencies in your scope (an agency outside it is refused, as for /index/scores)."""
    agency = scoped_agency(session, principal, agency) if agency else None
    return snapshots.snapshot_history(session, period=period, agency=agency, within=principal.scope)


@router.get("/index/feed", responses=exports.documented_downloads("csv"))
def index_feed(
    session: SessionDep, principal: PrincipalDep, period: PeriodQuery, format: Literal["json", "csv"] = "json"
):
    """The document the index takes (docs/index-feed.md): per agency, formula ids, values, snapshot time; the
    agencies in your scope (the city total only for a user of the whole city's scope)."""
    document = snapshots.feed(session, period=period, within=principal.scope)
    if format == "json":
        return JSONResponse(document)
    frame = pd.DataFrame(snapshots.feed_rows(document))
    return Response(
        csv_bytes(frame),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="index-feed-{period}.csv"'},
    )
