"""Catalogue files: one column set for CSV, JSON and XLSX (docs/catalogue-format.md).

Import is all or nothing: every bad row is reported (row number, column, what is accepted) and a
single bad row imports nothing.
"""

import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from procedures.db import analyze
from procedures.errors import DomainError, InvalidInput
from procedures.models import Agency, Field, Procedure
from procedures.schemas import FieldIn, ProcedureCreate, ProcedureRead, StepIn
from procedures.service import check_rule, to_read, upsert_fields, upsert_procedure

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
    "steps",
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


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidInput(f"file {filename!r}: unknown format {suffix!r}; accepted: .csv, .json, .xlsx")
    return suffix


def read_records(content: bytes, fmt: str) -> list[dict]:
    """Rows of a catalogue file as dicts of strings (or lists for JSON steps), blanks as None."""
    try:
        if fmt == "json":
            data = json.loads(content)
            if isinstance(data, dict):
                data = data.get("procedures")
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise InvalidInput('a JSON catalogue is a list of procedure objects (or {"procedures": [...]})')
            return [{k: _blank_to_none(v) for k, v in r.items()} for r in data]
        reader = pd.read_csv if fmt == "csv" else pd.read_excel
        frame = reader(io.BytesIO(content), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, OSError, KeyError) as exc:
        raise InvalidInput(f"the {fmt.upper()} file cannot be read: {exc}") from exc
    unknown = sorted(set(frame.columns) - set(COLUMNS))
    missing = sorted(set(REQUIRED) - set(frame.columns))
    if unknown or missing:
        raise InvalidInput(
            f"columns {'missing: ' + ', '.join(missing) + '; ' if missing else ''}"
            f"{'unknown: ' + ', '.join(unknown) + '; ' if unknown else ''}accepted columns: {', '.join(COLUMNS)}"
        )
    return [{k: _blank_to_none(v) for k, v in row.items()} for row in frame.to_dict("records")]


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


def _row_error(row: int, column: str, message: str) -> dict:
    return {"row": row, "column": column, "message": message}


def _column_of(loc: tuple) -> str:
    if loc and loc[0] == "processing_time":
        return loc[1] if len(loc) > 1 and loc[1] in ("amount", "unit") else "amount"
    return str(loc[0]) if loc else "row"


def parse_records(records: list[dict], *, first_row: int) -> tuple[list[ProcedureCreate], list[FieldIn], list[dict]]:
    """Validate every row; returns the procedures, the fields named with a field_name, and every error."""
    procedures: list[ProcedureCreate] = []
    fields: dict[str, FieldIn] = {}
    errors: list[dict] = []
    seen: dict[tuple[str, str], int] = {}
    for offset, record in enumerate(records):
        row = first_row + offset
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
        except (ValueError, ValidationError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            errors.append(_row_error(row, "steps", message))
            continue
        body = {k: v for k, v in record.items() if v is not None and k not in ("field_name", "steps", "amount", "unit")}
        body["processing_time"] = {"amount": record.get("amount"), "unit": record.get("unit")}
        body["steps"] = steps
        try:
            procedure = ProcedureCreate.model_validate(body)
        except ValidationError as exc:
            for problem in exc.errors():
                errors.append(_row_error(row, _column_of(problem["loc"]), problem["msg"]))
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
        procedures.append(procedure)
        if record.get("field_name"):
            fields[procedure.field_code] = FieldIn(code=procedure.field_code, name=record["field_name"])
    return procedures, list(fields.values()), errors


def import_catalogue(session: Session, content: bytes, fmt: str) -> dict:
    """Validate and write a catalogue file; raises InvalidInput listing every bad row, writing nothing."""
    records = read_records(content, fmt)
    first_row = 1 if fmt == "json" else 2  # spreadsheet rows: the header is row 1
    procedures, fields, errors = parse_records(records, first_row=first_row)
    known_fields = set(session.execute(select(Field.code)).scalars()) | {f.code for f in fields}
    known_agencies = set(session.execute(select(Agency.code)).scalars())
    for row, procedure in zip(_rows_of(procedures, records, first_row), procedures, strict=True):
        if procedure.field_code not in known_fields:
            errors.append(
                _row_error(row, "field_code", f"unknown field {procedure.field_code!r}: add a field_name to create it")
            )
        for code in {procedure.agency_code, *(s.agency_code for s in procedure.steps)} - {None}:
            if code not in known_agencies:
                errors.append(
                    _row_error(
                        row,
                        "steps" if code != procedure.agency_code else "agency_code",
                        f"unknown agency code {code!r}; GET /api/v1/agencies lists them",
                    )
                )
    if not errors:
        upsert_fields(session, fields)
        for row, procedure in zip(_rows_of(procedures, records, first_row), procedures, strict=True):
            try:
                upsert_procedure(session, procedure)
            except DomainError as exc:
                errors.append(_row_error(row, "row", exc.detail))
    if errors:
        errors.sort(key=lambda e: e["row"])
        shown = "; ".join(f"row {e['row']}, {e['column']}: {e['message']}" for e in errors[:20])
        raise InvalidInput(
            f"{len(errors)} problem(s) in the file, nothing was imported: {shown}" + (" …" if len(errors) > 20 else ""),
            errors=errors,
        )
    analyze(session.connection(), ("field", "procedure", "procedure_step"))
    return {"procedures": len(procedures), "fields": len(fields)}


def _rows_of(procedures: list[ProcedureCreate], records: list[dict], first_row: int) -> list[int]:
    index = {(str(r.get("code")), str(r.get("effective_from"))): first_row + i for i, r in enumerate(records)}
    return [index.get((p.code, p.effective_from.isoformat()), 0) for p in procedures]


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
        "steps": format_steps(p.steps) or None,
        "effective_from": p.effective_from.isoformat(),
        "effective_to": p.effective_to.isoformat() if p.effective_to else None,
        "confidence": p.confidence,
        "source": p.source,
    }


def export_catalogue(session: Session, fmt: str) -> bytes:
    records = export_records(session)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=1).encode()
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name="procedures")
    return buffer.getvalue()
