"""Who is asking: bearer tokens for the API, roles and agency scopes, personal-data masking."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import object_session
from sqlmodel import Session

from accounts.models import Role
from accounts.service import Principal, PrincipalCache
from api.calendars import calendar_for
from api.deps import SessionDep, audit_dossier
from dossiers import reading, search
from dossiers.models import Dossier
from dossiers.schemas import DossierRead, EventCreate
from kernel.errors import Forbidden, Unauthorized
from procedures.service import agency_tree, get_agency

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
            raise Forbidden(
                f"a {principal.role.value} may not do this; allowed roles: {names}",
                message_id="role",
                role=principal.role.value,
                roles=tuple(sorted(r.value for r in admitted)),
            )
        return principal

    return check


def scoped_agency(session, principal: Principal, agency: str | None) -> str | None:
    """The agency a scoped user reads: its own when none is asked, refused outside its scope."""
    if principal.scope is None:
        return agency
    if agency is None:
        return principal.agency_code
    if get_agency(session, agency).id not in principal.scope:
        raise Forbidden(
            f"agency {agency} is outside your scope ({principal.agency_code} and the agencies under it)",
            message_id="outside_scope",
            agency=agency,
            own=principal.agency_code,
        )
    return agency


def scoped_search(session, principal: Principal, *, agency: str | None = None, **filters) -> search.Found:
    """Dossiers the user's agencies (its scope: its agency and those under it) received or hold, newest first;
    `agency` narrows to one agency of that scope. The desk's list and search and `GET /dossiers` both ask here."""
    agency = scoped_agency(session, principal, agency) if agency else None
    return search.search(session, agency=agency, within=principal.scope, **filters)


def mask(value: str | None, visible: int = 3) -> str | None:
    """'001190012345' → '*********345': enough to recognise, not enough to use."""
    if value is None:
        return None
    return "*" * max(len(value) - visible, 0) + value[-visible:]


def dossier_view(session, request: Request, dossier: Dossier, principal: Principal) -> DossierRead:
    """The dossier as this user may see it: identity number, phone and address masked unless its agency handles it.

    The read is audited (personal data: Decree 13/2023), marked whether it was shown unmasked."""
    written = reading.load(session, dossier, calendar_for=calendar_for(request, session))
    audit_dossier(request, dossier.code, personal_data=personal_data_shown(written, principal))
    return visible_view(written, principal)


def personal_data_shown(written: reading.Written, principal: Principal) -> str:
    """How `visible_view` shows the applicant to `principal`: "unmasked" or "masked" (the audit trail's words)."""
    return "unmasked" if principal.handles(*written.handling_agency_ids) else "masked"


def visible_view(written: reading.Written, principal: Principal) -> DossierRead:
    """The dossier as `principal` may see it: identity number, phone and address masked outside the handling
    agencies (every page, form and answer showing an applicant takes it from here)."""
    view = reading.view(written, now=datetime.now(UTC))
    if personal_data_shown(written, principal) == "masked":
        view.applicant.id_number = mask(view.applicant.id_number)
        view.applicant.phone = mask(view.applicant.phone)
        view.applicant.address = mask(view.applicant.address)
        view.applicant.email = mask(view.applicant.email)
    return view


def readable_dossier(session, code: str, principal: Principal) -> Dossier:
    """The dossier, if an agency in the user's scope received, holds or held it.

    A dossier outside the scope is answered as an unknown one (the same 404, after the same one query):
    its existence is not to be learnt by trying codes.
    """
    return reading.get_dossier(session, code, within=principal.scope)


APOLOGY = "apology_issued"
HAND_BACK = "result_sent_to_desk"
# Why a role may not record an event (the API's words; pages say it with api/web/messages.py, message id
# "event_forbidden.<role>").
_EVENT_RULES = {
    Role.MANAGER: "managers record events (apologies, back-dated corrections) for dossiers in their scope",
    Role.CLERK: "clerks record events on dossiers received at their agency; apologies are the manager's",
    Role.OFFICER: "officers record events on dossiers their agency holds; apologies are the manager's",
}


def may_act(principal: Principal, *, received_by: int | None, held_by: int | None) -> bool:
    """The role rule of what a user may record, on dossiers and complaints alike (the status aside):
    administrators anything; managers on what their scope received or holds; clerks on what their scope
    received; officers on what their scope holds; viewers nothing (they read)."""
    if principal.role == Role.ADMIN:
        return True
    if principal.role == Role.MANAGER:
        return principal.covers(received_by, held_by)
    if principal.role == Role.CLERK:
        return principal.covers(received_by)
    if principal.role == Role.OFFICER:
        return principal.covers(held_by)
    return False


def event_refused(
    principal: Principal, event_type: str, subject: str, rules: dict[Role, str], message_id: str, **params
) -> Forbidden:
    """The refusal of an event outside the user's role and scope (`may_act`), saying the role's rule (`rules`, the
    API's words; pages say it with api/web/messages.py, message id `<message_id>.<role>`)."""
    why = rules.get(principal.role, f"a {principal.role.value} records no events")
    return Forbidden(
        f"you may not record {event_type} on {subject}: {why}",
        message_id=f"{message_id}.{principal.role.value}",
        **params,
    )


def may_record(principal: Principal, dossier: Dossier, event_type: str) -> bool:
    """Whether the principal's role and scope let it record `event_type` on `dossier` (the status aside).

    The one rule behind `event_policy` (which refuses) and `permitted_events` (what a page offers):
    administrators anything; managers anything on dossiers their scope received or holds (apologies,
    back-dated corrections, docs/event-time.md); clerks on dossiers received in their scope; officers
    on dossiers their scope holds; apologies are the manager's. The hand-back of a result to the receiving
    desk is sent by the agency holding the resolved dossier: its staff (clerks, officers, managers) whose
    scope covers that agency, not the desk waiting for it (docs/hand-back.md).
    """
    if principal.role == Role.ADMIN:
        return True
    if event_type == HAND_BACK:
        return principal.role in STAFF and principal.covers(dossier.current_agency_id)
    if event_type == APOLOGY and principal.role != Role.MANAGER:
        return False
    return may_act(principal, received_by=dossier.receiving_agency_id, held_by=dossier.current_agency_id)


def permitted_events(principal: Principal, dossier: Dossier, event_types) -> tuple[str, ...]:
    """Of `event_types`, those the principal may record on `dossier` (in their order), without raising:
    the dossier page offers `allowed_events(status)` narrowed by this."""
    return tuple(event for event in event_types if may_record(principal, dossier, event))


def event_policy(principal: Principal):
    """Refuse an event outside the principal's role and scope (the dossier is locked when this runs).

    The routes first read the dossier with `readable_dossier` (a foreign one is a 404 there); what is
    refused here (403) is what the user may see but not do, or an event in another agency's name.
    """

    def authorize(dossier: Dossier, data: EventCreate) -> None:
        if not may_record(principal, dossier, data.type):
            if data.type == HAND_BACK and principal.role in STAFF:
                holder = agency_tree(object_session(dossier)).by_id[dossier.current_agency_id].code
                raise Forbidden(
                    f"you may not record {data.type} on dossier {dossier.code}: the result is sent back to the "
                    f"desk by the agency holding the resolved dossier ({holder}), whose staff record it",
                    message_id="hand_back_forbidden",
                    event=data.type,
                    code=dossier.code,
                    holder=holder,
                )
            subject = f"dossier {dossier.code}"
            raise event_refused(
                principal, data.type, subject, _EVENT_RULES, "event_forbidden", event=data.type, code=dossier.code
            )
        if data.from_agency is not None:
            _check_acting_agency(object_session(dossier), principal, dossier, data.from_agency)

    return authorize


def _check_acting_agency(session, principal: Principal, dossier: Dossier, from_agency: str) -> None:
    """An event is recorded in the name of the agency holding the dossier or of an agency in the user's scope."""
    acting = get_agency(session, from_agency).id
    holding = dossier.current_agency_id or dossier.receiving_agency_id
    if acting != holding and not principal.covers(acting):
        raise Forbidden(
            f"from_agency {from_agency} is neither the agency holding dossier {dossier.code} "
            f"({agency_tree(session).by_id[holding].code}) nor in your scope ({principal.agency_code} and the "
            "agencies under it): name one of those, or leave from_agency out (the holding agency acts)",
            message_id="acting_agency",
            agency=from_agency,
        )
