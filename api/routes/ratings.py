"""Citizens' ratings at the desk (a paper form typed in) and their counts for the staff.

A rating is anonymous to the staff: they read counts per unit, procedure and period, never a dossier's
rating (docs: dossiers/ratings.py). The citizen's own door is `POST /lookup/rating` (api/routes/lookup.py).
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from accounts.models import Role
from accounts.service import Principal
from api.deps import SessionDep, audit_dossier
from api.routes.reports import PeriodName
from api.security import READERS_OF_REPORTS, allow, readable_dossier, scoped_agency
from dossiers import ratings
from kernel.errors import Forbidden
from kernel.schemas import IsoDate
from procedures.service import agency_subtree_ids, agency_tree
from sla import reports

router = APIRouter(tags=["ratings"])

PaperRecorder = Annotated[Principal, Depends(allow(Role.CLERK, Role.MANAGER))]
RatingReader = Annotated[Principal, Depends(allow(*READERS_OF_REPORTS))]


def record_paper_rating(session, principal: Principal, code: str, data: ratings.RatingIn) -> ratings.RatingAccepted:
    """A clerk (or manager) of the receiving agency's scope types in the citizen's paper form; the API and
    the desk page both call this."""
    dossier = readable_dossier(session, code, principal)  # outside the scope: unknown (404)
    if principal.role != Role.ADMIN and not principal.covers(dossier.receiving_agency_id):
        raise Forbidden(
            f"paper ratings of dossier {dossier.code} are typed in where it was received, not at your agency",
            message_id="rating_elsewhere",
        )
    return ratings.record_paper(session, dossier=dossier, data=data, actor=principal.username, now=datetime.now(UTC))


@router.post("/dossiers/{code}/rating", status_code=201, response_model=ratings.RatingAccepted)
def record_paper(request: Request, session: SessionDep, principal: PaperRecorder, code: str, data: ratings.RatingIn):
    """Type in the citizen's paper rating form (after the result was returned; once per dossier: 409 for a
    second rating, 422 before the return). Clerks and managers of the agency that received the dossier."""
    audit_dossier(request, code)
    return record_paper_rating(session, principal, code, data)


class RatingSummary(BaseModel):
    first: str
    last: str
    agency: str | None
    rows: list[ratings.RatingRow]
    total: ratings.RatingRow | None


def rating_summary(session, principal: Principal, agency: str | None, period: reports.Period) -> RatingSummary:
    """The counts of the ratings given in `period` per unit and procedure, for `agency` and the units under it
    (default: the user's scope)."""
    agency = scoped_agency(session, principal, agency)
    if agency:
        agency_ids = agency_subtree_ids(session, agency)
    elif principal.scope is not None:
        agency_ids = sorted(principal.scope)
    else:
        agency_ids = list(agency_tree(session).by_id)
    rows = ratings.summary(session, agency_ids, period.start, period.end)
    return RatingSummary(
        first=period.first.isoformat(), last=period.last.isoformat(), agency=agency, rows=rows, total=_total(rows)
    )


def _total(rows: list[ratings.RatingRow]) -> ratings.RatingRow | None:
    if not rows:
        return None
    counts = {
        key: sum(getattr(row, key) for row in rows)
        for key in ("ratings", "very_satisfied", "satisfied", "dissatisfied", "indexed")
    }
    return ratings.RatingRow(
        agency_code="",
        agency_name="",
        procedure_code="",
        procedure_name="",
        **counts,
        satisfied_rate=(counts["very_satisfied"] + counts["satisfied"]) / counts["ratings"],
        index_rate=None,
    )


@router.get("/ratings", response_model=RatingSummary)
def list_ratings(
    session: SessionDep,
    principal: RatingReader,
    period: PeriodName = None,
    from_: Annotated[IsoDate | None, Query(alias="from", description="first day, YYYY-MM-DD")] = None,
    to: Annotated[IsoDate | None, Query(description="last day, YYYY-MM-DD")] = None,
    agency: Annotated[str | None, Query(max_length=64, description="a unit (and those under it)")] = None,
):
    """Ratings given in a period, counted per unit and procedure (managers and viewers, within their scope):
    the three levels, the satisfied share and the 11-index form's averages. Never a dossier's rating."""
    return rating_summary(session, principal, agency, reports.period_of(period, from_, to))
