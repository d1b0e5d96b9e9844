"""Changing how an applicant is told of their dossier's progress after intake: consent, channel, email.

The phone stays as received (it is what the citizen proves with at the lookup). The change is checked as
intake checks it (consent needs a channel; sms and zalo need the phone; email needs the email) and returns
what it was and what it is now, for the audit trail. notify/consent.py adds what the messages need.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dossiers.models import Dossier
from dossiers.schemas import ContactChannel, Email
from kernel.errors import InvalidInput
from kernel.schemas import Input


class ContactChange(Input):
    model_config = ConfigDict(extra="forbid")

    contact_consent: bool = Field(description="whether the applicant wants to be told of the dossier's progress")
    preferred_channel: ContactChannel | None = Field(
        default=None, description="sms or zalo (to the phone received) or email; needed with consent"
    )
    email: Annotated[Email | None, Field(description="a new email (kept when absent)")] = None


class Contact(BaseModel):
    contact_consent: bool
    preferred_channel: str | None
    email_on_file: bool


def contact_of(dossier: Dossier) -> Contact:
    return Contact(
        contact_consent=dossier.contact_consent,
        preferred_channel=dossier.preferred_channel,
        email_on_file=bool(dossier.applicant_email),
    )


def change_contact(dossier: Dossier, data: ContactChange) -> tuple[Contact, Contact]:
    """Sets the dossier's consent, channel and (if given) email; (before, after). Refuses a change the applicant
    could not be reached by, naming the missing piece."""
    before = contact_of(dossier)
    email = data.email or dossier.applicant_email
    channel = data.preferred_channel if data.contact_consent else None
    if data.contact_consent and channel is None:
        raise InvalidInput(
            "contact_consent needs preferred_channel: sms, zalo or email", message_id="contact_channel_missing"
        )
    if channel in ("sms", "zalo") and not dossier.applicant_phone:
        raise InvalidInput(
            f"preferred_channel {channel} needs the applicant's phone, and none was received",
            message_id="contact_phone_missing",
            channel=channel,
        )
    if channel == "email" and not email:
        raise InvalidInput("preferred_channel email needs the applicant's email", message_id="contact_email_missing")
    dossier.contact_consent, dossier.preferred_channel = data.contact_consent, channel
    if data.email:
        dossier.applicant_email = data.email
    return before, contact_of(dossier)
