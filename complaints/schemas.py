"""Complaint shapes on the way in and out; instants go out in local time with their offset."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from complaints.clocks import EVENT_TYPES
from complaints.models import CATEGORIES, CHANNELS
from dossiers.schemas import LocalInstant
from kernel.schemas import MULTILINE, Input, IsoDateTime

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
RecordedEvent = Literal[EVENT_TYPES[1:]]  # type: ignore[valid-type]  # "received" is the complaint's creation
Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), MULTILINE]
AgencyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# what each event must say
REQUIRED = {
    "transferred": ("to_agency",),
    "supplement_requested": ("note",),
    "refused": ("note",),
    "answered": ("note",),
}


class ComplaintCreate(Input):
    """A complaint as the unit receives it, now (its clocks start at the next working instant)."""

    model_config = ConfigDict(extra="forbid")

    agency_code: AgencyCode = Field(description="the unit receiving it (in your scope)")
    channel: Channel = Field(description="portal, hotline, letter, email or in_person")
    category: Category = Field(description="regulations, staff_conduct or other")
    content: Content = Field(description="what the citizen says (personal data: every read is audited)")
    dossier_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] | None = (
        Field(default=None, description="the dossier it is about, if any (one your scope may read)")
    )


class ComplaintEventCreate(Input):
    model_config = ConfigDict(extra="forbid")

    type: RecordedEvent
    at: IsoDateTime | None = Field(
        default=None, description="when it happened (default now); naive = local time; not before the last event"
    )
    note: Content | None = Field(
        default=None, description="the request (supplement_requested), the reason (refused), the answer (answered)"
    )
    to_agency: AgencyCode | None = Field(default=None, description="transferred: the unit it goes to")

    @model_validator(mode="after")
    def _says_what_it_must(self):
        missing = [name for name in REQUIRED.get(self.type, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.type} needs {' and '.join(missing)}")
        if self.to_agency is not None and self.type != "transferred":
            raise ValueError("to_agency is for transferred only")
        return self


class ComplaintEventRead(BaseModel):
    seq: int
    type: str
    at: LocalInstant
    recorded_at: LocalInstant
    actor: str
    from_agency_code: str | None = None
    to_agency_code: str | None = None
    note: str | None = None


class ComplaintSummary(BaseModel):
    id: int
    agency_code: str
    agency_name: str
    receiving_agency_code: str
    channel: str
    category: str
    status: str
    dossier_code: str | None
    received_at: LocalInstant
    answer_due_at: LocalInstant
    next_due_at: LocalInstant | None
    feedback: str | None
    repeated: bool
    late_clocks: list[str] = Field(description="the clocks broken so far: refuse, supplement, answer, publish")


class ComplaintRead(ComplaintSummary):
    content: str
    refuse_due_at: LocalInstant
    supplement_due_at: LocalInstant
    publish_due_at: LocalInstant | None
    refused_at: LocalInstant | None
    first_supplement_at: LocalInstant | None
    answered_at: LocalInstant | None
    published_at: LocalInstant | None
    allowed_events: list[str]
    timeline: list[ComplaintEventRead]


class QueueRead(BaseModel):
    as_of: datetime
    overdue: list[ComplaintSummary]
    due_soon: list[ComplaintSummary]
