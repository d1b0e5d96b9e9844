"""Who is asking: bearer tokens for the API, roles and agency scopes, personal-data masking."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.accounts import Principal, PrincipalCache, Role
from api.deps import SessionDep
from dossiers import service
from dossiers.models import Dossier
from dossiers.schemas import DossierRead
from procedures.errors import Forbidden, Unauthorized
from procedures.service import get_agency

TOKEN_URL = "/api/v1/auth/token"
bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

STAFF = (Role.MANAGER, Role.CLERK, Role.OFFICER)
READERS_OF_REPORTS = (Role.MANAGER, Role.VIEWER)


async def current_principal(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(bearer)]
) -> Principal:
    """Who is asking: from the worker's cache without I/O, else read in the thread pool (see `PrincipalCache`)."""
    principal = getattr(request.state, "principal", None)
    if principal is None and token:
        principal = await token_principal(request, session, token)
    if principal is None:
        raise Unauthorized(
            "sign in first: POST /api/v1/auth/token with username and password, then send "
            "'Authorization: Bearer <access_token>'" + (" (this token is unknown or expired)" if token else "")
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def token_principal(request: Request, session: Session, token: str) -> Principal | None:
    principals: PrincipalCache = request.app.state.principals
    return principals.cached(token) or await run_in_threadpool(principals.load, session, token)


def allow(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting these roles (and administrators)."""
    admitted = {Role.ADMIN, *roles}

    async def check(principal: PrincipalDep) -> Principal:  # async: no I/O, no thread hop
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise Forbidden(f"a {principal.role.value} may not do this; allowed roles: {names}")
        return principal

    return check


def scoped_agency(session, principal: Principal, agency: str | None) -> str | None:
    """The agency a scoped user reads: its own when none is asked, refused outside its scope."""
    if principal.scope is None:
        return agency
    if agency is None:
        return principal.agency_code
    if get_agency(session, agency).id not in principal.scope:
        raise Forbidden(f"agency {agency} is outside your scope ({principal.agency_code} and the agencies under it)")
    return agency


def mask(value: str | None, visible: int = 3) -> str | None:
    """'001190012345' → '*********345': enough to recognise, not enough to use."""
    if value is None:
        return None
    return "*" * max(len(value) - visible, 0) + value[-visible:]


def dossier_view(session, request: Request, dossier: Dossier, principal: Principal) -> DossierRead:
    """The dossier as this user may see it: identity number and phone masked unless its agency handles it."""
    calendar_for = lambda code: request.app.state.calendars.get(session, code)  # noqa: E731
    return visible_view(service.load(session, dossier, calendar_for=calendar_for), principal)


def visible_view(written: service.Written, principal: Principal) -> DossierRead:
    """The dossier as `principal` may see it: identity number and phone masked outside the handling agencies."""
    view = service.view(written, now=datetime.now(UTC))
    if not principal.handles(*written.handling_agency_ids):
        view.applicant.id_number = mask(view.applicant.id_number)
        view.applicant.phone = mask(view.applicant.phone)
    return view


def readable_dossier(session, code: str, principal: Principal) -> Dossier:
    """The dossier, if an agency in the user's scope received, holds or held it."""
    dossier = service.get_dossier(session, code)
    if not principal.covers(*service.handling_agency_ids(session, dossier)):
        raise Forbidden(f"dossier {code} is not handled by an agency in your scope ({principal.agency_code})")
    return dossier


def event_policy(principal: Principal):
    """Refuse an event outside the principal's role and scope (the dossier is locked when this runs)."""

    def authorize(dossier: Dossier, event_type: str) -> None:
        if principal.role == Role.ADMIN:
            return
        apology = event_type == "apology_issued"
        if principal.role == Role.MANAGER:  # apologies, and corrections (back-dated events, docs/event-time.md)
            allowed = principal.covers(dossier.receiving_agency_id, dossier.current_agency_id)
            why = "managers record events (apologies, back-dated corrections) for dossiers in their scope"
        elif principal.role == Role.CLERK:
            allowed = not apology and principal.covers(dossier.receiving_agency_id)
            why = "clerks record events on dossiers received at their agency; apologies are the manager's"
        else:
            allowed = not apology and principal.covers(dossier.current_agency_id)
            why = "officers record events on dossiers their agency holds; apologies are the manager's"
        if not allowed:
            raise Forbidden(f"you may not record {event_type} on dossier {dossier.code}: {why}")

    return authorize
