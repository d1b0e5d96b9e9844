"""Every table of every domain, imported in one place for Alembic and the schema check."""

from api.accounts import AccessToken, AuditEntry, User
from api.limits import RateCounter
from api.throttle import SignInFailure
from complaints.models import Complaint, ComplaintEvent
from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, DossierRating, DueChange, IdempotencyRecord
from dossiers.models import Stage
from procedures.models import Agency, AgencyState, Field, Procedure, ProcedureStep
from sla.models import CalendarOverride, CalendarState, DailySnapshot, JobRun, PeriodSnapshot
from sla.models import CalendarChange

__all__ = [
    "AccessToken",
    "AuditEntry",
    "User",
    "Agency",
    "AgencyState",
    "CalendarOverride",
    "CalendarState",
    "CalendarChange",
    "Complaint",
    "ComplaintEvent",
    "DailySnapshot",
    "Dossier",
    "DossierCodeCounter",
    "DossierEvent",
    "DossierRating",
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
