"""Reading dossiers as national records (exchange/record.py), one or a page of changed ones.

The watermark of `changed_records` is a change id (`dossier_change.change_id`; docs/exchange.md,
"The watermark"): ids are given to committed changes by `stamp_changes`, one stamper at a time, so a
change that commits later always gets a higher id than every id already read: no change is missed.
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from dossiers import derive, reading
from dossiers.models import Dossier, DossierChange, Stage
from exchange.models import ChangeCounter
from exchange.record import RecordSource, to_record
from procedures.models import Field
from procedures.service import agency_tree
from sla.core.calendar import CalendarFor


def record_source(session: Session, dossier: Dossier, *, calendar_for: CalendarFor) -> RecordSource:
    """What the record of a stored dossier is made of."""
    written = reading.load(session, dossier, calendar_for=calendar_for)
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
        rule=derive.rule_for(session, procedure),
        calendar=written.calendar,
        fees=written.fees,
    )


def record_of(session: Session, dossier: Dossier, *, calendar_for: CalendarFor) -> dict[str, Any]:
    """The national record of a dossier (`motcua-dvcqg-1`)."""
    return to_record(record_source(session, dossier, calendar_for=calendar_for))


# --- the watermark -------------------------------------------------------------------------------


_UNSTAMPED = select(func.count()).select_from(DossierChange).where(DossierChange.change_id.is_(None))


def stamp_changes(session: Session) -> int:
    """Give every committed change without a change id the next ids, in the order they were written; the
    counter row is locked (FOR UPDATE) so stampers take turns. Returns the highest change id given so far.

    The caller commits: until then no reader sees the new ids. Writers never wait for this: they insert
    change rows without an id.
    """
    counter = session.execute(select(ChangeCounter).where(ChangeCounter.id == 1).with_for_update()).scalar_one()
    if not session.execute(_UNSTAMPED).scalar_one():
        return counter.last_change_id
    numbered = (
        select(
            DossierChange.id,
            (counter.last_change_id + func.row_number().over(order_by=DossierChange.id)).label("change_id"),
        )
        .where(DossierChange.change_id.is_(None))
        .subquery()
    )
    session.execute(
        update(DossierChange)
        .where(DossierChange.id == numbered.c.id)
        .values(change_id=numbered.c.change_id)
        .execution_options(synchronize_session=False)
    )
    last = session.execute(select(func.max(DossierChange.change_id))).scalar_one()
    counter.last_change_id = last
    session.add(counter)
    session.flush()
    return last


@dataclass(frozen=True)
class Changed:
    """One changed dossier of a page: its latest change id (the watermark after it) and its code."""

    change_id: int
    dossier_id: int


def changed_since(
    session: Session, since: int, *, limit: int, within: Collection[int] | None = None
) -> list[Changed]:
    """The dossiers changed after change id `since`, each once at its latest change, oldest change first; with
    `within`, only those received at or held by these agencies."""
    latest = (
        select(DossierChange.dossier_id, func.max(DossierChange.change_id).label("change_id"))
        .where(DossierChange.change_id > since)
        .group_by(DossierChange.dossier_id)
        .subquery()
    )
    query = select(latest.c.change_id, latest.c.dossier_id).order_by(latest.c.change_id).limit(limit)
    if within is not None:
        ids = sorted(within)
        query = query.join(Dossier, Dossier.id == latest.c.dossier_id).where(
            Dossier.receiving_agency_id.in_(ids)
            | Dossier.current_agency_id.in_(ids)
            | exists().where(Stage.dossier_id == Dossier.id, Stage.agency_id.in_(ids))
        )
    return [Changed(row.change_id, row.dossier_id) for row in session.execute(query)]


def changed_records(
    session: Session,
    since: int,
    *,
    calendar_for: CalendarFor,
    limit: int = 1000,
    within: Collection[int] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(change id, record) of the dossiers changed after `since` (at most `limit`), oldest change first."""
    for changed in changed_since(session, since, limit=limit, within=within):
        dossier = session.get(Dossier, changed.dossier_id)
        yield changed.change_id, record_of(session, dossier, calendar_for=calendar_for)


def compact_changes(session: Session, *, batch: int = 50_000) -> int:
    """Deletes the outbox rows that a newer stamped change of the same dossier supersedes; the rows deleted.

    Every reader reads a dossier's latest change only (`changed_records`, the sync's pending list: the record is
    the whole dossier as it is now), so a reader at any watermark gets the same answer with or without the older
    rows: the table keeps one stamped row a dossier, plus those not yet stamped. Works through the ids in
    batches of `batch` (one statement each, in the caller's transaction).
    """
    newer = aliased(DossierChange)
    superseded = exists().where(
        newer.dossier_id == DossierChange.dossier_id, newer.change_id > DossierChange.change_id
    )
    last = session.execute(select(func.max(DossierChange.id))).scalar_one() or 0
    deleted = 0
    for start in range(0, last, batch):
        deleted += session.execute(
            delete(DossierChange).where(
                DossierChange.id > start,
                DossierChange.id <= start + batch,
                DossierChange.change_id.is_not(None),
                superseded,
            )
        ).rowcount
    return deleted
