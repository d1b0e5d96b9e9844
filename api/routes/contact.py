"""The applicant's contact after intake: `PUT /api/v1/dossiers/{code}/contact` (clerks of the receiving agency,
managers of the scope, administrators), through the same use case as the desk's page (notify/consent.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from accounts.models import Role
from accounts.service import Principal
from api.deps import SessionDep, audit_dossier
from api.security import allow, readable_dossier
from dossiers.contact import Contact, ContactChange
from dossiers.models import Dossier
from kernel.errors import Forbidden
from notify import consent

router = APIRouter(tags=["dossiers"])
Changer = Annotated[Principal, Depends(allow(Role.CLERK, Role.MANAGER))]


class ContactChanged(BaseModel):
    code: str
    before: Contact
    after: Contact
    stopped_messages: int = Field(description="pending messages to the applicant stopped (old terms or no consent)")


def may_change_contact(principal: Principal, dossier: Dossier) -> bool:
    """Administrators; managers on dossiers of their scope; clerks on dossiers their scope received."""
    if principal.role == Role.CLERK:
        return principal.covers(dossier.receiving_agency_id)
    return principal.role in (Role.ADMIN, Role.MANAGER)


def change(session, request: Request, principal: Principal, code: str, data: ContactChange) -> dict:
    """Both doors: the dossier in the user's scope, the role's rule, the change, the audit row's words."""
    dossier = readable_dossier(session, code, principal)
    audit_dossier(request, dossier.code)
    if not may_change_contact(principal, dossier):
        raise Forbidden(
            "the applicant's contact is changed by the receiving agency's clerks or a manager of the scope",
            message_id="contact_forbidden",
        )
    changed = consent.change_consent(session, dossier, data)
    request.state.audit_detail = f"dossier {dossier.code}: {consent.describe(changed)}"
    return {"code": dossier.code, **changed}


@router.put("/dossiers/{code}/contact", response_model=ContactChanged)
def change_contact(request: Request, session: SessionDep, principal: Changer, code: str, data: ContactChange):
    """Change whether and how the applicant is told of the dossier's progress (consent, channel, email; the phone
    stays as received). Pending messages written under the old terms are stopped."""
    changed = change(session, request, principal, code, data)
    return ContactChanged(code=changed["code"], before=changed["before"], after=changed["after"],
                          stopped_messages=changed["stopped"])  # fmt: skip
