"""Spreadsheet cells on the way out: text a spreadsheet would run as a formula is written as text.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and
LibreOffice (OWASP "CSV injection"). Every CSV and XLSX writer of the project goes through
`formula_like`: in CSV such a text gets a leading `'` (and `csv_restore` takes it off again on
import, so a catalogue export imports back unchanged); in XLSX it is a text cell (type `s`, with the
quote-prefix style), never a formula. Numbers stay numbers: `-5` as a number, or a text that is a
plain number, is left alone. Ground floor: imports nothing of ours.
"""

import io
import re

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.cell.rich_text import CellRichText
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_TRIGGERS = frozenset("=+-@\t\r")
QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ILLEGAL_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # openpyxl's ILLEGAL_CHARACTERS_RE


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read `text` (after any leading quotes) as a formula: the one rule."""
    bare = text.lstrip(QUOTE)
    return bare[:1] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.fullmatch(bare)


def csv_value(value):
    """A CSV cell: a formula-like text gets a leading `'`; anything else (numbers too) as it is.

    A text that already starts with quotes before a formula-like rest gets one more, so that
    `csv_restore` can always take exactly one off.
    """
    if isinstance(value, str) and formula_like(value):
        return QUOTE + value
    return value


def csv_restore(value):
    """The inverse of `csv_value`, for a cell read back from a CSV file."""
    if isinstance(value, str) and value.startswith(QUOTE) and formula_like(value[1:]):
        return value[1:]
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell passed through `csv_value` (numeric columns are not touched)."""
    out = frame.copy()
    for key in out.columns:
        column = out[key]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            out[key] = column.map(csv_value)
    return out


def csv_bytes(frame: pd.DataFrame, *, bom: bool = True) -> bytes:
    """A CSV file of the frame, text cells neutralised; UTF-8 with a BOM (Excel then reads it as UTF-8)."""
    return csv_frame(frame).to_csv(index=False).encode("utf-8-sig" if bom else "utf-8")


def put(cell: Cell, value) -> Cell:
    """Set an XLSX cell: a text is always a text cell (never a formula or an error code); numbers,
    dates and booleans keep their type. Characters XLSX cannot hold (C0 controls) are dropped."""
    if isinstance(value, str) and not isinstance(value, CellRichText):
        value = _ILLEGAL_IN_XLSX.sub("", value)
        cell.value = value
        cell.data_type = "s"
        if formula_like(value):
            cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
    else:
        cell.value = value
    return cell


def write_cell(sheet: Worksheet, row: int, column: int, value) -> Cell:
    """`sheet.cell(row, column, value)` through `put`."""
    return put(sheet.cell(row, column), value)


def xlsx_table(header: list[str], rows, *, sheet_title: str) -> bytes:
    """A one-sheet workbook written in streaming mode: a header row, then the rows, every cell through `put`."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title)
    sheet.append([put(WriteOnlyCell(sheet), value) for value in header])
    for row in rows:
        sheet.append([put(WriteOnlyCell(sheet), value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
