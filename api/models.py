"""Every table of every domain, imported in one place for Alembic and the schema check."""

from accounts.models import AccessToken, AuditEntry, SignInFailure, User
from api.limits import RateCounter
from complaints.models import Complaint, ComplaintEvent
from dossiers.models import (
    Dossier,
    DossierChange,
    DossierCodeCounter,
    DossierEvent,
    DossierRating,
    DueChange,
    IdempotencyRecord,
    Stage,
)
from exchange.import_models import ExchangeImport, ImportedDossier
from exchange.models import ChangeCounter, DossierSync, StepSync
from notify.models import Delivery, MessageTemplate, NotifyRule, OutboxMessage, StaffNotification
from procedures.models import Agency, AgencyState, CatalogueState, Field, Procedure, ProcedureStep
from sla.models import CalendarChange, CalendarOverride, CalendarState, DailySnapshot, JobRun, PeriodSnapshot

__all__ = [
    "AccessToken",
    "AuditEntry",
    "User",
    "Agency",
    "AgencyState",
    "CatalogueState",
    "ChangeCounter",
    "CalendarOverride",
    "CalendarState",
    "CalendarChange",
    "Complaint",
    "ComplaintEvent",
    "DailySnapshot",
    "Delivery",
    "MessageTemplate",
    "NotifyRule",
    "OutboxMessage",
    "StaffNotification",
    "Dossier",
    "DossierChange",
    "DossierCodeCounter",
    "DossierSync",
    "DossierEvent",
    "DossierRating",
    "DueChange",
    "ExchangeImport",
    "Field",
    "IdempotencyRecord",
    "ImportedDossier",
    "JobRun",
    "PeriodSnapshot",
    "RateCounter",
    "Procedure",
    "ProcedureStep",
    "SignInFailure",
    "Stage",
    "StepSync",
]
