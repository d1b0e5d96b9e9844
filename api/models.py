"""Every table of every domain, imported in one place for Alembic and the schema check."""

from api.accounts import AccessToken, AuditEntry, User
from api.limits import RateCounter
from api.throttle import SignInFailure
from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, DueChange, IdempotencyRecord, Stage
from notify.models import Delivery, MessageTemplate, NotifyRule, OutboxMessage, StaffNotification
from procedures.models import Agency, AgencyState, Field, Procedure, ProcedureStep
from sla.models import CalendarChange, CalendarOverride, CalendarState, DailySnapshot, JobRun, PeriodSnapshot

__all__ = [
    "AccessToken",
    "AuditEntry",
    "User",
    "Agency",
    "AgencyState",
    "CalendarOverride",
    "CalendarState",
    "CalendarChange",
    "DailySnapshot",
    "Delivery",
    "MessageTemplate",
    "NotifyRule",
    "OutboxMessage",
    "StaffNotification",
    "Dossier",
    "DossierCodeCounter",
    "DossierEvent",
    "DueChange",
    "Field",
    "IdempotencyRecord",
    "JobRun",
    "PeriodSnapshot",
    "RateCounter",
    "Procedure",
    "ProcedureStep",
    "SignInFailure",
    "Stage",
]
