"""Catalogue reads: procedures (search, version in force), agencies, fields."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from api import exports
from api.deps import PagingDep, SessionDep
from api.security import current_principal
from kernel.schemas import IsoDate, Page
from procedures import catalogue_io, service
from procedures.models import AgencyLevel, ProcedureLevel
from procedures.schemas import AgencyRead, FieldRead, ProcedureRead

router = APIRouter(tags=["catalogue"], dependencies=[Depends(current_principal)])

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/procedures", response_model=Page[ProcedureRead])
def search_procedures(
    session: SessionDep,
    paging: PagingDep,
    q: Annotated[
        str | None, Query(max_length=200, description="code or words of the name; accents and case ignored")
    ] = None,
    field: Annotated[str | None, Query(max_length=64)] = None,
    level: ProcedureLevel | None = None,
    agency: Annotated[str | None, Query(max_length=64, description="procedures handled at this agency")] = None,
    as_of: Annotated[IsoDate | None, Query(description="versions in force on this date (default today)")] = None,
):
    items, total = service.search_procedures(
        session, q=q, field=field, level=level, agency=agency, as_of=as_of, page=paging.page, page_size=paging.page_size
    )
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


@router.get("/procedures/{code}", response_model=ProcedureRead)
def read_procedure(session: SessionDep, code: str, as_of: IsoDate | None = None):
    return service.to_read(session, [service.get_procedure(session, code, as_of=as_of)])[0]


@router.get("/procedures/{code}/versions", response_model=list[ProcedureRead])
def read_versions(session: SessionDep, code: str):
    return service.list_versions(session, code)


@router.get("/agencies", response_model=list[AgencyRead])
def list_agencies(session: SessionDep, level: AgencyLevel | None = None, parent: str | None = None):
    return service.list_agencies(session, level=level, parent=parent)


@router.get("/agencies/{code}", response_model=AgencyRead)
def read_agency(session: SessionDep, code: str):
    return service.read_agency(session, code)


@router.get("/fields", response_model=list[FieldRead])
def list_fields(session: SessionDep):
    return service.list_fields(session)


@router.get("/catalogue/export", responses=exports.documented_downloads("csv", "xlsx"))
def export_catalogue(session: SessionDep, format: Annotated[Literal["csv", "json", "xlsx"], Query()] = "csv"):
    return Response(
        content=catalogue_io.export_catalogue(session, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="catalogue.{format}"'},
    )
