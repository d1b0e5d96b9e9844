"""Which dossiers a queue, a report or a chart counts: the procedures of a field, of a level, or named.

One selection for the dashboard's queues, its report, its charts and the report routes, so a filter
changes them all alike. A procedure is named by its code or by words of its name (accent- and
case-insensitive, any order: the catalogue search); every version of a matching code counts, so
dossiers received under an older version are not lost.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from kernel.errors import InvalidInput, NotFound
from procedures.models import Field, Procedure
from procedures.service import search_procedures

MAX_NAMED = 500  # a name matching more procedures than this is too vague to be a filter


@dataclass(frozen=True)
class Selection:
    field: str | None = None  # field code
    level: str | None = None  # the procedure's level (province, department, district, commune)
    procedure: str | None = None  # a code, or words of the name

    def __bool__(self) -> bool:
        return bool(self.field or self.level or self.procedure)


def named_codes(session: Session, procedure: str) -> list[str]:
    """The procedure codes `procedure` names: itself when it is a code, else the catalogue search's matches."""
    text = procedure.strip()
    if session.execute(select(Procedure.id).where(Procedure.code == text).limit(1)).first():
        return [text]
    found, total = search_procedures(session, q=text, page_size=MAX_NAMED)
    if total > MAX_NAMED:
        raise InvalidInput(f"{total} procedures match {procedure!r}; give more words of the name, or its code")
    return sorted({p.code for p in found})


def selected_ids(session: Session, selection: Selection) -> list[int] | None:
    """The ids of every procedure version the selection keeps (None: no selection, every dossier counts)."""
    if not selection:
        return None
    query = select(Procedure.id)
    if selection.field:
        field_id = session.execute(select(Field.id).where(Field.code == selection.field)).scalar_one_or_none()
        if field_id is None:
            raise NotFound(f"no field with code {selection.field!r}; GET /api/v1/fields lists them")
        query = query.where(Procedure.field_id == field_id)
    if selection.level:
        query = query.where(Procedure.level == selection.level)
    if selection.procedure:
        query = query.where(Procedure.code.in_(named_codes(session, selection.procedure)))
    return list(session.execute(query).scalars())
