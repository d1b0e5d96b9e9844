"""The Decision 766 scorecard of a unit and period: every indicator of index766.md, with what cost points (the
dossiers, procedure versions, complaints or agencies; docs/scorecard.md).

How it is counted, whatever the number of units (bench/bench_scorecard.py):
- **one grouped scan of the dossiers** in the period (received in it or carried into it), off the
  covering index `ix_dossier_report`, grouped on one BIGINT packing the receiving agency, the
  dossier's place in 2.1 (not counted / on time / late), whether it was received and resolved in
  the period, whether it was filed online, and its `index_flags` (the 766 facts written with the
  dossier, sla.core.index766); a few thousand rows come back and every dossier indicator of every
  agency follows in pandas;
- one small query over the partial index `ix_dossier_paid_online` (3.5b: the procedures an agency's
  dossiers were paid online for), and the catalogue's versions in force (1.1–1.3, 3.1, 3.5);
- complaints and ratings (5.2–5.4) through `complaint_figures` and `rating_figures`, the sync (1.4) through
  `sync_figures` (below); the agencies' electronic certified copies (4.6) from the agency tree.
A unit with its children sums its agencies' counts: no query per unit.

Who belongs where (versioned with the formulas, seed/data/index766_formulas.csv): dossier indicators
count the dossiers the unit's agencies received; procedure indicators the versions in force in the
period that a unit's agency owns, or, without an owner, whose level is that of one of its agencies; 4.6 the
unit's active communes (without a commune, its own agencies).

An indicator whose data the unit never recorded (e.g. no dossier of the period carries its electronic
result flag) is left unscored and named in `missing_data`, with what it needs.
"""

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, literal, or_, select, text
from sqlmodel import Session

from complaints import figures as complaint_register
from dossiers.models import PAID_ONLINE_CONDITION, Dossier
from dossiers.ratings import dissatisfied_counts
from dossiers.ratings import rating_figures as dossier_rating_figures
from kernel.db import UTCDateTime
from kernel.errors import InvalidInput, NotFound
from procedures.models import Agency, Procedure, ProcedureComponent
from procedures.service import agency_subtree_ids, agency_tree, get_agency
from sla.core import index766 as ix
from sla.core.calendar import CalendarError, WorkingCalendar
from sla.core.lifecycle import Status
from sla.reports import REPORT_INDEX, Period, _covering_scan, cell_condition

FORMULAS_FILE = Path(__file__).resolve().parents[1] / "seed" / "data" / "index766_formulas.csv"
FLAG_RADIX = 1 << 14  # index_flags < 2**14
SYNC_INDICATOR = "1.4"
AUTHORITY = "province"
"""Who publishes the procedures this system scores: a province's (its agencies are the province, its departments
and communes); 1.1 and 1.2 read their working days for it from the formulas' parameters (a ministry's: 20, 10)."""


@lru_cache(maxsize=4)
def load_formulas(path: Path = FORMULAS_FILE) -> tuple[ix.Formula, ...]:
    """The indicators' split of points, thresholds and formula ids (data, not code)."""
    with open(path, encoding="utf-8") as handle:
        formulas = tuple(
            ix.Formula(
                indicator=row["indicator"],
                formula=row["formula"],
                group=row["group"],
                name=row["name"],
                max_points=float(row["max_points"]),
                threshold=float(row["threshold"]) if row["threshold"] else None,
                when_empty=row["when_empty"],
                rule=row["rule"],
                parameters=ix.parse_parameters(row.get("parameters") or ""),
            )
            for row in csv.DictReader(handle)
        )
    ix.check_formulas(formulas)
    return formulas


def formulas_by_id() -> dict[str, ix.Formula]:
    return {f.indicator: f for f in load_formulas()}


# --- complaints and ratings: the figures interface -----------------------------------------------
#
# The complaints register (complaints/) and the citizens' ratings (dossiers/ratings) are other
# packages; the scorecard reads their figures through two functions of this shape, registered by the
# application (api wiring) once those packages exist:
#
#   source(session, agency_ids: Sequence[int] | None, start: datetime, end: datetime)
#       -> dict[int, dict[str, int]] | None
#
# keyed by agency id (the unit a complaint was addressed to; the receiving agency of a rated dossier),
# counting what falls in [start, end) (complaints by receipt, ratings by when they were given);
# `agency_ids` None = every agency; an agency absent from the dict had none; None = no register (the
# indicators needing it go to `missing_data`). Keys:
#   complaints: complaints, handled_on_time, disliked, overdue, repeated, dossiers_with_complaint
#   ratings:    ratings, dissatisfied, dossiers_dissatisfied
FigureSource = Callable[[Session, Sequence[int] | None, datetime, datetime], dict[int, dict[str, int]] | None]
COMPLAINT_KEYS = ("complaints", "handled_on_time", "disliked", "overdue", "repeated", "dossiers_with_complaint")
RATING_KEYS = ("ratings", "dissatisfied", "dossiers_dissatisfied")
SYNC_KEYS = ("received", "synced")
"""The national exchange's figures (exchange/status.py `sync_figures`, registered by exchange/__init__.py, which
sla may not import): dossiers received in the period, not refused, and of them those the portal accepted."""


def _every_agency(session: Session, agency_ids: Sequence[int] | None) -> list[int]:
    return list(agency_ids) if agency_ids is not None else list(agency_tree(session).by_id)


def _registered_complaints(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """The complaints register's figures (complaints.figures) in this module's keys. 5.4's dossiers "with a
    complaint" are those with a complaint or a dissatisfied rating, each counted once (the register's union)."""
    return {
        agency_id: {
            "complaints": f["complaints"],
            "handled_on_time": f["on_time"],
            "disliked": f["disliked"],
            "overdue": f["late"],
            "repeated": f["repeated"],
            "dossiers_with_complaint": f["dossiers_with_complaint_or_dislike"],
        }
        for agency_id, f in complaint_register.complaint_figures(
            session, _every_agency(session, agency_ids), start, end
        ).items()
    }


def _registered_ratings(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """The citizens' ratings (dossiers.ratings) in this module's keys. Their dissatisfied dossiers are already in
    the complaints' union above (`dossiers_dissatisfied` 0 here, so that none counts twice in 5.4)."""
    return {
        agency_id: {"ratings": f["ratings"], "dissatisfied": f["dissatisfied"], "dossiers_dissatisfied": 0}
        for agency_id, f in dossier_rating_figures(session, _every_agency(session, agency_ids), start, end).items()
    }


DEFAULT_SOURCES: dict[str, FigureSource] = {"complaints": _registered_complaints, "ratings": _registered_ratings}
"""The registers this system keeps; a test may wire others (`register_figures`) and put these back."""
_SOURCES: dict[str, FigureSource | None] = {**DEFAULT_SOURCES, "sync": None}


def register_figures(kind: str, source: FigureSource | None) -> None:
    """Wire (or, with None, unwire) the complaints' or the ratings' figures."""
    if kind not in _SOURCES:
        raise ValueError(f"unknown figures {kind!r}: complaints, ratings or sync")
    _SOURCES[kind] = source


def complaint_figures(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """Per agency id: complaints received in [start, end) and how they were handled; None without a register."""
    source = _SOURCES["complaints"]
    return None if source is None else source(session, agency_ids, start, end)


def rating_figures(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """Per agency id: ratings given in [start, end), the dissatisfied ones; None without ratings."""
    source = _SOURCES["ratings"]
    return None if source is None else source(session, agency_ids, start, end)


def sync_figures(session: Session, agency_ids: Sequence[int] | None, start: datetime, end: datetime):
    """Per agency id: dossiers received in [start, end) and synced to the portal; None when nothing was ever
    synced (1.4 is then missing data, and 3.3 takes the sync rate as 1)."""
    source = _SOURCES["sync"]
    return None if source is None else source(session, agency_ids, start, end)


_SYNCED: list[Callable[[], ColumnElement[bool]] | None] = [None]
"""The SQL condition "the portal has accepted this dossier" (exchange/status.py `synced_condition`, registered by
exchange/__init__.py with the figures): 1.4's drill-down lists the received dossiers not meeting it."""


def register_synced(condition: Callable[[], ColumnElement[bool]] | None) -> None:
    """Wire (or, with None, unwire) the condition over `Dossier` that a dossier was synced, as 1.4 counts it."""
    _SYNCED[0] = condition


# --- which dossiers an indicator counts -----------------------------------------------------------


class _SqlFacts:
    """A dossier's place in the scorecard as SQL expressions (never NULL)."""

    def __init__(self, period: Period) -> None:
        d = Dossier

        def flag(condition):
            return case((condition, 1), else_=0)

        good = flag(
            cell_condition(period, "early")
            | cell_condition(period, "on_time")
            | cell_condition(period, "withdrawn")
            | cell_condition(period, "open_within")
        )
        bad = flag(cell_condition(period, "late") | cell_condition(period, "open_overdue"))
        more_than_one_supplement = and_(d.supplement_count > 1, func.coalesce(d.outcome, "") != "withdrawn")
        self.progress_value = case(
            (and_(more_than_one_supplement, (good + bad) > 0), 2), (good == 1, 1), (bad == 1, 2), else_=0
        )
        self.received_value = flag(cell_condition(period, "received_new"))
        self.resolved_value = flag(cell_condition(period, "resolved"))
        self.online_value = flag(d.channel == "online")
        self.progress = self.progress_value
        self.received_in = self.received_value == 1
        self.resolved_in = self.resolved_value == 1
        self.online = self.online_value == 1

    @staticmethod
    def has(bit: int):
        return Dossier.index_flags.op("&")(bit) != 0


class _FrameFacts:
    """The same facts over the scan's unpacked columns (pandas)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.progress = frame["progress"]
        self.received_in = frame["received_in"] == 1
        self.resolved_in = frame["resolved_in"] == 1
        self.online = frame["online"] == 1

    def has(self, bit: int) -> pd.Series:
        return (self.frame["flags"] & bit) != 0


def _members(f) -> dict[str, tuple]:
    """Per dossier indicator: (denominator, numerator[, recorded]) conditions, written once for SQL and pandas.

    `recorded`: the dossiers whose having it shows the data was recorded at all (default: the numerator)."""
    paper = f.has(ix.RESULT_KIND_KNOWN) & f.has(ix.RESULT_PAPER)
    electronic_kind = f.has(ix.RESULT_KIND_KNOWN) & ~f.has(ix.RESULT_PAPER)
    counted = f.progress > 0
    received = f.received_in
    return {
        "2.1": (counted, f.progress == 1, counted),
        "3.3": (received, received & f.online & (~paper | f.has(ix.ELECTRONIC_RESULT)), received),
        "3.6": (received & f.has(ix.FEE), received & f.has(ix.FEE) & f.has(ix.PAID_ONLINE)),
        "4.1": (
            f.resolved_in & paper,
            f.resolved_in & paper & f.has(ix.ELECTRONIC_RESULT),
            f.resolved_in & paper & f.has(ix.ELECTRONIC_RESULT_KNOWN),
        ),
        "4.2": (
            f.resolved_in,
            f.resolved_in & f.has(ix.ALL_DIGITISED) & (f.has(ix.ELECTRONIC_RESULT) | electronic_kind),
            f.resolved_in & f.has(ix.COMPONENTS_KNOWN),
        ),
        "4.3": (received, received & f.has(ix.REUSED), received & f.has(ix.COMPONENTS_KNOWN)),
        "4.4": (received, received & f.has(ix.CITIZEN_STORE), received & f.has(ix.COMPONENTS_KNOWN)),
        "4.5a": (received & f.online, received & f.online & f.has(ix.VNEID), received & f.has(ix.VNEID_KNOWN)),
        "4.5b": (received, received & f.has(ix.POPULATION_REF)),
        "5.4": (counted, counted & (f.progress == 1), counted),
    }


DOSSIER_INDICATORS = ("2.1", "3.3", "3.6", "4.1", "4.2", "4.3", "4.4", "4.5a", "4.5b", "5.4")
PROCEDURE_INDICATORS = ("1.1", "1.2", "1.3", "3.1", "3.5", "3.5b")
NEEDS = {
    "1.1": "publication decision dates and legal basis effective dates of the unit's procedure versions",
    "1.2": "publication decision dates and publication dates of the unit's procedure versions",
    "1.4": "the sync to the national portal (exchange: MOTCUA_EXCHANGE_URL) has not yet had a dossier accepted",
    "3.1": "the online level of the unit's procedure versions",
    "3.5": "fee procedures (a fee or fee lines in the catalogue)",
    "3.5b": "fee procedures (a fee or fee lines in the catalogue)",
    "3.6": "fee lines of the dossiers received in the period",
    "4.1": "the result kind of the procedures and electronic_result of the dossiers resolved in the period",
    "4.2": "the flags of the received components (digitised) of the dossiers resolved in the period",
    "4.3": "the flags of the received components (reused)",
    "4.4": "the flags of the received components (from_citizen_store)",
    "4.5a": "vneid_verified of the online dossiers",
    "4.5b": "population_ref of the dossiers",
    "4.6": "whether the unit's communes (or, without communes, its agencies) offer electronic certified copies "
    "(PATCH /api/v1/agencies/{code}: e_certified_copies)",
    "5.2": "the complaints register",
    "5.3": "the complaints register",
    "5.4": "the complaints register and citizens' ratings",
}


# --- the scan -------------------------------------------------------------------------------------


def _dossier_counts(session: Session, period: Period, agency_ids: Sequence[int] | None) -> pd.DataFrame:
    """Per agency id: each dossier indicator's denominator, numerator and recorded count (columns
    `<id>:den`, `<id>:num`, `<id>:rec`), from one grouped scan."""
    d = Dossier
    facts = _SqlFacts(period)
    key = cast(d.receiving_agency_id, BigInteger)
    for value, radix in (
        (facts.progress_value, 3),
        (facts.received_value, 2),
        (facts.resolved_value, 2),
        (facts.online_value, 2),
        (d.index_flags, FLAG_RADIX),
    ):
        key = key * radix + value
    key = key.label("key")
    query = select(key, func.count().label("dossiers")).where(
        d.received_at.is_not(None), d.status_code != Status.REFUSED, cell_condition(period, "total")
    )
    if agency_ids is not None:
        query = query.where(d.receiving_agency_id.in_(agency_ids))
    query = query.with_hint(Dossier, f"INDEXED BY {REPORT_INDEX}", "sqlite")
    with _covering_scan(session):
        rows = session.execute(query.group_by(key)).all()
    packed = np.array([row[0] for row in rows], dtype=np.int64)
    frame = pd.DataFrame({"dossiers": np.array([row[1] for row in rows], dtype=np.int64)})
    for name, radix in (("flags", FLAG_RADIX), ("online", 2), ("resolved_in", 2), ("received_in", 2), ("progress", 3)):
        frame[name] = packed % radix
        packed = packed // radix
    frame["agency_id"] = packed
    members = _members(_FrameFacts(frame))
    columns = {"agency_id": frame["agency_id"]}
    for indicator, conditions in members.items():
        den, num = conditions[0], conditions[1]
        rec = conditions[2] if len(conditions) > 2 else num
        columns[f"{indicator}:den"] = frame["dossiers"].where(den, 0)
        columns[f"{indicator}:num"] = frame["dossiers"].where(num, 0)
        columns[f"{indicator}:rec"] = frame["dossiers"].where(rec, 0)
    counts = pd.DataFrame(columns).groupby("agency_id").sum()
    counts["5.4:bad"] = counts["5.4:den"] - counts["5.4:num"]
    return counts


def _paid_online_codes(session: Session, period: Period, agency_ids: Sequence[int] | None) -> pd.DataFrame:
    """(agency_id, procedure code) pairs with a dossier received in the period and paid online (3.5b): grouped on
    the version id, read off the partial index, then named by the catalogue."""
    d = Dossier
    query = (
        select(d.receiving_agency_id, d.procedure_id)
        .where(
            text(PAID_ONLINE_CONDITION),
            d.received_at >= literal(period.start, UTCDateTime()),
            d.received_at < literal(period.end, UTCDateTime()),
        )
        .group_by(d.receiving_agency_id, d.procedure_id)
        .with_hint(Dossier, "INDEXED BY ix_dossier_paid_online", "sqlite")
    )
    if agency_ids is not None:
        query = query.where(d.receiving_agency_id.in_(agency_ids))
    pairs = pd.DataFrame(session.execute(query).all(), columns=["agency_id", "procedure_id"])
    codes = dict(session.execute(select(Procedure.id, Procedure.code)).all())
    pairs["procedure_code"] = pairs["procedure_id"].map(codes)
    return pairs[["agency_id", "procedure_code"]].drop_duplicates()


def _versions(session: Session, period: Period) -> pd.DataFrame:
    """The procedure versions in force during the period, with what 1.1–1.3, 3.1 and 3.5 read."""
    p = Procedure
    with_components = select(ProcedureComponent.procedure_id).distinct()
    rows = session.execute(
        select(
            p.id,
            p.code,
            p.name,
            p.level,
            p.agency_id,
            p.online_level,
            p.fee,
            p.fee_vnd,
            p.fee_lines,
            p.unit,
            p.amount,
            p.decision_date,
            p.legal_basis,
            p.legal_basis_effective_date,
            p.published_on,
            p.id.in_(with_components).label("has_components"),
        ).where(p.effective_from <= period.last, (p.effective_to.is_(None)) | (p.effective_to >= period.first))
    ).all()
    columns = [
        "id", "code", "name", "level", "agency_id", "online_level", "fee", "fee_vnd", "fee_lines", "unit", "amount",
        "decision_date", "legal_basis", "legal_basis_effective_date", "published_on", "has_components",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _working_days_between(calendar: WorkingCalendar, after: date, until: date) -> int | None:
    """Working days d with after < d ≤ until (negative when until is before after); None off the calendar."""
    try:
        if until <= after:
            return -len(calendar.working_days(until + timedelta(days=1), after)) if until < after else 0
        return len(calendar.working_days(after + timedelta(days=1), until))
    except CalendarError:
        return None


def _procedure_facts(versions: pd.DataFrame, period: Period, calendar: WorkingCalendar) -> pd.DataFrame:
    """Per version: the procedure indicators' memberships (booleans), computed once for every unit."""
    frame = versions.copy()

    def lines_total(lines) -> int:
        return sum(int(line.get("amount_vnd") or 0) for line in lines) if isinstance(lines, list) else 0

    frame["fee_lines_recorded"] = frame["fee_lines"].map(lambda lines: isinstance(lines, list) and len(lines) > 0)
    frame["fee_procedure"] = (frame["fee_vnd"].fillna(0) > 0) | (frame["fee_lines"].map(lines_total) > 0)
    frame["online"] = frame["online_level"].isin(("full", "partial"))
    frame["online_known"] = frame["online_level"].notna()
    complete = (
        frame["name"].fillna("").str.strip().ne("")
        & frame["online_known"]
        & frame["has_components"].astype(bool)
        & (frame["amount"].notna() | (frame["unit"] == "same_day"))
        & frame["level"].notna()
        & (frame["fee"].notna() | frame["fee_lines"].map(lambda lines: isinstance(lines, list)))
        & frame["legal_basis"].fillna("").str.strip().ne("")
    )
    frame["complete"] = complete
    decided = frame["decision_date"].map(lambda day: day is not None and not pd.isna(day))
    in_period = frame["decision_date"].map(
        lambda day: day is not None and not pd.isna(day) and period.first <= day <= period.last
    )
    formulas = formulas_by_id()
    publish_before = formulas["1.1"].parameter(AUTHORITY)  # the decision ≥ N working days before the effect
    within = formulas["1.2"].parameter(AUTHORITY)  # made public ≤ N working days after the decision
    ahead, public = [], []
    for decision, effective, published in zip(
        frame["decision_date"], frame["legal_basis_effective_date"], frame["published_on"], strict=True
    ):
        known = decision is not None and not pd.isna(decision)
        lead = _working_days_between(calendar, decision, effective - timedelta(days=1)) if (
            known and effective is not None and not pd.isna(effective)
        ) else None
        lag = _working_days_between(calendar, decision, published) if (
            known and published is not None and not pd.isna(published)
        ) else None
        ahead.append(lead)
        public.append(lag)
    frame["lead"] = pd.array(ahead, dtype="Int64")
    frame["lag"] = pd.array(public, dtype="Int64")
    frame["1.1:rec"] = decided & frame["lead"].notna()
    frame["1.1:den"] = in_period & frame["lead"].notna()
    frame["1.1:num"] = frame["1.1:den"] & (frame["lead"].fillna(-1) >= publish_before)
    frame["1.2:rec"] = decided & frame["lag"].notna()
    frame["1.2:den"] = in_period & frame["lag"].notna()
    frame["1.2:num"] = frame["1.2:den"] & (frame["lag"].fillna(10**6) <= within)
    frame["1.3:den"] = True
    frame["1.3:num"] = complete
    frame["1.3:rec"] = True
    frame["3.1:den"] = True
    frame["3.1:num"] = frame["online"]
    frame["3.1:rec"] = frame["online_known"]
    frame["3.5:den"] = frame["fee_procedure"]
    frame["3.5:num"] = frame["fee_procedure"] & frame["fee_lines_recorded"]
    frame["3.5:rec"] = frame["fee_procedure"]
    frame["3.5b:den"] = frame["fee_procedure"]
    frame["3.5b:rec"] = frame["fee_procedure"]
    return frame


# --- units ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A scored unit: an agency alone, an agency with the agencies under it, or the whole city ("total")."""

    code: str
    agency_ids: frozenset[int]
    levels: frozenset[str]


def unit_of(session: Session, agency: str, *, include_children: bool) -> Unit:
    """The unit `agency` names; an unknown code is bad input here (a query parameter), not a missing page."""
    try:
        known = get_agency(session, agency)
    except NotFound as exc:
        raise InvalidInput(str(exc), message_id="agency_not_found", code=agency) from exc
    ids = frozenset(agency_subtree_ids(session, agency)) if include_children else frozenset({known.id})
    tree = agency_tree(session)
    levels = frozenset(a.level for a in tree.by_code.values() if a.id in ids)
    return Unit(known.code, ids, levels)


def every_unit(session: Session) -> list[Unit]:
    """Each agency alone, and the whole city as "total" (what the nightly freeze keeps)."""
    tree = agency_tree(session)
    agencies = list(tree.by_code.values())
    units = [Unit(a.code, frozenset({a.id}), frozenset({a.level})) for a in agencies]
    units.append(Unit("total", frozenset(a.id for a in agencies), frozenset(a.level for a in agencies)))
    return units


def _sum_for(counts: pd.DataFrame, ids: Iterable[int]) -> pd.Series:
    present = counts.index.intersection(list(ids))
    return counts.loc[present].sum() if len(present) else pd.Series(0, index=counts.columns, dtype="int64")


def _figures_for(figures: dict[int, dict[str, int]] | None, ids: Iterable[int], keys) -> dict[str, int] | None:
    if figures is None:
        return None
    total = dict.fromkeys(keys, 0)
    for agency_id in ids:
        for key, value in (figures.get(agency_id) or {}).items():
            if key in total:
                total[key] += int(value or 0)
    return total


def _agency_facts(session: Session, period: Period) -> pd.DataFrame:
    """Per agency of the tree: its level, whether it is active, and 4.6's facts at the period's end: `recorded`
    (its electronic certified copies setting was recorded), `offers` (it offered them by the period's last day)."""
    rows = [
        (a.id, a.code, a.name, a.level, a.active, a.e_certified_copies, a.e_certified_copies_from)
        for a in agency_tree(session).by_id.values()
    ]
    frame = pd.DataFrame(
        rows, columns=["id", "code", "name", "level", "active", "e_certified_copies", "e_certified_copies_from"]
    )
    frame["recorded"] = frame["e_certified_copies"].notna()
    started = frame["e_certified_copies_from"].map(lambda day: day is None or pd.isna(day) or day <= period.last)
    frame["offers"] = frame["e_certified_copies"].eq(True) & started.astype(bool)
    return frame


def _certified_copy_agencies(agencies: pd.DataFrame, unit: Unit) -> pd.DataFrame:
    """The agencies 4.6 counts for the unit (766-4.6-v2): its active communes; a unit without a commune (a
    department, say) is judged on its own active agencies' setting."""
    own = agencies[agencies["id"].isin(unit.agency_ids) & agencies["active"].astype(bool)]
    communes = own[own["level"] == "commune"]
    return communes if len(communes) else own


def _certified_copy_figures(agencies: pd.DataFrame, units: Sequence[Unit]) -> list[ix.Figures]:
    """4.6's figures of every unit at once (`_certified_copy_agencies`, counted in one grouped pass over the
    units' (unit, agency) pairs rather than a filter per unit)."""
    pairs = pd.DataFrame(
        [(number, agency_id) for number, unit in enumerate(units) for agency_id in unit.agency_ids],
        columns=["unit", "id"],
    )
    active = agencies[agencies["active"].astype(bool)]
    facts = pairs.merge(active[["id", "level", "offers", "recorded"]], on="id")
    facts["commune"] = facts["level"] == "commune"
    for name in ("offers", "recorded"):
        facts[f"commune_{name}"] = facts["commune"] & facts[name]
    sums = facts.groupby("unit")[["commune", "commune_offers", "commune_recorded", "offers", "recorded"]].sum()
    sums["agencies"] = facts.groupby("unit").size()
    sums = sums.reindex(range(len(units)), fill_value=0)
    communes = sums["commune"].to_numpy() > 0  # a unit with communes counts them, else its own agencies
    offering = np.where(communes, sums["commune_offers"], sums["offers"])
    counted = np.where(communes, sums["commune"], sums["agencies"])
    recorded = np.where(communes, sums["commune_recorded"], sums["recorded"]) > 0
    return [
        ix.Figures(int(o), int(c), recorded=bool(r)) for o, c, r in zip(offering, counted, recorded, strict=True)
    ]


def _unit_versions(facts: pd.DataFrame, unit: Unit) -> pd.DataFrame:
    owned = facts["agency_id"].isin(unit.agency_ids)
    by_level = facts["agency_id"].isna() & facts["level"].isin(unit.levels)
    return facts[owned | by_level]


def _scorecard(
    unit: Unit,
    *,
    period_key: str,
    counts: pd.DataFrame,
    versions: pd.DataFrame,
    paid_online: pd.DataFrame,
    complaints: dict | None,
    ratings: dict | None,
    syncs: dict | None = None,
    certified_copies: ix.Figures,
) -> dict:
    dossier = _sum_for(counts, unit.agency_ids)
    own = _unit_versions(versions, unit)
    figures: dict[str, ix.Figures] = {}

    def count(indicator: str, part: str) -> int:
        return int(dossier.get(f"{indicator}:{part}", 0))

    for indicator in ("2.1", "3.6", "4.1", "4.2", "4.3", "4.4", "4.5a", "4.5b"):
        figures[indicator] = ix.Figures(
            count(indicator, "num"), count(indicator, "den"), recorded=count(indicator, "rec") > 0
        )
    sync = _figures_for(syncs, unit.agency_ids, SYNC_KEYS)
    # 1.4 v1: synced ÷ the unit's own count (the portal's count, the other side of its max(), is not known here:
    # exchange reconciliation compares it); without a sync record 1.4 is missing and 3.3 takes the rate as 1
    sync_rate = sync["synced"] / sync["received"] if sync and sync["received"] else None
    online_ok, received = count("3.3", "num"), count("3.3", "den")
    figures["3.3"] = ix.Figures(
        online_ok, received, rate=None if not received else online_ok / received * (sync_rate or 1.0)
    )
    figures["1.4"] = (
        ix.Figures(None, None, recorded=False) if sync is None else ix.Figures(sync["synced"], sync["received"])
    )
    figures["4.6"] = certified_copies
    for indicator in ("1.1", "1.2", "1.3", "3.1", "3.5"):
        figures[indicator] = ix.Figures(
            int(own[f"{indicator}:num"].sum()),
            int(own[f"{indicator}:den"].sum()),
            recorded=bool(own[f"{indicator}:rec"].any()),
        )
    fee_codes = set(own.loc[own["fee_procedure"], "code"])
    paid_codes = set(paid_online.loc[paid_online["agency_id"].isin(unit.agency_ids), "procedure_code"])
    figures["3.5b"] = ix.Figures(len(fee_codes & paid_codes), len(fee_codes), recorded=bool(fee_codes))
    complaint = _figures_for(complaints, unit.agency_ids, COMPLAINT_KEYS)
    rating = _figures_for(ratings, unit.agency_ids, RATING_KEYS)
    if complaint is None:
        figures["5.2"] = figures["5.3"] = ix.Figures(None, None, recorded=False)
    else:
        n = complaint["complaints"]
        figures["5.2"] = ix.Figures(complaint["handled_on_time"], n)
        kept = max(0, n - complaint["disliked"] - complaint["overdue"] - complaint["repeated"])
        figures["5.3"] = ix.Figures(kept, n)
    total = count("5.4", "den")
    if complaint is None or rating is None:
        figures["5.4"] = ix.Figures(None, total, recorded=False)
    else:
        unhappy = complaint["dossiers_with_complaint"] + rating["dossiers_dissatisfied"]
        satisfied = max(0, total - count("5.4", "bad") - unhappy)
        figures["5.4"] = ix.Figures(satisfied, total)
    lines = [ix.score(formula, figures[formula.indicator]) for formula in load_formulas()]
    missing = [
        {"id": line["id"], "name": line["name"], "needs": NEEDS.get(line["id"], "")}
        for line in lines
        if line["points"] is None
    ]
    return {
        "period": period_key,
        "agency": unit.code,
        "total_points": round(sum(line["points"] or 0.0 for line in lines), 2),
        "max_points": int(ix.MAX_POINTS),
        "indicators": lines,
        "missing_data": missing,
    }


def scorecards(
    session: Session, *, period: Period, period_key: str, units: Sequence[Unit], calendar: WorkingCalendar
) -> list[dict]:
    """The scorecard of each unit: one scan of the dossiers, one of the paid-online index, the catalogue."""
    ids = sorted(set().union(*(unit.agency_ids for unit in units))) if units else []
    every = len(ids) >= len(agency_tree(session).by_code)
    scope = None if every else ids
    counts = _dossier_counts(session, period, scope)
    versions = _procedure_facts(_versions(session, period), period, calendar)
    paid_online = _paid_online_codes(session, period, scope)
    complaints = complaint_figures(session, scope, period.start, period.end)
    ratings = rating_figures(session, scope, period.start, period.end)
    syncs = sync_figures(session, scope, period.start, period.end)
    certified_copies = _certified_copy_figures(_agency_facts(session, period), units)
    return [
        _scorecard(
            unit,
            period_key=period_key,
            counts=counts,
            versions=versions,
            paid_online=paid_online,
            complaints=complaints,
            ratings=ratings,
            syncs=syncs,
            certified_copies=copies,
        )
        for unit, copies in zip(units, certified_copies, strict=True)
    ]


def scorecard(
    session: Session,
    *,
    period: Period,
    period_key: str,
    agency: str,
    include_children: bool = False,
    calendar: WorkingCalendar,
) -> dict:
    """One unit's scorecard (the API and the dashboard page)."""
    unit = unit_of(session, agency, include_children=include_children)
    return scorecards(session, period=period, period_key=period_key, units=[unit], calendar=calendar)[0]


SCORECARD = "766-scorecard-v1"


def scorecard_score(card: dict) -> dict:
    """A scorecard as one of a frozen snapshot's scores (and so of the index feed): the total, every line."""
    return {
        "formula": SCORECARD,
        "value": card["total_points"],
        "unit": "points",
        "max_points": card["max_points"],
        "indicators": card["indicators"],
        "missing_data": card["missing_data"],
    }


# --- what cost the points -------------------------------------------------------------------------

KINDS = {
    **dict.fromkeys(PROCEDURE_INDICATORS, "procedures"),
    SYNC_INDICATOR: "dossiers",
    **dict.fromkeys(DOSSIER_INDICATORS, "dossiers"),
    "4.6": "agencies",
    "5.2": "complaints",
    "5.3": "complaints",
}
"""What each indicator's drill-down lists: dossiers, procedure versions, complaints or agencies."""
LISTED = tuple(KINDS)
DOSSIER_COLUMNS = (
    "code", "procedure_code", "procedure_name", "channel", "status", "outcome", "supplement_count",
    "received_at", "original_due_at", "finished_at", "electronic_result", "vneid_verified", "index_flags",
)  # fmt: skip


@dataclass(frozen=True)
class Costly:
    """What cost an indicator's points at a unit, one page of `rows` (of `kind`) out of `total`.

    5.4 lists its dossiers late in 2.1 or named by a complaint (`reasons`), and gives the dissatisfied ratings
    apart, as counts per unit and procedure (a rating is anonymous: never shown per dossier), with how many of
    those dossiers were also named by a complaint (counted once in 5.4, and listed already)."""

    rows: pd.DataFrame
    total: int
    kind: str
    dissatisfied: list[dict] | None = None
    dissatisfied_also_complained: int | None = None


def _refuse_unlisted(indicator: str) -> None:
    formulas = formulas_by_id()
    if indicator not in formulas:
        raise InvalidInput(f"unknown indicator {indicator!r}; accepted: {', '.join(formulas)}", message_id="indicator")
    wired = {
        SYNC_INDICATOR: _SYNCED[0] is not None,
        "5.2": _SOURCES["complaints"] is not None,
        "5.3": _SOURCES["complaints"] is not None,
        "5.4": _SOURCES["complaints"] is not None and _SOURCES["ratings"] is not None,
    }
    if indicator not in KINDS or not wired.get(indicator, True):
        raise InvalidInput(
            f"indicator {indicator} is not counted from this system's records ({NEEDS.get(indicator, '')}); "
            f"listed: {', '.join(i for i in LISTED if wired.get(i, True))}",
            message_id="indicator_not_listed",
        )


def costly(
    session: Session,
    *,
    indicator: str,
    period: Period,
    agency: str,
    include_children: bool = False,
    calendar: WorkingCalendar,
    page: int = 1,
    page_size: int = 50,
) -> Costly:
    """What cost `indicator`'s points at the unit, with the scorecard's scope (the unit's agencies, and with
    `include_children` those under it): the dossiers, procedure versions, agencies or complaints counted in its
    denominator and not in its numerator; for 5.4, its late dossiers and those named by a complaint."""
    _refuse_unlisted(indicator)
    unit = unit_of(session, agency, include_children=include_children)
    kind = KINDS[indicator]
    if kind == "procedures":
        return Costly(*_costly_procedures(session, indicator, period, unit, calendar, page, page_size), kind)
    if kind == "agencies":
        return Costly(*_costly_agencies(session, period, unit, page, page_size), kind)
    if kind == "complaints":
        return Costly(*_costly_complaints(session, indicator, period, unit, page, page_size), kind)
    rows, total = _costly_dossiers(session, indicator, period, unit, page, page_size)
    if indicator != "5.4":
        return Costly(rows, total, kind)
    ids = sorted(unit.agency_ids)
    codes = {a.id: a.code for a in agency_tree(session).by_id.values()}
    ratings = [
        {"agency_code": codes[row["agency_id"]], **{k: v for k, v in row.items() if k != "agency_id"}}
        for row in dissatisfied_counts(session, ids, period.start, period.end)
    ]
    both = complaint_register.dissatisfied_also_complained(session, ids, period.start, period.end)
    return Costly(rows, total, kind, dissatisfied=ratings, dissatisfied_also_complained=both)


def _costly_dossiers(session, indicator, period, unit, page, page_size) -> tuple[pd.DataFrame, int]:
    d = Dossier
    facts = _SqlFacts(period)
    # as the scan counts them: received, not refused at intake, received in or carried into the period
    counted = and_(d.received_at.is_not(None), d.status_code != Status.REFUSED, cell_condition(period, "total"))
    reasons = {}
    if indicator == SYNC_INDICATOR:  # received in the period, never accepted by the portal
        condition = and_(counted, facts.received_in, ~_SYNCED[0]())
    elif indicator == "5.4":  # late or overdue in 2.1, or named by a complaint received in the period (any dossier
        # of the unit, as complaints.figures counts it)
        reasons = {
            "late": and_(counted, facts.progress == 2),
            "complaint": d.id.in_(complaint_register.complained_dossiers(period.start, period.end)),
        }
        condition = or_(*reasons.values())
    else:
        den, num, *_ = _members(facts)[indicator]
        condition = and_(counted, den, ~num)
    query = select(d.id).where(d.receiving_agency_id.in_(sorted(unit.agency_ids)), condition)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ids = query.order_by(d.received_at, d.id).offset((page - 1) * page_size).limit(page_size)
    flags = [case((met, 1), else_=0).label(reason) for reason, met in reasons.items()]
    rows = session.execute(
        select(*(getattr(d, c) for c in DOSSIER_COLUMNS if c != "procedure_name"), Procedure.name, *flags)
        .join(Procedure, Procedure.id == d.procedure_id)
        .where(d.id.in_(ids.scalar_subquery()))
        .order_by(d.received_at, d.id)
    ).all()
    columns = [c for c in DOSSIER_COLUMNS if c != "procedure_name"] + ["procedure_name", *reasons]
    frame = pd.DataFrame(rows, columns=columns)
    if reasons:  # "late", "complaint" or "late,complaint"
        late, complaint = (frame[reason].astype(bool).to_numpy() for reason in reasons)
        frame["reasons"] = np.where(late & complaint, "late,complaint", np.where(late, "late", "complaint"))
        frame["reasons"] = frame["reasons"].astype(object)
        frame = frame.drop(columns=list(reasons))
    order = [*DOSSIER_COLUMNS, *(["reasons"] if reasons else [])]
    return frame[order], total


def _costly_complaints(session, indicator, period, unit, page, page_size) -> tuple[pd.DataFrame, int]:
    """5.2: the complaints that missed a clock; 5.3: those, and the disliked and repeated ones. What a staff
    complaint list shows (number, unit, category, received, status, the clocks missed), never the content."""
    listed = complaint_register.costly_complaints(session, sorted(unit.agency_ids), period.start, period.end)
    codes = {a.id: a.code for a in agency_tree(session).by_id.values()}
    rows = []
    for complaint in listed:
        clocks = [reason.removeprefix("late_") for reason in complaint["reasons"] if reason.startswith("late_")]
        if indicator == "5.2" and not clocks:
            continue
        row = {
            "id": complaint["id"],
            "agency_code": codes[complaint["agency_id"]],
            "category": complaint["category"],
            "received_at": complaint["received_at"],
            "complaint_status": complaint["status"],
            "missed_clocks": ",".join(clocks),
        }
        if indicator == "5.3":
            row.update(disliked="disliked" in complaint["reasons"], repeated="repeated" in complaint["reasons"])
        rows.append(row)
    columns = ["id", "agency_code", "category", "received_at", "complaint_status", "missed_clocks"]
    if indicator == "5.3":
        columns += ["disliked", "repeated"]
    frame = pd.DataFrame(rows[(page - 1) * page_size : page * page_size], columns=columns)
    return frame.astype(object).where(frame.notna(), None), len(rows)


def _costly_agencies(session, period, unit, page, page_size) -> tuple[pd.DataFrame, int]:
    """4.6: the agencies it counts for the unit that did not offer electronic certified copies by the period's
    end (their setting false, not yet in force, or never recorded)."""
    agencies = _certified_copy_agencies(_agency_facts(session, period), unit)
    costly = agencies[~agencies["offers"]].sort_values("code")
    columns = ["code", "name", "level", "e_certified_copies", "e_certified_copies_from"]
    frame = (
        costly.iloc[(page - 1) * page_size : page * page_size][columns]
        .rename(columns={"code": "agency_code", "name": "agency_name"})
        .reset_index(drop=True)
    )
    frame["e_certified_copies_from"] = frame["e_certified_copies_from"].map(
        lambda day: day.isoformat() if isinstance(day, date) else None
    )
    return frame.astype(object).where(frame.notna(), None), len(costly)


def _costly_procedures(session, indicator, period, unit, calendar, page, page_size) -> tuple[pd.DataFrame, int]:
    facts = _unit_versions(_procedure_facts(_versions(session, period), period, calendar), unit)
    if indicator == "3.5b":
        paid = set(_paid_online_codes(session, period, sorted(unit.agency_ids))["procedure_code"])
        costly = facts[facts["fee_procedure"] & ~facts["code"].isin(paid)]
    else:
        costly = facts[facts[f"{indicator}:den"] & ~facts[f"{indicator}:num"]]
    costly = costly.drop_duplicates("code").sort_values("code")
    total = len(costly)
    page_rows = costly.iloc[(page - 1) * page_size : page * page_size]
    frame = page_rows[
        ["code", "name", "level", "online_level", "fee", "decision_date", "legal_basis_effective_date", "published_on"]
    ].rename(columns={"code": "procedure_code", "name": "procedure_name"}).reset_index(drop=True)
    for column in ("decision_date", "legal_basis_effective_date", "published_on"):
        frame[column] = frame[column].map(lambda day: day.isoformat() if isinstance(day, date) else None)
    return frame.astype(object).where(frame.notna(), None), total


def agency_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Agency.code, Agency.name)).all())
