"""History in: a file of national records (`motcua-dvcqg-1`) taken in as dossiers, their events replayed in bulk.

Each record is read by :func:`exchange.record.from_record` (its intake and events, every bad field named), its
codes are resolved against the catalogue (the procedure version in force on its first day, the agencies), and a
chunk of records at a time is replayed with the batch replay (`dossiers.service.replay_new`: grouped by procedure
version and calendar, `sla.core.batch.replay_batch`) and written with COPY on PostgreSQL, executemany on SQLite.
Memory holds one chunk. What the record said of itself (its appointment `NgayHenTra`, its status) is kept beside
what we derived (`imported_dossier`), and every disagreement is a finding with the calendar days that explain it.

One bad record refuses the file: nothing is written (the caller's transaction rolls back) and every bad record is
named by its line and field; with `skip_bad` the good records are written and the bad ones go to a rejects file.
docs/exchange.md, "History in".
"""

from __future__ import annotations

import csv
import io
import time as timer
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import IO, Any, BinaryIO

import numpy as np
import orjson
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers import service as dossiers
from dossiers.bulk import BulkWriter
from dossiers.models import Dossier, DossierCodeCounter
from dossiers.schemas import ReceivedComponent
from exchange.import_models import ExchangeImport, ImportedDossier
from exchange.problems import english
from exchange.record import History, RecordError, from_record, local_text
from kernel.db import analyze, utc_now
from kernel.errors import DomainError, InvalidInput
from procedures.models import Procedure
from procedures.service import agency_tree, fold
from sla.core import index766
from sla.core.batch import NONE, CalendarOps, EventColumns, micros_of
from sla.core.calendar import LOCAL_TZ, CalendarError, WorkingCalendar
from sla.core.lifecycle import EVENT_TYPES, STATUS_NAMES, Status
from sla.core.lifecycle import InvalidTransition as TransitionRefused
from sla.core.replay import ApologyError, EventOrderError, HandOffError

FORMATS = ("jsonl", "csv", "xlsx")
LIST_FIELDS = ("DinhDanhCHS", "TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung", "DanhSachXinLoi",
               "DanhSachGiayToKetQua", "DSKetNoiCSDL", "QuaTrinhXuLy")  # fmt: skip
"""In CSV and XLSX these columns hold their list as JSON text; every other column is the record's field as is."""
DEFAULT_CHUNK = 20_000
IMPORT_ACTOR = "exchange-import"
"""The actor of an imported event whose record names nobody (NguoiXuLy empty)."""
FINDINGS_SHOWN = 100
PROBLEMS_KEPT = 200
"""The problems an import keeps for its page (`exchange_import.problems`); the answer and the rejects file have all."""
TABLES = ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee", "dossier_code_counter",
          "imported_dossier", "exchange_dossier_sync")
_EVENT_CODES = {name: code for code, name in enumerate(EVENT_TYPES)}
_MINUTE_US = 60_000_000


# --- what an import reports ----------------------------------------------------------------------


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
                "message_id": self.message_id, "params": _plain(self.params)}  # fmt: skip

    def __str__(self) -> str:
        who = f" ({self.code})" if self.code else ""
        return f"line {self.line}{who}, {self.field}: {self.message}"


@dataclass
class ImportReport:
    file_name: str
    import_id: int | None = None
    records: int = 0
    written: int = 0
    problems: list[Problem] = field(default_factory=list)
    findings: int = 0
    first_findings: list[dict] = field(default_factory=list)
    """The first `FINDINGS_SHOWN` findings; every one is in `imported_dossier` (the import page lists them)."""
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len({p.line for p in self.problems})

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "file_name": self.file_name,
            "records": self.records,
            "written": self.written,
            "rejected": self.rejected,
            "problems": [p.as_dict() for p in self.problems],
            "findings": self.findings,
            "first_findings": self.first_findings,
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        return (
            f"{self.written} of {self.records} records imported (import {self.import_id}), {self.rejected} rejected, "
            f"{self.findings} disagreeing with our clock, in {self.seconds:.1f} s ({rate:,.0f} records/s)"
        )


class ImportRefused(InvalidInput):
    """A file with bad records, imported without `skip_bad`: nothing is written; `errors` names every bad record."""

    def __init__(self, report: ImportReport) -> None:
        shown = "; ".join(str(p) for p in report.problems[:5])
        more = f"; and {len(report.problems) - 5} more" if len(report.problems) > 5 else ""
        super().__init__(
            f"{report.rejected} of {report.records} records are bad, so nothing was imported from "
            f"{report.file_name}: {shown}{more}. Correct them, or import with skip_bad to write the good records "
            "and get the bad ones back in a rejects file",
            errors=[p.as_dict() for p in report.problems],
            message_id="history_import_refused",
            rejected=report.rejected,
            records=report.records,
        )
        self.report = report


def _plain(params: dict[str, Any]) -> dict[str, Any]:
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


# --- reading files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unreadable:
    """A line or row that is not a record at all: the field, the problem's id and params (exchange/problems.py)."""

    field: str
    message_id: str
    params: dict[str, Any]

    @property
    def message(self) -> str:
        return english(self.message_id, self.params)


def format_of(name: str) -> str:
    lowered = name.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"),
                        (".xlsx", "xlsx")):  # fmt: skip
        if lowered.endswith(suffix):
            return fmt
    raise InvalidInput(
        f"cannot tell the format of {name!r}: name the file .jsonl (one national record a line), .csv or .xlsx",
        message_id="history_format",
    )


def read_records(stream: BinaryIO, fmt: str) -> Iterator[tuple[int, dict | Unreadable, bytes | None]]:
    """(line, record or why it is unreadable, the line's own bytes for a rejects file: JSON lines only)."""
    if fmt == "jsonl":
        yield from _json_lines(stream)
    elif fmt == "csv":
        yield from _csv_rows(stream)
    elif fmt == "xlsx":
        yield from _xlsx_rows(stream)
    else:
        raise InvalidInput(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")


def _json_lines(stream: BinaryIO):
    for line, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield line, Unreadable("record", "not_json", {"reason": str(exc)}), raw
            continue
        if not isinstance(record, dict):
            yield line, Unreadable("record", "not_object", {"got": type(record).__name__}), raw
            continue
        yield line, record, raw


def _cells(header: list[str], values, line: int) -> dict | Unreadable:
    record = {}
    for name, value in zip(header, values, strict=False):
        if not name or value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a spreadsheet's number: 20250602090000, 2
        if name in LIST_FIELDS and isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                return Unreadable(name, "not_json_list", {"value": value[:40], "reason": str(exc)})
        record[name] = value
    return record


def _csv_rows(stream: BinaryIO):
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""))
    header = [name.strip() for name in next(reader, [])]
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, _cells(header, row, reader.line_num), None


def _xlsx_rows(stream: BinaryIO):
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(stream, read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # noqa: BLE001  (openpyxl raises many kinds for a file that is no workbook)
        raise InvalidInput(f"not an XLSX workbook: {exc}", message_id="history_format") from exc
    rows = sheet.iter_rows(values_only=True)
    header = [str(name).strip() if name is not None else "" for name in next(rows, ())]
    for line, row in enumerate(rows, start=2):
        if any(cell not in (None, "") for cell in row):
            yield line, _cells(header, row, line), None


# --- the catalogue an import resolves codes against ----------------------------------------------


class _Catalogue:
    def __init__(self, session: Session, calendar_for: Callable[[str], WorkingCalendar]) -> None:
        self.session = session
        self.tree = agency_tree(session)
        self.codes = {a.id: a.code for a in self.tree.by_id.values()}
        self.versions: dict[str, list[Procedure]] = {}
        for version in session.execute(select(Procedure).order_by(Procedure.effective_from)).scalars():
            self.versions.setdefault(version.code, []).append(version)
        self.by_id = {v.id: v for versions in self.versions.values() for v in versions}
        self.rules = {v.id: dossiers.rule_for(session, v) for v in self.by_id.values()}
        self.listed: dict[int, tuple] = {}
        self.calendar_for = calendar_for
        self.calendars: dict[str, WorkingCalendar] = {}

    def version(self, code: str, day: date) -> Procedure | tuple[str, dict]:
        """The version in force on `day`, or why there is none (a problem id and its params)."""
        versions = self.versions.get(code)
        if not versions:
            return "unknown_procedure", {"code": code}
        for version in reversed(versions):
            if version.effective_from <= day and (version.effective_to is None or version.effective_to >= day):
                return version
        return "procedure_not_in_force", {"code": code, "day": f"{day:%d/%m/%Y}"}

    def components(self, version: Procedure) -> tuple:
        if version.id not in self.listed:
            self.listed[version.id] = dossiers.listed_components(self.session, version)
        return self.listed[version.id]

    def calendar(self, agency_code: str) -> WorkingCalendar:
        if agency_code not in self.calendars:
            self.calendars[agency_code] = self.calendar_for(agency_code)
        return self.calendars[agency_code]


# --- one record, resolved ------------------------------------------------------------------------


@dataclass
class _Entry:
    """A record read and resolved: what its rows are made of."""

    line: int
    history: History
    raw: Any
    id: int = 0
    procedure_id: int = 0
    procedure_code: str = ""
    receiving_agency_id: int = 0
    day: date | None = None
    events: list[tuple] = field(default_factory=list)
    """(type, at µs, acting agency id, to agency id or -1, new due µs or NONE, actor, reason, result)"""
    components: list[dict] = field(default_factory=list)
    code: str | None = None
    shape_seq: int | None = None
    """The daily sequence of the external code when it has our shape for this agency and day (it can stay ours)."""
    index_flags: int = 0
    """The Decision 766 facts of the dossier as bits (sla.core.index766), as intake and the events write them."""


def _step_field(history: History, k: int, name: str) -> str:
    """The field an event's value came from: its step in QuaTrinhXuLy, else the record's own fields."""
    if history.steps:
        positions = [n for n in range(len(history.steps) + len(history.ignored_steps)) if n not in
                     history.ignored_steps]  # fmt: skip
        return f"QuaTrinhXuLy[{positions[k]}].{name}"
    return "DonViXuLy" if name == "PhongBanXuLy" else "QuaTrinhXuLy"


def _resolve(catalogue: _Catalogue, line: int, history: History, raw: Any) -> _Entry | list[Problem]:
    """The record's codes as our ids: the procedure version in force on its first day, every agency it names, the
    components it lists; every unknown one named."""
    intake, code = history.intake, history.intake.code
    problems: list[Problem] = []

    def fail(name: str, message_id: str, **params: Any) -> None:
        problems.append(Problem.of(line, name, message_id, params, code))

    entry = _Entry(line, history, raw)
    agency = catalogue.tree.by_code.get(intake.agency_code)
    if agency is None:
        fail("DonViXuLy", "unknown_agency", code=intake.agency_code)
    first = history.events[0]
    entry.day = first.at.date() if first.at.tzinfo is LOCAL_TZ else first.at.astimezone(LOCAL_TZ).date()
    version = catalogue.version(intake.procedure_code, entry.day)
    if isinstance(version, tuple):
        fail("MaTTHC", version[0], **version[1])
    holder = agency.id if agency else -1
    for k, event in enumerate(history.events):
        acting = holder
        if event.agency:
            known = catalogue.tree.by_code.get(event.agency)
            if known is None:
                fail(_step_field(history, k, "PhongBanXuLy"), "unknown_agency", code=event.agency)
                continue
            acting = known.id
        to_agency = -1
        if event.to_agency:
            known = catalogue.tree.by_code.get(event.to_agency)
            if known is None:
                fail(_step_field(history, k, "NoiDungXuLy"), "unknown_handoff_agency", code=event.to_agency)
                continue
            to_agency = holder = known.id
        entry.events.append(
            (_EVENT_CODES[event.type], _micros(event.at), acting, to_agency, _micros(event.new_due_at),
             (event.actor or IMPORT_ACTOR)[:64], event.reason, event.result)  # fmt: skip
        )
    if agency is None or isinstance(version, tuple):
        return problems
    try:
        if intake.components:
            received = [ReceivedComponent(**c) for c in intake.components]
            entry.components = dossiers.received_components(version.code, catalogue.components(version), received)
    except ValidationError as exc:
        fail("TaiLieuNop", "component_invalid", reason="; ".join(error["msg"] for error in exc.errors()))
    except DomainError as exc:
        fail("TaiLieuNop", "components", reason=exc.detail, **exc.params)
    if problems:
        return problems
    entry.index_flags = index766.dossier_flags(
        result_kind=version.result_kind,
        electronic_result=history.electronic_result,
        components=entry.components,
        vneid_verified=intake.vneid_verified,
        population_ref=intake.population_ref,
        fees=intake.fees,
    )
    entry.procedure_id, entry.procedure_code, entry.receiving_agency_id = version.id, version.code, agency.id
    prefix = f"{agency.code}-{entry.day:%y%m%d}-"
    suffix = code[len(prefix) :]
    if code.startswith(prefix) and suffix.isdigit() and len(suffix) >= 4:
        entry.shape_seq = int(suffix)
    return entry


# --- the import ----------------------------------------------------------------------------------


def import_history(
    session: Session,
    stream: BinaryIO,
    *,
    file_name: str,
    actor: str,
    calendar_for: Callable[[str], WorkingCalendar],
    fmt: str | None = None,
    skip_bad: bool = False,
    rejects: IO[bytes] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    set_aside_indexes: bool | None = None,
) -> ImportReport:
    """Take in the records of `stream` as dossiers, in the session's transaction (the caller commits).

    A bad record refuses the file (:class:`ImportRefused`, every bad record named; the caller rolls back), unless
    `skip_bad`: then the good records are written and each bad one goes to `rejects` as a JSON line
    `{"line", "problems", "record"}`. The tables are analysed at the end.

    `set_aside_indexes` drops the dossier tables' secondary indexes (and PostgreSQL's foreign keys) during the load
    and rebuilds them at the end, as the generator does: by default when the file is at least 100 MB and holds
    more records (about 2.4 kB each) than the dossier table has rows: a province's history into a new database.
    """
    started = timer.perf_counter()
    fmt = fmt or format_of(file_name)
    now = now or utc_now()
    report = ImportReport(file_name=file_name)
    catalogue = _Catalogue(session, calendar_for)
    batch = ExchangeImport(actor=actor[:64], file_name=file_name[:255], file_format=fmt, skip_bad=skip_bad,
                           started_at=now)  # fmt: skip
    session.add(batch)
    session.flush()
    report.import_id = batch.id
    writer = _Writer(session, catalogue, batch.id, now)
    bulk = BulkWriter(session.connection())
    if set_aside_indexes is None:
        set_aside_indexes = _large(stream) > max(40_000, 2 * _rows(session))
    restore = bulk.set_aside_indexes(keep=KEPT_INDEXES) if set_aside_indexes else []
    chunk: list[_Entry] = []
    read: list[tuple[int, Any, list[Problem]]] = []  # the chunk's records in file order, for the rejects file

    def flush() -> None:
        bad = writer.write(chunk, report)
        if rejects is not None and skip_bad:
            _reject(rejects, read, bad)
        if progress:
            progress(len(read))
        chunk.clear()
        read.clear()

    for line, record, raw in read_records(stream, fmt):
        report.records += 1
        problems: list[Problem] = []
        if isinstance(record, Unreadable):
            problems.append(Problem.of(line, record.field, record.message_id, record.params))
        else:
            try:
                history = from_record(record)
            except RecordError as exc:
                problems = [Problem.of(line, name, message_id, params, exc.code)
                            for name, message_id, params in exc.details]  # fmt: skip
            else:
                resolved = _resolve(catalogue, line, history, record)
                if isinstance(resolved, list):
                    problems = resolved
                else:
                    chunk.append(resolved)
        report.problems.extend(problems)
        read.append((line, record if raw is None else raw, problems))
        if len(read) >= chunk_size:
            flush()
    flush()
    batch.records, batch.written, batch.rejected, batch.findings = (
        report.records, report.written, report.rejected, report.findings,
    )  # fmt: skip
    batch.problems = [p.as_dict() for p in report.problems[:PROBLEMS_KEPT]] or None
    batch.finished_at = utc_now()
    session.add(batch)
    session.flush()
    if report.problems and not skip_bad:
        report.seconds = timer.perf_counter() - started
        raise ImportRefused(report)
    writer.finish()
    bulk.restore_indexes(restore)
    analyze(session.connection(), TABLES)
    report.seconds = timer.perf_counter() - started
    return report


KEPT_INDEXES = ("ix_dossier_code",)
"""Kept through a load with the indexes set aside: every chunk looks its codes up."""


def _large(stream: BinaryIO) -> int:
    """About how many records a file holds (2.4 kB each), 0 under 100 MB or when it cannot be measured."""
    try:
        size = _size(stream)
    except (OSError, ValueError):
        return 0
    return size // 2400 if size >= 100_000_000 else 0


def _size(stream: BinaryIO) -> int:
    here = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return end - here


def _rows(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Dossier)).scalar_one()


def _reject(rejects: IO[bytes], read: list, bad: dict[int, list[Problem]]) -> None:
    for line, record, problems in read:
        problems = problems or bad.get(line)
        if not problems:
            continue
        if isinstance(record, bytes):
            try:
                record = orjson.loads(record)
            except orjson.JSONDecodeError:
                record = record.decode("utf-8", "replace").rstrip("\n")
        elif isinstance(record, Unreadable):
            record = None
        entry = {"line": line, "record": record,
                 "problems": [{"field": p.field, "message": p.message, "message_id": p.message_id,
                               "params": _plain(p.params)} for p in problems]}  # fmt: skip
        rejects.write(orjson.dumps(entry, default=str) + b"\n")


class _Writer:
    """Replays and writes one chunk at a time; keeps the code counters it raised across chunks."""

    def __init__(self, session: Session, catalogue: _Catalogue, import_id: int, now: datetime) -> None:
        self.session = session
        self.catalogue = catalogue
        self.import_id = import_id
        self.now = now
        self.postgres = session.connection().dialect.name == "postgresql"
        self.counters: dict[tuple[int, date], int] = {}  # (agency id, day) → the last sequence given or imported

    # -- a chunk ---------------------------------------------------------------------------------

    def write(self, chunk: list[_Entry], report: ImportReport) -> dict[int, list[Problem]]:
        """Write the chunk's good records; returns the problems found here (line → problems)."""
        if not chunk:
            return {}
        bad: dict[int, list[Problem]] = {}

        def fail(entry: _Entry, name: str, message_id: str, **params: Any) -> None:
            problem = Problem.of(entry.line, name, message_id, params, entry.history.intake.code)
            bad.setdefault(entry.line, []).append(problem)
            report.problems.append(problem)

        chunk = self._unique(chunk, fail)
        if not chunk:
            return bad
        for entry, dossier_id in zip(chunk, self._ids(len(chunk)), strict=True):
            entry.id = dossier_id
        calendars = {}
        for entry in chunk:
            code = self.catalogue.codes[entry.receiving_agency_id]
            calendars[code] = self.catalogue.calendar(code)
        events = self._event_columns(chunk)
        replayed = dossiers.replay_new(chunk, events, rules=self.catalogue.rules, calendars=calendars,
                                       codes=self.catalogue.codes, derived_at=self.now)  # fmt: skip
        for row, exc in sorted(replayed.failed.items()):
            fail(chunk[row], "QuaTrinhXuLy", *_replay_problem(exc))
        if not replayed.derived:
            return bad
        done = [chunk[i] for i in range(len(chunk)) if i not in replayed.failed]
        self._number(done)
        self._insert(done, replayed, calendars, report)
        report.written += len(done)
        return bad

    def _unique(self, chunk: list[_Entry], fail) -> list[_Entry]:
        """Leave out a record whose external code is already imported, or given twice in the file."""
        seen: dict[str, int] = {}
        codes = [e.history.intake.code for e in chunk]
        taken = dict(self._existing(ImportedDossier.external_code, codes, ImportedDossier.dossier_id))
        kept = []
        for entry in chunk:
            code = entry.history.intake.code
            if code in taken:
                fail(entry, "MaHoSo", "already_imported", code=code)
            elif code in seen:
                fail(entry, "MaHoSo", "given_twice", code=code, line=seen[code])
            else:
                seen[code] = entry.line
                kept.append(entry)
        return kept

    def _existing(self, column, values: list[str], *also) -> list:
        query = select(column, *also)
        if self.postgres:
            query = query.where(column == func.any(bindparam("values", type_=postgresql.ARRAY(column.type))))
            return self.session.execute(query, {"values": values}).all()
        found = []
        for start in range(0, len(values), 500):
            found += self.session.execute(query.where(column.in_(values[start : start + 500]))).all()
        return found

    def _ids(self, count: int) -> list[int]:
        """Dossier ids for the chunk: from the table's sequence on PostgreSQL (other writers may run), after the
        largest on SQLite (the import holds the write lock)."""
        if self.postgres:
            return list(self.session.execute(
                text("SELECT nextval(pg_get_serial_sequence('dossier', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            ).scalars())  # fmt: skip
        first = self.session.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM dossier")).scalar_one()
        return list(range(first, first + count))

    def _event_columns(self, chunk: list[_Entry]) -> EventColumns:
        rows = np.repeat(np.arange(len(chunk)), [len(e.events) for e in chunk])
        flat = [event for entry in chunk for event in entry.events]
        return EventColumns(
            dossier=rows.astype(np.int64),
            type=np.fromiter((e[0] for e in flat), dtype=np.int64, count=len(flat)),
            at=np.fromiter((e[1] for e in flat), dtype=np.int64, count=len(flat)),
            agency=np.fromiter((e[2] for e in flat), dtype=np.int64, count=len(flat)),
            to_agency=np.fromiter((e[3] for e in flat), dtype=np.int64, count=len(flat)),
            new_due=np.fromiter((e[4] for e in flat), dtype=np.int64, count=len(flat)),
        )

    def _number(self, chunk: list[_Entry]) -> None:
        """Our codes: the external code itself when it has our shape (`<agency>-<yymmdd>-<nnnn>` of the receiving
        agency and the first event's day) and no dossier has it yet; else the next of the agency's day. Either way
        the day's counter ends past every code of the file, so that the desks continue after the imported ones."""
        self._read_counters({(e.receiving_agency_id, e.day) for e in chunk} - set(self.counters))
        shaped = [e for e in chunk if e.shape_seq is not None]
        taken = {row[0] for row in self._existing(Dossier.code, [e.history.intake.code for e in shaped])}
        for entry in shaped:
            if entry.history.intake.code not in taken:
                entry.code = entry.history.intake.code
                key = (entry.receiving_agency_id, entry.day)
                self.counters[key] = max(self._counter(key), entry.shape_seq)
        for entry in chunk:
            if entry.code is None:
                key = (entry.receiving_agency_id, entry.day)
                sequence = self._counter(key) + 1
                self.counters[key] = sequence
                entry.code = f"{self.catalogue.codes[entry.receiving_agency_id]}-{entry.day:%y%m%d}-{sequence:04d}"

    def _read_counters(self, keys: set[tuple[int, date]]) -> None:
        """The stored counters of these (agency, day) keys, in one query (0 for a day without one)."""
        if not keys:
            return
        table = DossierCodeCounter.__table__
        days = [day for _, day in keys]
        query = select(table.c.agency_id, table.c.day, table.c.last_seq).where(
            table.c.day.between(min(days), max(days)), table.c.agency_id.in_(sorted({a for a, _ in keys}))
        )
        stored = {(a, d): s for a, d, s in self.session.execute(query).all()}
        for key in keys:
            self.counters[key] = stored.get(key, 0)

    def _counter(self, key: tuple[int, date]) -> int:
        if key not in self.counters:
            table = DossierCodeCounter.__table__
            query = select(table.c.last_seq).where(table.c.agency_id == key[0], table.c.day == key[1])
            self.counters[key] = self.session.execute(query).scalar_one_or_none() or 0
        return self.counters[key]

    def finish(self) -> None:
        """The code counters raised by the import (kept at their largest: a desk may have moved them meanwhile)."""
        rows = [{"agency_id": a, "day": d, "last_seq": s} for (a, d), s in sorted(self.counters.items())]
        if not rows:
            return
        table = DossierCodeCounter.__table__
        if self.postgres:
            statement = postgresql.insert(table)
            larger = func.greatest(table.c.last_seq, statement.excluded.last_seq)
        else:
            statement = sqlite.insert(table)
            larger = func.max(table.c.last_seq, statement.excluded.last_seq)
        statement = statement.on_conflict_do_update(index_elements=["agency_id", "day"], set_={"last_seq": larger})
        for start in range(0, len(rows), 10_000):
            self.session.connection().execute(statement, rows[start : start + 10_000])

    # -- rows ------------------------------------------------------------------------------------

    def _insert(self, done: list[_Entry], replayed: dossiers.Replayed, calendars: dict, report: ImportReport) -> None:
        session = self.session
        derived = dict(replayed.derived)
        ids = derived.pop("dossier_id")
        assert ids[1].tolist() == [e.id for e in done]
        first_events = [e.history.events[0] for e in done]
        submitted = [_micros(f.at) if f.type == "submitted" else NONE for f in first_events]
        received = [
            _micros(next((x.at for x in e.history.events if x.type == "received"), None)) if f.type == "submitted"
            else _micros(f.at)
            for e, f in zip(done, first_events, strict=True)
        ]  # fmt: skip
        applicants = [e.history.intake.applicant for e in done]
        codes = [e.code for e in done]
        columns = {
            "id": ("int", ids[1]),
            "code": ("text", codes),
            "procedure_id": ("int", np.asarray([e.procedure_id for e in done], dtype=np.int64)),
            "procedure_code": ("text", [e.procedure_code for e in done]),
            "receiving_agency_id": ("int", np.asarray([e.receiving_agency_id for e in done], dtype=np.int64)),
            "channel": ("text", [e.history.intake.channel for e in done]),
            "applicant_name": ("text", [a.name for a in applicants]),
            "applicant_id_number": ("text", [a.id_number for a in applicants]),
            "applicant_phone": ("text", [a.phone for a in applicants]),
            "applicant_address": ("text", [a.address for a in applicants]),
            "search_text": ("text", [_search_text(c, a.name, a.phone, a.id_number)
                                     for c, a in zip(codes, applicants, strict=True)]),  # fmt: skip
            "submitted_at": ("instant", np.asarray(submitted, dtype=np.int64)),
            "received_at": ("instant", np.asarray(received, dtype=np.int64)),
            "event_count": ("int", np.asarray([len(e.events) for e in done], dtype=np.int64)),
            "electronic_result": ("optional_int", _optional_flags([e.history.electronic_result for e in done])),
            "vneid_verified": ("optional_int", _optional_flags([e.history.intake.vneid_verified for e in done])),
            "population_ref": ("text", [e.history.intake.population_ref for e in done]),
            "index_flags": ("int", np.asarray([e.index_flags for e in done], dtype=np.int64)),
            **derived,
        }
        dossiers.insert_columns(session, "dossier", columns)

        flat = [(entry.id, seq, event) for entry in done for seq, event in enumerate(entry.events, start=1)]
        at = np.fromiter((e[2][1] for e in flat), dtype=np.int64, count=len(flat))
        acting = np.fromiter((e[2][2] for e in flat), dtype=np.int64, count=len(flat))
        types = [EVENT_TYPES[e[2][0]] for e in flat]
        dossiers.insert_columns(session, "dossier_event", {
            "dossier_id": ("int", np.fromiter((e[0] for e in flat), dtype=np.int64, count=len(flat))),
            "seq": ("int", np.fromiter((e[1] for e in flat), dtype=np.int64, count=len(flat))),
            "type": ("text", types),
            "at": ("instant", at),
            "recorded_at": ("instant", at),
            "actor": ("text", [e[2][5] for e in flat]),
            "agency_id": ("optional_int", acting),
            "from_agency_id": ("optional_int", np.where(np.asarray(types) == "forwarded", acting, -1)),
            "to_agency_id": ("optional_int", np.fromiter((e[2][3] for e in flat), dtype=np.int64, count=len(flat))),
            "reason": ("text", [e[2][6] for e in flat]),
            "result": ("text", [e[2][7] for e in flat]),
            "new_due_at": ("instant", np.fromiter((e[2][4] for e in flat), dtype=np.int64, count=len(flat))),
            "apology_late": ("bool", np.zeros(len(flat), dtype=bool)),
        })  # fmt: skip
        dossiers.insert_columns(session, "stage", replayed.stages)
        parts = [(entry.id, c) for entry in done for c in entry.components]
        if parts:
            dossiers.insert_columns(session, "dossier_component", {
                "dossier_id": ("int", np.asarray([p[0] for p in parts], dtype=np.int64)),
                "seq": ("int", np.asarray([p[1]["seq"] for p in parts], dtype=np.int64)),
                "component_seq": ("int", np.asarray([p[1]["component_seq"] for p in parts], dtype=np.int64)),
                "name": ("text", [p[1]["name"] for p in parts]),
                "form": ("text", [p[1]["form"] for p in parts]),
                "copies": ("int", np.asarray([p[1]["copies"] for p in parts], dtype=np.int64)),
                **{flag: ("optional_int", _optional_flags([p[1].get(flag) for p in parts]))
                   for flag in index766.COMPONENT_FLAGS},
            })  # fmt: skip
        fees = [(entry.id, seq, fee) for entry in done for seq, fee in enumerate(entry.history.intake.fees, start=1)]
        if fees:
            dossiers.insert_columns(session, "dossier_fee", {
                "dossier_id": ("int", np.asarray([f[0] for f in fees], dtype=np.int64)),
                "seq": ("int", np.asarray([f[1] for f in fees], dtype=np.int64)),
                "name": ("text", [f[2]["name"] for f in fees]),
                "amount_vnd": ("int", np.asarray([f[2]["amount_vnd"] for f in fees], dtype=np.int64)),
                "payment_channel": ("text", [f[2]["payment_channel"] for f in fees]),
                "paid_at": ("instant", np.asarray([_micros(f[2]["paid_at"]) for f in fees], dtype=np.int64)),
                "recorded_at": ("instant", np.full(len(fees), micros_of(self.now), dtype=np.int64)),
            })  # fmt: skip
        self._synced(done)
        self._keep_theirs(done, derived, np.asarray(received, dtype=np.int64), calendars, report)

    def _synced(self, done: list[_Entry]) -> None:
        """Indicator 1.4: an imported dossier came from the national system (its record is the one the portal
        holds), so it counts as synced, with this import as the evidence (`import_id`), not as a change to send."""
        at = np.full(len(done), micros_of(self.now), dtype=np.int64)
        dossiers.insert_columns(self.session, "exchange_dossier_sync", {
            "dossier_id": ("int", np.asarray([e.id for e in done], dtype=np.int64)),
            "synced_change_id": ("int", np.zeros(len(done), dtype=np.int64)),
            "state": ("text", ["synced"] * len(done)),
            "attempts": ("int", np.zeros(len(done), dtype=np.int64)),
            "first_synced_at": ("instant", at),
            "synced_at": ("instant", at),
            "import_id": ("int", np.full(len(done), self.import_id, dtype=np.int64)),
        })  # fmt: skip

    def _keep_theirs(self, done, derived, received: np.ndarray, calendars, report: ImportReport) -> None:
        """imported_dossier: each record's code, appointment and status beside ours, and the disagreements."""
        ours = np.full(len(done), NONE)
        agency = [self.catalogue.codes[e.receiving_agency_id] for e in done]
        groups: dict[tuple[int, str], list[int]] = {}
        for row, entry in enumerate(done):
            if received[row] != NONE:
                groups.setdefault((entry.procedure_id, agency[row]), []).append(row)
        for (procedure_id, agency_code), rows in groups.items():  # the due told at receipt, as `received` gives it
            rule = self.catalogue.rules[procedure_id]
            rows = np.asarray(rows)
            _, ours[rows] = CalendarOps(calendars[agency_code], "us").due(received[rows], rule.amount, rule.unit,
                                                                          rule.cutoff)  # fmt: skip
        their_status = np.asarray([e.history.status_code for e in done], dtype=np.int64)
        our_status = derived["status_code"][1]
        theirs = np.asarray([_micros(e.history.appointment_at) for e in done], dtype=np.int64)
        both = (theirs != NONE) & (ours != NONE)
        apart = both & (theirs // _MINUTE_US != ours // _MINUTE_US)
        finding = apart | (their_status != our_status)
        days_apart: list[int | None] = [None] * len(done)
        explaining: list[str | None] = [None] * len(done)
        for row in np.flatnonzero(apart).tolist():
            calendar = calendars[agency[row]]
            days_apart[row], days = explain(calendar, _instant(received[row]), _instant(ours[row]),
                                            _instant(theirs[row]))  # fmt: skip
            explaining[row] = orjson.dumps(days).decode()
        for row in np.flatnonzero(finding).tolist():
            report.findings += 1
            if len(report.first_findings) < FINDINGS_SHOWN:
                report.first_findings.append(
                    finding_of(done[row].code, done[row].history.intake.code, done[row].line, _instant(theirs[row]),
                               _instant(ours[row]), int(their_status[row]), int(our_status[row]), days_apart[row],
                               orjson.loads(explaining[row]) if explaining[row] else None)  # fmt: skip
                )
        dossiers.insert_columns(self.session, "imported_dossier", {
            "dossier_id": ("int", np.asarray([e.id for e in done], dtype=np.int64)),
            "import_id": ("int", np.full(len(done), self.import_id, dtype=np.int64)),
            "line": ("int", np.asarray([e.line for e in done], dtype=np.int64)),
            "external_code": ("text", [e.history.intake.code for e in done]),
            "their_appointment_at": ("instant", theirs),
            "our_appointment_at": ("instant", ours),
            "their_status_code": ("int", their_status),
            "our_status_code": ("int", our_status.astype(np.int64)),
            "working_days_apart": ("optional_int", np.asarray([NONE if d is None else d for d in days_apart],
                                                              dtype=np.int64)),
            "explaining_days": ("text", explaining),
            "finding": ("bool", finding),
        })  # fmt: skip


_LOCAL_EPOCH = datetime(1970, 1, 1, 7)  # the epoch in local time: Asia/Ho_Chi_Minh is UTC+7 over the calendar's years
_ONE_US = timedelta(microseconds=1)


def _optional_flags(values: list[bool | None]) -> np.ndarray:
    """Booleans that may be unknown as 1, 0 and -1 (NULL): PostgreSQL's COPY reads 1 and 0 as true and false."""
    return np.asarray([-1 if v is None else int(v) for v in values], dtype=np.int64)


def _micros(instant: datetime | None) -> int:
    """`micros_of` for the instants `from_record` gives (local, UTC+7), without a time-zone lookup each (an
    import reads millions)."""
    if instant is None:
        return NONE
    if instant.tzinfo is LOCAL_TZ:
        return (instant.replace(tzinfo=None) - _LOCAL_EPOCH) // _ONE_US
    return micros_of(instant)


@lru_cache(maxsize=200_000)
def _folded(text: str | None) -> str:
    """`fold` of an applicant's name, remembered: names repeat, and folding is a third of writing a dossier."""
    return fold(text) if text else ""


def _search_text(code: str, name: str, phone: str | None, id_number: str | None) -> str:
    """As intake writes it, `fold(" ".join((code, name, phone, id_number)))` (folding is letter by letter)."""
    return " ".join(filter(None, (_folded(code), _folded(name), _folded(phone), _folded(id_number))))[:400]


def _instant(micros: int) -> datetime | None:
    micros = int(micros)
    return None if micros == NONE else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


# --- why two appointments differ -----------------------------------------------------------------


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


# --- reading imports back ------------------------------------------------------------------------


def imports(session: Session, *, limit: int = 50) -> list[ExchangeImport]:
    """The latest imports, newest first."""
    query = select(ExchangeImport).order_by(ExchangeImport.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def get_import(session: Session, import_id: int) -> ExchangeImport:
    found = session.get(ExchangeImport, import_id)
    if found is None:
        from kernel.errors import NotFound

        raise NotFound(f"no history import {import_id}", message_id="history_import_not_found")
    return found


def findings(session: Session, import_id: int, *, page: int = 1, page_size: int = 50) -> tuple[list[dict], int]:
    """One import's disagreements, in file order, with how many there are."""
    i, d = ImportedDossier, Dossier
    where = (i.import_id == import_id, i.finding)
    total = session.execute(select(func.count()).select_from(i).where(*where)).scalar_one()
    rows = session.execute(
        select(d.code, i.external_code, i.line, i.their_appointment_at, i.our_appointment_at, i.their_status_code,
               i.our_status_code, i.working_days_apart, i.explaining_days)  # fmt: skip
        .join(d, d.id == i.dossier_id)
        .where(*where)
        .order_by(i.line)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    found = []
    for row in rows:
        days = row.explaining_days
        if isinstance(days, str):
            days = orjson.loads(days)
        found.append(finding_of(row.code, row.external_code, row.line, row.their_appointment_at,
                                row.our_appointment_at, row.their_status_code, row.our_status_code,
                                row.working_days_apart, days))  # fmt: skip
    return found, total


__all__ = [
    "FORMATS",
    "ImportRefused",
    "ImportReport",
    "Problem",
    "explain",
    "findings",
    "format_of",
    "get_import",
    "import_history",
    "imports",
    "local_text",
    "read_records",
]
