"""Reading dossiers as national records (exchange/record.py)."""

from typing import Any

from sqlmodel import Session

from dossiers import service as dossiers
from dossiers.models import Dossier
from exchange.record import RecordSource, to_record
from procedures.models import Field
from procedures.service import agency_tree

CalendarFor = dossiers.CalendarFor


def record_source(session: Session, dossier: Dossier, *, calendar_for: CalendarFor) -> RecordSource:
    """What the record of a stored dossier is made of."""
    written = dossiers.load(session, dossier, calendar_for=calendar_for)
    procedure = written.procedure
    field = session.get(Field, procedure.field_id)
    tree = agency_tree(session)
    return RecordSource(
        dossier=dossier,
        procedure=procedure,
        field_code=field.code if field else "",
        field_name=field.name if field else "",
        events=written.events,
        stages=written.stages,
        components=written.components,
        codes=written.codes,
        agency_names={agency_id: tree.by_id[agency_id].name for agency_id in written.codes},
        rule=dossiers.rule_for(session, procedure),
        calendar=written.calendar,
    )


def record_of(session: Session, dossier: Dossier, *, calendar_for: CalendarFor) -> dict[str, Any]:
    """The national record of a dossier (`motcua-dvcqg-1`)."""
    return to_record(record_source(session, dossier, calendar_for=calendar_for))
