"""Report and queue downloads: JSON, CSV, and XLSX laid out like the national report form."""

import io
from datetime import datetime

import pandas as pd
from fastapi import Response
from fastapi.responses import JSONResponse
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from sqlalchemy import select

from api.web.i18n import Formats
from procedures.models import Procedure
from procedures.spreadsheets import csv_bytes, write_cell, xlsx_table
from sla.core.calendar import LOCAL_TZ

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def documented_downloads(*formats: str) -> dict[int | str, dict]:
    """The OpenAPI `responses` of a route whose 200 is JSON or, with `format=`, a CSV or XLSX file."""
    content = {MEDIA_TYPES[fmt].split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for fmt in formats}
    return {200: {"description": "JSON, or the file asked for with `format`", "content": content}}


GROUP_TITLES = {
    "agency": "Cơ quan, đơn vị",
    "procedure": "Thủ tục hành chính",
    "field": "Lĩnh vực",
    "channel": "Hình thức nộp",
    "month": "Tháng",
}
LABEL_COLUMNS = {"agency": "agency_name", "procedure": "procedure_name", "field": "field_name"}
# (group header, [(sub header, column)]) — a group with one unnamed sub spans its rows.
PERIOD_FORM = [
    (
        "Số hồ sơ nhận giải quyết",
        [
            ("Tổng số", "total"),
            ("Kỳ trước chuyển qua", "carried_over"),
            ("Mới tiếp nhận trực tiếp", "received_counter"),
            ("Mới tiếp nhận trực tuyến", "received_online"),
            ("Mới tiếp nhận qua bưu chính", "received_post"),
        ],
    ),
    (
        "Số hồ sơ đã giải quyết",
        [("Tổng số", "resolved"), ("Trước hạn", "early"), ("Đúng hạn", "on_time"), ("Quá hạn", "late")],
    ),
    ("Số hồ sơ rút, dừng giải quyết", [(None, "withdrawn")]),
    ("Số hồ sơ đang giải quyết", [("Tổng số", "open"), ("Trong hạn", "open_within"), ("Quá hạn", "open_overdue")]),
    ("Tỷ lệ đúng hạn", [(None, "on_time_rate")]),
    ("Tỷ lệ đúng hạn (chặt)", [(None, "strict_on_time_rate")]),
    ("Điểm tiến độ (QĐ 766)", [(None, "progress_score_766")]),
    ("Thời gian giải quyết bình quân (ngày làm việc)", [(None, "avg_resolution_working_days")]),
    (
        "Tính toàn vẹn số liệu",
        [("Sự việc ghi lùi thời gian", "events_recorded_late"), ("Xin lỗi muộn", "apologies_late")],
    ),
]
COLUMN_TITLES = {
    "code": "Mã hồ sơ",
    "procedure_code": "Mã thủ tục",
    "procedure_name": "Tên thủ tục",
    "status": "Trạng thái",
    "status_code": "Mã trạng thái",
    "received_at": "Ngày tiếp nhận",
    "due_at": "Hạn xử lý hiện tại",
    "original_due_at": "Hạn xử lý ban đầu",
    "rescheduled": "Đã hẹn lại (xin lỗi)",
    "holding_agency_code": "Mã đơn vị đang xử lý",
    "holding_agency_name": "Đơn vị đang xử lý",
    "current_stage": "Bước đang xử lý",
    "current_stage_due_at": "Hạn của bước",
    "working_days_overdue": "Số ngày làm việc quá hạn",
    "working_days_left": "Số ngày làm việc còn lại",
    "group": "Nhóm",
    "agency_code": "Mã đơn vị",
    "agency_name": "Tên đơn vị",
    "steps": "Số bước đã xong",
    "steps_on_time": "Bước đúng hạn",
    "steps_late": "Bước quá hạn",
    "step_on_time_rate": "Tỷ lệ bước đúng hạn",
    "overrun_working_days": "Số ngày làm việc vượt",
    "dossiers_made_late": "Số hồ sơ làm trễ",
}
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTERED = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _plain(value):
    if value is pd.NaT:  # a missing instant in a column of instants (NaT is a datetime that cannot be used)
        return None
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows as JSON-ready dicts: instants in local time (ISO 8601), missing ones None.

    Column by column: a column of instants is shifted to local time once, not value by value.
    """
    columns = {}
    for key in frame.columns:
        column = frame[key]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            local = column.dt.tz_convert(LOCAL_TZ).array.to_pydatetime()  # datetime.isoformat is C, Timestamp's is not
            columns[key] = [None if value is pd.NaT else value.isoformat() for value in local]
        else:
            columns[key] = [_plain(value) for value in column.tolist()]
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _excel_value(value):
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value


def _download(content: bytes, fmt: str, name: str) -> Response:
    return Response(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _csv(frame: pd.DataFrame) -> bytes:
    return csv_bytes(pd.DataFrame(records(frame), columns=frame.columns))


def period_form_xlsx(frame: pd.DataFrame, *, group_by: str, title: str, subtitle: str) -> bytes:
    """The national report form: title, two header rows with merged group headers, groups, a totals row."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    leaf_count = 2 + sum(len(subs) for _, subs in PERIOD_FORM)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=leaf_count)
    write_cell(sheet, 1, 1, title.upper()).font = Font(bold=True, size=13)
    sheet.cell(1, 1).alignment = CENTERED
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=leaf_count)
    write_cell(sheet, 2, 1, subtitle).alignment = CENTERED
    top, sub = 4, 5
    for column, label in ((1, "STT"), (2, GROUP_TITLES[group_by])):
        sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
        write_cell(sheet, top, column, label)
    keys = []
    column = 3
    for group, subs in PERIOD_FORM:
        if len(subs) == 1 and subs[0][0] is None:
            sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
            write_cell(sheet, top, column, group)
        else:
            sheet.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + len(subs) - 1)
            write_cell(sheet, top, column, group)
            for offset, (label, _) in enumerate(subs):
                write_cell(sheet, sub, column + offset, label)
        keys.extend(key for _, key in subs)
        column += len(subs)
    for row in sheet.iter_rows(min_row=top, max_row=sub, max_col=leaf_count):
        for cell in row:
            cell.font, cell.alignment, cell.border = Font(bold=True), CENTERED, BOX
    label_column = LABEL_COLUMNS.get(group_by, "group")
    row_number = sub + 1
    for index, data in enumerate(frame.to_dict("records"), start=1):
        is_total = data["group"] == "total"
        values = ["", "Tổng cộng"] if is_total else [index, data.get(label_column) or data["group"]]
        values += [_excel_value(data[key]) for key in keys]
        for offset, value in enumerate(values, start=1):
            cell = write_cell(sheet, row_number, offset, value)
            cell.border = BOX
            if is_total:
                cell.font = Font(bold=True)
            if isinstance(value, float) and keys[offset - 3].endswith("rate"):
                cell.number_format = "0.0%"
        row_number += 1
    sheet.column_dimensions["B"].width = 40
    for index in range(3, leaf_count + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 12
    sheet.row_dimensions[sub].height = 45
    sheet.freeze_panes = sheet.cell(sub + 1, 3)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_xlsx(frame: pd.DataFrame, *, title: str, totals: bool) -> bytes:
    """A plain table with Vietnamese headers (queues, stage attribution); the last row bold if it is a total."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Bảng"
    write_cell(sheet, 1, 1, title.upper()).font = Font(bold=True, size=13)
    for column, key in enumerate(frame.columns, start=1):
        cell = write_cell(sheet, 3, column, COLUMN_TITLES.get(key, key))
        cell.font, cell.alignment, cell.border = Font(bold=True), CENTERED, BOX
        sheet.column_dimensions[get_column_letter(column)].width = 18
    rows = frame.to_dict("records")
    for row_number, data in enumerate(rows, start=4):
        for column, key in enumerate(frame.columns, start=1):
            cell = write_cell(sheet, row_number, column, _excel_value(data[key]))
            cell.border = BOX
            if totals and row_number == 3 + len(rows):
                cell.font = Font(bold=True)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def respond(
    frame: pd.DataFrame,
    fmt: str,
    *,
    name: str,
    meta: dict,
    xlsx: bytes | None = None,
    title: str = "",
    totals: bool = False,
) -> Response:
    """JSON (`meta` + `rows`), CSV, or XLSX (`xlsx` when the caller laid it out, else a plain table)."""
    if fmt == "json":
        return JSONResponse({**meta, "rows": records(frame)})
    if fmt == "csv":
        return _download(_csv(frame), "csv", name)
    return _download(xlsx if xlsx is not None else table_xlsx(frame, title=title, totals=totals), "xlsx", name)


SEARCH_COLUMNS = (
    "dossier.code", "dossier.procedure", "dossier.applicant", "search.receiving_agency", "search.current_agency",
    "dossier.status", "dossier.received_at", "dossier.due_at", "search.finished_at", "dossier.outcome",
)  # fmt: skip


def search_xlsx(session, found, *, lang: str) -> Response:
    """A search's dossiers (`dossiers.service.Found`) as one XLSX sheet: a title row saying how many matched, the
    headers in `lang`, one row per dossier with the procedure's name, labels for status and outcome, local times."""
    fmt = Formats(lang)
    codes = {item.procedure_code for item in found.items}
    names = dict(session.execute(select(Procedure.code, Procedure.name).where(Procedure.code.in_(codes))).all())
    total = fmt.t("search.more_than", total=fmt.number(found.total)) if found.capped else fmt.number(found.total)
    rows = [
        [fmt.t("search.export_title", total=total)],
        [fmt.t(key) for key in SEARCH_COLUMNS],
        *(
            [
                item.code,
                names.get(item.procedure_code, item.procedure_code),
                item.applicant_name,
                item.receiving_agency_code,
                item.current_agency_code,
                fmt.label("status", item.status),
                fmt.when(item.received_at),
                fmt.when(item.due_at),
                fmt.when(item.finished_at),
                fmt.label("outcome", item.outcome) if item.outcome else "",
            ]
            for item in found.items
        ),
    ]
    content = xlsx_table(rows[0], rows[1:], sheet_title=fmt.t("search.sheet"))
    return _download(content, "xlsx", "ho-so" if lang == "vi" else "dossiers")
