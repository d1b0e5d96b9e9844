"""Every table of every domain, imported in one place for Alembic and the schema check."""

from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, IdempotencyRecord, Stage
from procedures.models import Agency, Field, Procedure, ProcedureStep
from sla.models import CalendarOverride, CalendarState

__all__ = [
    "Agency",
    "CalendarOverride",
    "CalendarState",
    "Dossier",
    "DossierCodeCounter",
    "DossierEvent",
    "Field",
    "IdempotencyRecord",
    "Procedure",
    "ProcedureStep",
    "Stage",
]
