"""The one use case behind both doors (the desk's dossier page, `PUT /api/v1/dossiers/{code}/contact`, and the
citizen's "stop the messages" on the lookup): change the applicant's consent or channel, and stop the messages
written under the old terms that have not gone yet (given up, with the reason in their delivery log)."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from dossiers.contact import Contact, ContactChange, change_contact
from dossiers.models import Dossier
from notify.models import Delivery, OutboxMessage

WITHDRAWN = "consent withdrawn"
CHANGED = "contact changed"


def change_consent(session: Session, dossier: Dossier, data: ContactChange, *, now: datetime | None = None) -> dict:
    """Apply the change; {"before", "after", "stopped"}: the contact before and after, and how many pending
    messages were stopped (every pending one to the applicant when anything changed: they were written for the
    old channel or address, or without consent now)."""
    before, after = change_contact(dossier, data)
    stopped = 0
    if after != before:
        reason = WITHDRAWN if not after.contact_consent else CHANGED
        stopped = stop_pending(session, dossier.id, reason=reason, now=now or datetime.now(UTC))
    session.flush()
    return {"before": before, "after": after, "stopped": stopped}


def stop_pending(session: Session, dossier_id: int, *, reason: str, now: datetime) -> int:
    pending = (
        session.execute(
            select(OutboxMessage).where(
                OutboxMessage.dossier_id == dossier_id,
                OutboxMessage.audience == "citizen",
                OutboxMessage.status == "pending",
            )
        )
        .scalars()
        .all()
    )
    for message in pending:
        message.status = "gave_up"
        session.add(Delivery(message_id=message.id, attempt=message.attempts, at=now, outcome="gave_up", answer=reason))
    return len(pending)


def describe(change: dict) -> str:
    """For the audit trail: what changed, without the address."""
    before, after = change["before"], change["after"]

    def said(contact: Contact) -> str:
        return contact.preferred_channel if contact.contact_consent else "none"

    return f"contact: {said(before)} -> {said(after)}; {change['stopped']} pending messages stopped"
