"""History in: a file of national records (`motcua-dvcqg-1`) taken in as dossiers, their events replayed in bulk.

The file is taken a block of records at a time (exchange/history_rows.py): each record read by
:func:`exchange.record.from_record`, its codes resolved against the catalogue (the procedure version in force on its
first day, the agencies), the block replayed with the batch replay (`dossiers.rebuild.replay_new`: grouped by
procedure version and calendar content, `sla.core.batch.replay_batch`) and its rows made at once. Here the blocks
are written in file order: whether a record was imported before, our dossier codes and the day counters, then the
rows, with binary COPY on PostgreSQL (executemany on SQLite). A large JSON lines file on PostgreSQL is read by
reader processes while this one writes (`readers`): PostgreSQL takes one block while the next ones are read. Memory
holds a few blocks. What the record said of itself (its appointment `NgayHenTra`, its status) is kept beside what we
derived (`imported_dossier`), and every disagreement is a finding with the calendar days that explain it.

One bad record refuses the file: nothing is written (the caller's transaction rolls back) and every bad record is
named by its line and field; with `skip_bad` the good records are written and the bad ones go to a rejects file.
docs/exchange.md, "History in".
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import multiprocessing
import os
import time as timer
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, BinaryIO

import numpy as np
import orjson
from sqlalchemy import JSON, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers.bulk import BulkWriter, Field, binary_rows, copy_binary, joined_rows, select_rows
from dossiers.models import Dossier, DossierCodeCounter
from dossiers.rebuild import insert_columns
from exchange import history_rows
from exchange.history_rows import (
    DOSSIER_CODED,
    Block,
    Catalogue,
    Problem,
    Unreadable,
    explain,
    finding_of,
    json_lines,
    plain,
    prepare,
    read_block,
    search_text,
)
from exchange.import_models import ExchangeImport, ImportedDossier
from exchange.record import local_text
from kernel.db import analyze, utc_now
from kernel.errors import InvalidInput
from sla.core.calendar import WorkingCalendar

FORMATS = ("jsonl", "csv", "xlsx")
LIST_FIELDS = ("DinhDanhCHS", "TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung", "DanhSachXinLoi",
               "DanhSachGiayToKetQua", "DSKetNoiCSDL", "QuaTrinhXuLy")  # fmt: skip
"""In CSV and XLSX these columns hold their list as JSON text; every other column is the record's field as is."""
DEFAULT_CHUNK = 20_000
FINDINGS_SHOWN = 100
PROBLEMS_KEPT = 200
"""The problems an import keeps for its page (`exchange_import.problems`); the answer and the rejects file have all."""
TABLES = ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee", "dossier_code_counter",
          "imported_dossier", "exchange_dossier_sync")
READER_FILES = 100_000_000
"""A JSON lines file this large (bytes) is read by reader processes on PostgreSQL, when `readers` is not given."""
AHEAD = 2
"""Blocks each reader process may have read ahead of the writer (memory: a few blocks)."""


# --- what an import reports ----------------------------------------------------------------------


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


# --- reading files -------------------------------------------------------------------------------


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
        yield from json_lines(raw.rstrip(b"\n"), line)


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
    readers: int | None = None,
) -> ImportReport:
    """Take in the records of `stream` as dossiers, in the session's transaction (the caller commits).

    A bad record refuses the file (:class:`ImportRefused`, every bad record named; the caller rolls back), unless
    `skip_bad`: then the good records are written and each bad one goes to `rejects` as a JSON line
    `{"line", "problems", "record"}`. The tables are analysed at the end.

    `set_aside_indexes` drops the dossier tables' secondary indexes (and PostgreSQL's foreign keys) during the load
    and rebuilds them at the end, as the generator does: by default when the file is at least 100 MB and holds
    more records (about 2.4 kB each) than the dossier table has rows: a province's history into a new database.
    `readers`: how many processes read the blocks while this one writes (JSON lines on PostgreSQL only); by default,
    for a file of `READER_FILES` bytes or more, as many as the machine has cores (at most four) unless it is
    overloaded (`_idle_cores`), else none.
    """
    with _no_cyclic_gc():
        return _import(session, stream, file_name=file_name, actor=actor, calendar_for=calendar_for, fmt=fmt,
                       skip_bad=skip_bad, rejects=rejects, chunk_size=chunk_size, now=now, progress=progress,
                       set_aside_indexes=set_aside_indexes, readers=readers)  # fmt: skip


@contextmanager
def _no_cyclic_gc():
    """Without the cyclic garbage collector: a block holds hundreds of thousands of young objects (records, their
    events), and each collection walks them all, which cost half of reading a record. Nothing an import makes
    refers to itself; memory is freed as before, by reference counts."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(session, stream, *, file_name, actor, calendar_for, fmt, skip_bad, rejects, chunk_size, now, progress,
            set_aside_indexes, readers) -> ImportReport:  # fmt: skip
    started = timer.perf_counter()
    fmt = fmt or format_of(file_name)
    now = now or utc_now()
    report = ImportReport(file_name=file_name)
    batch = ExchangeImport(actor=actor[:64], file_name=file_name[:255], file_format=fmt, skip_bad=skip_bad,
                           started_at=now)  # fmt: skip
    session.add(batch)
    session.flush()
    report.import_id = batch.id
    postgres = session.connection().dialect.name == "postgresql"
    catalogue = Catalogue(session, calendar_for, import_id=batch.id, now=now, postgres=postgres)
    writer = _Writer(session, catalogue, report, rejects=rejects if skip_bad else None, spare=chunk_size)
    catalogue.quiet = writer.wait  # a calendar or component list read while a block is COPYd waits for it
    try:
        return _write(session, stream, catalogue, writer, report, batch, started, fmt=fmt, skip_bad=skip_bad,
                      chunk_size=chunk_size, progress=progress, set_aside_indexes=set_aside_indexes,
                      readers=readers)  # fmt: skip
    finally:
        writer.close()


def _write(session, stream, catalogue, writer, report, batch, started, *, fmt, skip_bad, chunk_size, progress,
           set_aside_indexes, readers) -> ImportReport:  # fmt: skip
    postgres = catalogue.postgres
    bulk = BulkWriter(session.connection())
    size = _size_of(stream)
    if set_aside_indexes is None:
        set_aside_indexes = size >= 100_000_000 and size // 2400 > max(40_000, 2 * _rows(session))
    restore = bulk.set_aside_indexes(keep=KEPT_INDEXES, tables=SET_ASIDE) if set_aside_indexes else []
    if readers is None:
        readers = _idle_cores() if size >= READER_FILES else 0
    if readers and postgres and fmt == "jsonl" and "fork" in multiprocessing.get_all_start_methods():
        writer.spare = chunk_size * (readers * AHEAD + 1)
        blocks = _read_in_processes(stream, catalogue, writer, chunk_size, readers)
    else:
        blocks = _read_here(stream, fmt, catalogue, writer, chunk_size)
    try:
        for block in blocks:
            writer.write(block)
            if progress:
                progress(block.records)
    finally:
        writer.wait()  # the last block's COPY: nothing else may use the connection before
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


def _idle_cores() -> int:
    """Reader processes for a large file: as many as the machine has cores (at most 4: beyond, PostgreSQL's side is
    the limit), unless it is overloaded (a load average of twice its cores or more), where handing the blocks over
    (a fifth of the work of reading them) costs more than the cores it would use (bench/README.md, History
    import: at a load of 4 on 2 cores, 2 readers made 6,500 records/s against 5,900 alone; at 6–8, 3,550 against
    4,950)."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return 0 if busy >= 2 * cores else min(4, cores)


KEPT_INDEXES = ("ix_dossier_code",)
"""Kept through a load with the indexes set aside: every block looks its codes up."""
SET_ASIDE = ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee", "imported_dossier",
             "exchange_dossier_sync")  # fmt: skip
"""The tables whose secondary indexes and foreign keys a large load sets aside (their unique keys stay: every block
looks the external codes up)."""


def _size_of(stream: BinaryIO) -> int:
    """The bytes left in the stream (0 when it cannot be measured)."""
    try:
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError, AttributeError):
        return 0
    return end - here


def _rows(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Dossier)).scalar_one()


def _read_here(stream: BinaryIO, fmt: str, catalogue: Catalogue, writer: _Writer, chunk_size: int) -> Iterator[Block]:
    """The file's blocks, made in this process (any format)."""
    items: list = []
    for item in read_records(stream, fmt):
        items.append(item)
        if len(items) >= chunk_size:
            yield _here(catalogue, items, writer)
            items = []
    if items:
        yield _here(catalogue, items, writer)


def _here(catalogue: Catalogue, items: list, writer: _Writer) -> Block:
    block = prepare(catalogue, items, writer.reserve(len(items)), findings_shown=FINDINGS_SHOWN)
    block.source = {line: record if raw is None else raw for line, record, raw in items}
    return block


def _read_in_processes(stream: BinaryIO, catalogue: Catalogue, writer: _Writer, chunk_size: int, readers: int):
    """The blocks of a JSON lines file, made by `readers` processes (forked: they inherit the catalogue, read
    beforehand) while this one writes the blocks before them, in file order; at most `AHEAD` blocks a reader
    ahead of the writer."""
    catalogue.prefetch()
    history_rows.CATALOGUE = catalogue
    try:
        with multiprocessing.get_context("fork").Pool(readers) as pool:
            pending: deque = deque()
            line = 1
            blocks = _raw_blocks(stream, chunk_size)
            while True:
                raw, count = next(blocks, (None, 0))
                if raw is not None:
                    ids = writer.reserve(count)
                    pending.append((line, raw, pool.apply_async(read_block, (None, raw, line, ids, FINDINGS_SHOWN))))
                    line += count
                while pending and (raw is None or len(pending) >= readers * AHEAD):
                    first, text, made = pending.popleft()
                    block = made.get()
                    block.source = _Lines(first, text)
                    yield block
                if raw is None:
                    return
    finally:
        history_rows.CATALOGUE = None


def _raw_blocks(stream: BinaryIO, chunk_size: int) -> Iterator[tuple[bytes, int]]:
    """The file in blocks of whole lines, (bytes, how many lines): the first `chunk_size` lines, then blocks of as
    many bytes as that many lines of the first took (read at once, completed to the end of a line: cheaper than
    line by line)."""
    lines = list(itertools.islice(stream, chunk_size))
    if not lines:
        return
    raw = b"".join(lines)
    yield raw, len(lines)
    size = max(1, len(raw) // len(lines)) * chunk_size
    while raw := stream.read(size):
        if not raw.endswith(b"\n"):
            raw += stream.readline()
        yield raw, raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)


class _Lines:
    """A block's lines by their number, read again only for a record the writer refuses (a repeated code)."""

    def __init__(self, first: int, raw: bytes) -> None:
        self.first, self.raw = first, raw
        self.lines: list[bytes] | None = None

    def get(self, line: int) -> bytes | None:
        if self.lines is None:  # split once: a file imported twice refuses every record of a block
            self.lines = self.raw.split(b"\n")
        return self.lines[line - self.first] if 0 <= line - self.first < len(self.lines) else None


def _reject(rejects: IO[bytes], bad: list[tuple[int, Any, list[Problem]]]) -> None:
    for line, record, problems in sorted(bad, key=lambda b: b[0]):
        if isinstance(record, bytes):
            try:
                record = orjson.loads(record)
            except orjson.JSONDecodeError:
                record = record.decode("utf-8", "replace").rstrip("\r\n")
        elif isinstance(record, Unreadable):
            record = None
        entry = {"line": line, "record": record,
                 "problems": [{"field": p.field, "message": p.message, "message_id": p.message_id,
                               "params": plain(p.params)} for p in problems]}  # fmt: skip
        rejects.write(orjson.dumps(entry, default=str) + b"\n")


class _Writer:
    """Writes the blocks in file order: refuses a record whose external code was imported before (or repeats in the
    file), gives our codes (the day counters, kept across blocks), then COPYs the block's rows.

    On PostgreSQL the COPYs of a block run in a thread of their own while the importer makes the next block (the
    server works on one block while we read the next; the thread mostly waits on the socket, without the GIL):
    everything else that uses the connection waits for it first (`wait`). The next blocks' dossier ids are
    reserved ahead (`spare`), while the connection is free."""

    def __init__(self, session: Session, catalogue: Catalogue, report: ImportReport, *, rejects, spare: int) -> None:
        self.session = session
        self.catalogue = catalogue
        self.report = report
        self.rejects = rejects
        self.postgres = catalogue.postgres
        self.counters: dict[tuple[int, date], int] = {}  # (agency id, day) → the last sequence given or imported
        self.next_id: int | None = None
        self.spare = spare
        self.ids = np.zeros(0, dtype=np.int64)
        self.copying: Future | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="history-copy") if self.postgres else None

    def wait(self) -> None:
        """Until the last block's rows are written (and its error, if any, raised here)."""
        copying, self.copying = self.copying, None
        if copying is not None:
            copying.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self.thread is not None:
                self.thread.shutdown()
                self.thread = None

    def reserve(self, count: int) -> np.ndarray:
        """Dossier ids for `count` records: from the table's sequence on PostgreSQL (other writers may run; reserved
        ahead, one row of text back, not a row an id), after the largest on SQLite (the import holds the write
        lock). A bad record leaves its id unused."""
        if len(self.ids) < count:
            self.wait()
            self._reserve(count)
        ids, self.ids = self.ids[:count], self.ids[count:]
        return ids

    def _reserve(self, count: int) -> None:
        count = max(count, self.spare) - len(self.ids)
        if count <= 0:
            return
        if self.postgres:
            ids = self.session.execute(
                text("SELECT string_agg(nextval(pg_get_serial_sequence('dossier', 'id'))::text, ' ') "
                     "FROM generate_series(1, :n)"), {"n": count},
            ).scalar_one()  # fmt: skip
            more = np.array(ids.split(), dtype=np.int64)
        else:
            if self.next_id is None:
                self.next_id = self.session.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM dossier")).scalar_one()
            more = np.arange(self.next_id, self.next_id + count, dtype=np.int64)
            self.next_id += count
        self.ids = np.concatenate([self.ids, more])

    # -- a block ---------------------------------------------------------------------------------

    def write(self, block: Block) -> None:
        self.wait()
        report = self.report
        report.records += block.records
        report.problems += block.problems
        bad = list(block.bad)
        keep = np.ones(len(block.ids), dtype=bool)
        for row, problem in self._unique(block):
            keep[row] = False
            report.problems.append(problem)
            bad.append((problem.line, block.source.get(problem.line), [problem]))
        kept = np.flatnonzero(keep)
        if kept.size:
            codes = self._number(block, kept)
            self._reserve(0)  # the next blocks' ids, while the connection is free
            self._insert(block, keep, kept, codes)
            report.written += int(kept.size)
            report.findings += int(block.finding[keep].sum())
            for row, finding in block.findings:
                if keep[row] and len(report.first_findings) < FINDINGS_SHOWN:
                    report.first_findings.append({**finding, "code": codes[row]})
        if self.rejects is not None and bad:
            _reject(self.rejects, bad)

    def _unique(self, block: Block) -> Iterator[tuple[int, Problem]]:
        """The records whose external code is already imported, or given twice in the file."""
        if not block.external:
            return
        taken = {row[0] for row in self._existing(ImportedDossier.external_code, block.external)}
        seen: dict[str, int] = {}
        for row, (code, line) in enumerate(zip(block.external, block.lines, strict=True)):
            if code in taken:
                yield row, Problem.of(line, "MaHoSo", "already_imported", {"code": code}, code)
            elif code in seen:
                yield row, Problem.of(line, "MaHoSo", "given_twice", {"code": code, "line": seen[code]}, code)
            else:
                seen[code] = line

    def _existing(self, column, values: list[str], *also) -> list:
        query = select(column, *also)
        if self.postgres:  # the values as one JSON text (an array parameter is dumped value by value)
            listed = select(func.json_array_elements_text(bindparam("values", type_=JSON))).scalar_subquery()
            query = query.where(column == func.any(func.array(listed)))
            return self.session.execute(query, {"values": values}).all()
        found = []
        for start in range(0, len(values), 500):
            found += self.session.execute(query.where(column.in_(values[start : start + 500]))).all()
        return found

    def _number(self, block: Block, kept: np.ndarray) -> list[str | None]:
        """Our codes: the external code itself when it has our shape (`<agency>-<yymmdd>-<nnnn>` of the receiving
        agency and the first event's day) and no dossier has it yet; else the next of the agency's day. Either way
        the day's counter ends past every code of the file, so that the desks continue after the imported ones."""
        rows = kept.tolist()
        keys = [(block.agencies[row], block.days[row]) for row in range(len(block.ids))]
        self._read_counters({keys[row] for row in rows} - set(self.counters))
        codes: list[str | None] = [None] * len(block.ids)
        shaped = [row for row in rows if block.shape_seqs[row] >= 0]
        taken = {r[0] for r in self._existing(Dossier.code, [block.external[row] for row in shaped])}
        for row in shaped:
            if block.external[row] not in taken:
                codes[row] = block.external[row]
                self.counters[keys[row]] = max(self._counter(keys[row]), block.shape_seqs[row])
        agency_codes = self.catalogue.codes
        for row in rows:
            if codes[row] is None:
                key = keys[row]
                sequence = self._counter(key) + 1
                self.counters[key] = sequence
                codes[row] = f"{agency_codes[key[0]]}-{key[1]:%y%m%d}-{sequence:04d}"
        return codes

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

    def _insert(self, block: Block, keep: np.ndarray, kept: np.ndarray, codes: list[str | None]) -> None:
        """The block's rows of the kept records, table by table (the dossiers first), with our codes; on PostgreSQL
        COPYd by the writer's thread."""
        whole = bool(keep.all())
        ours = [codes[row] for row in kept.tolist()]
        search = [search_text(codes[row], block.search[row]) for row in kept.tolist()]
        connection = self.session.connection()
        copies = []
        for table, rows in block.rows.items():
            taken = None if whole else keep[rows.record]
            if self.postgres:
                data, ends = rows.data, rows.ends
                if taken is not None:
                    data, ends = select_rows(data, ends, taken)
                names = rows.names
                if table == "dossier":
                    coded, coded_ends = binary_rows([Field.texts(ours), Field.texts(search)])
                    data = joined_rows(data, ends, coded, coded_ends)
                    names = [*names, *DOSSIER_CODED]
                copies.append((table, names, data))
                continue
            columns = rows.columns if taken is None else _taken(rows.columns, taken)
            if table == "dossier":
                columns = {**columns, "code": ("text", ours), "search_text": ("text", search)}
            insert_columns(self.session, table, columns)
        if copies:
            self.copying = self.thread.submit(_copy_all, connection, copies)

    def finish(self) -> None:
        """The code counters raised by the import (kept at their largest: a desk may have moved them meanwhile)."""
        self.wait()
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


def _copy_all(connection, copies: list[tuple[str, list[str], Any]]) -> None:
    for table, names, data in copies:
        copy_binary(connection, table, names, data)


def _taken(columns: dict, taken: np.ndarray) -> dict:
    """Typed columns, the rows `taken` marks."""
    return {name: (kind, values[taken] if isinstance(values, np.ndarray) else [v for v, t in zip(values, taken,
                   strict=True) if t]) for name, (kind, values) in columns.items()}  # fmt: skip


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
