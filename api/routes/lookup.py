"""The citizen's public lookup: status by dossier code and the last 4 digits of the phone (no personal data)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep, audit_dossier
from dossiers import lookup as dossier_lookup

router = APIRouter(tags=["public"])


@router.get("/lookup", response_model=dossier_lookup.PublicStatus)
def lookup(
    request: Request,
    session: SessionDep,
    code: Annotated[str, Query(max_length=dossier_lookup.CODE_MAX_LENGTH, description="the code on the receipt")],
    phone_last4: Annotated[str, Query(max_length=4, description="last 4 digits of the applicant's phone")],
):
    """Status, procedure, received at, appointment and any apology; a wrong code or wrong digits get the same 404.

    Rate-limited per client address (MOTCUA_LOOKUP_RATE_LIMIT): four digits are only 10,000 guesses.
    Every lookup is in the audit trail: the code asked and the answer, not the digits."""
    audit_dossier(request, code.strip())  # the code asked and the answer, never the digits
    request.app.state.lookup_limiter.check(request.client.host if request.client else None, "lookup")
    return dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)
