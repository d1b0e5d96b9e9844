"""Every catalogue write, in one router, for administrators only."""

from fastapi import APIRouter, Depends, Request, UploadFile, status

from api.deps import SessionDep, SettingsDep
from api.security import allow
from api.settings import Settings
from kernel.errors import InvalidInput
from procedures import catalogue_io, service
from procedures.schemas import (
    AgencyRead,
    AgencyUpdate,
    ProcedureCreate,
    ProcedureRead,
    ProcedureUpdate,
    ProcedureVersionCreate,
)

router = APIRouter(tags=["catalogue administration"], dependencies=[Depends(allow())])


def import_limits(settings: Settings) -> catalogue_io.ImportLimits:
    return catalogue_io.ImportLimits(
        max_rows=settings.import_max_rows,
        max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
        max_json_depth=settings.import_max_json_depth,
    )


@router.post("/procedures", response_model=ProcedureRead, status_code=status.HTTP_201_CREATED)
def create_procedure(session: SessionDep, data: ProcedureCreate):
    return service.to_read(session, [service.create_procedure(session, data)])[0]


@router.post("/procedures/{code}/versions", response_model=ProcedureRead, status_code=status.HTTP_201_CREATED)
def add_version(session: SessionDep, code: str, data: ProcedureVersionCreate):
    return service.to_read(session, [service.add_version(session, code, data)])[0]


@router.patch("/procedures/{code}", response_model=ProcedureRead)
def update_procedure(session: SessionDep, code: str, data: ProcedureUpdate):
    return service.to_read(session, [service.update_procedure(session, code, data)])[0]


@router.patch("/agencies/{code}", response_model=AgencyRead)
def update_agency(session: SessionDep, code: str, data: AgencyUpdate):
    """Record an agency's Decision 766 settings: whether it offers electronic certified copies (indicator 4.6)
    and since when. A field left out stays as it is."""
    return service.update_agency(session, code, data)


@router.post("/catalogue/import")
def import_catalogue(request: Request, session: SessionDep, settings: SettingsDep, file: UploadFile):
    """Upload a CSV, JSON or XLSX catalogue (docs/catalogue-format.md); one bad row imports nothing.

    The file is read and checked before the write transaction begins (the request's session does
    nothing until `write_catalogue`), so a large import holds the write lock only while it writes.
    """
    fmt = catalogue_io.format_of(file.filename or "")
    content = file.file.read(settings.max_upload_bytes + 1)
    if len(content) > settings.max_upload_bytes:
        raise InvalidInput(f"the file is larger than {settings.max_upload_bytes} bytes")
    if session.in_transaction():  # the sign-in check read the user here: end that read, so that the write
        session.commit()  # transaction (on SQLite, BEGIN IMMEDIATE: the write lock) begins only to write
    parsed = catalogue_io.parse_catalogue(content, fmt, import_limits(settings))
    with request.app.state.open_session(False) as reading:
        catalogue_io.check_catalogue(reading, parsed)
    return catalogue_io.write_catalogue(session, parsed)
