"""The printable forms of Circular 03/2025 (01–06) and the day's intake register: one use case behind both
doors (the API's `/api/v1/dossiers/{code}/forms/{NN}` and the desk's `/desk/dossiers/{code}/forms/{NN}`).

`form_context` builds everything a form shows; the routes only render `form_NN.html` with it. Reading a
form is a read of the applicant's personal data: `security.dossier_view` audits it. See docs/forms.md.
"""

import base64
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

import segno
from fastapi import Request
from sqlalchemy import select
from sqlmodel import Session

from accounts.service import Principal, display_names
from api.security import dossier_view, mask, readable_dossier, scoped_agency
from api.web.i18n import LABELS
from dossiers.models import Dossier, DossierEvent
from dossiers.schemas import DossierRead
from kernel.errors import InvalidInput, NotFound
from kernel.localtime import local_minute
from procedures.models import Agency, Procedure
from procedures.service import get_agency
from sla.core.calendar import LOCAL_TZ

FORMS = {
    "01": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "02": "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
    "03": "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
    "04": "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
    "05": "Phiếu dừng giải quyết hồ sơ",
    "06": "Phiếu kiểm soát quá trình giải quyết hồ sơ",
}
FORM_NUMBER_PATTERN = "^0[1-6]$"
# the event each form tells of (None: the dossier's receipt itself)
FORM_EVENTS = {
    "02": ("supplement_requested",),
    "03": ("refused",),
    "04": ("apology_issued",),
    "05": ("stopped", "withdrawn"),
}
MISSING = {
    "01": "it was not received at a desk (an online submission still waiting, or refused at intake: see form 03)",
    "02": "no supplement was requested",
    "03": "it was not refused",
    "04": "no apology was issued",
    "05": "it was neither stopped nor withdrawn",
    "06": "it was not received at a desk",
}
UNITS = {"working_days": "ngày làm việc", "working_hours": "giờ làm việc", "calendar_days": "ngày"}
CHANNELS = {"counter": "Trực tiếp", "online": "Trực tuyến", "post": "Bưu chính"}
COMMITTEE = ("Ủy ban nhân dân", "Uỷ ban nhân dân")


def local(instant: datetime | None) -> datetime | None:
    return instant.astimezone(LOCAL_TZ) if instant else None


def committee_line(name: str) -> str:
    """'Ủy ban nhân dân Thành phố Hà Nội' → 'UBND Thành phố Hà Nội'; a commune 'Phường Hoàn Kiếm' → 'UBND Phường
    Hoàn Kiếm' (a commune's one-stop desk is its People's Committee's); other names as they are."""
    for prefix in COMMITTEE:
        if name.startswith(prefix):
            return "UBND" + name[len(prefix) :]
    return name


def place_name(province: Agency) -> str:
    """The place on the place-and-date line: the province (root of the agency tree) without its title."""
    name = province.name
    for prefix in (*COMMITTEE, "UBND"):
        name = name.removeprefix(prefix).strip()
    for title in ("Thành phố", "Tỉnh"):
        name = name.removeprefix(title).strip()
    return name


@dataclass(frozen=True)
class Heading:
    """The form's header: the governing body (cơ quan chủ quản), the agency, and the place for the date line."""

    governing: str | None
    agency: str
    place: str


def heading(session: Session, agency: Agency) -> Heading:
    """The agency's parent in the tree gives the 'UBND …' line; the root (the province) gives the place."""
    parent = session.get(Agency, agency.parent_id) if agency.parent_id else None
    root = agency
    while root.parent_id is not None:
        root = session.get(Agency, root.parent_id)
    own = f"UBND {agency.name}" if agency.level == "commune" else committee_line(agency.name)
    return Heading(governing=committee_line(parent.name) if parent else None, agency=own, place=place_name(root))


def lookup_url(request: Request, code: str) -> str:
    """The public lookup of this dossier, from the request's base URL (`/lookup?code=…`)."""
    return f"{str(request.base_url).rstrip('/')}/lookup?code={quote(code, safe='')}"


def qr_data_uri(payload: str) -> str:
    """A QR code of `payload` as a PNG data: URI (the CSP allows img-src data:), made server-side by segno."""
    return segno.make(payload, error="m", micro=False).png_data_uri(scale=4, border=2)


def statutory_time(procedure: Procedure) -> str:
    if procedure.unit == "same_day":
        return "Trong ngày"
    if procedure.amount is None:
        return "Không quy định"
    return f"{procedure.amount:g} {UNITS.get(procedure.unit, procedure.unit)}"


def daily_sequence(code: str) -> int:
    """The dossier's number in its agency's day: the last part of its code (`…-251204-0007` → 7)."""
    return int(code.rsplit("-", 1)[1])


def form_context(request: Request, session: Session, principal: Principal, code: str, number: str) -> dict:
    """Everything form `number` (01–06) of dossier `code` shows; NotFound if the event it tells of never
    happened (or the dossier is unknown or outside the user's scope). Audited as a personal-data read."""
    if number not in FORMS:
        raise NotFound(f"no form {number!r}: the forms are {', '.join(FORMS)}")
    dossier = readable_dossier(session, code, principal)
    view: DossierRead = dossier_view(session, request, dossier, principal)
    events = [e for e in view.timeline if e.type in FORM_EVENTS.get(number, ())]
    received = next((e for e in view.timeline if e.type == "received"), None)
    if (number in FORM_EVENTS and not events) or (number in ("01", "06") and received is None):
        raise NotFound(f"dossier {view.code} has no form {number} ({FORMS[number]}): {MISSING[number]}")
    agency = session.get(Agency, dossier.receiving_agency_id)
    procedure = session.get(Procedure, dossier.procedure_id)
    names = display_names(session, [e.actor for e in view.timeline])
    codes = {e.agency_code for e in view.timeline} | {e.to_agency_code for e in view.timeline}
    codes |= {e.from_agency_code for e in view.timeline} | {s.agency_code for s in view.stages}
    agency_names = dict(session.execute(select(Agency.code, Agency.name).where(Agency.code.in_(codes - {None}))).all())
    event = events[-1] if events else None
    first = received or view.timeline[0]  # the desk's receipt (an online submission: its received event)
    url = lookup_url(request, view.code)
    sequence = daily_sequence(view.code)
    return {
        "number": number,
        "title": FORMS[number],
        "dossier": view,
        "agency": agency,
        "procedure": procedure,
        "heading": heading(session, agency),
        "event": event,
        "first_event": first,
        "sequence": sequence,
        "register": {"book": "Sổ theo dõi hồ sơ", "day": local(first.at).date(), "entry": sequence},
        "clerk": names.get(first.actor, first.actor),
        "names": names,
        "agency_names": agency_names,
        "hand_offs": [e for e in view.timeline if e.type == "forwarded"],
        "statutory_time": statutory_time(procedure),
        "channel": CHANNELS.get(view.channel, view.channel),
        "lookup_url": url,
        "qr": qr_data_uri(url) if number == "01" else None,
        "local": local,
        "dated": local(event.at if event else first.at),
    }


# --- the day's intake register (sổ theo dõi hồ sơ) ----------------------------------------------------------

REGISTER_COLUMNS = (
    ("entry", "Số thứ tự"),
    ("code", "Mã hồ sơ"),
    ("procedure", "Tên thủ tục hành chính"),
    ("applicant", "Tên tổ chức, cá nhân"),
    ("address", "Địa chỉ, số điện thoại"),
    ("received_at", "Ngày, giờ nhận hồ sơ"),
    ("due_at", "Ngày, giờ hẹn trả kết quả"),
    ("clerk", "Người tiếp nhận"),
    ("status", "Trạng thái"),
)


def intake_register(session: Session, principal: Principal, agency_code: str | None, day: date) -> dict:
    """The dossiers an agency received on local `day`, in register (daily sequence) order, with the clerk's
    full name. The agency is scope-checked like the lists (`security.scoped_agency`: the user's own by
    default, 403 outside its scope). Addresses and phones are masked unless the user works at the agency."""
    agency_code = scoped_agency(session, principal, agency_code)
    if agency_code is None:
        raise InvalidInput("give agency: the e-ID code of the agency whose register to read (e.g. 000.01.01.H26)")
    agency = get_agency(session, agency_code)
    start = datetime.combine(day, time(), LOCAL_TZ)
    rows = session.execute(
        select(Dossier, Procedure.name, DossierEvent.actor)
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .join(DossierEvent, (DossierEvent.dossier_id == Dossier.id) & (DossierEvent.seq == 1))
        .where(
            Dossier.receiving_agency_id == agency.id,
            Dossier.received_at >= start,
            Dossier.received_at < start + timedelta(days=1),
        )
        .order_by(Dossier.code)
    ).all()
    names = display_names(session, [row.actor for row in rows])
    shown = principal.handles(agency.id)
    entries = []
    for dossier, procedure_name, actor in rows:
        contact = ", ".join(filter(None, (dossier.applicant_address, dossier.applicant_phone)))
        entries.append(
            {
                "entry": daily_sequence(dossier.code),
                "code": dossier.code,
                "procedure": procedure_name,
                "applicant": dossier.applicant_name,
                "address": contact if shown else (mask(contact) if contact else ""),
                "received_at": local_minute(dossier.received_at),
                "due_at": local_minute(dossier.original_due_at) if dossier.original_due_at else "",
                "clerk": names.get(actor, actor),
                "status": LABELS.get(f"status.{dossier.status}", (dossier.status,))[0],
            }
        )
    return {"agency": agency, "heading": heading(session, agency), "day": day, "entries": entries}


def register_json(register: dict) -> dict:
    return {
        "agency_code": register["agency"].code,
        "agency_name": register["agency"].name,
        "date": register["day"].isoformat(),
        "columns": dict(REGISTER_COLUMNS),
        "entries": register["entries"],
    }


def register_file_name(register: dict) -> str:
    return f"so-theo-doi-{register['agency'].code}-{register['day'].isoformat()}.xlsx"


def register_xlsx(register: dict) -> bytes:
    """The register as an XLSX (formula-safe cells, `kernel.spreadsheets`): a title row, then the table."""
    from kernel.spreadsheets import xlsx_table

    title = f"Sổ theo dõi hồ sơ – {register['agency'].name} – ngày {register['day']:%d/%m/%Y}"
    header = [label for _, label in REGISTER_COLUMNS]
    rows = [[title], [], header] + [[entry[key] for key, _ in REGISTER_COLUMNS] for entry in register["entries"]]
    return xlsx_table(rows[0], rows[1:], sheet_title="So theo doi")


def png_bytes(data_uri: str) -> bytes:
    """The PNG inside a `data:image/png;base64,…` URI (for tests and checks)."""
    return base64.b64decode(data_uri.split(",", 1)[1])

