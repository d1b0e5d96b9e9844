"""What the import pages say about a bad record: each problem of exchange/problems.py in Vietnamese and English.

A problem comes as `Problem` (exchange/history.py) or its dict (`exchange_import.problems`): its line and field stay
as they are (the field is the record's own name, `QuaTrinhXuLy[3].ThoiDiemXuLy`), the reason is said here from its
`message_id` and `params`; events and statuses by their page labels.
"""

from typing import Any

from api.web.i18n import LANGUAGES, Formats
from api.web.messages import _components_message
from sla.core.lifecycle import STATUS_NAMES, Status

PROBLEMS: dict[str, tuple[str, str]] = {
    "not_json": ("không phải JSON ({reason})", "not JSON ({reason})"),
    "not_object": ("cần một đối tượng JSON {{…}}, nhưng là {got}", "expected a JSON object {{…}}, got {got}"),
    "not_json_list": ("cần một danh sách JSON [...], nhưng là «{value}» ({reason})",
                      "expected a JSON list [...], got “{value}” ({reason})"),
    "missing": ("thiếu: trường này bắt buộc", "missing: it is required"),
    "missing_choice": ("thiếu; các giá trị được chấp nhận: {accepted}", "missing; accepted: {accepted}"),
    "missing_date": ("thiếu ngày giờ, viết dạng yyyyMMddHHmmss theo giờ Việt Nam (ví dụ 20250602090000)",
                     "missing; a date is written yyyyMMddHHmmss, local time (e.g. 20250602090000)"),
    "not_text": ("cần văn bản, nhưng là {got}", "expected text, got {got}"),
    "too_long": ("dài quá {limit} ký tự", "longer than {limit} characters"),
    "not_one_of": ("«{value}» không phải một trong các giá trị: {accepted}", "“{value}” is not one of {accepted}"),
    "not_a_list": ("cần một danh sách các đối tượng", "expected a list of objects"),
    "date_shape": ("«{value}» không phải ngày giờ dạng yyyyMMddHHmmss (14 chữ số, giờ Việt Nam, ví dụ 20250602090000)",
                   "“{value}” is not a date yyyyMMddHHmmss (14 digits, local time, e.g. 20250602090000)"),
    "date_unreal": ("«{value}» không phải ngày giờ có thật (yyyyMMddHHmmss)",
                    "“{value}” is not a real date and time (yyyyMMddHHmmss)"),
    "version": ("phiên bản «{value}» không đọc được; phiên bản được chấp nhận: {accepted}",
                "“{value}” is not a version this reader knows; accepted: {accepted}"),
    "component_unnamed": ("không chỉ rõ thành phần hồ sơ: ghi MaThanhPhanHoSo (số thứ tự trong danh mục của thủ tục) "
                          "hoặc tên giấy tờ",
                          "names no component: give MaThanhPhanHoSo (its number in the procedure's list) or its name"),
    "copies": ("«{value}» không phải số bản (từ 1 đến {limit})", "“{value}” is not a number of copies (1 to {limit})"),
    "component_number": ("«{value}» không phải số thứ tự của thành phần trong danh mục của thủ tục (từ 1 trở lên)",
                         "“{value}” is not a component's number in the procedure's list (1 or more)"),
    "too_many_components": ("{count} thành phần hồ sơ; tối đa {limit}", "{count} documents; at most {limit}"),
    "flag_unknown": ("«{value}» không phải dấu hiệu của mục này; được chấp nhận: {accepted}",
                     "“{value}” is not a flag of this object; accepted: {accepted}"),
    "amount": ("«{value}» không phải số tiền (đồng, số nguyên từ 0 đến 10.000.000.000)",
               "“{value}” is not an amount in đồng (a whole number from 0 to 10,000,000,000)"),
    "too_many_fees": ("{count} khoản phí, lệ phí; tối đa {limit}", "{count} fee lines; at most {limit}"),
    "paid_without_date": ("khoản đã thu (HinhThucThu {value}) cần ngày thanh toán NgayThanhToan",
                          "a paid fee line (HinhThucThu {value}) gives NgayThanhToan, when it was paid"),
    "date_without_channel": ("có ngày thanh toán {value} nhưng không có hình thức thu HinhThucThu (1–4)",
                             "NgayThanhToan {value} without HinhThucThu (how it was paid: 1–4)"),
    "population_ref": ("«{value}» không phải mã tham chiếu CSDL quốc gia về dân cư (chữ, số và . _ : / -, tối đa 64)",
                       "“{value}” is not a population database reference (letters, digits and . _ : / -, at most 64)"),
    "electronic_result_unresolved": ("ghi có kết quả điện tử nhưng hồ sơ chưa từng có kết quả giải quyết",
                                     "an electronic result is recorded for a dossier that was never resolved"),
    "step_order": ("{at} sớm hơn bước trước đó ({previous}); các bước phải theo thứ tự thời gian",
                   "{at} is before the step before it ({previous}); steps are listed in time order"),
    "apology_unlisted": ("bước xin lỗi không có mục tương ứng trong DanhSachXinLoi (ngày hẹn mới)",
                         "an apology with no entry in DanhSachXinLoi (its new appointment)"),
    "apologies_without_step": ("{count} phiếu xin lỗi không có bước tương ứng trong QuaTrinhXuLy",
                               "{count} apology entries with no step in QuaTrinhXuLy"),
    "refusal_date_missing": ("thiếu: hồ sơ từ chối tiếp nhận (trạng thái 3) cần ngày từ chối",
                             "missing: a dossier refused at receipt (status 3) needs it"),
    "received_date_missing": ("thiếu: hồ sơ ở trạng thái {status} đã được tiếp nhận",
                              "missing: a dossier with status {status} was received"),
    "resolved_date_missing": ("thiếu: hồ sơ ở trạng thái {status} đã có kết quả giải quyết",
                              "missing: status {status} was resolved"),
    "returned_date_missing": ("thiếu: hồ sơ ở trạng thái 10 đã trả kết quả",
                              "missing: status 10, the result was returned"),
    "end_date_missing": ("thiếu: ngày hồ sơ kết thúc (trạng thái {status})",
                         "missing: when the dossier ended (status {status})"),
    "obligation_steps_missing": ("thiếu: hồ sơ chờ thực hiện nghĩa vụ tài chính (trạng thái 6) cần có các bước xử lý",
                                 "missing: a dossier waiting for a financial obligation (status 6) needs its steps"),
    "no_event": ("không có sự kiện nào: hồ sơ ít nhất phải được nộp, tiếp nhận hoặc từ chối",
                 "no event: a dossier is at least submitted, received or refused"),
    "first_event": ("sự kiện đầu tiên là «{event}»; hồ sơ bắt đầu bằng nộp, tiếp nhận hoặc từ chối tiếp nhận",
                    "the first event is “{event}”; a dossier starts submitted, received or refused"),
    "impossible_sequence": ("trình tự không thể có: không thể «{event}» khi hồ sơ ở trạng thái «{status}»; được phép: "
                            "{allowed}",
                            "impossible sequence: “{event}” is not possible while the dossier is “{status}”; allowed: "
                            "{allowed}"),
    "handoff_without_agency": ("bước chuyển xử lý phải ghi đơn vị nhận", "a hand-off names the agency it goes to"),
    "step_status": ("trạng thái {value} khác với trạng thái mà bước «{event}» dẫn tới ({status})",
                    "{value} disagrees with the status “{event}” leads to ({status})"),
    "record_status": ("trạng thái {value} khác với trạng thái mà các bước dẫn tới ({status})",
                      "{value} disagrees with the status its steps lead to ({status})"),
    "date_disagrees": ("{value} khác với thời điểm của bước «{event}» ({found})",
                       "{value} disagrees with the “{event}” step ({found})"),
    "date_missing_step": ("thiếu: các bước có «{event}» lúc {found}", "missing: the steps have “{event}” at {found}"),
    "supplement_count": ("ghi {listed} lần yêu cầu bổ sung; các bước có {steps} lần",
                         "lists {listed} supplement requests; the steps have {steps}"),
    "supplement_answer_unknown": ("{value} không khớp bước tiếp nhận hồ sơ bổ sung nào",
                                  "{value} is no supplement received step"),
    "unknown_agency": ("không có đơn vị nào mã {code}", "unknown agency {code}: not among our agencies"),
    "unknown_handoff_agency": ("chuyển xử lý đến đơn vị không có: {code}", "a hand-off to an unknown agency {code}"),
    "unknown_procedure": ("không có thủ tục nào mã {code} trong danh mục",
                          "unknown procedure {code}: not in the catalogue"),
    "procedure_not_in_force": ("thủ tục {code} không có phiên bản còn hiệu lực vào ngày {day}",
                               "procedure {code} has no version in force on {day}"),
    "components": ("", ""),  # said by api.web.messages' checklist message, from the params
    "already_imported": ("hồ sơ {code} đã được nhập (hoặc ghi hai lần trong tệp): mỗi bản ghi chỉ nhập một lần",
                         "{code} is already imported (or given twice in the file): a record is taken in once"),
    "given_twice": ("hồ sơ {code} ghi hai lần trong tệp (lần đầu ở dòng {line})",
                    "{code} is given twice in the file (first on line {line})"),
    "replay_failed": ("không tính lại được các sự kiện của hồ sơ ({reason})",
                      "its events cannot be replayed ({reason})"),
    "replay_order": ("các sự kiện không theo thứ tự thời gian ({reason})", "its events are out of order ({reason})"),
    "replay_apology": ("phiếu xin lỗi không đúng quy định: phải trước hạn ít nhất 1 ngày làm việc, hẹn ngày muộn hơn "
                       "({reason})",
                       "the apology breaks the rule: at least 1 working day ahead, a later appointment ({reason})"),
    "replay_hand_off": ("bước chuyển xử lý không khớp với các bước đang mở ({reason})",
                        "a hand-off does not fit the open steps ({reason})"),
    "replay_calendar": ("ngày nằm ngoài lịch làm việc đã có ({reason})",
                        "a day outside the working calendar's years ({reason})"),
}
"""Problem id → (Vietnamese, English); every id of exchange/problems.py (tested)."""


def _word(name: str, value: Any, fmt: Formats, index: int) -> Any:
    if name == "event":
        return fmt.label("event", value)
    if name == "status":
        if isinstance(value, int) and 1 <= value <= 10:  # a status code: its number and its name
            return f"{value} ({fmt.label('status', STATUS_NAMES[Status(value)])})"
        return fmt.label("status", value) if value else ("chưa có" if index == 0 else "none")
    if name == "allowed":
        named = [fmt.label("event", e) for e in value or ()]
        return ", ".join(named) if named else ("không còn thao tác nào" if index == 0 else "none")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "—" if value is None else value


def problem_text(problem: Any, lang: str) -> str:
    """The reason of one bad record (a `Problem` or its dict) in `lang`; its English as the API wrote it when the
    problem has no id."""
    get = problem.get if isinstance(problem, dict) else lambda key: getattr(problem, key, None)
    message_id, params = get("message_id"), get("params") or {}
    index = LANGUAGES.index(lang)
    if message_id == "components" and (params.get("unknown") or params.get("twice")):
        return _components_message(params, index)
    if message_id not in PROBLEMS or message_id == "components":
        return get("message") or ""
    fmt = Formats(lang)
    words = {name: _word(name, value, fmt, index) for name, value in params.items()}
    try:
        return PROBLEMS[message_id][index].format(**words)
    except (KeyError, IndexError, ValueError):
        return get("message") or ""


