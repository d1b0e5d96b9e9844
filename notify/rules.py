"""Warning and escalation rules, and their evaluation over every open dossier at once.

Rules (per agency, inherited down the tree, and per procedure, with defaults):
- warn the handling agency when a stage (or the whole dossier) has used `warn_share` of its allotment, or
  is `warn_working_hours_before` its due, whichever comes first;
- remind the holder that an apology (form 04) is owed, `apology_lead_working_hours` before the last instant
  to issue it (one working day before the due), while the dossier is unresolved and has none;
- escalate a stage overdue by each level's `after_working_days`: to the unit's managers, then to the
  centre's director (a role at the top of the tree, or named users), repeating every `every_working_days`
  until the dossier moves (the stage ends, the clock stops);
- remind the citizen of a supplement not yet brought, `supplement_reminder_working_days` into the
  15-working-day limit.

Evaluation reads the stored dues and stages as arrays and computes with the working calendar's vectorised
functions: no loop per dossier. Nothing is stored ahead: a run measures against the dues as they are now,
so a calendar change (which moves the dues) moves the warnings, and a stopped clock (status 5, 6) makes
none. Each firing has a key (its cause and the person); a cause already told is not told again.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ARRAY, BigInteger, Integer, String, any_, cast, exists, extract, func, literal, select
from sqlmodel import Session

from dossiers.models import Dossier, DossierEvent, Stage
from kernel.db import existing, insert_columns, without_jit
from kernel.errors import NotFound
from kernel.schemas import Input
from notify import outbox
from notify.models import NotifyRule, OutboxMessage, StaffNotification
from notify.outbox import Links
from notify.quiet import CITIZEN_HOURS, Calendars, next_working_instant
from notify.staff import Staff
from procedures.models import Procedure
from procedures.service import agency_tree, get_agency
from sla.core.lifecycle import RUNNING_STATUSES, Status

log = logging.getLogger("motcua.notify")


class EscalationLevel(Input):
    model_config = ConfigDict(extra="forbid")

    after_working_days: float = Field(gt=0, le=365, description="overdue by this much: this level is told")
    every_working_days: float = Field(gt=0, le=365, description="told again at this interval while nothing moves")
    to: Literal["unit", "centre"] = Field(
        description="unit: the managers of the agency holding the late stage (else of its nearest ancestor); "
        "centre: the managers (or `role`) at the top of its tree, or `usernames`"
    )
    role: Literal["manager", "officer", "clerk"] = "manager"
    agency_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None, description="centre: the agency whose `role` users are told (default: the top of the tree)"
    )
    usernames: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default=[], max_length=50, description="named users instead of a role"
    )


class RuleSettings(BaseModel):
    warn_share: float | None = 0.75
    warn_working_hours_before: float | None = None
    apology_reminder: bool = True
    apology_lead_working_hours: float = 4.0
    supplement_reminder_working_days: float | None = 10.0
    escalation: tuple[EscalationLevel, ...] = (
        EscalationLevel(after_working_days=1, every_working_days=1, to="unit"),
        EscalationLevel(after_working_days=3, every_working_days=2, to="centre"),
    )


DEFAULTS = RuleSettings()
RULE_FIELDS = (
    "warn_share",
    "warn_working_hours_before",
    "apology_reminder",
    "apology_lead_working_hours",
    "supplement_reminder_working_days",
    "escalation",
)


class RuleIn(Input):
    """A rule for an agency (and those below it), a procedure, or both; an empty field inherits."""

    model_config = ConfigDict(extra="forbid")

    agency_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    procedure_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    warn_share: float | None = Field(default=None, gt=0, lt=1, description="share of the allotment, e.g. 0.75")
    warn_working_hours_before: float | None = Field(default=None, gt=0, le=2000)
    apology_reminder: bool | None = None
    apology_lead_working_hours: float | None = Field(default=None, ge=0, le=80)
    supplement_reminder_working_days: float | None = Field(default=None, gt=0, lt=15)
    escalation: list[EscalationLevel] | None = Field(default=None, max_length=5)

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, escalation: list[EscalationLevel] | None) -> list[EscalationLevel] | None:
        if escalation:
            after = [level.after_working_days for level in escalation]
            if after != sorted(set(after)):
                raise PydanticCustomError(
                    "escalation_order",
                    "escalation levels climb: each level's after_working_days above the previous one's",
                )
        return escalation


class RuleRead(RuleIn):
    id: int


# --- the rules ------------------------------------------------------------------------------------


def save_rule(session: Session, data: RuleIn, *, actor: str) -> RuleRead:
    agency_id = get_agency(session, data.agency_code).id if data.agency_code else None
    row = session.execute(
        select(NotifyRule).where(
            NotifyRule.agency_id.is_(None) if agency_id is None else NotifyRule.agency_id == agency_id,
            NotifyRule.procedure_code.is_(None)
            if data.procedure_code is None
            else NotifyRule.procedure_code == data.procedure_code,
        )
    ).scalar_one_or_none()
    values = data.model_dump(include=set(RULE_FIELDS), mode="json")
    if row is None:
        row = NotifyRule(agency_id=agency_id, procedure_code=data.procedure_code, updated_by=actor, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by, row.updated_at = actor, datetime.now(UTC)
    session.flush()
    return RuleRead(id=row.id, **data.model_dump())


def list_rules(session: Session) -> list[RuleRead]:
    tree = agency_tree(session)
    return [
        RuleRead(
            id=row.id,
            agency_code=tree.by_id[row.agency_id].code if row.agency_id in tree.by_id else None,
            procedure_code=row.procedure_code,
            **{name: getattr(row, name) for name in RULE_FIELDS},
        )
        for row in session.execute(select(NotifyRule).order_by(NotifyRule.id)).scalars()
    ]


def delete_rule(session: Session, rule_id: int) -> None:
    row = session.get(NotifyRule, rule_id)
    if row is None:
        raise NotFound(f"no rule {rule_id}; GET /api/v1/notify/rules lists them", message_id="rule_not_found")
    session.delete(row)


class RuleBook:
    """The effective settings of (agency, procedure) pairs: defaults ← the agency's ancestors, top down ← the
    procedure's own rule ← the rules for the procedure at those agencies, top down."""

    def __init__(self, session: Session, staff: Staff) -> None:
        self._staff = staff
        self._agency: dict[int, dict] = {}
        self._procedure: dict[str, dict] = {}
        self._pair: dict[tuple[int, str], dict] = {}
        self._default: dict = {}
        for row in session.execute(select(NotifyRule)).scalars():
            values = {name: getattr(row, name) for name in RULE_FIELDS if getattr(row, name) is not None}
            if row.agency_id is None and row.procedure_code is None:
                self._default = values
            elif row.procedure_code is None:
                self._agency[row.agency_id] = values
            elif row.agency_id is None:
                self._procedure[row.procedure_code] = values
            else:
                self._pair[(row.agency_id, row.procedure_code)] = values
        self._chains: dict[int, list[int]] = {}
        self._by_rules: dict[tuple, RuleSettings] = {}
        self._records: dict[tuple, dict] = {}

    def _applicable(self, agency_id: int, procedure_code: str) -> tuple:
        """Which rules apply to the pair, in the order they are laid over the defaults (the settings' cache key:
        the pairs of a city share a handful of them)."""
        chain = self._chains.get(agency_id)
        if chain is None:
            chain = self._chains[agency_id] = list(reversed(self._staff.ancestors(agency_id)))
        return (
            *(("agency", a) for a in chain if a in self._agency),
            *((("procedure", procedure_code),) if procedure_code in self._procedure else ()),
            *(("pair", a) for a in chain if (a, procedure_code) in self._pair),
        )

    def settings(self, agency_id: int, procedure_code: str) -> RuleSettings:
        applicable = self._applicable(agency_id, procedure_code)
        found = self._by_rules.get(applicable)
        if found is None:
            merged = {**DEFAULTS.model_dump(), **self._default}
            for kind, which in applicable:
                if kind == "agency":
                    merged.update(self._agency[which])
                elif kind == "procedure":
                    merged.update(self._procedure[which])
                else:
                    merged.update(self._pair[(which, procedure_code)])
            found = self._by_rules[applicable] = RuleSettings(**merged)
        return found

    def _record(self, agency_id: int, procedure_code: str) -> dict:
        applicable = self._applicable(agency_id, procedure_code)
        record = self._records.get(applicable)
        if record is None:
            rule = self.settings(agency_id, procedure_code)
            record = self._records[applicable] = {
                "warn_share": np.nan if rule.warn_share is None else rule.warn_share,
                "warn_hours": np.nan if rule.warn_working_hours_before is None else rule.warn_working_hours_before,
                "apology_reminder": rule.apology_reminder,
                "apology_lead_hours": rule.apology_lead_working_hours,
                "supplement_days": np.nan
                if rule.supplement_reminder_working_days is None
                else rule.supplement_reminder_working_days,
                "ladder": json.dumps([level.model_dump() for level in rule.escalation], sort_keys=True),
            }
        return record

    def columns(self, agency_ids: np.ndarray, procedure_codes: np.ndarray) -> pd.DataFrame:
        """The settings of each row's pair, as columns (one lookup per distinct pair)."""
        pairs = pd.DataFrame({"agency_id": agency_ids, "procedure_code": procedure_codes})
        distinct = pairs.drop_duplicates().reset_index(drop=True)
        records = [
            self._record(int(agency_id), code)
            for agency_id, code in zip(distinct["agency_id"], distinct["procedure_code"], strict=True)
        ]
        table = pd.concat([distinct, pd.DataFrame.from_records(records, index=distinct.index)], axis=1)
        return pairs.merge(table, on=["agency_id", "procedure_code"], how="left")


# --- evaluation -----------------------------------------------------------------------------------


def _epoch_minutes(column, dialect: str):
    """An instant column read as whole minutes since the epoch (UTC), a plain integer."""
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", column) / 60), BigInteger)
    return cast(func.strftime("%s", column), Integer) / 60


def _frame(session: Session, query, columns: list[str]) -> pd.DataFrame:
    """The rows as a frame, column by column. PostgreSQL sends each column as one array (`array_agg`: one row,
    decoded in C, not a Python row per dossier); SQLite's rows are transposed."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = query.subquery()
        values = connection.execute(select(*(func.array_agg(column) for column in rows.c))).one()
        return pd.DataFrame({name: _column(value or ()) for name, value in zip(columns, values, strict=True)})
    found = connection.execute(query).fetchall()
    transposed = zip(*found, strict=True) if found else ([] for _ in columns)
    return pd.DataFrame({name: _column(value) for name, value in zip(columns, transposed, strict=True)})


def _column(values) -> np.ndarray | list:
    """Integers (without NULLs) as an int64 array at once; other values as a list for pandas to type (pandas
    types a list of integers through an object array first: four times as long)."""
    values = list(values)
    if values and type(values[0]) is int:
        array = np.array(values)
        if array.dtype.kind == "i":
            return array
    return values


def _minutes(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype("datetime64[m]")


@dataclass
class Firing:
    """Rules that fired, one row per cause (before the fan-out to people)."""

    rows: list[pd.DataFrame] = field(default_factory=list)

    def add(self, frame: pd.DataFrame, *, kind: str, target: str, level: int | None = None) -> None:
        if len(frame):
            frame = frame.assign(kind=kind, target=target, level=level)
            self.rows.append(frame[["dossier_id", "agency_id", "due_min", "cause", "kind", "target", "level"]])

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return pd.DataFrame(columns=["dossier_id", "agency_id", "due_min", "cause", "kind", "target", "level"])
        return pd.concat(self.rows, ignore_index=True)


@dataclass
class Evaluation:
    at: datetime
    open_stages: int = 0
    open_dossiers: int = 0
    waiting_supplement: int = 0
    fired: dict[str, int] = field(default_factory=dict)
    """Causes newly told, by kind (a cause told before is not counted again)."""
    notifications: int = 0
    citizen_messages: int = 0
    due: int = 0
    """Causes due by now (told before or not), before the fan-out to people."""


def evaluate(
    session: Session,
    *,
    calendars: Calendars,
    now: datetime,
    links: Links | None = None,
    citizen_hours: tuple[time, time] = CITIZEN_HOURS,
) -> Evaluation:
    """Run every rule at `now` over the open dossiers; write the new notifications and citizen reminders into
    the session (the caller commits). A repeated run at the same instant writes nothing. PostgreSQL's JIT is off
    meanwhile: it compiled the open stages' read for longer than the read took (kernel.db.without_jit)."""
    with without_jit(session.connection()):
        return _evaluate(session, calendars=calendars, now=now, links=links, citizen_hours=citizen_hours)


def _evaluate(
    session: Session, *, calendars: Calendars, now: datetime, links: Links | None, citizen_hours: tuple[time, time]
) -> Evaluation:
    dialect = session.get_bind().dialect.name
    report = Evaluation(at=now)
    staff = Staff(session)
    book = RuleBook(session, staff)
    now_m = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "m")
    firing = Firing()

    # the running dossiers, then the open stages on their own (joined here: reading each stage's dossier row
    # again through its primary key cost more than the stages' read)
    running = _frame(
        session,
        select(
            Dossier.id,
            Dossier.receiving_agency_id,
            func.coalesce(Dossier.current_agency_id, Dossier.receiving_agency_id),
            Dossier.procedure_code,
            _epoch_minutes(Dossier.due_at, dialect),
            _epoch_minutes(Dossier.clock_start_at, dialect),
            _epoch_minutes(Dossier.original_due_at, dialect),
            Dossier.rescheduled_due_at.is_not(None),
            Dossier.supplement_count,
        ).where(Dossier.status_code.in_(RUNNING_STATUSES)),
        [
            "dossier_id",
            "receiving_id",
            "agency_id",
            "procedure_code",
            "due_min",
            "start_min",
            "original_min",
            "apologised",
            "supplement_count",
        ],
    )
    stages = _frame(
        session,
        select(
            Stage.dossier_id,
            Stage.seq,
            Stage.agency_id,
            Stage.allotment_minutes,
            _epoch_minutes(Stage.due_at, dialect),
        ).where(
            Stage.ended_at.is_(None),
            Stage.due_at.is_not(None),
            Stage.excluded.is_(False),
            Stage.agency_id.is_not(None),
        ),
        ["dossier_id", "seq", "agency_id", "allotment", "due_min"],
    )
    stages = stages.merge(running[["dossier_id", "receiving_id", "procedure_code"]], on="dossier_id")
    report.open_stages = len(stages)
    timed = running[["due_min", "start_min", "original_min"]].notna().all(axis=1)
    dossiers = (
        running[timed.to_numpy()]
        .astype({"due_min": np.int64, "start_min": np.int64, "original_min": np.int64})
        .reset_index(drop=True)
    )
    report.open_dossiers = len(dossiers)

    if len(stages):
        stages = pd.concat(
            [
                stages,
                book.columns(stages["agency_id"].to_numpy(), stages["procedure_code"].to_numpy()).drop(
                    columns=["agency_id", "procedure_code"]
                ),
            ],
            axis=1,
        )
        _stage_rules(stages, calendars, now_m, firing)
    if len(dossiers):
        dossiers = pd.concat(
            [
                dossiers,
                book.columns(dossiers["agency_id"].to_numpy(), dossiers["procedure_code"].to_numpy()).drop(
                    columns=["agency_id", "procedure_code"]
                ),
            ],
            axis=1,
        )
        if len(stages):
            graded = stages[pd.to_numeric(stages["allotment"]).fillna(0) > 0][["dossier_id", "due_min"]]
        else:
            graded = pd.DataFrame(columns=["dossier_id", "due_min"], dtype=np.int64)
        _dossier_rules(dossiers, graded.drop_duplicates(), calendars, now_m, firing)

    fired = firing.frame()
    report.due = len(fired)
    written = _notify_staff(session, fired, staff, calendars, now, dialect)
    report.notifications = len(written)
    report.fired = {str(kind): int(count) for kind, count in written.groupby("kind")["cause"].nunique().items()}
    report.citizen_messages, report.waiting_supplement = _remind_citizens(
        session, book, calendars, now, now_m, dialect, links, citizen_hours
    )
    if report.citizen_messages:
        report.fired["supplement_reminder"] = report.citizen_messages
    return report


def _by_calendar(frame: pd.DataFrame, calendars: Calendars) -> Iterable[tuple[object, np.ndarray]]:
    """(calendar, row mask) for each calendar the rows' receiving agencies use (the dossier's clock)."""
    receiving = frame["receiving_id"].to_numpy()
    for calendar, ids in calendars.groups(np.unique(receiving)).values():
        yield calendar, np.isin(receiving, ids)


def _stage_rules(stages: pd.DataFrame, calendars: Calendars, now_m: np.datetime64, firing: Firing) -> None:
    remaining = np.zeros(len(stages), dtype=np.int64)
    overdue = np.zeros(len(stages), dtype=np.int64)
    per_day = np.zeros(len(stages), dtype=np.int64)
    due = _minutes(stages["due_min"])
    for calendar, mask in _by_calendar(stages, calendars):
        now_rows = np.full(int(mask.sum()), now_m)
        remaining[mask] = calendar.working_minutes(now_rows, due[mask])
        overdue[mask] = calendar.working_minutes(due[mask], now_rows)
        per_day[mask] = calendar.minutes_per_day
    allotment = pd.to_numeric(stages["allotment"]).fillna(0).to_numpy(dtype=float)
    threshold = np.fmax(
        (1 - stages["warn_share"].to_numpy(dtype=float)) * allotment, stages["warn_hours"].to_numpy(dtype=float) * 60
    )
    warn = (remaining > 0) & (allotment > 0) & (remaining <= _minutes_left(threshold))
    chosen = stages[warn]
    firing.add(
        chosen.assign(cause="sw:" + chosen["dossier_id"].astype(str) + ":" + chosen["seq"].astype(str)),
        kind="stage_warning",
        target="handling",
    )
    late = stages.assign(overdue=overdue, per_day=per_day)[overdue > 0]
    _escalate(late, firing)


def _minutes_left(threshold: np.ndarray) -> np.ndarray:
    """Working minutes left at which a warning fires, whole (0.1 × 3360 is 335.99999… in floating point); -1: none."""
    return np.ceil(np.round(np.nan_to_num(threshold, nan=-1), 6))


def _escalate(late: pd.DataFrame, firing: Firing) -> None:
    """Each late stage's highest level reached, and the repeat it is at: (dossier, stage, level, repeat) is one
    cause, so a level is told again each interval, and the next level once it is reached."""
    for ladder_text, rows in late.groupby("ladder", sort=False):
        ladder = [EscalationLevel(**level) for level in json.loads(ladder_text)]
        if not ladder:
            continue
        overdue = rows["overdue"].to_numpy()
        per_day = rows["per_day"].to_numpy()
        level = np.zeros(len(rows), dtype=np.int64)
        for number, step in enumerate(ladder, start=1):
            level[overdue >= step.after_working_days * per_day] = number
        for number, step in enumerate(ladder, start=1):
            at_level = level == number
            if not at_level.any():
                continue
            chosen = rows[at_level]
            since = overdue[at_level] - step.after_working_days * per_day[at_level]
            repeat = np.floor_divide(since, step.every_working_days * per_day[at_level]).astype(np.int64)
            cause = (
                "esc:"
                + chosen["dossier_id"].astype(str)
                + ":"
                + chosen["seq"].astype(str)
                + f":{number}:"
                + pd.Series(repeat, index=chosen.index).astype(str)
            )
            firing.add(
                chosen.assign(cause=cause), kind="escalation", target=f"level:{number}:{ladder_text}", level=number
            )


def _dossier_rules(
    dossiers: pd.DataFrame, graded: pd.DataFrame, calendars: Calendars, now_m: np.datetime64, firing: Firing
) -> None:
    remaining = np.zeros(len(dossiers), dtype=np.int64)
    allotment = np.zeros(len(dossiers), dtype=np.int64)
    per_day = np.zeros(len(dossiers), dtype=np.int64)
    due = _minutes(dossiers["due_min"])
    start = _minutes(dossiers["start_min"])
    original = _minutes(dossiers["original_min"])
    for calendar, mask in _by_calendar(dossiers, calendars):
        remaining[mask] = calendar.working_minutes(np.full(int(mask.sum()), now_m), due[mask])
        allotment[mask] = calendar.working_minutes(start[mask], original[mask])
        per_day[mask] = calendar.minutes_per_day
    threshold = np.fmax(
        (1 - dossiers["warn_share"].to_numpy(dtype=float)) * allotment,
        dossiers["warn_hours"].to_numpy(dtype=float) * 60,
    )
    # a dossier whose open stage (with an allotment of its own) has the same due is warned through that stage
    found = dossiers[["dossier_id", "due_min"]].merge(
        graded.astype(np.int64), on=["dossier_id", "due_min"], how="left", indicator=True
    )
    own_stage = (found["_merge"] == "both").to_numpy()
    warn = (remaining > 0) & (allotment > 0) & (remaining <= _minutes_left(threshold)) & ~own_stage
    chosen = dossiers[warn]
    firing.add(
        chosen.assign(cause="dw:" + chosen["dossier_id"].astype(str) + ":" + chosen["supplement_count"].astype(str)),
        kind="dossier_warning",
        target="handling",
    )
    lead = dossiers["apology_lead_hours"].to_numpy(dtype=float) * 60
    owed = (
        dossiers["apology_reminder"].to_numpy(dtype=bool)
        & ~dossiers["apologised"].to_numpy(dtype=bool)
        & (remaining > 0)
        & (remaining <= per_day + lead)
    )
    chosen = dossiers[owed]
    firing.add(
        chosen.assign(cause="ap:" + chosen["dossier_id"].astype(str) + ":" + chosen["due_min"].astype(str)),
        kind="apology_owed",
        target="handling",
    )


def _recipients(fired: pd.DataFrame, staff: Staff) -> pd.DataFrame:
    """(target, agency_id) → user_id, one lookup per distinct pair."""
    pairs = fired[["target", "agency_id"]].drop_duplicates()
    found = []
    for target, agency_id in zip(pairs["target"], pairs["agency_id"], strict=True):
        agency_id = int(agency_id)
        if target == "handling":
            users = staff.handling(agency_id)
        else:
            _, number, ladder_text = target.split(":", 2)
            step = EscalationLevel(**json.loads(ladder_text)[int(number) - 1])
            if step.usernames:
                users = staff.named(step.usernames)
            elif step.to == "unit":
                users = staff.with_role(agency_id, step.role, nearest=True)
            elif step.agency_code and step.agency_code in staff.tree.by_code:
                users = staff.with_role(staff.tree.by_code[step.agency_code].id, step.role, nearest=False)
            else:
                users = staff.with_role(staff.root_of(agency_id), step.role, nearest=False)
        found.extend((target, agency_id, user) for user in users)
    return pd.DataFrame(found, columns=["target", "agency_id", "user_id"])


def _notify_staff(
    session: Session, fired: pd.DataFrame, staff: Staff, calendars: Calendars, now: datetime, dialect: str
) -> pd.DataFrame:
    """Write a notification per cause and person not yet told, all in one statement; the (kind, cause) of each
    written. A key told before (or by a run meanwhile) is left out by its unique index."""
    if not len(fired):
        return pd.DataFrame({"kind": [], "cause": []})
    fired = fired.assign(agency_id=fired["agency_id"].astype(np.int64))
    rows = fired.merge(_recipients(fired, staff), on=["target", "agency_id"])
    rows = rows.assign(key=rows["cause"] + ":u" + rows["user_id"].astype(str))
    # the steady state: most causes due were told before; only the new ones are offered
    rows = rows[
        ~rows["key"].isin(existing(session.connection(), StaffNotification.__table__.c.key, rows["key"].tolist()))
    ]
    if not len(rows):
        return pd.DataFrame({"kind": [], "cause": []})
    # staff are told in their own unit's working time
    visible = pd.to_datetime(
        pd.Series(
            {
                user: next_working_instant(calendars.of(staff.agency_of.get(user)), now)
                for user in rows["user_id"].unique().tolist()
            }
        ),
        utc=True,
    )
    written = insert_columns(
        session.connection(),
        StaffNotification.__table__,
        {
            "key": rows["key"],
            "user_id": rows["user_id"],
            "dossier_id": rows["dossier_id"],
            "kind": rows["kind"],
            "level": pd.to_numeric(rows["level"]).astype("Int64"),
            "agency_id": rows["agency_id"],
            "due_at": rows["due_min"].to_numpy(dtype=np.int64).astype("datetime64[m]"),
            "created_at": now,
            "visible_at": rows["user_id"].map(visible),
        },
        skip_conflicts_on="key",
        returning="key",
    )
    return rows[rows["key"].isin(written)][["kind", "cause"]]


def supplement_reminders_due(
    session: Session, book: RuleBook, calendars: Calendars, now_m: np.datetime64, dialect: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The dossiers waiting for a supplement whose applicant consented (`dossier_id`, `receiving_id`,
    `procedure_code`, `since_min`, `supplement_count`), and which of them are due a reminder: `supplement_days` of
    the 15-working-day limit passed, the limit not."""
    waiting = _frame(
        session,
        select(
            Dossier.id,
            Dossier.receiving_agency_id,
            Dossier.procedure_code,
            _epoch_minutes(Dossier.clock_stopped_since, dialect),
            Dossier.supplement_count,
        ).where(
            Dossier.status_code == Status.WAITING_SUPPLEMENT,
            Dossier.contact_consent.is_(True),
            Dossier.clock_stopped_since.is_not(None),
        ),
        ["dossier_id", "receiving_id", "procedure_code", "since_min", "supplement_count"],
    )
    if not len(waiting):
        return waiting, np.zeros(0, dtype=bool)
    settings = book.columns(waiting["receiving_id"].to_numpy(), waiting["procedure_code"].to_numpy())
    waited = np.zeros(len(waiting), dtype=np.int64)
    per_day = np.zeros(len(waiting), dtype=np.int64)
    since = _minutes(waiting["since_min"])
    for calendar, mask in _by_calendar(waiting, calendars):
        waited[mask] = calendar.working_minutes(since[mask], np.full(int(mask.sum()), now_m))
        per_day[mask] = calendar.minutes_per_day
    days = settings["supplement_days"].to_numpy(dtype=float)
    due = (waited >= np.nan_to_num(days, nan=np.inf) * per_day) & (
        waited < outbox.SUPPLEMENT_LIMIT_WORKING_DAYS * per_day
    )
    return waiting, due


def _remind_citizens(
    session: Session,
    book: RuleBook,
    calendars: Calendars,
    now: datetime,
    now_m: np.datetime64,
    dialect: str,
    links: Links | None,
    hours: tuple[time, time],
) -> tuple[int, int]:
    """Dossiers waiting for a supplement whose applicant consented: a reminder once `supplement_days` of the
    15-working-day limit have passed (and the limit has not)."""
    waiting, due = supplement_reminders_due(session, book, calendars, now_m, dialect)
    chosen = waiting[due]
    if not len(chosen):
        return 0, len(waiting)
    # the few that fire, not reminded yet on their channel: their rows and the reason of their last request
    cause = literal("supplement_reminder:") + cast(Dossier.supplement_count, String)
    reminded = exists().where(OutboxMessage.key == Dossier.code + ":" + cause + ":" + Dossier.preferred_channel)
    last_request = (
        select(DossierEvent.reason)
        .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.type == "supplement_requested")
        .order_by(DossierEvent.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            Dossier.id,
            Dossier.code,
            Dossier.receiving_agency_id,
            Dossier.preferred_channel,
            Dossier.applicant_phone,
            Dossier.applicant_email,
            cause,
            _epoch_minutes(Dossier.clock_stopped_since, dialect),
            Procedure.name,
            last_request,
        )
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(Dossier.preferred_channel.is_not(None), ~reminded)
    )
    ids = chosen["dossier_id"].astype(np.int64).tolist()
    query = query.where(
        Dossier.id == any_(cast(ids, ARRAY(Integer))) if dialect == "postgresql" else Dossier.id.in_(ids)
    )
    found = _frame(
        session,
        query,
        [
            "dossier_id",
            "code",
            "receiving_id",
            "channel",
            "phone",
            "email",
            "cause",
            "since_min",
            "procedure",
            "reason",
        ],
    )
    found = found.assign(address=found["email"].where(found["channel"] == "email", found["phone"]))
    found = found[found["address"].fillna("") != ""]  # no address for the chosen channel: no message
    if not len(found):
        return 0, len(waiting)
    limit = np.zeros(len(found), dtype="datetime64[m]")
    since = _minutes(found["since_min"])
    for calendar, mask in _by_calendar(found, calendars):
        limit[mask] = calendar.due(since[mask], outbox.SUPPLEMENT_LIMIT_WORKING_DAYS, "working_days")[1]
    names = {agency.id: agency.name for agency in agency_tree(session).by_id.values()}
    codes = found["code"]
    messages = found.assign(
        agency_id=found["receiving_id"],
        agency=found["receiving_id"].map(names).fillna(""),
        reason=found["reason"].fillna(""),
        limit=outbox.local_texts(limit),
        lookup_url=codes.map(links.lookup) if links else "",
        rating_url=codes.map(links.rating) if links else "",
    )
    written = outbox.enqueue_many(session, messages, kind="supplement_reminder", now=now, hours=hours)
    return written, len(waiting)
