"""The citizen's public lookup: status by dossier code and the last 4 digits of the phone (no personal data)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep, audit_dossier
from api.limits import LookupAttemptDep
from dossiers import lookup as dossier_lookup
from dossiers import ratings

router = APIRouter(tags=["public"])


@router.get("/lookup", response_model=dossier_lookup.PublicStatus)
def lookup(
    request: Request,
    attempt: LookupAttemptDep,  # before the session: its refund is settled after the session has ended
    session: SessionDep,
    code: Annotated[str, Query(max_length=dossier_lookup.CODE_MAX_LENGTH, description="the code on the receipt")],
    phone_last4: Annotated[str, Query(max_length=4, description="last 4 digits of the applicant's phone")],
):
    """Status, procedure, received at, appointment and any apology; a wrong code or wrong digits get the same 404.
    The code is matched ignoring case and spaces.

    Four digits are only 10,000 guesses, so two limits answer 429 with `Retry-After`: per client address
    (MOTCUA_LOOKUP_RATE_LIMIT) and, after too many wrong digits for one code, for that code whatever the
    address and whatever the digits (MOTCUA_LOOKUP_CODE_FAILURE_LIMIT).
    Every lookup is in the audit trail: the code asked and the answer, not the digits."""
    audit_dossier(request, code.strip())
    attempt.admit(code)
    with attempt.counting():
        return dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)


@router.post("/lookup/rating", status_code=201, response_model=ratings.RatingAccepted)
def rate(
    request: Request,
    attempt: LookupAttemptDep,  # before the session: its refund is settled after the session has ended
    session: SessionDep,
    data: ratings.PublicRatingIn,
):
    """The citizen rates the dossier, once, after its result was returned: `very_satisfied`, `satisfied` or
    `dissatisfied`, optionally with the 11-index form (`indices`: index number → 2, 1 or 0 points).

    The dossier is named as in the lookup (code + last 4 phone digits, the same 404 for an unknown code and
    wrong digits) and limited as the lookup is (429 with `Retry-After`); 422 before the result is returned,
    409 for a second rating. Audited with the code, not the digits nor the rating."""
    audit_dossier(request, data.code.strip())
    attempt.admit(data.code)
    with attempt.counting():
        return ratings.rate_public(
            session,
            code=data.code,
            phone_last4=data.phone_last4,
            data=ratings.RatingIn(rating=data.rating, indices=data.indices),
            source="lookup",
            now=datetime.now(UTC),
        )
