"""The national exchange (docs/exchange.md): a dossier's national record, the records of changed dossiers as JSON
lines after a watermark, and where the sync to the gateway stands."""

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session

from accounts.models import Role
from accounts.service import Principal
from api.calendars import calendar_for
from api.deps import SessionDep, audit_dossier, audit_read
from api.security import STAFF, allow, mask, readable_dossier, scoped_agency
from dossiers import reading
from exchange import service
from exchange.record import VERSION
from exchange.status import Failed, SyncStatus, UnitRate, sync_status
from procedures.service import get_agency
from sla.core.calendar import LOCAL_TZ
from sla.reports import period_of

router = APIRouter(prefix="/exchange", tags=["national exchange"])
Staff = Annotated[Principal, Depends(allow(*STAFF))]
Manager = Annotated[Principal, Depends(allow(Role.MANAGER))]
NDJSON = "application/x-ndjson"
MAX_LIMIT = 1000
PERSONAL = ("SoGiayToChuHoSo", "SoDienThoai", "DiaChiChuHoSo")


def masked_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the applicant's identity number, phone, address and population database reference masked (a
    reader outside the handling agencies, as `api.security.visible_view` does for the dossier)."""
    for key in PERSONAL:
        record[key] = mask(record[key]) if record[key] else record[key]
    record["DinhDanhCHS"] = [{**item, "SoDinhDanh": mask(item["SoDinhDanh"])} for item in record["DinhDanhCHS"]]
    record["DSKetNoiCSDL"] = [{**item, "MaThamChieu": mask(item["MaThamChieu"])} if item.get("MaThamChieu") else item
                              for item in record["DSKetNoiCSDL"]]  # fmt: skip
    return record


@router.get("/dossiers/{code}")
def national_record(request: Request, session: SessionDep, principal: Staff, code: str) -> dict[str, Any]:
    """The dossier as the national record (`motcua-dvcqg-1`), its process steps in `QuaTrinhXuLy`. Scoped as
    reading the dossier; the applicant's numbers and address are masked outside the handling agencies; audited."""
    dossier = readable_dossier(session, code, principal)
    handling = reading.handling_agency_ids(session, dossier)
    record = service.record_of(session, dossier, calendar_for=calendar_for(request, session))
    shown = "unmasked" if principal.handles(*handling) else "masked"
    audit_dossier(request, dossier.code, personal_data=shown)
    return record if shown == "unmasked" else masked_record(record)


@router.get(
    "/dossiers",
    response_class=Response,
    responses={200: {"description": "one national record a line", "content": {NDJSON: {"schema": {"type": "string"}}}}},
)
def changed_dossiers(
    request: Request,
    session: SessionDep,
    principal: Manager,
    since: Annotated[int, Query(ge=0, description="the watermark: the change id the last page ended at (0: all)")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="records at most")] = 200,
):
    """The records of the dossiers changed after the watermark `since`, one JSON object a line, oldest change
    first, each dossier once at its latest change. The next page's watermark is in the header `X-Next-Since`
    (and a `Link: rel="next"` when the page was full). A manager reads the dossiers of its scope; audited as a
    read of personal data."""
    with request.app.state.open_session(True) as stamping:  # ids for what committed since the last stamp
        service.stamp_changes(stamping)
        stamping.commit()
    lines, last = [], since
    for change_id, record in service.changed_records(
        session, since, calendar_for=calendar_for(request, session), limit=limit, within=principal.scope
    ):
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        last = change_id
    audit_read(request, detail=f"national records after change {since}: {len(lines)}", personal_data="unmasked")
    headers = {"X-Next-Since": str(last), "X-Record-Version": VERSION}
    if len(lines) == limit:
        headers["Link"] = f'<{request.url.path}?since={last}&limit={limit}>; rel="next"'
    return Response("".join(f"{line}\n" for line in lines), media_type=NDJSON, headers=headers)


class SyncStatusRead(BaseModel):
    period_from: date
    period_to: date
    gateway: str | None
    pending: int
    failed_total: int
    failed: list[Failed]
    received: int
    synced: int
    rate: float | None
    units: list[UnitRate]
    last_synced_at: datetime | None


def status_of(
    request: Request, session: Session, principal: Principal, *, period: str | None, first: date | None,
    last: date | None, agency: str | None,
) -> SyncStatus:  # fmt: skip
    """The one use case behind the status route and page: the user's scope (or one agency of it)."""
    if not (period or first or last):
        period = str(datetime.now(LOCAL_TZ).year)
    chosen = period_of(period, first, last)
    agency = scoped_agency(session, principal, agency) if agency else None
    within = {get_agency(session, agency).id} if agency else principal.scope
    return sync_status(session, period=chosen, within=within)


def status_read(request: Request, status: SyncStatus) -> SyncStatusRead:
    url = request.app.state.settings.exchange_url
    return SyncStatusRead(
        period_from=status.period.first,
        period_to=status.period.last,
        gateway=url or None,
        pending=status.pending,
        failed_total=status.failed_total,
        failed=status.failed,
        received=status.received,
        synced=status.synced,
        rate=status.rate,
        units=status.units,
        last_synced_at=status.last_synced_at,
    )


@router.get("/status", response_model=SyncStatusRead)
def exchange_status(
    request: Request,
    session: SessionDep,
    principal: Manager,
    period: Annotated[str | None, Query(max_length=7, description="2026, 2026-Q3 or 2026-07 (default: this year)")]
    = None,
    first: Annotated[date | None, Query(alias="from", description="or a first day (YYYY-MM-DD)")] = None,
    last: Annotated[date | None, Query(alias="to", description="and a last day")] = None,
    agency: Annotated[str | None, Query(max_length=64, description="one agency of your scope")] = None,
):
    """Dossiers pending (a change not yet accepted by the gateway), failed (with the gateway's answer), and the
    sync rate per unit for the period (indicator 1.4: dossiers synced ÷ dossiers received)."""
    return status_read(request, status_of(request, session, principal, period=period, first=first, last=last,
                                          agency=agency))  # fmt: skip
