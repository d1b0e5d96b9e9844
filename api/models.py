"""Every table of every domain, imported in one place for Alembic and the schema check."""

from procedures.models import Agency, Field, Procedure, ProcedureStep

__all__ = ["Agency", "Field", "Procedure", "ProcedureStep"]
