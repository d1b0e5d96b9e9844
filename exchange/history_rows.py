"""One block of national records made into rows: each record read (`from_record`), its codes resolved against the
catalogue, the block's events replayed in bulk, and the rows of every table it fills made at once.

A block needs no database: what it resolves against (`Catalogue`: agencies, procedure versions, their rules,
component lists and calendars) is read by the importer first. So a block can be made in the importer's process or
in a reader process beside it (exchange/history.py runs them and writes the blocks in file order). What a block
cannot know is left to the writer: whether its external codes were imported before, and our dossier codes (the day
counters run across blocks): the dossier rows come without `code` and `search_text`, their last two columns.

For PostgreSQL the rows come as binary COPY (dossiers/bulk.py: made by numpy, not row by row); for SQLite as
typed columns for `dossiers.rebuild.insert_columns`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select
from sqlmodel import Session

from dossiers.bulk import Field, binary_rows, pg_types
from dossiers.derive import rule_for
from dossiers.intake import received_components
from dossiers.rebuild import replay_new
from exchange.problems import english
from exchange.record import Plain, RecordError, from_record, plain_of, read_plain
from kernel.errors import DomainError
from procedures.models import ComponentForm, Procedure
from procedures.service import agency_tree, components_of, fold
from sla.core import index766
from sla.core.batch import NONE, CalendarOps, EventColumns, micros_of
from sla.core.calendar import LOCAL_TZ, CalendarError, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES, STATUS_NAMES, Status
from sla.core.lifecycle import InvalidTransition as TransitionRefused
from sla.core.replay import ApologyError, EventOrderError, HandOffError

IMPORT_ACTOR = "exchange-import"
"""The actor of an imported event whose record names nobody (NguoiXuLy empty)."""
_EVENT_CODES = {name: code for code, name in enumerate(EVENT_TYPES)}
_FORWARDED = _EVENT_CODES["forwarded"]
_MINUTE_US = 60_000_000
DOSSIER_CODED = ("code", "search_text")
"""The dossier's columns the writer adds (our code, and the search text that starts with it): the last two."""


# --- problems --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why one record was not taken: its line in the file, the field (`QuaTrinhXuLy[3].ThoiDiemXuLy`), the reason:
    `message` in English, `message_id` and `params` for the pages' words (exchange/problems.py)."""

    line: int
    field: str
    message: str
    code: str | None = None
    message_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, line: int, name: str, message_id: str, params: dict[str, Any], code: str | None = None) -> Problem:
        return cls(line, name, english(message_id, params), code, message_id, params)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "field": self.field, "message": self.message,
                "message_id": self.message_id, "params": plain(self.params)}  # fmt: skip

    def __str__(self) -> str:
        who = f" ({self.code})" if self.code else ""
        return f"line {self.line}{who}, {self.field}: {self.message}"


@dataclass(frozen=True)
class Unreadable:
    """A line or row that is not a record at all: the field, the problem's id and params (exchange/problems.py)."""

    field: str
    message_id: str
    params: dict[str, Any]

    @property
    def message(self) -> str:
        return english(self.message_id, self.params)


def plain(params: dict[str, Any]) -> dict[str, Any]:
    """Params as JSON takes them (a tuple as a list, anything else not JSON's as its text)."""
    return orjson.loads(orjson.dumps(params, default=str))


def _replay_problem(exc: Exception) -> tuple[str, dict[str, Any]]:
    """The problem id and params of a record the batch replay refused (its core error, by kind)."""
    if isinstance(exc, TransitionRefused):
        return "impossible_sequence", {"reason": str(exc), "event": exc.event_type, "allowed": exc.allowed,
                                       "status": STATUS_NAMES.get(exc.status) if exc.status is not None else None}
    kinds = ((EventOrderError, "replay_order"), (ApologyError, "replay_apology"), (HandOffError, "replay_hand_off"),
             (CalendarError, "replay_calendar"))  # fmt: skip
    return next((kind for cls, kind in kinds if isinstance(exc, cls)), "replay_failed"), {"reason": str(exc)}


def json_lines(raw: bytes, first_line: int):
    """(line, record or why it is no record, the line's bytes) of the JSON lines in `raw` (blank lines skipped),
    numbered from `first_line`."""
    for line, text in enumerate(raw.split(b"\n"), start=first_line):
        if text.strip():
            yield json_line(line, text)


def json_line(line: int, text: bytes) -> tuple[int, dict | Unreadable, bytes]:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return line, Unreadable("record", "not_json", {"reason": str(exc)}), text
    if not isinstance(record, dict):
        return line, Unreadable("record", "not_object", {"got": type(record).__name__}), text
    return line, record, text


# --- the catalogue a block resolves codes against --------------------------------------------------


@dataclass(frozen=True)
class Version:
    id: int
    code: str
    effective_from: date
    effective_to: date | None
    result_kind: str | None


class Catalogue:
    """What records are resolved against, read once by the importer: agencies, procedure versions and their rules;
    component lists and calendars as they are needed (`prefetch` reads them all, for reader processes)."""

    def __init__(self, session: Session, calendar_for, *, import_id: int, now: datetime, postgres: bool) -> None:
        tree = agency_tree(session)
        self.agencies = {a.code: a.id for a in tree.by_id.values()}
        self.codes = {a.id: a.code for a in tree.by_id.values()}
        self.versions: dict[str, list[Version]] = {}
        self.rules = {}
        for procedure in session.execute(select(Procedure).order_by(Procedure.effective_from)).scalars():
            self.versions.setdefault(procedure.code, []).append(
                Version(procedure.id, procedure.code, procedure.effective_from, procedure.effective_to,
                        procedure.result_kind)  # fmt: skip
            )
            self.rules[procedure.id] = rule_for(session, procedure)
        self.by_id = {v.id: v for versions in self.versions.values() for v in versions}
        self.listed: dict[int, tuple] = {}
        self.calendars: dict[str, WorkingCalendar] = {}
        self.import_id = import_id
        self.now = now
        self.now_us = micros_of(now)
        self.postgres = postgres
        self.types = {t: pg_types(session.connection(), t) for t in ROW_TABLES} if postgres else {}
        self._session = session
        self._calendar_for = calendar_for
        self.quiet: Callable[[], None] = lambda: None
        """Called before the catalogue reads the database (the importer's: until its last COPY is done)."""

    def version(self, code: str, day: date) -> Version | tuple[str, dict]:
        """The version in force on `day`, or why there is none (a problem id and its params)."""
        versions = self.versions.get(code)
        if not versions:
            return "unknown_procedure", {"code": code}
        for version in reversed(versions):
            if version.effective_from <= day and (version.effective_to is None or version.effective_to >= day):
                return version
        return "procedure_not_in_force", {"code": code, "day": f"{day:%d/%m/%Y}"}

    def components(self, version: Version) -> tuple:
        if version.id not in self.listed:
            self.quiet()
            self.listed[version.id] = tuple(components_of(self._session, [version.id])[version.id])
        return self.listed[version.id]

    def calendar(self, agency_code: str) -> WorkingCalendar:
        if agency_code not in self.calendars:
            self.quiet()
            self.calendars[agency_code] = self._calendar_for(agency_code)
        return self.calendars[agency_code]

    def prefetch(self) -> None:
        """Read every component list and every agency's calendar now, so that blocks need no database."""
        for version_id, listed in components_of(self._session, list(self.by_id)).items():
            self.listed[version_id] = tuple(listed)
        for code in self.agencies:
            self.calendar(code)
        self._session = self._calendar_for = None


# --- one record, resolved --------------------------------------------------------------------------


@dataclass
class _Entry:
    """A record read and resolved: what its rows are made of."""

    line: int
    plain: Plain
    raw: Any
    id: int = 0
    procedure_id: int = 0
    procedure_code: str = ""
    receiving_agency_id: int = 0
    day: date | None = None
    events: list[tuple] = field(default_factory=list)
    """(type, at µs, acting agency id, to agency id or -1, new due µs or NONE, actor, reason, result)"""
    components: list[dict] = field(default_factory=list)
    shape_seq: int = -1
    """The daily sequence of the external code when it has our shape for this agency and day (it can stay ours)."""
    index_flags: int = 0
    """The Decision 766 facts of the dossier as bits (sla.core.index766), as intake and the events write them."""


def _step_field(plain: Plain, k: int, name: str) -> str:
    """The field an event's value came from: its step in QuaTrinhXuLy, else the record's own fields."""
    if plain.positions is not None:
        return f"QuaTrinhXuLy[{plain.positions[k]}].{name}"
    return "DonViXuLy" if name == "PhongBanXuLy" else "QuaTrinhXuLy"


def _resolve(catalogue: Catalogue, line: int, plain: Plain, raw: Any) -> _Entry | list[Problem]:
    """The record's codes as our ids: the procedure version in force on its first day, every agency it names, the
    components it lists; every unknown one named."""
    code = plain.code
    agencies = catalogue.agencies
    problems: list[Problem] = []

    def fail(name: str, message_id: str, **params: Any) -> None:
        problems.append(Problem.of(line, name, message_id, params, code))

    entry = _Entry(line, plain, raw)
    agency_id = agencies.get(plain.agency_code)
    if agency_id is None:
        fail("DonViXuLy", "unknown_agency", code=plain.agency_code)
    entry.day = plain.day
    version = catalogue.version(plain.procedure_code, entry.day)
    if isinstance(version, tuple):
        fail("MaTTHC", version[0], **version[1])
    holder = -1 if agency_id is None else agency_id
    events = entry.events
    for k, (event_type, at, actor, agency, to_code, reason, result, new_due) in enumerate(plain.events):
        acting = holder
        if agency:
            acting = agencies.get(agency)
            if acting is None:
                fail(_step_field(plain, k, "PhongBanXuLy"), "unknown_agency", code=agency)
                continue
        to_agency = -1
        if to_code:
            to_agency = agencies.get(to_code)
            if to_agency is None:
                fail(_step_field(plain, k, "NoiDungXuLy"), "unknown_handoff_agency", code=to_code)
                continue
            holder = to_agency
        events.append((_EVENT_CODES[event_type], at, acting, to_agency, new_due, (actor or IMPORT_ACTOR)[:64], reason,
                       result))  # fmt: skip
    if agency_id is None or isinstance(version, tuple):
        return problems
    if plain.components:  # from_record checked them as `ReceivedComponent` does
        received = [SimpleNamespace(**{**_RECEIVED, **c, "form": ComponentForm(c["form"]) if "form" in c else None})
                    for c in plain.components]  # fmt: skip
        try:
            entry.components = received_components(version.code, catalogue.components(version), received)
        except DomainError as exc:
            fail("TaiLieuNop", "components", reason=exc.detail, **exc.params)
    if problems:
        return problems
    entry.index_flags = _index_flags(version.result_kind, plain, entry.components)
    entry.procedure_id, entry.procedure_code, entry.receiving_agency_id = version.id, version.code, agency_id
    if code.startswith(plain.agency_code):  # our shape: <agency>-<yymmdd>-<at least 4 digits>
        prefix = f"{plain.agency_code}-{entry.day:%y%m%d}-"
        suffix = code[len(prefix) :]
        if code.startswith(prefix) and suffix.isdigit() and len(suffix) >= 4:
            entry.shape_seq = int(suffix)
    return entry


_RECEIVED = dict.fromkeys(("seq", "name", "form", "copies", *index766.COMPONENT_FLAGS))


def _index_flags(result_kind: str | None, plain: Plain, components: list[dict]) -> int:
    if not components and not plain.fees:  # most records: the dossier's own facts only, remembered by value
        return _plain_flags(result_kind, plain.electronic_result, plain.vneid_verified,
                            plain.population_ref is not None)  # fmt: skip
    fees = [{**f, "paid_at": None if f["paid_at"] == NONE else f["paid_at"]} for f in plain.fees]
    return index766.dossier_flags(result_kind=result_kind, electronic_result=plain.electronic_result,
                                  components=components, vneid_verified=plain.vneid_verified,
                                  population_ref=plain.population_ref, fees=fees)  # fmt: skip


@lru_cache(maxsize=64)
def _plain_flags(result_kind: str | None, electronic: bool | None, vneid: bool | None, population: bool) -> int:
    return index766.dossier_flags(result_kind=result_kind, electronic_result=electronic, vneid_verified=vneid,
                                  population_ref="link" if population else None)  # fmt: skip


# --- a block ---------------------------------------------------------------------------------------


ROW_TABLES = ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee", "imported_dossier",
              "exchange_dossier_sync")  # fmt: skip


@dataclass
class Rows:
    """One table's rows of a block: binary COPY (`data`, `ends`: where each row ends) or typed `columns`; and
    `record`: each row's good record (its place among the block's good records)."""

    names: list[str]
    record: np.ndarray
    data: np.ndarray | None = None
    ends: np.ndarray | None = None
    columns: dict | None = None


@dataclass
class Block:
    """What one block of records gives the writer: its problems, and its good records with their rows."""

    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    bad: list[tuple[int, Any, list[Problem]]] = field(default_factory=list)
    """(line, the line's bytes or the record, its problems) of each bad record, for the rejects file."""
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lines: list[int] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    agencies: list[int] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    shape_seqs: list[int] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    """The search text after the code (the folded applicant's name, phone and identity number)."""
    finding: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    findings: list[tuple[int, dict]] = field(default_factory=list)
    """(good record, the finding without our code) of the first findings of the block."""
    rows: dict[str, Rows] = field(default_factory=dict)


def prepare(catalogue: Catalogue, items, ids, *, findings_shown: int) -> Block:
    """The block of `items` ((line, record or `Unreadable`, the line's bytes or None)), each with the dossier id of
    `ids` at its place (a bad record leaves its id unused)."""
    block = Block()
    entries: list[_Entry] = []
    for (line, record, raw), dossier_id in zip(items, ids, strict=False):
        block.records += 1
        if isinstance(record, Unreadable):
            problems = [Problem.of(line, record.field, record.message_id, record.params)]
        else:
            plain = read_plain(record)
            if plain is None:  # anything read_plain would not be sure of: from_record reads it, or names why not
                try:
                    plain = plain_of(from_record(record))
                except RecordError as exc:
                    plain = [Problem.of(line, name, message_id, params, exc.code)
                             for name, message_id, params in exc.details]  # fmt: skip
            resolved = _resolve(catalogue, line, plain, record) if isinstance(plain, Plain) else plain
            if not isinstance(resolved, list):
                resolved.id = dossier_id
                entries.append(resolved)
                continue
            problems = resolved
        block.problems += problems
        block.bad.append((line, record if raw is None else raw, problems))
    if entries:
        _rows(catalogue, block, entries, findings_shown)
    return block


def read_block(catalogue: Catalogue, raw: bytes, first_line: int, ids: np.ndarray, findings_shown: int) -> Block:
    """A block of JSON lines as a reader process makes it (the module's `CATALOGUE` was set before the fork; the
    process reads blocks only, without the cyclic garbage collector: exchange/history.py, `_no_cyclic_gc`). `ids`:
    one a line, as the importer reserved them (a blank line leaves its id unused)."""
    gc.disable()
    lines = raw.split(b"\n")
    kept = [k for k, text in enumerate(lines[: len(ids)]) if text.strip()]
    items = (json_line(first_line + k, lines[k]) for k in kept)
    return prepare(catalogue or CATALOGUE, items, ids[kept].tolist(), findings_shown=findings_shown)


CATALOGUE: Catalogue | None = None
"""The catalogue reader processes inherit (set by the importer before it starts them)."""


def _rows(catalogue: Catalogue, block: Block, entries: list[_Entry], findings_shown: int) -> None:
    calendars = {catalogue.codes[e.receiving_agency_id]: None for e in entries}
    calendars = {code: catalogue.calendar(code) for code in calendars}
    replayed = replay_new(entries, _event_columns(entries), rules=catalogue.rules, calendars=calendars,
                                   codes=catalogue.codes, derived_at=catalogue.now)  # fmt: skip
    for row, exc in sorted(replayed.failed.items()):
        entry = entries[row]
        problem = Problem.of(entry.line, "QuaTrinhXuLy", *_replay_problem(exc), entry.plain.code)
        block.problems.append(problem)
        block.bad.append((entry.line, entry.raw, [problem]))
    if not replayed.derived:
        return
    done = [entries[i] for i in range(len(entries)) if i not in replayed.failed]
    block.ids = np.asarray([e.id for e in done], dtype=np.int64)
    block.lines = [e.line for e in done]
    block.external = [e.plain.code for e in done]
    block.agencies = [e.receiving_agency_id for e in done]
    block.days = [e.day for e in done]
    block.shape_seqs = [e.shape_seq for e in done]
    block.search = [_search_rest(e.plain.applicant) for e in done]
    tables = _columns(catalogue, done, replayed, calendars, block, findings_shown)
    for table, (columns, record) in tables.items():
        if not len(record):
            continue
        names = list(columns)
        if not catalogue.postgres:
            block.rows[table] = Rows(names, record, columns=columns)
            continue
        types = catalogue.types[table]
        fields = [Field.of(kind, values, types[name]) for name, (kind, values) in columns.items()]
        count = len(fields) + (len(DOSSIER_CODED) if table == "dossier" else 0)
        data, ends = binary_rows(fields, field_count=count)
        block.rows[table] = Rows(names, record, data=data, ends=ends)


def _event_columns(entries: list[_Entry]) -> EventColumns:
    rows = np.repeat(np.arange(len(entries)), [len(e.events) for e in entries])
    flat = [event for entry in entries for event in entry.events]
    return EventColumns(
        dossier=rows.astype(np.int64),
        type=np.fromiter((e[0] for e in flat), dtype=np.int64, count=len(flat)),
        at=np.fromiter((e[1] for e in flat), dtype=np.int64, count=len(flat)),
        agency=np.fromiter((e[2] for e in flat), dtype=np.int64, count=len(flat)),
        to_agency=np.fromiter((e[3] for e in flat), dtype=np.int64, count=len(flat)),
        new_due=np.fromiter((e[4] for e in flat), dtype=np.int64, count=len(flat)),
    )


def _columns(catalogue: Catalogue, done: list[_Entry], replayed, calendars, block: Block, shown: int) -> dict:
    """Every table's typed columns for the good records `done`, each with the good record of each row."""
    n = len(done)
    derived = dict(replayed.derived)
    ids = derived.pop("dossier_id")[1]
    every = np.arange(n)
    plains = [e.plain for e in done]
    applicants = [p.applicant for p in plains]
    submitted = [p.events[0][1] if p.events[0][0] == "submitted" else NONE for p in plains]
    received = [
        next((x[1] for x in p.events if x[0] == "received"), NONE) if p.events[0][0] == "submitted" else p.events[0][1]
        for p in plains
    ]  # fmt: skip
    tables: dict[str, tuple[dict, np.ndarray]] = {}
    tables["dossier"] = ({
        "id": ("int", ids),
        "procedure_id": ("int", np.asarray([e.procedure_id for e in done], dtype=np.int64)),
        "procedure_code": ("text", [e.procedure_code for e in done]),
        "receiving_agency_id": ("int", np.asarray([e.receiving_agency_id for e in done], dtype=np.int64)),
        "channel": ("text", [p.channel for p in plains]),
        "applicant_name": ("text", [a.name for a in applicants]),
        "applicant_id_number": ("text", [a.id_number for a in applicants]),
        "applicant_phone": ("text", [a.phone for a in applicants]),
        "applicant_address": ("text", [a.address for a in applicants]),
        "submitted_at": ("instant", np.asarray(submitted, dtype=np.int64)),
        "received_at": ("instant", np.asarray(received, dtype=np.int64)),
        "event_count": ("int", np.asarray([len(e.events) for e in done], dtype=np.int64)),
        "electronic_result": ("optional_int", _optional_flags([p.electronic_result for p in plains])),
        "vneid_verified": ("optional_int", _optional_flags([p.vneid_verified for p in plains])),
        "population_ref": ("text", [p.population_ref for p in plains]),
        "index_flags": ("int", np.asarray([e.index_flags for e in done], dtype=np.int64)),
        **derived,
    }, every)  # fmt: skip

    flat = [(row, seq, event) for row, entry in enumerate(done) for seq, event in enumerate(entry.events, start=1)]
    count = len(flat)
    record = np.fromiter((e[0] for e in flat), dtype=np.int64, count=count)
    types = np.fromiter((e[2][0] for e in flat), dtype=np.int64, count=count)
    at = np.fromiter((e[2][1] for e in flat), dtype=np.int64, count=count)
    acting = np.fromiter((e[2][2] for e in flat), dtype=np.int64, count=count)
    tables["dossier_event"] = ({
        "dossier_id": ("int", ids[record]),
        "seq": ("int", np.fromiter((e[1] for e in flat), dtype=np.int64, count=count)),
        "type": ("text", [EVENT_TYPES[t] for t in types.tolist()]),
        "at": ("instant", at),
        "recorded_at": ("instant", at),
        "actor": ("text", [e[2][5] for e in flat]),
        "agency_id": ("optional_int", acting),
        "from_agency_id": ("optional_int", np.where(types == _FORWARDED, acting, -1)),
        "to_agency_id": ("optional_int", np.fromiter((e[2][3] for e in flat), dtype=np.int64, count=count)),
        "reason": ("text", [e[2][6] for e in flat]),
        "result": ("text", [e[2][7] for e in flat]),
        "new_due_at": ("instant", np.fromiter((e[2][4] for e in flat), dtype=np.int64, count=count)),
        "apology_late": ("bool", np.zeros(count, dtype=bool)),
    }, record)  # fmt: skip

    stages = dict(replayed.stages)
    if stages:
        stage_record = np.searchsorted(ids, stages["dossier_id"][1]) if _sorted(ids) else _rows_of(ids, stages)
        tables["stage"] = (stages, stage_record)

    parts = [(row, c) for row, entry in enumerate(done) for c in entry.components]
    if parts:
        tables["dossier_component"] = ({
            "dossier_id": ("int", ids[[p[0] for p in parts]]),
            "seq": ("int", np.asarray([p[1]["seq"] for p in parts], dtype=np.int64)),
            "component_seq": ("int", np.asarray([p[1]["component_seq"] for p in parts], dtype=np.int64)),
            "name": ("text", [p[1]["name"] for p in parts]),
            "form": ("text", [p[1]["form"] for p in parts]),
            "copies": ("int", np.asarray([p[1]["copies"] for p in parts], dtype=np.int64)),
            **{flag: ("optional_int", _optional_flags([p[1].get(flag) for p in parts]))
               for flag in index766.COMPONENT_FLAGS},
        }, np.asarray([p[0] for p in parts], dtype=np.int64))  # fmt: skip

    fees = [(row, seq, fee) for row, plain in enumerate(plains) for seq, fee in enumerate(plain.fees, start=1)]
    if fees:
        tables["dossier_fee"] = ({
            "dossier_id": ("int", ids[[f[0] for f in fees]]),
            "seq": ("int", np.asarray([f[1] for f in fees], dtype=np.int64)),
            "name": ("text", [f[2]["name"] for f in fees]),
            "amount_vnd": ("int", np.asarray([f[2]["amount_vnd"] for f in fees], dtype=np.int64)),
            "payment_channel": ("text", [f[2]["payment_channel"] for f in fees]),
            "paid_at": ("instant", np.asarray([f[2]["paid_at"] for f in fees], dtype=np.int64)),
            "recorded_at": ("instant", np.full(len(fees), catalogue.now_us, dtype=np.int64)),
        }, np.asarray([f[0] for f in fees], dtype=np.int64))  # fmt: skip

    tables["imported_dossier"] = (_theirs(catalogue, done, ids, derived, np.asarray(received, dtype=np.int64),
                                          calendars, block, shown), every)  # fmt: skip
    # indicator 1.4: an imported dossier came from the national system (its record is the one the portal holds), so
    # it counts as synced, with the import as the evidence (`import_id`), not as a change to send
    synced = np.full(n, catalogue.now_us, dtype=np.int64)
    tables["exchange_dossier_sync"] = ({
        "dossier_id": ("int", ids),
        "synced_change_id": ("int", np.zeros(n, dtype=np.int64)),
        "state": ("text", ["synced"] * n),
        "attempts": ("int", np.zeros(n, dtype=np.int64)),
        "first_synced_at": ("instant", synced),
        "synced_at": ("instant", synced),
        "import_id": ("int", np.full(n, catalogue.import_id, dtype=np.int64)),
    }, every)  # fmt: skip
    return tables


def _sorted(ids: np.ndarray) -> bool:
    return bool(np.all(ids[1:] > ids[:-1]))


def _rows_of(ids: np.ndarray, columns: dict) -> np.ndarray:
    order = np.argsort(ids)
    return order[np.searchsorted(ids[order], columns["dossier_id"][1])]


def _theirs(catalogue: Catalogue, done, ids, derived, received: np.ndarray, calendars, block: Block, shown: int):
    """imported_dossier: each record's code, appointment and status beside ours, and the disagreements."""
    n = len(done)
    ours = np.full(n, NONE)
    agency = [catalogue.codes[e.receiving_agency_id] for e in done]
    groups: dict[tuple[int, str], list[int]] = {}
    for row, entry in enumerate(done):
        if received[row] != NONE:
            groups.setdefault((entry.procedure_id, agency[row]), []).append(row)
    for (procedure_id, agency_code), rows in groups.items():  # the due told at receipt, as `received` gives it
        rule = catalogue.rules[procedure_id]
        rows = np.asarray(rows)
        _, ours[rows] = CalendarOps(calendars[agency_code], "us").due(received[rows], rule.amount, rule.unit,
                                                                      rule.cutoff)  # fmt: skip
    their_status = np.asarray([e.plain.status_code for e in done], dtype=np.int64)
    our_status = derived["status_code"][1]
    theirs = np.asarray([e.plain.appointment_at for e in done], dtype=np.int64)
    both = (theirs != NONE) & (ours != NONE)
    apart = both & (theirs // _MINUTE_US != ours // _MINUTE_US)
    finding = apart | (their_status != our_status)
    days_apart = np.full(n, NONE, dtype=np.int64)
    explaining: list[str | None] = [None] * n
    for row in np.flatnonzero(apart).tolist():
        calendar = calendars[agency[row]]
        days_apart[row], days = explain(calendar, instant(received[row]), instant(ours[row]), instant(theirs[row]))
        explaining[row] = orjson.dumps(days).decode()
    block.finding = finding
    for row in np.flatnonzero(finding)[:shown].tolist():
        days = orjson.loads(explaining[row]) if explaining[row] else None
        apart_by = int(days_apart[row]) if apart[row] else None
        block.findings.append((row, finding_of(None, done[row].plain.code, done[row].line,
                                               instant(theirs[row]), instant(ours[row]), int(their_status[row]),
                                               int(our_status[row]), apart_by, days)))  # fmt: skip
    return {
        "dossier_id": ("int", ids),
        "import_id": ("int", np.full(n, catalogue.import_id, dtype=np.int64)),
        "line": ("int", np.asarray([e.line for e in done], dtype=np.int64)),
        "external_code": ("text", [e.plain.code for e in done]),
        "their_appointment_at": ("instant", theirs),
        "our_appointment_at": ("instant", ours),
        "their_status_code": ("int", their_status),
        "our_status_code": ("int", our_status.astype(np.int64)),
        "working_days_apart": ("nullable_int", np.where(apart, days_apart, NONE)),
        "explaining_days": ("text", explaining),
        "finding": ("bool", finding),
    }


def _optional_flags(values: list[bool | None]) -> np.ndarray:
    """Booleans that may be unknown as 1, 0 and -1 (NULL)."""
    return np.asarray([-1 if v is None else int(v) for v in values], dtype=np.int64)


@lru_cache(maxsize=200_000)
def _folded(text: str | None) -> str:
    """`fold` of an applicant's name, remembered: names repeat, and folding is a third of writing a dossier."""
    return fold(text) if text else ""


def _search_rest(applicant) -> str:
    return " ".join(filter(None, (_folded(applicant.name), _folded(applicant.phone), _folded(applicant.id_number))))


def search_text(code: str, rest: str) -> str:
    """As intake writes it, `fold(" ".join((code, name, phone, id_number)))` (folding is letter by letter)."""
    folded = " ".join(code.lower().split()) if code.isascii() else fold(code)  # as fold does an ASCII code
    return (f"{folded} {rest}" if rest else folded)[:400]


def instant(micros: int) -> datetime | None:
    micros = int(micros)
    return None if micros == NONE else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


# --- why two appointments differ -------------------------------------------------------------------


def explain(
    calendar: WorkingCalendar, received: datetime | None, ours: datetime, theirs: datetime
) -> tuple[int, list[list[str]]]:
    """How far their appointment is from ours in working days of our calendar (theirs − ours: 0 on the same day),
    and the days from the receipt to the later of the two that are not plain Monday–Friday (holidays, compensatory
    days, make-up Saturdays, local closures): `[yyyy-mm-dd, off | workday, reason]`. A make-up Saturday between
    usually explains a later appointment (the other system did not work it), a holiday an earlier one."""
    first = (received or min(ours, theirs)).astimezone(LOCAL_TZ).date()
    ours_day, theirs_day = ours.astimezone(LOCAL_TZ).date(), theirs.astimezone(LOCAL_TZ).date()
    last = max(ours_day, theirs_day)
    low, high = sorted((ours_day, theirs_day))
    try:
        between = len(calendar.working_days(low + timedelta(days=1), high)) if low < high else 0
        days = [
            [info.day.isoformat(), info.kind, info.reason]
            for year in range(first.year, last.year + 1)
            for info in calendar.special_days(year)
            if first <= info.day <= last
        ]
    except ValueError:  # a day outside the calendar's years: no explanation, the distance unknown
        return 0, []
    return (between if theirs_day > ours_day else -between), days


def finding_of(code, external_code, line, theirs, ours, their_status, our_status, days_apart, days) -> dict:
    return {
        "code": code,
        "external_code": external_code,
        "line": line,
        "their_appointment_at": theirs,
        "our_appointment_at": ours,
        "their_status_code": their_status,
        "our_status_code": our_status,
        "their_status": STATUS_NAMES.get(Status(their_status)) if 1 <= their_status <= 10 else None,
        "our_status": STATUS_NAMES.get(Status(our_status)),
        "working_days_apart": days_apart,
        "explaining_days": days,
    }
