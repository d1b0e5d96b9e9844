"""The citizen's lookup: a dossier's progress by its code and the last 4 digits of the applicant's phone.

Public, so it shows nothing personal (no name, identity number, phone or address), and a wrong
code and wrong digits get the same answer: the lookup cannot be used to learn whether a code exists.
"""

import hmac
import re
import unicodedata
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from dossiers.models import Dossier, DossierEvent, DossierRating
from dossiers.schemas import LocalInstant
from kernel.errors import InvalidInput, NotFound
from procedures.models import Agency, Procedure
from sla.core.lifecycle import CLOCK_STOPPED_STATUSES, Status

NOT_FOUND = (
    "no dossier matches this code and these phone digits; check the code on the receipt (form 01) "
    "and the last 4 digits of the phone number given at the desk"
)
PHONE_LAST4 = re.compile(r"^\d{4}$")
CODE_MAX_LENGTH = 80
_NO_DIGITS = "----"
STOPPING_EVENTS = ("supplement_requested", "paused")
REDACTED = "…"
RATED_AFTER_STATUS = Status.RETURNED  # result returned: the citizen rates the dossier once after it


class ApologyNotice(BaseModel):
    """Form 04 as the citizen received it: why the result is late and the new appointment."""

    issued_at: LocalInstant
    reason: str | None
    new_appointment_at: LocalInstant | None


class PublicStatus(BaseModel):
    """What anyone holding the receipt may see of a dossier."""

    code: str
    status: str
    status_code: int
    procedure_code: str
    procedure_name: str
    procedure_name_en: str | None = None
    agency_code: str
    agency_name: str
    received_at: LocalInstant | None
    appointment_at: LocalInstant | None
    """The appointment the citizen holds now: the rescheduled one after an apology, moved by the time a
    supplement or an obligation stopped the clock; none while the clock stands still (the appointment
    is set again once the dossier is complete)."""
    original_appointment_at: LocalInstant | None
    finished_at: LocalInstant | None
    clock_stopped: bool
    clock_stopped_since: LocalInstant | None = None
    supplement_reason: str | None = None
    """While waiting for a supplement: what to bring, as the request (form 02) says, without the
    applicant's name, identity number, phone or address should the clerk have written them in."""
    apology: ApologyNotice | None
    messages: bool = False
    """Whether the applicant is told of the dossier's progress (they may stop it from the lookup)."""
    rating: Literal["not_yet", "open", "given"] = "not_yet"
    """Whether the citizen may rate the dossier now (`open`: the result was returned and no rating was given;
    POST /api/v1/lookup/rating), has rated it (`given`), or may not yet (`not_yet`)."""


def _last4(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else _NO_DIGITS


def normalise_code(code: str) -> str:
    """A code as typed → as stored: full-width characters folded (NFKC), spaces dropped, letters upper-case
    (agency codes are stored as '000.01.01.H26'), so ' 000.01.01.h26-251122-0001 ' finds the dossier."""
    return "".join(unicodedata.normalize("NFKC", code).split()).upper()


def lookup(session: Session, *, code: str, phone_last4: str) -> PublicStatus:
    """The public status of dossier `code` if its applicant's phone ends with `phone_last4`.

    Raises InvalidInput when the digits are not 4 digits, and the same NotFound for an unknown code,
    a dossier without a phone and wrong digits.
    """
    return _public(session, find(session, code=code, phone_last4=phone_last4))


def find(session: Session, *, code: str, phone_last4: str) -> Dossier:
    """The dossier `code` if its applicant's phone ends with `phone_last4`, refused as `lookup` refuses
    (the citizen's rating identifies the dossier the same way)."""
    code = normalise_code(code)
    phone_last4 = phone_last4.strip()
    if not PHONE_LAST4.fullmatch(phone_last4):
        raise InvalidInput("phone_last4 must be the last 4 digits of the phone number, e.g. 5678")
    if not code or len(code) > CODE_MAX_LENGTH:
        raise NotFound(NOT_FOUND)
    dossier = session.execute(select(Dossier).where(Dossier.code == code)).scalar_one_or_none()
    stored = _last4(dossier.applicant_phone) if dossier else _NO_DIGITS
    matches = hmac.compare_digest(stored.encode(), phone_last4.encode())
    if dossier is None or not matches:
        raise NotFound(NOT_FOUND)
    return dossier


def _public(session: Session, dossier: Dossier) -> PublicStatus:
    procedure = session.get(Procedure, dossier.procedure_id)
    agency = session.get(Agency, dossier.receiving_agency_id)
    apology = session.execute(
        select(DossierEvent)
        .where(DossierEvent.dossier_id == dossier.id, DossierEvent.type == "apology_issued")
        .order_by(DossierEvent.seq)
        .limit(1)
    ).scalar_one_or_none()
    stopped = dossier.status_code in CLOCK_STOPPED_STATUSES
    stop = None
    if stopped:
        stop = session.execute(
            select(DossierEvent)
            .where(DossierEvent.dossier_id == dossier.id, DossierEvent.type.in_(STOPPING_EVENTS))
            .order_by(DossierEvent.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
    waiting_supplement = stop is not None and stop.type == "supplement_requested"
    rated = session.execute(select(DossierRating.id).where(DossierRating.dossier_id == dossier.id)).first()
    return PublicStatus(
        code=dossier.code,
        status=dossier.status,
        status_code=dossier.status_code,
        procedure_code=procedure.code,
        procedure_name=procedure.name,
        procedure_name_en=procedure.name_en,
        messages=dossier.contact_consent,
        agency_code=agency.code,
        agency_name=agency.name,
        received_at=dossier.received_at or dossier.submitted_at,
        appointment_at=None if stopped else dossier.due_at,
        original_appointment_at=dossier.original_due_at,
        finished_at=dossier.finished_at,
        clock_stopped=stopped,
        clock_stopped_since=dossier.clock_stopped_since if stopped else None,
        supplement_reason=_impersonal(stop.reason, dossier) if waiting_supplement else None,
        apology=(
            ApologyNotice(
                issued_at=apology.at, reason=_impersonal(apology.reason, dossier), new_appointment_at=apology.new_due_at
            )
            if apology
            else None
        ),
        rating="given" if rated else "open" if dossier.status_code == RATED_AFTER_STATUS else "not_yet",
    )


def _impersonal(text: str | None, dossier: Dossier) -> str | None:
    """`text` without the applicant's name, identity number, phone or address (a clerk may have written
    them into a reason); the public page shows the rest."""
    if not text:
        return text
    personal = (dossier.applicant_name, dossier.applicant_id_number, dossier.applicant_phone, dossier.applicant_address)
    for private in personal:
        if private and len(private.strip()) >= 3:
            text = re.sub(re.escape(private.strip()), REDACTED, text, flags=re.IGNORECASE)
    return text
