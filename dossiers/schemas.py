"""Dossier shapes on the way in and out. Instants go out in local time with their offset (+07:00)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from kernel.schemas import MULTILINE, Input, IsoDateTime, ascii_digits
from procedures.models import ComponentForm
from procedures.schemas import MAX_COMPONENTS, MAX_COPIES
from sla.core.calendar import LOCAL_TZ
from sla.core.lifecycle import EVENT_TYPES

LocalInstant = Annotated[
    datetime, PlainSerializer(lambda value: value.astimezone(LOCAL_TZ).isoformat(), return_type=str)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), MULTILINE]
AgencyCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Channel = Literal["counter", "online", "post"]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
# digits typed in full width (０９１２…) are stored as ASCII, so that the citizen's last 4 digits match
IdNumber = Annotated[
    str, BeforeValidator(ascii_digits), StringConstraints(strip_whitespace=True, pattern=r"^([0-9]{9}|[0-9]{12})$")
]
Phone = Annotated[
    str, BeforeValidator(ascii_digits), StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{8,15}$")
]
ContactChannel = Literal["sms", "zalo", "email"]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
BACKDATE_DESCRIPTION = (
    "why an instant more than MOTCUA_BACKDATE_GRACE_MINUTES (default 30) before now is recorded only now; "
    "needed then, and only managers and administrators may (docs/event-time.md)"
)


class ApplicantIn(Input):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    id_number: IdNumber | None = Field(
        default=None, description="citizen identity number: 12 digits (or an old 9-digit one)"
    )
    phone: Phone | None = Field(
        default=None, description="digits only, optionally with a leading +"
    )
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    email: Email | None = Field(default=None, description="for messages by email (preferred_channel email)")
    contact_consent: bool = Field(
        default=False,
        description="the applicant agrees to be told of the dossier's progress (receipt, supplement request, "
        "pause, apology, result, rating link); without it no message is sent",
    )
    preferred_channel: ContactChannel | None = Field(
        default=None, description="how: sms or zalo (to the phone) or email (to the email); needed with consent"
    )

    @model_validator(mode="after")
    def _reachable(self) -> "ApplicantIn":
        if self.contact_consent and self.preferred_channel is None:
            raise PydanticCustomError(
                "contact_channel_missing", "contact_consent needs preferred_channel: sms, zalo or email"
            )
        if self.preferred_channel in ("sms", "zalo") and not self.phone:
            raise PydanticCustomError(
                "contact_phone_missing",
                "preferred_channel {channel} needs the applicant's phone",
                {"channel": self.preferred_channel},
            )
        if self.preferred_channel == "email" and not self.email:
            raise PydanticCustomError("contact_email_missing", "preferred_channel email needs the applicant's email")
        return self


class ReceivedComponent(Input):
    """A document received at intake: one of the procedure version's components, by its `seq` or its name."""

    model_config = ConfigDict(extra="forbid")

    seq: int | None = Field(default=None, ge=1, description="the component's seq in the version's list")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = Field(
        default=None, description="or its name (case and accents aside)"
    )
    form: ComponentForm | None = Field(default=None, description="as handed in (default: the form the list asks)")
    copies: int | None = Field(default=None, ge=1, le=MAX_COPIES, description="default: the copies the list asks")
    digitised: bool | None = Field(default=None, description="scanned or received as an electronic document")
    reused: bool | None = Field(default=None, description="taken from an earlier digitised result")
    from_citizen_store: bool | None = Field(default=None, description="taken from the citizen's personal data store")
    from_national_db: bool | None = Field(default=None, description="taken from a national database")

    @model_validator(mode="after")
    def _named(self) -> "ReceivedComponent":
        if self.seq is None and self.name is None:
            raise ValueError("a received component names the version's component by its seq or its name")
        return self


class ReceivedComponentRead(BaseModel):
    seq: int
    component_seq: int
    name: str
    form: ComponentForm
    copies: int
    digitised: bool | None = None
    reused: bool | None = None
    from_citizen_store: bool | None = None
    from_national_db: bool | None = None


PaymentChannel = Literal["dvcqg", "gateway", "cash", "bank"]
MAX_FEES = 20


class FeeIn(Input):
    """A fee or charge of the dossier (phí, lệ phí); paid: with its channel and instant."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    amount_vnd: int = Field(ge=0, le=10_000_000_000, description="in đồng")
    payment_channel: PaymentChannel | None = Field(
        default=None,
        description="dvcqg (the national portal's payment platform), gateway (the provincial one), cash, bank; "
        "absent: not paid yet",
    )
    paid_at: IsoDateTime | None = Field(default=None, description="when it was paid; naive = local time; never future")

    @model_validator(mode="after")
    def _paid_with_channel(self) -> "FeeIn":
        if (self.payment_channel is None) != (self.paid_at is None):
            raise ValueError(
                "a paid fee line gives both payment_channel and paid_at; an unpaid one gives neither"
            )
        return self


class FeeRead(BaseModel):
    seq: int
    name: str
    amount_vnd: int
    payment_channel: PaymentChannel | None
    paid_at: LocalInstant | None


POPULATION_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
PopulationRef = Annotated[str, StringConstraints(strip_whitespace=True, pattern=POPULATION_REF_PATTERN)]


class DossierCreate(Input):
    model_config = ConfigDict(extra="forbid")

    procedure_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    agency_code: AgencyCode = Field(description="the receiving agency's e-ID code")
    channel: Channel = "counter"
    received_at: IsoDateTime | None = Field(
        default=None, description="when the dossier was received (default now); naive = local time; never future"
    )
    status: Literal["received", "submitted", "refused"] = Field(
        default="received",
        description="'submitted': an online dossier not yet received (its clock starts at its received event); "
        "'refused': refused at intake (kept out of statistics)",
    )
    reason: Text | None = Field(default=None, description="why the dossier was refused at intake")
    backdate_reason: Text | None = Field(default=None, description=BACKDATE_DESCRIPTION)
    applicant: ApplicantIn
    components: list[ReceivedComponent] | None = Field(
        default=None,
        max_length=MAX_COMPONENTS,
        description="the documents received (thành phần hồ sơ), checked against the procedure version's list; "
        "required ones left out are allowed and reported as missing_components",
    )
    fees: list[FeeIn] | None = Field(default=None, max_length=MAX_FEES, description="fee lines, paid or not")
    vneid_verified: bool | None = Field(
        default=None, description="online dossiers: filed by an account verified with VNeID"
    )
    population_ref: PopulationRef | None = Field(
        default=None, description="the national population database reference looked up for the applicant"
    )

    @model_validator(mode="after")
    def _vneid_online(self) -> "DossierCreate":
        if self.vneid_verified is not None and self.channel != "online":
            raise ValueError("vneid_verified is recorded for online dossiers only (channel online)")
        return self


class EventCreate(Input):
    model_config = ConfigDict(extra="forbid")

    type: EventType
    at: IsoDateTime | None = Field(
        default=None,
        description="when it happened (default now); naive = local time; never before the previous event nor more "
        "than 5 minutes ahead; further back than the grace: backdate_reason (docs/event-time.md)",
    )
    from_agency: AgencyCode | None = Field(
        default=None, description="the agency acting (default: the agency holding the dossier)"
    )
    to_agency: AgencyCode | None = Field(default=None, description="forwarded: the agency it goes to")
    reason: Text | None = None
    new_due_at: IsoDateTime | None = Field(default=None, description="apology_issued: the new appointment")
    result: Text | None = Field(default=None, description="resolved: the result (decision, certificate, refusal)")
    backdate_reason: Text | None = Field(default=None, description=BACKDATE_DESCRIPTION)
    electronic_result: bool | None = Field(
        default=None, description="resolved or result_returned: an electronic result file is attached"
    )
    fees: list[FeeIn] | None = Field(
        default=None, max_length=MAX_FEES, description="fee lines added with this event (e.g. paid at the return)"
    )


class ApplicantRead(BaseModel):
    name: str
    id_number: str | None
    phone: str | None
    address: str | None
    email: str | None = None
    contact_consent: bool = False
    preferred_channel: ContactChannel | None = None


class StageRead(BaseModel):
    seq: int
    agency_code: str | None
    name: str
    step_seq: int | None
    started_at: LocalInstant
    allotment_minutes: int | None
    due_at: LocalInstant | None
    ended_at: LocalInstant | None
    outcome: str | None
    overrun_minutes: int
    excluded: bool


class EventRead(BaseModel):
    seq: int
    type: str
    at: LocalInstant
    recorded_at: LocalInstant
    actor: str
    agency_code: str | None
    from_agency_code: str | None
    to_agency_code: str | None
    reason: str | None
    result: str | None
    new_due_at: LocalInstant | None
    backdated: bool = Field(description="`at` lies more than the grace before `recorded_at` (docs/event-time.md)")
    backdate_reason: str | None
    apology_late: bool = Field(description="an apology recorded less than one working day before the due it moved")


class DossierSummary(BaseModel):
    code: str
    procedure_code: str
    receiving_agency_code: str
    current_agency_code: str | None
    channel: Channel
    channel_code: int
    applicant_name: str
    status: str
    status_code: int
    submitted_at: LocalInstant | None
    received_at: LocalInstant | None
    original_due_at: LocalInstant | None
    rescheduled_due_at: LocalInstant | None
    due_at: LocalInstant | None
    finished_at: LocalInstant | None
    outcome: str | None
    supplement_count: int
    procedure_name: str
    procedure_name_en: str | None = None


class DossierRead(DossierSummary):
    procedure_version_from: str
    applicant: ApplicantRead
    clock_start_at: LocalInstant | None
    paused_minutes: int
    apology_issued: bool
    paused_since: LocalInstant | None = Field(
        description="waiting for a supplement or an obligation: since when the clock stands still"
    )
    elapsed_working_minutes: int | None = Field(description="working time used (up to the pause while paused)")
    remaining_working_minutes: int | None = Field(
        description="working time left before the current due, negative past it (taken at the pause while paused)"
    )
    overdue: bool = Field(
        description="open, and its original due date is before today (as the overdue queue and the report count); "
        "while paused only if it was already past that due when the pause began"
    )
    overdue_working_minutes: int | None = Field(description="overdue: working time since the original due")
    components: list[ReceivedComponentRead] = Field(
        default=[], description="the documents received at intake (name, form, copies)"
    )
    missing_components: list[str] = Field(
        default=[], description="the version's required components not recorded as received"
    )
    fees: list[FeeRead] = Field(default=[], description="fee lines, with how and when each was paid")
    electronic_result: bool | None = Field(default=None, description="an electronic result file is attached")
    vneid_verified: bool | None = None
    population_ref: str | None = None
    result_kind: str | None = Field(default=None, description="the version's result: paper or electronic")
    late_stages: list[int]
    allowed_events: list[str]
    stages: list[StageRead]
    timeline: list[EventRead]
