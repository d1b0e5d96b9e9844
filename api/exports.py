"""Report and queue downloads: JSON, CSV, and XLSX laid out like the national report form."""

import io
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from fastapi import Response
from fastapi.responses import JSONResponse
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from api.web.i18n import Formats
from kernel.spreadsheets import csv_bytes, write_cell, xlsx_table
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
GROUP_TITLES_EN = {
    "agency": "Agency",
    "procedure": "Procedure",
    "field": "Field",
    "channel": "Channel",
    "month": "Month",
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
# English words of the national form's headers (the Vietnamese ones above are the form's own)
FORM_WORDS_EN = {
    "Số hồ sơ nhận giải quyết": "Dossiers to resolve",
    "Tổng số": "Total",
    "Kỳ trước chuyển qua": "Carried over",
    "Mới tiếp nhận trực tiếp": "New at the counter",
    "Mới tiếp nhận trực tuyến": "New online",
    "Mới tiếp nhận qua bưu chính": "New by post",
    "Số hồ sơ đã giải quyết": "Dossiers resolved",
    "Trước hạn": "Early",
    "Đúng hạn": "On time",
    "Quá hạn": "Late",
    "Số hồ sơ rút, dừng giải quyết": "Withdrawn or stopped",
    "Số hồ sơ đang giải quyết": "Dossiers open",
    "Trong hạn": "Within due",
    "Tỷ lệ đúng hạn": "On-time rate",
    "Tỷ lệ đúng hạn (chặt)": "Strict on-time rate",
    "Điểm tiến độ (QĐ 766)": "Progress score (Decision 766)",
    "Thời gian giải quyết bình quân (ngày làm việc)": "Average resolution time (working days)",
    "Tính toàn vẹn số liệu": "Data integrity",
    "Sự việc ghi lùi thời gian": "Events recorded late",
    "Xin lỗi muộn": "Late apologies",
}
# Column headers of the CSV and of the plain XLSX tables: (Vietnamese, English)
HEADERS = {
    "code": ("Mã hồ sơ", "Dossier code"),
    "procedure_code": ("Mã thủ tục", "Procedure code"),
    "procedure_name": ("Tên thủ tục", "Procedure"),
    "status": ("Trạng thái", "Status"),
    "status_code": ("Mã trạng thái", "Status code"),
    "outcome": ("Kết quả", "Outcome"),
    "received_at": ("Ngày tiếp nhận", "Received"),
    "finished_at": ("Ngày kết thúc", "Finished"),
    "due_at": ("Hạn xử lý hiện tại", "Current due"),
    "original_due_at": ("Hạn xử lý ban đầu", "Original due"),
    "rescheduled": ("Đã hẹn lại (xin lỗi)", "Rescheduled (apology)"),
    "holding_agency_code": ("Mã đơn vị đang xử lý", "Holding agency code"),
    "holding_agency_name": ("Đơn vị đang xử lý", "Holding agency"),
    "current_stage": ("Bước đang xử lý", "Current stage"),
    "current_stage_due_at": ("Hạn của bước", "Stage due"),
    "working_days_overdue": ("Số ngày làm việc quá hạn", "Working days overdue"),
    "working_days_left": ("Số ngày làm việc còn lại", "Working days left"),
    "group": ("Nhóm", "Group"),
    "agency_code": ("Mã đơn vị", "Agency code"),
    "agency_name": ("Tên đơn vị", "Agency"),
    "field_code": ("Mã lĩnh vực", "Field code"),
    "field_name": ("Lĩnh vực", "Field"),
    "channel": ("Hình thức nộp", "Channel"),
    "month": ("Tháng", "Month"),
    "steps": ("Số bước đã xong", "Steps finished"),
    "steps_on_time": ("Bước đúng hạn", "Steps on time"),
    "steps_late": ("Bước quá hạn", "Steps late"),
    "step_on_time_rate": ("Tỷ lệ bước đúng hạn (%)", "Step on-time rate (%)"),
    "overrun_working_days": ("Số ngày làm việc vượt", "Working days overrun"),
    "dossiers_made_late": ("Số hồ sơ làm trễ", "Dossiers made late"),
    "total": ("Tổng số hồ sơ nhận giải quyết", "Total to resolve"),
    "carried_over": ("Kỳ trước chuyển qua", "Carried over"),
    "received_new": ("Mới tiếp nhận", "Newly received"),
    "received_counter": ("Mới tiếp nhận trực tiếp", "New at the counter"),
    "received_online": ("Mới tiếp nhận trực tuyến", "New online"),
    "received_post": ("Mới tiếp nhận qua bưu chính", "New by post"),
    "resolved": ("Đã giải quyết", "Resolved"),
    "early": ("Giải quyết trước hạn", "Resolved early"),
    "on_time": ("Giải quyết đúng hạn", "Resolved on time"),
    "late": ("Giải quyết quá hạn", "Resolved late"),
    "withdrawn": ("Rút, dừng giải quyết", "Withdrawn or stopped"),
    "open": ("Đang giải quyết", "Open"),
    "open_within": ("Đang giải quyết trong hạn", "Open within due"),
    "open_overdue": ("Đang giải quyết quá hạn", "Open overdue"),
    "on_time_rate": ("Tỷ lệ đúng hạn (%)", "On-time rate (%)"),
    "strict_on_time_rate": ("Tỷ lệ đúng hạn chặt (%)", "Strict on-time rate (%)"),
    "progress_score_766": ("Điểm tiến độ (QĐ 766)", "Progress score (Decision 766)"),
    "avg_resolution_working_days": ("Thời gian giải quyết bình quân (ngày làm việc)", "Average time (working days)"),
    "events_recorded_late": ("Sự việc ghi lùi thời gian", "Events recorded late"),
    "apologies_late": ("Xin lỗi muộn", "Late apologies"),
    "indicator_group": ("Nhóm chỉ số", "Group"),
    "indicator": ("Chỉ số", "Indicator"),
    "indicator_name": ("Tên chỉ số", "Indicator name"),
    "formula": ("Công thức", "Formula"),
    "numerator": ("Tử số", "Numerator"),
    "denominator": ("Mẫu số", "Denominator"),
    "rate": ("Tỷ lệ (%)", "Rate (%)"),
    "threshold_rate": ("Ngưỡng đạt điểm tối đa (%)", "Full-marks threshold (%)"),
    "points": ("Điểm đạt", "Points"),
    "max_points": ("Điểm tối đa", "Maximum points"),
    "points_lost": ("Điểm bị trừ", "Points lost"),
    "supplement_count": ("Số lần yêu cầu bổ sung", "Supplement requests"),
    "electronic_result": ("Có kết quả điện tử", "Electronic result"),
    "vneid_verified": ("Xác thực VNeID", "VNeID verified"),
    "index_flags": ("Mã dữ kiện QĐ 766", "Decision 766 facts (bits)"),
    "name": ("Tên thủ tục", "Procedure"),
    "level": ("Cấp thực hiện", "Level"),
    "online_level": ("Mức độ trực tuyến", "Online level"),
    "fee": ("Phí, lệ phí", "Fee"),
    "decision_date": ("Ngày quyết định công bố", "Decision date"),
    "legal_basis_effective_date": ("Ngày căn cứ pháp lý có hiệu lực", "Legal basis in effect"),
    "published_on": ("Ngày công khai", "Made public"),
    "reasons": ("Lý do bị trừ điểm", "Why it cost points"),
    "id": ("Số", "No."),
    "category": ("Phân loại", "Category"),
    "complaint_status": ("Trạng thái", "Status"),
    "missed_clocks": ("Thời hạn bị trễ", "Clocks missed"),
    "disliked": ("Không hài lòng với trả lời", "Disliked the answer"),
    "repeated": ("Phản ánh lại", "Complained again"),
    "e_certified_copies": ("Chứng thực bản sao điện tử", "Electronic certified copies"),
    "e_certified_copies_from": ("Áp dụng từ ngày", "Offered from"),
}
COLUMN_TITLES = {key: titles[0] for key, titles in HEADERS.items()}  # the Vietnamese headers, by column
SCORE_COLUMNS = ("progress_score_766", "points", "max_points", "points_lost")
DECIMAL_COLUMNS = ("avg_resolution_working_days", "overrun_working_days", "working_days_overdue", "working_days_left")
LABELLED_COLUMNS = {
    "status": "status", "current_stage": "stage", "channel": "channel", "outcome": "outcome",
    "complaint_status": "complaint_status", "category": "complaint_category",
}  # fmt: skip
SIGNATURES = {
    "vi": (("NGƯỜI LẬP BIỂU", "(Ký, ghi rõ họ tên)"), ("THỦ TRƯỞNG ĐƠN VỊ", "(Ký tên, đóng dấu)")),
    "en": (("PREPARED BY", "(signature and full name)"), ("HEAD OF UNIT", "(signature and seal)")),
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
    """The machine-readable CSV: column keys, fractions, ISO 8601 instants (`raw=true`)."""
    return csv_bytes(pd.DataFrame(records(frame), columns=frame.columns))


def header(key: str, lang: str) -> str:
    """A column's title for people, in `lang` (the key itself when it has none)."""
    titles = HEADERS.get(key)
    return titles[1 if lang == "en" else 0] if titles else key


def _is_rate(key: str) -> bool:
    return key.endswith("rate")


def _fixed(value: float, digits: int, lang: str) -> str:
    """A number with exactly `digits` decimals, in the language's way: '95,8' (vi), '95.8' (en)."""
    text = f"{value:,.{digits}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def _people_value(key: str, value, fmt: Formats, *, sheet: bool):
    """A value as people read it: a rate in percent with one decimal, a score with two, dates dd/mm/yyyy,
    labels in words. For a sheet (`sheet=True`) numbers and instants stay numbers and dates (the cell's
    format shows them so); for a CSV they are written out in the language's own way."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if _is_rate(key):
        return round(float(value), 3) if sheet else _fixed(float(value) * 100, 1, fmt.lang)
    if key in SCORE_COLUMNS or key in DECIMAL_COLUMNS:
        return round(float(value), 2) if sheet else _fixed(float(value), 2, fmt.lang)
    if isinstance(value, datetime):
        return _excel_value(value) if sheet else fmt.when(value)
    if isinstance(value, date):
        return value if sheet else fmt.day(value)
    if isinstance(value, bool):
        return fmt.t("common.yes") if value else ""
    if key in LABELLED_COLUMNS:
        return fmt.label(LABELLED_COLUMNS[key], value)
    if key in ("group", "indicator_group") and value == "total":
        return fmt.t("common.total")
    if key == "month" and isinstance(value, str) and len(value) == 7:
        return f"{value[5:]}/{value[:4]}"
    if isinstance(value, int | float) and not sheet:
        return fmt.number(value, 2)
    return value


def people_csv(frame: pd.DataFrame, lang: str = "vi") -> bytes:
    """The CSV for people: headers in `lang`, rates in percent (one decimal), scores to two decimals,
    instants dd/mm/yyyy HH:mm, statuses and stages in words; text cells formula-safe (`csv_bytes`)."""
    fmt = Formats(lang)
    rows = [
        {header(key, lang): _people_value(key, value, fmt, sheet=False) for key, value in row.items()}
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]
    return csv_bytes(pd.DataFrame(rows, columns=[header(key, lang) for key in frame.columns]))


def _number_format(key: str, value) -> str | None:
    if _is_rate(key) and isinstance(value, float):
        return "0.0%"
    if (key in SCORE_COLUMNS or key in DECIMAL_COLUMNS) and isinstance(value, float):
        return "0.00"
    if isinstance(value, datetime):
        return "dd/mm/yyyy hh:mm"
    if isinstance(value, date):
        return "dd/mm/yyyy"
    return None


@dataclass(frozen=True)
class Heading:
    """What a sheet for people says above and below its table: the title (the agency's name and the
    period in it), a subtitle, the place of the signature line, and the language."""

    title: str
    subtitle: str = ""
    lang: str = "vi"
    place: str = "Hà Nội"
    signed: date | None = None  # default: today


def _for_print(sheet: Worksheet, *, header_rows: str, last_column: int) -> None:
    """A4 landscape, one page wide, the header rows repeated on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = header_rows
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.print_area = f"A1:{get_column_letter(last_column)}{sheet.max_row}"


def _signature_block(sheet: Worksheet, heading: Heading, *, after_row: int, last_column: int) -> None:
    """The place-and-date line and the two signatures: the preparer (left), the head of the unit (right)."""
    day = heading.signed or datetime.now(LOCAL_TZ).date()
    if heading.lang == "en":
        dated = f"{heading.place}, {day:%d/%m/%Y}"
    else:
        dated = f"{heading.place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}"
    (left_title, left_note), (right_title, right_note) = SIGNATURES.get(heading.lang, SIGNATURES["vi"])
    right = max(last_column - 3, 2)
    row = after_row + 2
    write_cell(sheet, row, right, dated).font = Font(italic=True)
    for column, title, note in ((1, left_title, left_note), (right, right_title, right_note)):
        end = max(1, min(4, right - 1)) if column == 1 else max(last_column, right)
        for offset, (text, font) in enumerate(((title, Font(bold=True)), (note, Font(italic=True)))):
            if end > column:
                sheet.merge_cells(
                    start_row=row + 1 + offset, start_column=column, end_row=row + 1 + offset, end_column=end
                )
            cell = write_cell(sheet, row + 1 + offset, column, text)
            cell.font, cell.alignment = font, Alignment(horizontal="center")
    if last_column > right:
        sheet.merge_cells(start_row=row, start_column=right, end_row=row, end_column=last_column)
    sheet.cell(row, right).alignment = Alignment(horizontal="center")


def period_form_xlsx(
    frame: pd.DataFrame, *, group_by: str, title: str, subtitle: str, heading: Heading | None = None
) -> bytes:
    """The national report form: title, two header rows with merged group headers, groups, a totals row;
    with `heading`, its title and language, set for printing (A4 landscape) and signed."""
    lang = heading.lang if heading else "vi"
    words = (lambda text: FORM_WORDS_EN.get(text, text)) if lang == "en" else (lambda text: text)
    title, subtitle = (heading.title, heading.subtitle) if heading else (title, subtitle)
    book = Workbook()
    sheet = book.active
    sheet.title = "Report" if lang == "en" else "Báo cáo"
    leaf_count = 2 + sum(len(subs) for _, subs in PERIOD_FORM)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=leaf_count)
    write_cell(sheet, 1, 1, title.upper()).font = Font(bold=True, size=13)
    sheet.cell(1, 1).alignment = CENTERED
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=leaf_count)
    write_cell(sheet, 2, 1, subtitle).alignment = CENTERED
    top, sub = 4, 5
    group_titles = GROUP_TITLES_EN if lang == "en" else GROUP_TITLES
    for column, label in ((1, "No." if lang == "en" else "STT"), (2, group_titles[group_by])):
        sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
        write_cell(sheet, top, column, label)
    keys = []
    column = 3
    for group, subs in PERIOD_FORM:
        if len(subs) == 1 and subs[0][0] is None:
            sheet.merge_cells(start_row=top, start_column=column, end_row=sub, end_column=column)
            write_cell(sheet, top, column, words(group))
        else:
            sheet.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + len(subs) - 1)
            write_cell(sheet, top, column, words(group))
            for offset, (label, _) in enumerate(subs):
                write_cell(sheet, sub, column + offset, words(label))
        keys.extend(key for _, key in subs)
        column += len(subs)
    for row in sheet.iter_rows(min_row=top, max_row=sub, max_col=leaf_count):
        for cell in row:
            cell.font, cell.alignment, cell.border = Font(bold=True), CENTERED, BOX
    label_column = LABEL_COLUMNS.get(group_by, "group")
    total_label = "Total" if lang == "en" else "Tổng cộng"
    fmt = Formats(lang)
    row_number = sub + 1
    for index, data in enumerate(frame.to_dict("records"), start=1):
        is_total = data["group"] == "total"
        if is_total:
            values = ["", total_label]
        else:
            label = data.get(label_column) or data["group"]
            values = [index, _people_value(label_column, label, fmt, sheet=True) if heading else label]
        values += [
            _people_value(key, data[key], fmt, sheet=True) if heading else _excel_value(data[key]) for key in keys
        ]
        for offset, value in enumerate(values, start=1):
            cell = write_cell(sheet, row_number, offset, value)
            cell.border = BOX
            if is_total:
                cell.font = Font(bold=True)
            number_format = _number_format(keys[offset - 3], value) if offset > 2 else None
            if number_format:
                cell.number_format = number_format
        row_number += 1
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 40
    for index in range(3, leaf_count + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 12
    sheet.row_dimensions[sub].height = 45
    sheet.freeze_panes = sheet.cell(sub + 1, 3)
    if heading:
        _for_print(sheet, header_rows=f"{top}:{sub}", last_column=leaf_count)
        _signature_block(sheet, heading, after_row=row_number - 1, last_column=leaf_count)
        sheet.print_area = f"A1:{get_column_letter(leaf_count)}{sheet.max_row}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_xlsx(frame: pd.DataFrame, *, title: str, totals: bool, heading: Heading | None = None) -> bytes:
    """A plain table (queues, stage attribution); the last row bold if it is a total. With `heading`: its title
    and subtitle, headers in its language, values for people (rates in percent, dates dd/mm/yyyy), set for
    printing (A4 landscape, the header row repeated) and signed; without it, column keys and raw values."""
    lang = heading.lang if heading else None
    fmt = Formats(lang or "vi")
    book = Workbook()
    sheet = book.active
    sheet.title = "Table" if lang == "en" else "Bảng"
    last_column = max(len(frame.columns), 1)
    write_cell(sheet, 1, 1, (heading.title if heading else title).upper()).font = Font(bold=True, size=13)
    if heading and heading.subtitle:
        write_cell(sheet, 2, 1, heading.subtitle)
    for column, key in enumerate(frame.columns, start=1):
        cell = write_cell(sheet, 3, column, header(key, lang) if lang else COLUMN_TITLES.get(key, key))
        cell.font, cell.alignment, cell.border = Font(bold=True), CENTERED, BOX
        sheet.column_dimensions[get_column_letter(column)].width = 18
    rows = frame.to_dict("records")
    for row_number, data in enumerate(rows, start=4):
        for column, key in enumerate(frame.columns, start=1):
            value = _people_value(key, data[key], fmt, sheet=True) if heading else _excel_value(data[key])
            cell = write_cell(sheet, row_number, column, value)
            cell.border = BOX
            number_format = _number_format(key, value) if heading else None
            if number_format:
                cell.number_format = number_format
            if totals and row_number == 3 + len(rows):
                cell.font = Font(bold=True)
    if heading:
        sheet.row_dimensions[3].height = 32
        sheet.freeze_panes = "A4"
        _for_print(sheet, header_rows="3:3", last_column=last_column)
        _signature_block(sheet, heading, after_row=3 + len(rows), last_column=last_column)
        sheet.print_area = f"A1:{get_column_letter(last_column)}{sheet.max_row}"
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
    lang: str = "vi",
    raw: bool = False,
    heading: Heading | None = None,
) -> Response:
    """JSON (`meta` + `rows`, always machine-readable), CSV, or XLSX (`xlsx` when the caller laid it out,
    else a plain table). CSV and XLSX are for people (headers in `lang`, see `people_csv`, and `heading`
    on the sheet) unless `raw`: then column keys and raw values, for scripts."""
    if fmt == "json":
        return JSONResponse({**meta, "rows": records(frame)})
    if fmt == "csv":
        return _download(_csv(frame) if raw else people_csv(frame, lang), "csv", name)
    if xlsx is None:
        people = None if raw else (heading or Heading(title=title, lang=lang))
        xlsx = table_xlsx(frame, title=title, totals=totals, heading=people)
    return _download(xlsx, "xlsx", name)


SEARCH_COLUMNS = (
    "dossier.code", "dossier.procedure", "dossier.applicant", "search.receiving_agency", "search.current_agency",
    "dossier.status", "dossier.received_at", "dossier.due_at", "search.finished_at", "dossier.outcome",
)  # fmt: skip


def search_xlsx(found, *, lang: str) -> Response:
    """A search's dossiers (`dossiers.search.Found`) as one XLSX sheet: a title row saying how many matched, the
    headers in `lang`, one row per dossier with the procedure's name, labels for status and outcome, local times."""
    fmt = Formats(lang)
    total = fmt.t("search.more_than", total=fmt.number(found.total)) if found.capped else fmt.number(found.total)
    rows = [
        [fmt.t("search.export_title", total=total)],
        [fmt.t(key) for key in SEARCH_COLUMNS],
        *(
            [
                item.code,
                item.procedure_name_en if lang == "en" and item.procedure_name_en else item.procedure_name,
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
