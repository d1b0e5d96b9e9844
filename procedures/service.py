"""Catalogue services: plain functions over a Session; they add and flush, the caller commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, select
from sqlmodel import Session
from unidecode import unidecode

from kernel.db import forget_stamps, new_stamp, stamp, utc_now
from kernel.errors import Conflict, InvalidInput, NotFound
from procedures.models import (
    Agency,
    AgencyState,
    CatalogueState,
    Field,
    Procedure,
    ProcedureComponent,
    ProcedureStep,
    TimeUnit,
)
from procedures.schemas import (
    NATIONAL_CODE,
    AgencyIn,
    AgencyRead,
    AgencyUpdate,
    ComponentRead,
    FieldIn,
    FieldRead,
    ProcedureCreate,
    ProcedureRead,
    ProcedureUpdate,
    ProcedureVersionCreate,
    ProcessingTime,
    StepRead,
    check_certified_copies,
)
from sla.core.calendar import LOCAL_TZ
from sla.core.replay import ProcedureRule, StepRule, check_steps_fit

MINUTES_PER_WORKING_DAY = 480


def fold(text: str) -> str:
    """Accent- and case-insensitive form: 'Đăng ký khai sinh' → 'dang ky khai sinh'."""
    return " ".join(unidecode(text).lower().split())


# --- agencies and fields -------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownAgency:
    """An agency as the tree holds it: the row's values, shared read-only between requests and threads."""

    id: int
    code: str
    name: str
    parent_id: int | None
    level: str
    working_hours: str | None
    active: bool
    confidence: str
    source: str | None
    e_certified_copies: bool | None
    e_certified_copies_from: date | None


class AgencyTree:
    """Every agency by code and by id, with the subtrees; immutable once built, one per `agency_state` stamp."""

    def __init__(self, version: str, agencies: Sequence[KnownAgency]) -> None:
        self.version = version
        self.by_code = {agency.code: agency for agency in agencies}
        self.by_id = {agency.id: agency for agency in agencies}
        self._children: dict[int, list[int]] = {}
        for agency in agencies:
            if agency.parent_id is not None:
                self._children.setdefault(agency.parent_id, []).append(agency.id)
        self._subtrees: dict[int, frozenset[int]] = {}

    def get(self, code: str) -> KnownAgency:
        agency = self.by_code.get(code)
        if agency is None:
            raise NotFound(
                f"no agency with code {code!r}; GET /api/v1/agencies lists the known codes",
                message_id="agency_not_found",
                code=code,
            )
        return agency

    def subtree_ids(self, code: str) -> frozenset[int]:
        """The agency and every agency below it."""
        root = self.get(code).id
        found = self._subtrees.get(root)
        if found is None:
            ids, todo = [], [root]
            while todo:
                current = todo.pop()
                ids.append(current)
                todo.extend(self._children.get(current, ()))
            found = self._subtrees[root] = frozenset(ids)  # the same value if two threads race here
        return found


_AGENCY_ROWS = select(*(getattr(Agency, name) for name in KnownAgency.__dataclass_fields__))
_TREE_IN_SESSION = "procedures.agency_tree"
_TREES_KEPT = 8
_trees: dict[str, AgencyTree] = {}
"""Trees by stamp. A stamp is random and written with the change, so a tree is never used for other
content (a rolled-back change leaves the old stamp, whose tree is still right)."""


def agency_tree(session: Session) -> AgencyTree:
    """The agencies as this session sees them: one read of the stamp per session, the tree loaded once per stamp.

    The session keeps the tree it got; `upsert_agencies` replaces it when it changes the agencies.
    """
    tree = session.info.get(_TREE_IN_SESSION)
    if tree is None:
        version = stamp(session, AgencyState)
        tree = _trees.get(version) if version else None
        if tree is None:
            tree = AgencyTree(version or "", [KnownAgency(*row) for row in session.execute(_AGENCY_ROWS)])
            if version:
                if len(_trees) >= _TREES_KEPT:
                    _trees.clear()
                _trees[version] = tree
        session.info[_TREE_IN_SESSION] = tree
    return tree


def get_agency(session: Session, code: str) -> KnownAgency:
    return agency_tree(session).get(code)


def agency_subtree_ids(session: Session, code: str) -> list[int]:
    """The agency and every agency below it."""
    return list(agency_tree(session).subtree_ids(code))


def _agencies_changed(session: Session) -> None:
    """A new stamp for the agency tree, in the caller's transaction: every worker reloads its tree."""
    new_stamp(session, AgencyState)
    session.info.pop(_TREE_IN_SESSION, None)


def list_agencies(session: Session, *, level: str | None = None, parent: str | None = None) -> list[AgencyRead]:
    parent_agency = Agency.__table__.alias("parent_agency")
    query = (
        select(Agency, parent_agency.c.code)
        .outerjoin(parent_agency, Agency.parent_id == parent_agency.c.id)
        .order_by(Agency.level, Agency.code)
    )
    if level:
        query = query.where(Agency.level == level)
    if parent:
        query = query.where(Agency.parent_id == get_agency(session, parent).id)
    return [_agency_read(agency, parent_code) for agency, parent_code in session.execute(query).all()]


def read_agency(session: Session, code: str) -> AgencyRead:
    tree = agency_tree(session)
    agency = tree.get(code)
    return _agency_read(agency, tree.by_id[agency.parent_id].code if agency.parent_id else None)


def _agency_read(agency: Agency | KnownAgency, parent_code: str | None) -> AgencyRead:
    return AgencyRead(
        code=agency.code,
        name=agency.name,
        parent_code=parent_code,
        level=agency.level,
        working_hours=agency.working_hours,
        active=agency.active,
        confidence=agency.confidence,
        source=agency.source,
        e_certified_copies=agency.e_certified_copies,
        e_certified_copies_from=agency.e_certified_copies_from,
    )


_RECORDED_SETTINGS = frozenset({"e_certified_copies", "e_certified_copies_from"})
"""Agency fields a file may leave out without clearing what was recorded (PATCH /api/v1/agencies/{code})."""


def upsert_agencies(session: Session, agencies: Sequence[AgencyIn]) -> int:
    """Create or update agencies by code; parents may come later in the same list. The Decision 766 settings
    are written only when the row gives them (a reload of the shipped list keeps what was recorded)."""
    by_code = {a.code: a for a in session.execute(select(Agency)).scalars()}
    for data in agencies:
        agency = by_code.get(data.code) or Agency(code=data.code, name=data.name, level=data.level)
        kept = _RECORDED_SETTINGS - data.model_fields_set
        agency.sqlmodel_update(data.model_dump(exclude={"code", "parent_code", *kept}))
        session.add(agency)
        by_code[data.code] = agency
    session.flush()
    for data in agencies:
        if data.parent_code is None:
            by_code[data.code].parent_id = None
        elif data.parent_code not in by_code:
            raise InvalidInput(f"agency {data.code}: parent {data.parent_code!r} is not a known agency code")
        else:
            by_code[data.code].parent_id = by_code[data.parent_code].id
    session.flush()
    _agencies_changed(session)
    return len(agencies)


def update_agency(session: Session, code: str, data: AgencyUpdate) -> AgencyRead:
    """Record an agency's Decision 766 settings (the fields `data` gives); the tree's stamp moves."""
    agency = session.execute(select(Agency).where(Agency.code == get_agency(session, code).code)).scalar_one()
    changes = data.model_dump(include=data.model_fields_set)
    offers = changes.get("e_certified_copies", agency.e_certified_copies)
    since = changes.get("e_certified_copies_from", agency.e_certified_copies_from)
    if "e_certified_copies" in changes and offers is not True and "e_certified_copies_from" not in changes:
        since = changes["e_certified_copies_from"] = None  # no longer offering: its start day goes with it
    try:
        check_certified_copies(offers, since)
    except ValueError as exc:
        raise InvalidInput(f"agency {agency.code}: {exc}") from exc
    agency.sqlmodel_update(changes)
    session.add(agency)
    session.flush()
    _agencies_changed(session)
    return read_agency(session, agency.code)


def list_fields(session: Session) -> list[FieldRead]:
    in_force = _in_force(_local_today())
    counts = dict(
        session.execute(select(Procedure.field_id, func.count()).where(in_force).group_by(Procedure.field_id)).all()
    )
    return [
        FieldRead(code=f.code, name=f.name, procedure_count=counts.get(f.id, 0))
        for f in session.execute(select(Field).order_by(Field.code)).scalars()
    ]


def upsert_fields(session: Session, fields: Sequence[FieldIn]) -> int:
    by_code = {f.code: f for f in session.execute(select(Field)).scalars()}
    for data in fields:
        field = by_code.get(data.code) or Field(code=data.code, name=data.name)
        field.name = data.name
        session.add(field)
    session.flush()
    return len(fields)


# --- procedures ----------------------------------------------------------------------------------


def _local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def _in_force(as_of: date):
    return (Procedure.effective_from <= as_of) & (
        (Procedure.effective_to.is_(None)) | (Procedure.effective_to >= as_of)
    )


def search_procedures(
    session: Session,
    *,
    q: str | None = None,
    field: str | None = None,
    level: str | None = None,
    agency: str | None = None,
    as_of: date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[ProcedureRead], int]:
    """The versions in force at `as_of` (today by default) matching every word of `q`."""
    query = select(Procedure).where(_in_force(as_of or _local_today()))
    for word in fold(q or "").split():
        query = query.where(Procedure.search_text.contains(word, autoescape=True))
    if field:
        query = query.join(Field, Field.id == Procedure.field_id).where(Field.code == field)
    if level:
        query = query.where(Procedure.level == level)
    if agency:
        target = get_agency(session, agency)
        step_here = select(ProcedureStep.procedure_id).where(ProcedureStep.agency_id == target.id)
        query = query.where(
            or_(
                Procedure.agency_id == target.id,
                (Procedure.agency_id.is_(None)) & (Procedure.level == target.level),
                Procedure.id.in_(step_here),
            )
        )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Procedure.code).offset((page - 1) * page_size).limit(page_size)).scalars()
    return to_read(session, list(rows)), total


def procedure_ids_named(session: Session, text: str) -> list[int]:
    """Every version (in force or not) of the procedures whose code is `text`, or whose name has every word of it
    (accents and case ignored): 'khai sinh' → the versions of the birth registrations. A dossier search filters on
    these ids."""
    by_code = list(session.execute(select(Procedure.id).where(Procedure.code == text.strip())).scalars())
    if by_code:
        return by_code
    query = select(Procedure.id)
    for word in fold(text).split():
        query = query.where(Procedure.search_text.contains(word, autoescape=True))
    return list(session.execute(query).scalars())


def procedure_ids_in_fields(session: Session, text: str) -> list[int]:
    """Every procedure version of the fields whose code is `text` or whose name has every word of it."""
    words = fold(text).split()
    fields = [
        field_id
        for field_id, code, name in session.execute(select(Field.id, Field.code, Field.name))
        if code == text.strip() or (words and all(word in fold(name) for word in words))
    ]
    return list(session.execute(select(Procedure.id).where(Procedure.field_id.in_(fields))).scalars())


_VERSION_IN_FORCE = select(Procedure).where(Procedure.code == bindparam("code"), _in_force(bindparam("as_of")))


def get_procedure(session: Session, code: str, *, as_of: date | None = None) -> Procedure:
    """The version of `code` in force at `as_of` (today by default)."""
    when = as_of or _local_today()
    version = session.execute(_VERSION_IN_FORCE, {"code": code, "as_of": when}).scalar_one_or_none()
    if version is None:
        if session.execute(select(Procedure.id).where(Procedure.code == code).limit(1)).first() is None:
            raise NotFound(
                f"no procedure with code {code!r}; search GET /api/v1/procedures?q=…",
                message_id="procedure_not_found",
                code=code,
            )
        raise NotFound(
            f"procedure {code!r} has no version in force on {when.isoformat()}",
            message_id="procedure_not_in_force",
            code=code,
            day=when.strftime("%d/%m/%Y"),
        )
    return version


class ProcedureVersion(SimpleNamespace):
    """A procedure version's columns, read like a `Procedure` and shared read-only between requests and threads
    (see `procedure_in_force`); never added to a session."""

    def __setattr__(self, name, value):
        raise AttributeError(f"a shared procedure version is read-only ({name})")


_VERSIONS_KEPT = 4096
_versions: dict[tuple[str, str, date], ProcedureVersion] = {}
"""Versions in force by (catalogue stamp, code, day). The stamp moves with every write to `procedure` (a trigger,
migration 0045), so a kept version is never served for other content."""
_VERSION_COLUMNS = tuple(column.key for column in Procedure.__table__.columns)


def procedure_in_force(session: Session, code: str, *, as_of: date) -> ProcedureVersion:
    """`get_procedure`, as a read-only copy kept per catalogue stamp: a request that finds it reads nothing more
    (the stamp comes with the session's other stamps, `kernel.db.stamp`)."""
    version = stamp(session, CatalogueState)
    found = _versions.get((version, code, as_of)) if version else None
    if found is None:
        procedure = get_procedure(session, code, as_of=as_of)
        found = ProcedureVersion(**{name: getattr(procedure, name) for name in _VERSION_COLUMNS})
        if version:
            if len(_versions) >= _VERSIONS_KEPT:
                _versions.clear()
            _versions[(version, code, as_of)] = found
    return found


def list_versions(session: Session, code: str) -> list[ProcedureRead]:
    versions = list(
        session.execute(select(Procedure).where(Procedure.code == code).order_by(Procedure.effective_from)).scalars()
    )
    if not versions:
        raise NotFound(f"no procedure with code {code!r}")
    return to_read(session, versions)


def steps_of(session: Session, procedure_ids: Sequence[int]) -> dict[int, list[tuple[ProcedureStep, str | None]]]:
    rows = session.execute(
        select(ProcedureStep, Agency.code)
        .outerjoin(Agency, Agency.id == ProcedureStep.agency_id)
        .where(ProcedureStep.procedure_id.in_(procedure_ids))
        .order_by(ProcedureStep.procedure_id, ProcedureStep.seq)
    ).all()
    steps: dict[int, list[tuple[ProcedureStep, str | None]]] = {pid: [] for pid in procedure_ids}
    for step, agency_code in rows:
        steps[step.procedure_id].append((step, agency_code))
    return steps


def components_of(session: Session, procedure_ids: Sequence[int]) -> dict[int, list[ComponentRead]]:
    """The component lists (thành phần hồ sơ) of procedure versions, in order."""
    found: dict[int, list[ComponentRead]] = {pid: [] for pid in procedure_ids}
    ids = list(found)
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            select(ProcedureComponent)
            .where(ProcedureComponent.procedure_id.in_(ids[start : start + _IN_CHUNK]))
            .order_by(ProcedureComponent.procedure_id, ProcedureComponent.seq)
        ).scalars()
        for c in rows:
            found[c.procedure_id].append(
                ComponentRead(seq=c.seq, name=c.name, form=c.form, copies=c.copies, required=c.required)
            )
    return found


def to_read(session: Session, procedures: Sequence[Procedure]) -> list[ProcedureRead]:
    """API shapes of procedure versions, loading their steps, components, fields and agencies in four queries."""
    if not procedures:
        return []
    steps = steps_of(session, [p.id for p in procedures])
    components = components_of(session, [p.id for p in procedures])
    fields = {
        f.id: f for f in session.execute(select(Field).where(Field.id.in_({p.field_id for p in procedures}))).scalars()
    }
    agency_ids = {p.agency_id for p in procedures if p.agency_id}
    agency_codes = (
        dict(session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(agency_ids))).all())
        if agency_ids
        else {}
    )
    return [
        ProcedureRead(
            code=p.code,
            national_code=p.national_code,
            name=p.name,
            name_en=p.name_en,
            field_code=fields[p.field_id].code,
            field_name=fields[p.field_id].name,
            level=p.level,
            agency_code=agency_codes.get(p.agency_id),
            processing_time=ProcessingTime.model_construct(amount=p.amount, unit=TimeUnit(p.unit)),
            same_day_cutoff=p.same_day_cutoff,
            supplement_policy=p.supplement_policy,
            online_level=p.online_level,
            fee=p.fee,
            fee_vnd=p.fee_vnd,
            fee_lines=p.fee_lines,
            result_kind=p.result_kind,
            decision_number=p.decision_number,
            decision_date=p.decision_date,
            legal_basis=p.legal_basis,
            legal_basis_effective_date=p.legal_basis_effective_date,
            published_on=p.published_on,
            effective_from=p.effective_from,
            effective_to=p.effective_to,
            steps=[
                StepRead(
                    seq=s.seq,
                    name=s.name,
                    agency_code=agency_code,
                    role=s.role,
                    amount=s.amount,
                    unit=s.unit,
                    parallel_group=s.parallel_group,
                )
                for s, agency_code in steps[p.id]
            ],
            components=components[p.id],
            confidence=p.confidence,
            source=p.source,
        )
        for p in procedures
    ]


def procedure_rule(procedure: Procedure, steps: Sequence[tuple[ProcedureStep, str | None]]) -> ProcedureRule:
    """The clock's view of a procedure version."""
    return ProcedureRule(
        amount=procedure.amount,
        unit=procedure.unit,
        cutoff=procedure.same_day_cutoff,
        supplement_policy=procedure.supplement_policy,
        steps=tuple(
            StepRule(
                seq=step.seq,
                name=step.name,
                agency_code=agency_code,
                role=step.role,
                amount=step.amount,
                unit=step.unit,
                parallel_group=step.parallel_group,
            )
            for step, agency_code in steps
        ),
    )


def _fee_vnd(fee: str | None) -> int | None:
    return int(fee) if fee and fee.strip().isdigit() else None


def check_rule(code: str, data: ProcedureVersionCreate) -> None:
    """Refuse steps that allot more than the whole (along the longest path of parallel steps)."""
    rule = ProcedureRule(
        amount=data.processing_time.amount,
        unit=data.processing_time.unit.value,
        cutoff=data.same_day_cutoff,
        supplement_policy=data.supplement_policy.value,
        steps=tuple(
            StepRule(
                seq=seq,
                name=s.name,
                agency_code=s.agency_code,
                role=s.role,
                amount=s.amount,
                unit=s.unit.value,
                parallel_group=s.parallel_group,
            )
            for seq, s in enumerate(data.steps, start=1)
        ),
    )
    problem = check_steps_fit(rule, MINUTES_PER_WORKING_DAY)
    if problem:
        raise InvalidInput(f"procedure {code}: {problem}")



# --- writing versions: one path for the API (one version) and the import (many) ----------------
#
# Every write of procedure versions is planned in Python first (`plan_versions`, no database), then
# applied with a handful of set-based statements (`write_versions`): a 100,000-row import costs the
# same few statements as one version, so it holds the write lock for a moment, not minutes.


class StoredVersion(NamedTuple):
    id: int
    code: str
    effective_from: date
    effective_to: date | None


@dataclass
class _Slot:
    """A version of a code as the plan leaves it: stored (`id`), new or rewritten (`data`), or ended."""

    effective_from: date
    effective_to: date | None
    id: int | None = None
    data: ProcedureVersionCreate | None = None
    index: int | None = None  # position of `data` in the incoming list
    ended: bool = False


@dataclass
class VersionPlan:
    slots: dict[str, list[_Slot]]
    errors: list[tuple[int, str]]  # (position in the incoming list, message)


_STORED_VERSIONS = select(Procedure.id, Procedure.code, Procedure.effective_from, Procedure.effective_to)


def stored_versions(session: Session, codes: Sequence[str] | None = None) -> list[StoredVersion]:
    """The stored versions of `codes` (every version when None): the plan's view of the table."""
    if codes is not None and len(codes) <= _IN_CHUNK:
        rows = session.execute(_STORED_VERSIONS.where(Procedure.code.in_(codes))).all()
    else:
        rows = session.execute(_STORED_VERSIONS).all()
        if codes is not None:
            wanted = set(codes)
            rows = [row for row in rows if row.code in wanted]
    return [StoredVersion(*row) for row in rows]


def plan_versions(
    stored: Sequence[StoredVersion], incoming: Sequence[tuple[str, ProcedureVersionCreate]]
) -> VersionPlan:
    """Where each incoming version goes, by the rules of `add_version` (no database).

    A new code creates the procedure; the same `effective_from` as a stored version rewrites it; a
    later one ends the latest version the day before and is added; an earlier one is refused. The
    versions of one code are placed in date order, whatever their order in `incoming`.
    """
    slots: dict[str, list[_Slot]] = {}
    for version in sorted(stored, key=lambda v: v.effective_from):
        slots.setdefault(version.code, []).append(_Slot(version.effective_from, version.effective_to, id=version.id))
    errors: list[tuple[int, str]] = []
    order = sorted(range(len(incoming)), key=lambda i: (incoming[i][0], incoming[i][1].effective_from))
    for index in order:
        code, data = incoming[index]
        versions = slots.setdefault(code, [])
        same_day = next((v for v in versions if v.effective_from == data.effective_from), None)
        if same_day is not None:
            same_day.data, same_day.index, same_day.effective_to = data, index, data.effective_to
            continue
        if versions:
            latest = versions[-1]
            if data.effective_from < latest.effective_from:
                errors.append(
                    (
                        index,
                        f"procedure {code}: a new version must start after the latest one "
                        f"({latest.effective_from.isoformat()}); got {data.effective_from.isoformat()}",
                    )
                )
                continue
            latest.effective_to, latest.ended = data.effective_from - timedelta(days=1), True
        versions.append(_Slot(data.effective_from, data.effective_to, data=data, index=index))
    return VersionPlan(slots, errors)


_IN_CHUNK = 5000  # ids per IN (...): well under SQLite's and PostgreSQL's bound-parameter limits


def _version_values(code: str, data: ProcedureVersionCreate, agency_ids: dict[str, int], now: datetime) -> dict:
    """A version's row but its `field_id` (a field may be created by the same import)."""
    dumped = data.model_dump(exclude={"code", "processing_time", "steps", "components", "field_code", "agency_code"})
    values = {key: value.value if isinstance(value, StrEnum) else value for key, value in dumped.items()}
    values.update(
        code=code,
        national_code=bool(NATIONAL_CODE.match(code)),
        search_text=fold(f"{code} {data.name} {data.name_en or ''}"),
        updated_at=now,
        agency_id=agency_ids[data.agency_code] if data.agency_code else None,
        amount=data.processing_time.amount,
        unit=data.processing_time.unit.value,
        fee_vnd=_fee_vnd(data.fee),
    )
    return values


def _step_rows(data: ProcedureVersionCreate, agency_ids: dict[str, int]) -> list[dict]:
    """A version's step rows but their `procedure_id`."""
    return [
        {
            "seq": seq,
            "name": step.name,
            "agency_id": agency_ids[step.agency_code] if step.agency_code else None,
            "role": step.role,
            "amount": step.amount,
            "unit": step.unit.value,
            "parallel_group": step.parallel_group,
        }
        for seq, step in enumerate(data.steps, start=1)
    ]


def _component_rows(data: ProcedureVersionCreate) -> list[dict]:
    """A version's component rows but their `procedure_id`."""
    return [
        {"seq": seq, "name": c.name, "form": c.form.value, "copies": c.copies, "required": c.required}
        for seq, c in enumerate(data.components, start=1)
    ]


class _DriverStatement:
    """A statement compiled once for the connection's driver, its parameters converted ahead of time.

    The conversions (dates, instants, booleans) are the column types' own (`bind_processor`), done
    in `convert` before the write transaction; `execute` then hands the rows straight to the
    driver's executemany, so the write lock is held only while the database works.
    """

    def __init__(self, dialect, statement, types: dict[str, Any]) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup) if compiled.positiontup else None  # None: named parameters
        self.position = {name: i for i, name in enumerate(self.order or ())}
        self.processors = {name: kind.dialect_impl(dialect).bind_processor(dialect) for name, kind in types.items()}

    def convert(self, row: dict) -> list | dict:
        converted = {name: (p(row[name]) if (p := self.processors[name]) else row[name]) for name in self.processors}
        return [converted[name] for name in self.order] if self.order else converted

    def set(self, params: list | dict, name: str, value) -> None:
        params[self.position[name] if self.order else name] = value

    def execute(self, session: Session, rows: list) -> None:
        if rows:
            session.connection().exec_driver_sql(self.sql, [tuple(r) for r in rows] if self.order else rows)


@dataclass
class PreparedVersions:
    """Everything `write_versions` needs, worked out before its transaction (`prepare_versions`)."""

    stored: frozenset[StoredVersion]
    plan: VersionPlan
    rows: dict[int, list | dict]  # by position in `incoming`: the converted version row, but its field_id
    steps: dict[int, list[list | dict]]  # the converted step rows, but their procedure_id
    components: dict[int, list[list | dict]]  # the converted component rows, but their procedure_id
    field_codes: dict[int, str]
    statements: dict[str, _DriverStatement]


def _statements(dialect) -> dict[str, _DriverStatement]:
    table, steps, components = Procedure.__table__, ProcedureStep.__table__, ProcedureComponent.__table__
    version_columns = [c.name for c in table.columns if c.name != "id"]
    step_columns = [c.name for c in steps.columns if c.name != "id"]
    types = {c.name: c.type for c in table.columns}
    statements = {
        "insert": _DriverStatement(
            dialect,
            table.insert().values({c: bindparam(c) for c in version_columns}),
            {c: types[c] for c in version_columns},
        ),
        "rewrite": _DriverStatement(
            dialect,
            table.update().where(table.c.id == bindparam("b_id")).values({c: bindparam(c) for c in version_columns}),
            {**{c: types[c] for c in version_columns}, "b_id": types["id"]},
        ),
        "end": _DriverStatement(
            dialect,
            table.update().where(table.c.id == bindparam("b_id")).values(effective_to=bindparam("b_to")),
            {"b_to": types["effective_to"], "b_id": types["id"]},
        ),
        "steps": _DriverStatement(
            dialect,
            steps.insert().values({c: bindparam(c) for c in step_columns}),
            {c.name: c.type for c in steps.columns if c.name != "id"},
        ),
        "components": _DriverStatement(
            dialect,
            components.insert().values({c.name: bindparam(c.name) for c in components.columns if c.name != "id"}),
            {c.name: c.type for c in components.columns if c.name != "id"},
        ),
    }
    insert_order, rewrite_order = statements["insert"].order, statements["rewrite"].order
    assert rewrite_order is None or rewrite_order == [*insert_order, "b_id"]
    return statements


def prepare_versions(session: Session, incoming: Sequence[tuple[str, ProcedureVersionCreate]]) -> PreparedVersions:
    """Plan the versions against the stored ones and convert their rows (reads only): `write_versions`'s
    work that needs no write lock. Agencies must exist (the caller checked them)."""
    stored = stored_versions(session, sorted({code for code, _ in incoming}))
    plan = plan_versions(stored, incoming)
    agency_ids = {known.code: known.id for known in agency_tree(session).by_code.values()}
    statements = _statements(session.get_bind().dialect)
    now = utc_now()
    rows, steps, components, field_codes = {}, {}, {}, {}
    placeholder = {"field_id": None, "procedure_id": None, "b_id": None}
    for index, (code, data) in enumerate(incoming):
        rows[index] = statements["insert"].convert({**_version_values(code, data, agency_ids, now), **placeholder})
        steps[index] = [statements["steps"].convert({**row, **placeholder}) for row in _step_rows(data, agency_ids)]
        components[index] = [statements["components"].convert({**row, **placeholder}) for row in _component_rows(data)]
        field_codes[index] = data.field_code
    return PreparedVersions(frozenset(stored), plan, rows, steps, components, field_codes, statements)


def write_versions(
    session: Session,
    incoming: Sequence[tuple[str, ProcedureVersionCreate]],
    prepared: PreparedVersions | None = None,
) -> list[int]:
    """Write procedure versions (`plan_versions` rules) in a few set-based statements; their ids, in order.

    The field and agency codes must exist (the caller checked them); a version the rules refuse
    raises InvalidInput naming every such version by its position, before anything is written.
    With `prepared` (made before the transaction), the transaction only checks that the stored
    versions are still those it was prepared against, and writes.
    """
    session.flush()
    if prepared is None or frozenset(stored_versions(session, sorted({c for c, _ in incoming}))) != prepared.stored:
        prepared = prepare_versions(session, incoming)
    plan, rows, statements = prepared.plan, prepared.rows, prepared.statements
    if plan.errors:
        raise InvalidInput("; ".join(message for _, message in plan.errors), errors=_positions(plan.errors))
    field_codes = set(prepared.field_codes.values())
    field_ids = dict(session.execute(select(Field.code, Field.id).where(Field.code.in_(field_codes))).all())
    for index, row in rows.items():
        statements["insert"].set(row, "field_id", field_ids[prepared.field_codes[index]])
    rewritten, ended, added = [], [], []
    for versions in plan.slots.values():
        for slot in versions:
            if slot.data is not None and slot.id is not None:
                rewritten.append(slot)
            elif slot.data is not None:
                added.append(slot)
            elif slot.ended:
                ended.append(statements["end"].convert({"b_id": slot.id, "b_to": slot.effective_to}))
    ids: dict[int, int] = {slot.index: slot.id for slot in rewritten}
    rewritten_ids = [slot.id for slot in rewritten]
    for start in range(0, len(rewritten_ids), _IN_CHUNK):
        chunk = rewritten_ids[start : start + _IN_CHUNK]
        for child in (ProcedureStep.__table__, ProcedureComponent.__table__):
            session.execute(child.delete().where(child.c.procedure_id.in_(chunk)))
    rewrite = statements["rewrite"]  # its parameters: the insert's, then b_id
    rewrite.execute(
        session, [[*rows[s.index], s.id] if rewrite.order else {**rows[s.index], "b_id": s.id} for s in rewritten]
    )
    statements["end"].execute(session, ended)
    added.sort(key=lambda slot: slot.index)  # new ids follow the order of `incoming` (a file's row order)
    if added:  # one executemany, then the ids by (code, effective_from), unique (RETURNING would go row by row)
        statements["insert"].execute(session, [rows[slot.index] for slot in added])
        codes = sorted({incoming[slot.index][0] for slot in added})
        new = {(v.code, v.effective_from): v.id for v in stored_versions(session, codes)}
        ids.update((slot.index, new[(incoming[slot.index][0], slot.effective_from)]) for slot in added)
    for child in ("steps", "components"):
        child_rows = []
        for slot in (*rewritten, *added):
            for row in getattr(prepared, child)[slot.index]:
                statements[child].set(row, "procedure_id", ids[slot.index])
                child_rows.append(row)
        statements[child].execute(session, child_rows)
    for loaded in list(session.identity_map.values()):  # the statements above bypass the identity map
        if isinstance(loaded, Procedure | ProcedureStep | ProcedureComponent):
            session.expire(loaded)
    forget_stamps(session)  # the catalogue's stamp moved with the writes (a trigger): this session sees it too
    return [ids[index] for index in range(len(incoming))]


def _positions(errors: list[tuple[int, str]]) -> list[dict]:
    return [{"position": index, "message": message} for index, message in errors]


def _resolve_references(session: Session, code: str, data: ProcedureVersionCreate) -> None:
    """One version from the API: its field and agencies must exist (unknown agency: 404, as everywhere)."""
    check_rule(code, data)
    if session.execute(select(Field.id).where(Field.code == data.field_code)).scalar_one_or_none() is None:
        raise InvalidInput(f"procedure {code}: unknown field_code {data.field_code!r}; GET /api/v1/fields lists them")
    for agency_code in {data.agency_code, *(s.agency_code for s in data.steps)} - {None}:
        get_agency(session, agency_code)


def create_procedure(session: Session, data: ProcedureCreate) -> Procedure:
    if session.execute(select(Procedure.id).where(Procedure.code == data.code).limit(1)).first() is not None:
        raise Conflict(f"procedure {data.code} exists; add a version with POST /api/v1/procedures/{data.code}/versions")
    _resolve_references(session, data.code, data)
    [version_id] = write_versions(session, [(data.code, data)])
    return session.get(Procedure, version_id)


def add_version(session: Session, code: str, data: ProcedureVersionCreate) -> Procedure:
    """A change of statutory settings from `effective_from` on: the previous version ends the day before.

    A version with the same `effective_from` as an existing one replaces that one's settings.
    """
    if session.execute(select(Procedure.id).where(Procedure.code == code).limit(1)).first() is None:
        raise NotFound(f"no procedure with code {code!r}")
    _resolve_references(session, code, data)
    try:
        [version_id] = write_versions(session, [(code, data)])
    except InvalidInput as exc:
        raise InvalidInput(exc.detail) from None
    return session.get(Procedure, version_id)


def update_procedure(session: Session, code: str, data: ProcedureUpdate) -> Procedure:
    version = get_procedure(session, code)
    changes = data.model_dump(exclude_unset=True)
    changes = {key: value.value if isinstance(value, StrEnum) else value for key, value in changes.items()}
    decision_date = changes.get("decision_date", version.decision_date)
    published_on = changes.get("published_on", version.published_on)
    if decision_date and published_on and published_on < decision_date:
        raise InvalidInput(
            f"published_on ({published_on.isoformat()}, made public) must not be before decision_date "
            f"({decision_date.isoformat()}, the decision it publishes)"
        )
    version.sqlmodel_update(changes)
    if "fee" in changes:
        version.fee_vnd = _fee_vnd(version.fee)
    version.search_text = fold(f"{version.code} {version.name} {version.name_en or ''}")
    version.updated_at = utc_now()
    session.add(version)
    session.flush()
    forget_stamps(session)  # the catalogue's stamp moved with the write (a trigger): this session sees it too
    return version
