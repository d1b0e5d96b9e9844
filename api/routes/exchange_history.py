"""History in and reconciliation (docs/exchange.md): POST /exchange/import (administrators, audited as every
write), the imports and their findings, POST /exchange/reconcile (managers and administrators)."""

import io
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile

from accounts.models import Role
from accounts.service import Principal
from api.calendars import calendar_for
from api.deps import PagingDep, RowId, SessionDep, SettingsDep
from api.security import allow
from exchange import history, uses
from kernel.errors import InvalidInput

router = APIRouter(prefix="/exchange", tags=["national exchange"])
Admin = Annotated[Principal, Depends(allow())]
Manager = Annotated[Principal, Depends(allow(Role.MANAGER))]
Period = Annotated[str, Query(max_length=10, description="2026-Q3, 2026-H1, 2026-07 or 2026")]


def read_upload(file: UploadFile, limit: int) -> bytes:
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput(f"the file is larger than {limit} bytes", message_id="upload_too_large", limit=limit)
    return content


@router.post("/import")
def import_records(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    file: UploadFile,
    skip_bad: Annotated[bool, Form(description="write the good records; the bad ones come back in `rejects`")] = False,
):
    """Import national records (JSON lines, CSV or XLSX; docs/exchange.md): each a dossier, its events replayed.

    One bad record imports nothing (422, `errors`: every bad record's line, field and reason), unless `skip_bad`."""
    content = read_upload(file, settings.max_upload_bytes)
    report, rejects = uses.import_upload(session, io.BytesIO(content), file_name=file.filename or "upload.jsonl",
                                         actor=principal.username, calendar_for=calendar_for(request, session),
                                         skip_bad=skip_bad)  # fmt: skip
    request.state.audit_detail = f"history import {report.import_id}: {report.written} of {report.records} records"
    return {**report.as_dict(), "rejects": rejects}


@router.get("/imports")
def list_imports(session: SessionDep, principal: Admin):
    return [row.model_dump() for row in history.imports(session)]


@router.get("/imports/{import_id}")
def read_import(session: SessionDep, principal: Admin, import_id: RowId, paging: PagingDep):
    """One import and its findings (the records whose appointment or status disagrees with ours), in file order."""
    found, total = history.findings(session, import_id, page=paging.page, page_size=paging.page_size)
    return {**history.get_import(session, import_id).model_dump(), "findings_total": total, "findings": found}


@router.post("/reconcile")
def reconcile_figures(session: SessionDep, settings: SettingsDep, principal: Manager, period: Period, file: UploadFile):
    """The portal's figures per unit (CSV, docs/exchange.md) beside ours for the period, each difference explained."""
    result = uses.reconcile_upload(session, read_upload(file, settings.max_upload_bytes), period=period,
                                   within=principal.scope)  # fmt: skip
    return asdict(result)
