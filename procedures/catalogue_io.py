"""Catalogue files: one column set for CSV, JSON and XLSX (docs/catalogue-format.md).

Import is all or nothing: every bad row is reported (row number, column, what is accepted) and a
single bad row imports nothing. It runs in three steps so that a large file never holds the write
lock while it is being read: `parse_catalogue` (no database: the file, its limits, every row),
`check_catalogue` (reads only: codes the rows refer to, the versions they would follow) and
`write_catalogue` (a few set-based statements). Files from outside are read defensively: an XLSX
in streaming mode after its ZIP members were measured and scanned (no DTD, no entity, UTF-8 only),
a JSON no deeper than a limit, every format no longer than a number of rows.
"""

import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn

import pandas as pd
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from kernel.db import analyze
from kernel.errors import InvalidInput
from kernel.spreadsheets import csv_bytes, csv_restore, xlsx_table
from procedures.models import Field, Procedure
from procedures.schemas import FieldIn, ProcedureCreate, ProcedureRead, StepIn
from procedures.service import (
    PreparedVersions,
    agency_tree,
    check_rule,
    prepare_versions,
    to_read,
    upsert_fields,
    write_versions,
)

COLUMNS = (
    "code",
    "name",
    "name_en",
    "field_code",
    "field_name",
    "level",
    "agency_code",
    "amount",
    "unit",
    "same_day_cutoff",
    "supplement_policy",
    "online_level",
    "fee",
    "fee_lines",
    "result_kind",
    "steps",
    "components",
    "decision_number",
    "decision_date",
    "legal_basis",
    "legal_basis_effective_date",
    "published_on",
    "effective_from",
    "effective_to",
    "confidence",
    "source",
)
REQUIRED = ("code", "name", "field_code", "level", "unit", "effective_from")
FORMATS = ("csv", "json", "xlsx")
_STEP = re.compile(
    r"^\s*(?:(?P<name>[^=]+?)\s*=\s*)?(?P<ref>@[a-z_]+|[0-9A-Za-z][0-9A-Za-z._-]*)\s*:\s*"
    r"(?P<amount>same_day|excluded|\d+(?:\.\d+)?h?)\s*(?:\|\s*(?P<group>[\w-]+))?\s*$"
)
STEP_GRAMMAR = (
    "[name=]agency-code-or-@role:amount[|parallel-group], amount = days (0.5 steps), 4h, same_day or excluded"
)


MAX_LISTED_ERRORS = 200  # an answer lists the first 200 problems and counts the rest
_SHOWN_IN_DETAIL = 20


@dataclass(frozen=True)
class ImportLimits:
    """What an imported file may cost; each is a setting (`MOTCUA_IMPORT_*`), named in the refusal."""

    max_rows: int = 200_000
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_json_depth: int = 20


@dataclass
class ParsedCatalogue:
    """A file's rows, validated on their own: the versions by spreadsheet row, the fields named, the problems."""

    versions: list[tuple[int, ProcedureCreate]] = field(default_factory=list)
    fields: list[FieldIn] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    prepared: PreparedVersions | None = None  # by `check_catalogue`


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidInput(f"file {filename!r}: unknown format {suffix!r}; accepted: .csv, .json, .xlsx")
    return suffix


def read_records(content: bytes, fmt: str, limits: ImportLimits = ImportLimits()) -> list[tuple[int, dict]]:
    """Rows of a catalogue file as (row number, dict of strings or lists for JSON steps), blanks as None.

    Rows are numbered as a spreadsheet shows them (the header is row 1); JSON objects from 1.
    """
    if fmt == "json":
        return _json_records(content, limits)
    if fmt == "xlsx":
        return _xlsx_records(content, limits)
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, nrows=limits.max_rows + 1)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InvalidInput(f"the CSV file cannot be read: {exc}") from exc
    _check_row_count(len(frame), limits)
    _check_columns(list(frame.columns))
    return [
        (2 + offset, {k: _blank_to_none(csv_restore(v)) for k, v in row.items()})
        for offset, row in enumerate(frame.to_dict("records"))
    ]


def _check_row_count(rows: int, limits: ImportLimits) -> None:
    if rows > limits.max_rows:
        raise InvalidInput(
            f"the file has more than {limits.max_rows:,} rows (the limit MOTCUA_IMPORT_MAX_ROWS); "
            "split it into smaller files"
        )


def _check_columns(columns: list) -> None:
    unknown = sorted({str(c) for c in columns} - set(COLUMNS))
    missing = sorted(set(REQUIRED) - {str(c) for c in columns})
    if unknown or missing:
        raise InvalidInput(
            f"columns {'missing: ' + ', '.join(missing) + '; ' if missing else ''}"
            f"{'unknown: ' + ', '.join(unknown) + '; ' if unknown else ''}accepted columns: {', '.join(COLUMNS)}"
        )


def _json_records(content: bytes, limits: ImportLimits) -> list[tuple[int, dict]]:
    too_deep = InvalidInput(
        f"the JSON file nests deeper than {limits.max_json_depth} levels (the limit MOTCUA_IMPORT_MAX_JSON_DEPTH); "
        'a catalogue is a list of procedure objects (or {"procedures": [...]})'
    )
    try:
        data = json.loads(content)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidInput(f"the JSON file cannot be read: {exc}") from exc
    if _json_depth(data) > limits.max_json_depth:
        raise too_deep
    if isinstance(data, dict):
        data = data.get("procedures")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidInput('a JSON catalogue is a list of procedure objects (or {"procedures": [...]})')
    _check_row_count(len(data), limits)
    return [(1 + offset, {k: _blank_to_none(v) for k, v in r.items()}) for offset, r in enumerate(data)]


def _json_depth(value) -> int:
    """How deep lists and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        current, depth = todo.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        todo.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


# --- XLSX: measured and scanned before openpyxl reads it, then read as a stream ---------------------

_CHUNK = 1 << 20
_DTD = (b"<!DOCTYPE", b"<!ENTITY")
_NOT_UTF8 = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00")
_DECLARED_ENCODING = re.compile(rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}


def _xlsx_records(content: bytes, limits: ImportLimits) -> list[tuple[int, dict]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInput(f"the XLSX file cannot be read: it is not a ZIP archive ({exc})") from exc
    with archive:
        _check_archive(archive, limits)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # a parser of untrusted input: whatever it raises, the file is at fault
        raise InvalidInput(f"the XLSX file cannot be read: {type(exc).__name__}: {exc}") from exc
    try:
        if not book.worksheets:
            raise InvalidInput("the XLSX file has no worksheet; the catalogue is read from the first sheet")
        return list(_sheet_records(book.worksheets[0], limits))
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"the XLSX file cannot be read: {type(exc).__name__}: {exc}") from exc
    finally:
        book.close()


def _check_archive(archive: zipfile.ZipFile, limits: ImportLimits) -> None:
    """Refuse an archive that expands beyond the limit (declared, and counted while reading: a member
    whose header lies is cut at its declared size and fails its checksum), a part that declares a
    DTD or entities, or a part in another encoding than UTF-8 (where such a declaration could hide)."""
    limit = limits.max_uncompressed_bytes
    too_big = InvalidInput(
        f"the XLSX file expands to more than {limit:,} bytes (the limit MOTCUA_IMPORT_MAX_UNCOMPRESSED_BYTES); "
        "a catalogue sheet is text and numbers only"
    )
    members = archive.infolist()
    if sum(member.file_size for member in members) > limit:
        raise too_big
    read = 0
    try:
        for member in members:
            if member.is_dir():
                continue
            with archive.open(member) as stream:
                tail, first = b"", True
                while chunk := stream.read(_CHUNK):
                    read += len(chunk)
                    if read > limit:
                        raise too_big
                    if first:
                        _check_encoding(member.filename, chunk)
                        first = False
                    window = tail + chunk
                    if any(marker in window for marker in _DTD):
                        raise InvalidInput(
                            f"the XLSX part {member.filename!r} declares a DTD or an entity (<!DOCTYPE, <!ENTITY); "
                            "they are refused: save the file again from a spreadsheet program"
                        )
                    tail = chunk[-(len(_DTD[0]) - 1) :]
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise InvalidInput(f"the XLSX file cannot be read: a damaged ZIP archive ({exc})") from exc


def _check_encoding(name: str, start: bytes) -> None:
    declared = _DECLARED_ENCODING.match(start)
    if start.startswith(_NOT_UTF8) or (declared and declared[1].lower() not in _UTF8_NAMES):
        raise InvalidInput(f"the XLSX part {name!r} is not in UTF-8; XLSX parts are UTF-8 XML")


def _sheet_records(sheet, limits: ImportLimits) -> Iterator[tuple[int, dict]]:
    sheet.reset_dimensions()  # never trust the declared size: rows are as wide as their cells
    header_row = next(sheet.iter_rows(max_row=1, values_only=True), ())
    header = [_cell_text(value) for value in header_row]
    while header and header[-1] is None:
        header.pop()
    if not header:
        raise InvalidInput(f"the first sheet has no header row; accepted columns: {', '.join(COLUMNS)}")
    if None in header:
        raise InvalidInput(f"column {header.index(None) + 1} of the header row has no name")
    _check_columns(header)
    for number, row in enumerate(sheet.iter_rows(min_row=2, max_col=len(header), values_only=True), start=2):
        _check_row_count(number - 1, limits)
        values = [_blank_to_none(_cell_text(value)) for value in row]
        if any(value is not None for value in values):
            yield number, dict(zip(header, values, strict=False))


def _cell_text(value) -> str | None:
    """A cell as the text a CSV would hold: whole numbers without `.0`, dates as YYYY-MM-DD, times as HH:MM."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M") if not value.second else value.isoformat()
    return str(value)


def _blank_to_none(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def parse_steps(text: str | list | None) -> list[dict]:
    if text is None:
        return []
    if isinstance(text, list):
        return text
    steps = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        match = _STEP.match(item)
        if not match:
            raise ValueError(f"step {item!r} is not of the form {STEP_GRAMMAR}")
        ref, amount = match["ref"], match["amount"]
        step: dict = {"name": match["name"] or ref.lstrip("@"), "parallel_group": match["group"]}
        step["role" if ref.startswith("@") else "agency_code"] = ref.lstrip("@")
        if amount in ("same_day", "excluded"):
            step["unit"] = amount
        elif amount.endswith("h"):
            step.update(unit="working_hours", amount=float(amount[:-1]))
        else:
            step.update(unit="working_days", amount=float(amount))
        steps.append(step)
    return steps


def format_steps(steps: Iterable) -> str:
    def amount(step) -> str:
        if step.unit in ("same_day", "excluded"):
            return step.unit
        number = f"{step.amount:g}"
        return number + "h" if step.unit == "working_hours" else number

    return ";".join(
        f"{step.name}={'@' + step.role if step.role else step.agency_code}:{amount(step)}"
        + (f"|{step.parallel_group}" if step.parallel_group else "")
        for step in steps
    )


COMPONENTS_SHAPE = (
    'a JSON list of documents, e.g. [{"name": "Tờ khai", "form": "original", "copies": 1, "required": true}] '
    "(form: original, copy or certified_copy)"
)


def parse_components(value: str | list | None) -> list[dict]:
    """The `components` cell: JSON text in CSV and XLSX, a list in JSON (either is read from any format)."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc.msg} at character {exc.pos + 1}); give {COMPONENTS_SHAPE}") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"give {COMPONENTS_SHAPE}")
    return value


def format_components(components: Iterable) -> list[dict]:
    return [{"name": c.name, "form": c.form, "copies": c.copies, "required": c.required} for c in components]


FEE_LINES_SHAPE = (
    'a JSON list of fee lines, e.g. [{"name": "Lệ phí", "amount_vnd": 50000}] ([] : no fee; empty cell: not recorded)'
)


def parse_fee_lines(value: str | list | None) -> list[dict] | None:
    """The `fee_lines` cell: JSON text in CSV and XLSX, a list in JSON; empty is None (not recorded), `[]` no fee."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"not JSON ({exc.msg} at character {exc.pos + 1}); give {FEE_LINES_SHAPE}") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"give {FEE_LINES_SHAPE}")
    return value


def format_fee_lines(lines: Iterable | None) -> list[dict] | None:
    return None if lines is None else [{"name": line.name, "amount_vnd": line.amount_vnd} for line in lines]


def _row_error(row: int, column: str, message: str) -> dict:
    return {"row": row, "column": column, "message": message}


def _column_of(loc: tuple, message: str = "") -> str:
    if loc and loc[0] == "processing_time":
        return loc[1] if len(loc) > 1 and loc[1] in ("amount", "unit") else "amount"
    if loc:
        return str(loc[0])
    # a check across columns (e.g. published_on before decision_date) is put on the column it names first
    named = re.match(r"(?:Value error, )?([a-z_]+)", message)
    return named[1] if named and named[1] in COLUMNS else "row"


def parse_records(records: list[tuple[int, dict]]) -> ParsedCatalogue:
    """Validate every row on its own (no database): the versions, the fields named with a field_name, every error."""
    parsed = ParsedCatalogue()
    fields: dict[str, FieldIn] = {}
    seen: dict[tuple[str, str], int] = {}
    errors = parsed.errors
    for row, record in records:
        unknown = sorted(set(record) - set(COLUMNS))
        if unknown:
            errors.append(_row_error(row, unknown[0], f"unknown column; accepted: {', '.join(COLUMNS)}"))
            continue
        missing = [c for c in REQUIRED if record.get(c) is None]
        for column in missing:
            errors.append(_row_error(row, column, "required, empty"))
        if missing:
            continue
        try:
            steps = [StepIn.model_validate(s) for s in parse_steps(record.get("steps"))]
        except (ValueError, TypeError, ValidationError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            errors.append(_row_error(row, "steps", message))
            continue
        try:
            components = parse_components(record.get("components"))
        except ValueError as exc:
            errors.append(_row_error(row, "components", str(exc)))
            continue
        try:
            fee_lines = parse_fee_lines(record.get("fee_lines"))
        except ValueError as exc:
            errors.append(_row_error(row, "fee_lines", str(exc)))
            continue
        skipped = ("field_name", "steps", "components", "fee_lines", "amount", "unit")
        body = {k: v for k, v in record.items() if v is not None and k not in skipped}
        body["processing_time"] = {"amount": record.get("amount"), "unit": record.get("unit")}
        body["steps"] = steps
        body["components"] = components
        if fee_lines is not None:
            body["fee_lines"] = fee_lines
        try:
            procedure = ProcedureCreate.model_validate(body)
        except ValidationError as exc:
            for problem in exc.errors():
                errors.append(_row_error(row, _column_of(problem["loc"], problem["msg"]), _message(problem)))
            continue
        try:
            check_rule(procedure.code, procedure)
        except InvalidInput as exc:
            errors.append(_row_error(row, "steps", exc.detail))
            continue
        key = (procedure.code, procedure.effective_from.isoformat())
        if key in seen:
            errors.append(_row_error(row, "code", f"same code and effective_from as row {seen[key]}"))
            continue
        seen[key] = row
        parsed.versions.append((row, procedure))
        if record.get("field_name"):
            try:
                fields[procedure.field_code] = FieldIn(code=procedure.field_code, name=record["field_name"])
            except ValidationError as exc:
                errors.append(_row_error(row, "field_name", exc.errors()[0]["msg"]))
    parsed.fields = list(fields.values())
    return parsed


def _message(problem: dict) -> str:
    """A validation problem; in a component list (fee lines), which document (line), 1 = the first, and which key."""
    loc = problem["loc"]
    if loc and loc[0] in ("components", "fee_lines") and len(loc) > 1 and isinstance(loc[1], int):
        item = "document" if loc[0] == "components" else "line"
        where = f"{item} {loc[1] + 1}" + (f", {loc[2]}" if len(loc) > 2 else "")
        return f"{where}: {problem['msg']}"
    return problem["msg"]


def parse_catalogue(content: bytes, fmt: str, limits: ImportLimits = ImportLimits()) -> ParsedCatalogue:
    """Read and validate a file without the database; a file-level problem (format, limit, columns) raises."""
    return parse_records(read_records(content, fmt, limits))


def check_catalogue(session: Session, parsed: ParsedCatalogue) -> None:
    """Check what the rows refer to and the versions they would follow (reads only); raise every problem found."""
    errors = list(parsed.errors)
    known_fields = set(session.execute(select(Field.code)).scalars()) | {f.code for f in parsed.fields}
    known_agencies = agency_tree(session).by_code
    for row, procedure in parsed.versions:
        if procedure.field_code not in known_fields:
            errors.append(
                _row_error(row, "field_code", f"unknown field {procedure.field_code!r}: add a field_name to create it")
            )
        for code in sorted({procedure.agency_code, *(s.agency_code for s in procedure.steps)} - {None}):
            if code not in known_agencies:
                errors.append(
                    _row_error(
                        row,
                        "steps" if code != procedure.agency_code else "agency_code",
                        f"unknown agency code {code!r}; GET /api/v1/agencies lists them",
                    )
                )
    if not errors:  # the rows are sound: plan them against the stored versions, ready for a short write
        parsed.prepared = prepare_versions(session, [(procedure.code, procedure) for _, procedure in parsed.versions])
        for index, message in parsed.prepared.plan.errors:
            errors.append(_row_error(parsed.versions[index][0], "effective_from", message))
    if errors:
        refuse(errors)


def write_catalogue(session: Session, parsed: ParsedCatalogue) -> dict:
    """Write checked rows: the fields, then every version in a few set-based statements."""
    upsert_fields(session, parsed.fields)
    try:
        write_versions(session, [(procedure.code, procedure) for _, procedure in parsed.versions], parsed.prepared)
    except InvalidInput as exc:  # the table changed since `check_catalogue` read it
        rows = [parsed.versions[e["position"]][0] for e in exc.errors or []]
        refuse([_row_error(row, "effective_from", e["message"]) for row, e in zip(rows, exc.errors or [], strict=True)])
    analyze(session.connection(), ("field", "procedure", "procedure_step"))
    return {"procedures": len(parsed.versions), "fields": len(parsed.fields)}


def import_catalogue(session: Session, content: bytes, fmt: str, limits: ImportLimits = ImportLimits()) -> dict:
    """Validate and write a catalogue file in one session; raises InvalidInput listing the bad rows, writing nothing.

    A server route does the three steps itself, checking in a read-only session (`catalogue_admin`).
    """
    parsed = parse_catalogue(content, fmt, limits)
    check_catalogue(session, parsed)
    return write_catalogue(session, parsed)


def refuse(errors: list[dict]) -> NoReturn:
    """Raise InvalidInput for row problems: the first 200 listed, the first 20 in the sentence, the rest counted."""
    errors = sorted(errors, key=lambda e: e["row"])
    total = len(errors)
    shown = "; ".join(f"row {e['row']}, {e['column']}: {e['message']}" for e in errors[:_SHOWN_IN_DETAIL])
    rest = f" … and {total - _SHOWN_IN_DETAIL:,} more" if total > _SHOWN_IN_DETAIL else ""
    listed = f" (`errors` lists the first {MAX_LISTED_ERRORS})" if total > MAX_LISTED_ERRORS else ""
    raise InvalidInput(
        f"{total:,} problem(s) in the file, nothing was imported: {shown}{rest}{listed}",
        errors=errors[:MAX_LISTED_ERRORS],
    )


def export_records(session: Session) -> list[dict]:
    versions = list(session.execute(select(Procedure).order_by(Procedure.code, Procedure.effective_from)).scalars())
    return [_record(p) for p in to_read(session, versions)]


def _record(p: ProcedureRead) -> dict:
    return {
        "code": p.code,
        "name": p.name,
        "name_en": p.name_en,
        "field_code": p.field_code,
        "field_name": p.field_name,
        "level": p.level,
        "agency_code": p.agency_code,
        "amount": None if p.processing_time.amount is None else f"{p.processing_time.amount:g}",
        "unit": p.processing_time.unit,
        "same_day_cutoff": p.same_day_cutoff.strftime("%H:%M") if p.same_day_cutoff else None,
        "supplement_policy": p.supplement_policy,
        "online_level": p.online_level,
        "fee": p.fee,
        "fee_lines": format_fee_lines(p.fee_lines),
        "result_kind": p.result_kind,
        "steps": format_steps(p.steps) or None,
        "components": format_components(p.components) or None,
        "decision_number": p.decision_number,
        "decision_date": _iso(p.decision_date),
        "legal_basis": p.legal_basis,
        "legal_basis_effective_date": _iso(p.legal_basis_effective_date),
        "published_on": _iso(p.published_on),
        "effective_from": p.effective_from.isoformat(),
        "effective_to": p.effective_to.isoformat() if p.effective_to else None,
        "confidence": p.confidence,
        "source": p.source,
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def export_catalogue(session: Session, fmt: str) -> bytes:
    """The catalogue file; in CSV and XLSX a text a spreadsheet would run as a formula is written as text."""
    records = export_records(session)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1).encode()
    for record in records:  # a cell holds a list as JSON text
        for column in ("components", "fee_lines"):
            if record[column] is not None:
                record[column] = json.dumps(record[column], ensure_ascii=False)
    if fmt == "csv":
        return csv_bytes(pd.DataFrame(records, columns=list(COLUMNS)), bom=False)
    return xlsx_table(list(COLUMNS), ([r[c] for c in COLUMNS] for r in records), sheet_title="procedures")
