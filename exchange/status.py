"""Where the sync stands: dossiers pending, dossiers failed (with the gateway's answer), and the sync rate per
unit and period (Decision 766 indicator 1.4: dossiers synced ÷ dossiers received). The page and
`GET /api/v1/exchange/status` both ask here."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, or_, select
from sqlmodel import Session

from dossiers.models import Dossier, DossierChange
from exchange.models import DossierSync
from kernel.db import UTCDateTime
from procedures.service import agency_tree
from sla.core.lifecycle import Status
from sla.reports import Period

FAILED_SHOWN = 200


@dataclass(frozen=True)
class Failed:
    code: str
    attempts: int
    http_status: int | None
    answer: str | None
    next_attempt_at: datetime | None
    synced_at: datetime | None
    """When an earlier change of it was last accepted (None: the gateway has never had it)."""


def sync_rate(synced: int, received: int) -> float | None:
    """Synced ÷ received (indicator 1.4), None when nothing was received."""
    return synced / received if received else None


@dataclass(frozen=True)
class UnitRate:
    agency_code: str
    agency_name: str
    received: int
    synced: int
    rate: float | None
    """`sync_rate(synced, received)`."""


@dataclass(frozen=True)
class SyncStatus:
    period: Period
    pending: int
    """Dossiers with a change the gateway has not accepted, not failed (waiting for the next run)."""
    failed_total: int
    failed: list[Failed]
    """The failed dossiers (at most FAILED_SHOWN), oldest failure first."""
    units: list[UnitRate]
    last_synced_at: datetime | None

    @property
    def received(self) -> int:
        return sum(u.received for u in self.units)

    @property
    def synced(self) -> int:
        return sum(u.synced for u in self.units)

    @property
    def rate(self) -> float | None:
        return sync_rate(self.synced, self.received)


def _scoped(query, within: Collection[int] | None):
    if within is None:
        return query
    ids = sorted(within)
    return query.where(or_(Dossier.receiving_agency_id.in_(ids), Dossier.current_agency_id.in_(ids)))


def sync_status(session: Session, *, period: Period, within: Collection[int] | None = None) -> SyncStatus:
    """The sync's state for the dossiers received at or held by `within` (None: every agency); the rates of the
    units of `within` that received dossiers in `period` (refused at intake and online ones never received do
    not count, as in the portal's statistics)."""
    unsynced = (
        select(DossierChange.dossier_id)
        .outerjoin(DossierSync, DossierSync.dossier_id == DossierChange.dossier_id)
        .where(or_(DossierChange.change_id.is_(None),
                   DossierChange.change_id > func.coalesce(DossierSync.synced_change_id, 0)))  # fmt: skip
        .where(or_(DossierSync.state.is_(None), DossierSync.state != "failed"))
        .distinct()
        .subquery()
    )
    pending = session.execute(
        _scoped(select(func.count()).select_from(unsynced).join(Dossier, Dossier.id == unsynced.c.dossier_id), within)
    ).scalar_one()
    failed_query = _scoped(
        select(Dossier.code, DossierSync).join(DossierSync, DossierSync.dossier_id == Dossier.id)
        .where(DossierSync.state == "failed"),
        within,
    )  # fmt: skip
    failed_total = session.execute(select(func.count()).select_from(failed_query.subquery())).scalar_one()
    failed = [
        Failed(code, s.attempts, s.last_http_status, s.last_error, s.next_attempt_at, s.synced_at)
        for code, s in session.execute(
            failed_query.order_by(DossierSync.next_attempt_at, Dossier.code).limit(FAILED_SHOWN)
        ).all()
    ]
    start, end = literal(period.start, UTCDateTime()), literal(period.end, UTCDateTime())
    rates = select(
        Dossier.receiving_agency_id,
        func.count().label("received"),
        func.count(DossierSync.first_synced_at).label("synced"),
    ).outerjoin(DossierSync, DossierSync.dossier_id == Dossier.id).where(
        Dossier.received_at >= start, Dossier.received_at < end, Dossier.status_code != int(Status.REFUSED)
    ).group_by(Dossier.receiving_agency_id)  # fmt: skip
    if within is not None:
        rates = rates.where(Dossier.receiving_agency_id.in_(sorted(within)))
    tree = agency_tree(session)
    units = sorted(
        (
            UnitRate(tree.by_id[i].code, tree.by_id[i].name, received, synced, sync_rate(synced, received))
            for i, received, synced in session.execute(rates).all()
        ),
        key=lambda u: u.agency_code,
    )
    last = _scoped(select(func.max(DossierSync.synced_at)).join(Dossier, Dossier.id == DossierSync.dossier_id)
                   .where(DossierSync.import_id.is_(None)), within)  # fmt: skip
    return SyncStatus(period, pending, failed_total, failed, units, session.execute(last).scalar_one())


def sync_figures(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """Indicator 1.4's figures for the scorecard (sla.scorecard's "sync" source): per receiving agency id, the
    dossiers received in [start, end) and not refused, and how many of them the gateway accepted at least once
    (as `sync_status` counts them; an imported dossier counts as synced, its import the evidence). None until the
    gateway has accepted a dossier: no sync was ever recorded, so 1.4 is missing data rather than a zero (an import
    of history proves what the former system sent, not that motcua's sync runs)."""
    ever = (
        select(DossierSync.dossier_id)
        .where(DossierSync.first_synced_at.is_not(None), DossierSync.import_id.is_(None))
        .limit(1)
    )
    if session.execute(ever).first() is None:
        return None
    lo, hi = literal(start, UTCDateTime()), literal(end, UTCDateTime())
    query = (
        select(
            Dossier.receiving_agency_id,
            func.count().label("received"),
            func.count(DossierSync.first_synced_at).label("synced"),
        )
        .outerjoin(DossierSync, DossierSync.dossier_id == Dossier.id)
        .where(Dossier.received_at >= lo, Dossier.received_at < hi, Dossier.status_code != int(Status.REFUSED))
        .group_by(Dossier.receiving_agency_id)
    )
    if agency_ids is not None:
        query = query.where(Dossier.receiving_agency_id.in_(sorted(agency_ids)))
    return {
        agency_id: {"received": received, "synced": synced} for agency_id, received, synced in session.execute(query)
    }


def synced_condition():
    """The SQL condition over `Dossier` that the portal accepted it at least once, as `sync_figures` counts it (an
    imported dossier included): 1.4's drill-down (sla.scorecard) lists the received dossiers without it."""
    return (
        select(DossierSync.dossier_id)
        .where(DossierSync.dossier_id == Dossier.id, DossierSync.first_synced_at.is_not(None))
        .exists()
    )
