"""The registers the desk keeps: the day's intake register (sổ theo dõi hồ sơ), as JSON or XLSX (api/forms.py)."""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from accounts.service import Principal
from api import forms
from api.deps import SessionDep
from api.security import STAFF, allow
from sla.core.calendar import LOCAL_TZ

router = APIRouter(prefix="/registers", tags=["dossiers"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/intake",
    responses={200: {"content": {XLSX: {}}, "description": "the register (JSON, or XLSX with format=xlsx)"}},
)
def intake_register(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(allow(*STAFF))],
    agency: Annotated[str | None, Query(max_length=64, description="the receiving agency (default: yours)")] = None,
    day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, local (default: today)")] = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="json or xlsx")] = "json",
):
    """The dossiers the agency received that day, in register order (the daily sequence of their codes), with
    procedure, applicant, received and due instants, the clerk's full name and the status."""
    register = forms.intake_register(session, principal, agency, day or datetime.now(LOCAL_TZ).date())
    request.state.audit_detail = f"intake register {register['agency'].code} {register['day'].isoformat()}"
    if format == "xlsx":
        return Response(
            forms.register_xlsx(register),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{forms.register_file_name(register)}"'},
        )
    return JSONResponse(forms.register_json(register))
