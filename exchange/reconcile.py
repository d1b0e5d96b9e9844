"""Reconciliation: the national portal's per-unit figures for a period beside ours, each difference explained.

The portal's progress statistics (Decision 766, indicator 2.1) count per unit the dossiers handled in the period
(`received`: carried over and new), those `on time` (finished early or on time, withdrawn, or still within their
due at the period's end) and `overdue` (finished late or still past their due): on time + overdue = received,
ratio = on time ÷ received, score = 20 × ratio. Ours are the same counts of the period report
(`sla.reports.period_report`, the `766-progress-v1` formula), summed over the unit and the agencies under it.

A difference is explained by the dossiers behind it, each moving the figures by what the portal sees of it
(docs/exchange.md, "Reconcile"):

- `not_synced`: counted by us, never seen by the portal (no record of it reached it);
- `received_in_another_period`: submitted online in the period but received after it (the portal dates it by its
  submission and counts it, we by its receipt and do not);
- `status_differs`: the portal still has the status its record had (`imported_dossier.their_status_code`), ours
  moved on;
- `appointment_differs`: its record's appointment (`NgayHenTra`) puts it on the other side of on time than ours.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import and_, literal, or_, select
from sqlmodel import Session

from dossiers.models import Dossier
from exchange.import_models import ImportedDossier
from kernel.db import UTCDateTime
from kernel.errors import InvalidInput
from procedures.service import agency_tree
from sla.core.calendar import LOCAL_TZ, RESOLVED_OUTCOMES
from sla.core.lifecycle import CLOCK_STOPPED_STATUSES, RUNNING_STATUSES, Status
from sla.core.rates import PROGRESS_766_MAX_POINTS, period_bounds
from sla.reports import Period, cell_condition, day_start, period_report

PORTAL_COLUMNS = ("departmentCode", "departmentName", "level", "totalReceived", "totalOnTime", "totalLate",
                  "totalWithinDue", "totalOverdue", "ratio", "score", "maxScore")  # fmt: skip
REQUIRED_COLUMNS = ("departmentCode", "totalReceived", "totalOnTime", "totalOverdue")
FIGURES = ("received", "on_time", "late", "within_due", "overdue")
KINDS = ("not_synced", "received_in_another_period", "status_differs", "appointment_differs")
DOSSIERS_SHOWN = 20
FINAL_STATUSES = (7, 8, 9, 10)


@dataclass
class Figures:
    received: int | None = None
    on_time: int | None = None
    late: int | None = None
    within_due: int | None = None
    overdue: int | None = None
    score: float | None = None

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in (*FIGURES, "score")}


@dataclass
class PortalUnit:
    code: str
    name: str | None
    level: str | None
    figures: Figures
    line: int


@dataclass
class Explanation:
    kind: str
    dossiers: int
    moves: dict[str, int]
    """What these dossiers make of ours minus the portal's, per figure."""
    codes: list[str]
    """The first `DOSSIERS_SHOWN` of them."""


@dataclass
class UnitReconciliation:
    code: str
    name: str | None
    level: str | None
    portal: Figures
    ours: Figures
    difference: dict[str, int | None]
    """Ours minus the portal's, per figure (None: the portal's file leaves it out)."""
    explanations: list[Explanation] = field(default_factory=list)
    unexplained: dict[str, int | None] = field(default_factory=dict)
    known: bool = True
    """Whether the unit's code is one of our agencies."""

    @property
    def agrees(self) -> bool:
        return all(not value for value in self.difference.values()) and abs(
            (self.ours.score or 0) - (self.portal.score or 0)
        ) < 0.005


@dataclass
class Reconciliation:
    period: str
    first: str
    last: str
    units: list[UnitReconciliation]

    def lines(self) -> list[str]:
        out = [f"period {self.period} ({self.first} – {self.last}); figures: ours / the portal's (ours − portal)"]
        for unit in self.units:
            if not unit.known:
                out.append(f"{unit.code}: not one of our agencies")
                continue
            figures = "  ".join(
                f"{name} {getattr(unit.ours, name)}/{getattr(unit.portal, name)} ({_signed(unit.difference[name])})"
                for name in FIGURES
                if getattr(unit.portal, name) is not None
            )
            score = f"score {_points(unit.ours.score)}/{_points(unit.portal.score)}"
            out.append(f"{unit.code} {unit.name or ''}: {figures}  {score}{'  agrees' if unit.agrees else ''}")
            for explanation in unit.explanations:
                moves = ", ".join(f"{name} {_signed(value)}" for name, value in explanation.moves.items() if value)
                codes = ", ".join(explanation.codes)
                more = f" … and {explanation.dossiers - len(explanation.codes)} more" if explanation.dossiers > len(
                    explanation.codes) else ""  # fmt: skip
                out.append(f"  {explanation.kind}: {explanation.dossiers} dossiers ({moves or 'no figure moved'}): "
                           f"{codes}{more}")  # fmt: skip
            left = {name: value for name, value in unit.unexplained.items() if value}
            if left:
                out.append("  unexplained: " + ", ".join(f"{name} {_signed(value)}" for name, value in left.items()))
        return out


def _signed(value: int | None) -> str:
    return "–" if value is None else f"{value:+d}"


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


# --- the portal's file ---------------------------------------------------------------------------


def read_portal(content: bytes) -> list[PortalUnit]:
    """The portal's figures per unit (CSV, `PORTAL_COLUMNS`; docs/exchange.md): every bad cell named by line and
    column, nothing read if there is one."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the portal's file is not UTF-8 text: {exc}", message_id="portal_file") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise InvalidInput(
            f"the portal's file lacks the columns {', '.join(missing)}; its columns: {', '.join(PORTAL_COLUMNS)} "
            "(docs/exchange.md, Reconcile)",
            message_id="portal_columns",
            columns=", ".join(missing),
        )
    units, problems, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        code = row.get("departmentCode", "")
        if not code:
            problems.append({"line": line, "column": "departmentCode", "message": "missing"})
            continue
        if code in seen:
            problems.append({"line": line, "column": "departmentCode", "message": f"{code} is also on line "
                             f"{seen[code]}"})  # fmt: skip
            continue
        seen[code] = line
        values = {}
        for column, name in (("totalReceived", "received"), ("totalOnTime", "on_time"), ("totalLate", "late"),
                             ("totalWithinDue", "within_due"), ("totalOverdue", "overdue")):  # fmt: skip
            cell = row.get(column, "")
            if cell == "":
                if column in REQUIRED_COLUMNS:
                    problems.append({"line": line, "column": column, "message": "missing: a whole number"})
                values[name] = None
            elif cell.isdigit():
                values[name] = int(cell)
            else:
                problems.append({"line": line, "column": column, "message": f"{cell!r} is not a whole number"})
        score = row.get("score", "")
        try:
            values["score"] = float(score.replace(",", ".")) if score else None
        except ValueError:
            problems.append({"line": line, "column": "score", "message": f"{score!r} is not a number (e.g. 19.38)"})
        if not problems or problems[-1]["line"] != line:
            figures = Figures(**values)
            if None not in (figures.received, figures.on_time, figures.overdue) and (
                figures.on_time + figures.overdue != figures.received
            ):
                problems.append({"line": line, "column": "totalReceived", "message": f"on time {figures.on_time} + "
                                 f"overdue {figures.overdue} is not received {figures.received}, as the portal "
                                 "counts them"})  # fmt: skip
                continue
            if figures.score is None and figures.received:
                figures.score = PROGRESS_766_MAX_POINTS * figures.on_time / figures.received
            units.append(PortalUnit(code, row.get("departmentName") or None, row.get("level") or None, figures, line))
    if problems:
        raise InvalidInput(
            f"{len(problems)} bad cells in the portal's file: "
            + "; ".join(f"line {p['line']}, {p['column']}: {p['message']}" for p in problems[:5]),
            errors=problems,
            message_id="portal_file_cells",
            count=len(problems),
        )
    if not units:
        raise InvalidInput("the portal's file has no unit", message_id="portal_file_empty")
    return units


# --- ours and the explanations -------------------------------------------------------------------


Synced = Callable[[], object]
"""The SQL condition of a dossier the portal has (default: it came from the system that syncs, i.e. imported)."""


def _imported() -> object:
    return ImportedDossier.dossier_id.is_not(None)


def reconcile(session: Session, *, period: str, units: list[PortalUnit], synced: Synced = _imported) -> Reconciliation:
    """Each portal unit's figures beside ours for `period`, with the dossiers that explain the differences."""
    try:
        first, last = period_bounds(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), message_id="period_format") from exc
    bounds = Period(first, last)
    report = period_report(session, period=bounds, group_by="agency")
    report = report[report["group"] != "total"]
    tree = agency_tree(session)
    counts = {row["agency_code"]: row for row in report.to_dict("records")}
    result = []
    for unit in units:
        if unit.code not in tree.by_code:
            result.append(UnitReconciliation(unit.code, unit.name, unit.level, unit.figures, Figures(),
                                             dict.fromkeys(FIGURES), known=False))  # fmt: skip
            continue
        ids = tree.subtree_ids(unit.code)
        rows = [counts[tree.by_id[i].code] for i in ids if tree.by_id[i].code in counts]
        ours = _figures(rows)
        difference = {
            name: None if getattr(unit.figures, name) is None else getattr(ours, name) - getattr(unit.figures, name)
            for name in FIGURES
        }
        reconciled = UnitReconciliation(unit.code, unit.name or tree.by_code[unit.code].name, unit.level,
                                        unit.figures, ours, difference)  # fmt: skip
        reconciled.explanations = _explanations(session, bounds, sorted(ids), synced)
        reconciled.unexplained = {
            name: None if value is None else value - sum(e.moves[name] for e in reconciled.explanations)
            for name, value in difference.items()
        }
        result.append(reconciled)
    return Reconciliation(period, first.isoformat(), last.isoformat(), result)


def _figures(rows: list[dict]) -> Figures:
    def total(name: str) -> int:
        return int(sum(row[name] for row in rows))

    received = total("total")
    on_time = total("early") + total("on_time") + total("withdrawn") + total("open_within")
    return Figures(
        received=received,
        on_time=on_time,
        late=total("late"),
        within_due=total("open_within"),
        overdue=total("late") + total("open_overdue"),
        score=PROGRESS_766_MAX_POINTS * on_time / received if received else None,
    )


def _explanations(session: Session, period: Period, agency_ids: list[int], synced: Synced) -> list[Explanation]:
    d, i = Dossier, ImportedDossier
    counted = and_(d.received_at.is_not(None), d.status_code != Status.REFUSED, cell_condition(period, "total"))
    end = literal(period.end, UTCDateTime())
    start = literal(period.start, UTCDateTime())
    submitted_here = and_(
        d.submitted_at >= start, d.submitted_at < end, or_(d.received_at.is_(None), d.received_at >= end),
        d.status_code != Status.REFUSED,
    )  # fmt: skip
    query = (
        select(
            d.code, d.status_code, d.outcome, d.finished_at, d.original_due_at, d.clock_stopped_since,
            counted.label("counted"), submitted_here.label("submitted_here"),
            cell_condition(period, "late").label("late"), cell_condition(period, "open_within").label("within"),
            cell_condition(period, "open_overdue").label("open_overdue"),
            synced().label("synced"), i.dossier_id.label("imported"), i.their_status_code, i.their_appointment_at,
        )  # fmt: skip
        .outerjoin(i, i.dossier_id == d.id)
        .where(d.receiving_agency_id.in_(agency_ids), or_(counted, submitted_here))
        .order_by(d.received_at, d.id)
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=list(query.selected_columns.keys()))
    found: dict[str, Explanation] = {kind: Explanation(kind, 0, dict.fromkeys(FIGURES, 0), []) for kind in KINDS}
    last_day = day_start(period.last)
    for row in frame.itertuples(index=False):
        ours = _our_view(row)
        kind, portal = _portal_view(row, period, last_day)
        if kind is None:
            continue
        moves = {name: int(ours.get(name, 0)) - int(portal.get(name, 0)) for name in FIGURES}
        if kind == "appointment_differs" and not any(moves.values()):
            continue  # another appointment, the same side of on time: nothing behind a difference
        explanation = found[kind]
        explanation.dossiers += 1
        for name, value in moves.items():
            explanation.moves[name] += value
        if len(explanation.codes) < DOSSIERS_SHOWN:
            explanation.codes.append(row.code)
    return [e for e in found.values() if e.dossiers]


def _our_view(row) -> dict[str, int]:
    if not row.counted:
        return {}
    late, within, open_overdue = bool(row.late), bool(row.within), bool(row.open_overdue)
    overdue = late or open_overdue
    return {"received": 1, "on_time": int(not overdue), "late": int(late), "within_due": int(within),
            "overdue": int(overdue)}  # fmt: skip


def _portal_view(row, period: Period, last_day: datetime) -> tuple[str | None, dict[str, int]]:
    """Which kind of difference the dossier is (None: none) and what the portal counts of it."""
    if row.submitted_here and not row.counted:
        return "received_in_another_period", {"received": 1, "on_time": 1, "within_due": 1}
    if not row.synced:
        return "not_synced", {}
    if row.imported is None or pd.isna(row.imported):
        return None, _our_view(row)
    their_due = _aware(row.their_appointment_at) or _aware(row.original_due_at)
    if row.their_status_code != row.status_code:
        status = int(row.their_status_code)
        if status in RUNNING_STATUSES:
            overdue = their_due is not None and their_due < last_day
            return "status_differs", {"received": 1, "on_time": int(not overdue), "within_due": int(not overdue),
                                      "overdue": int(overdue)}  # fmt: skip
        if status in (*CLOCK_STOPPED_STATUSES, Status.WITHDRAWN, Status.STOPPED):
            return "status_differs", {"received": 1, "on_time": 1, "within_due": int(status in CLOCK_STOPPED_STATUSES)}
        return "status_differs", _our_view(row)  # resolved there too: its date is not known to us
    ours = _aware(row.original_due_at)
    if their_due is None or ours is None or _day(their_due) == _day(ours):
        return None, _our_view(row)
    finished = _aware(row.finished_at)
    if finished is not None and finished < period.end and row.outcome in RESOLVED_OUTCOMES:
        late = _day(finished) > _day(their_due)
        return "appointment_differs", {"received": 1, "on_time": int(not late), "late": int(late),
                                       "overdue": int(late)}  # fmt: skip
    if finished is None or finished >= period.end:
        stopped = row.status_code in CLOCK_STOPPED_STATUSES and (row.clock_stopped_since is None or ours >= _aware(
            row.clock_stopped_since))  # fmt: skip
        overdue = not stopped and their_due < last_day
        return "appointment_differs", {"received": 1, "on_time": int(not overdue), "within_due": int(not overdue),
                                       "overdue": int(overdue)}  # fmt: skip
    return None, _our_view(row)


def _aware(value) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    value = pd.Timestamp(value).to_pydatetime()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(instant: datetime):
    return instant.astimezone(LOCAL_TZ).date()
