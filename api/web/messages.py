"""What a page says about an error: Vietnamese (English with `?lang=en`), never an API path.

The JSON API answers with the English `detail` its services wrote. Pages do not show that text: they
look the error up by its class and its stable `message_id` (set where it is raised, with `params`,
kernel/errors.py) in MESSAGES, else say what the class means in general (FALLBACK). Input errors
(pydantic) are told per field, by the error's type.
"""

from collections.abc import Callable, Iterable

from accounts.throttle import TooManyAttempts
from api.web import feedback_labels
from api.web.i18n import LABELS, LANGUAGES, Formats
from kernel.errors import Conflict, DomainError, Forbidden, InvalidInput, InvalidTransition, NotFound, Unauthorized

VI, EN = LANGUAGES

# (error class, message id): (Vietnamese, English); `{name}` takes the error's params (events and
# statuses are named with the page labels, lists joined).
MESSAGES: dict[tuple[type[DomainError], str], tuple[str, str]] = {
    (NotFound, "dossier_not_found"): (
        "Không tìm thấy hồ sơ {code} (hoặc hồ sơ không thuộc phạm vi đơn vị của bạn). Mã hồ sơ có dạng "
        "000.01.01.H26-250425-0001.",
        "No dossier {code} (or it is outside your agency's scope). Codes look like 000.01.01.H26-250425-0001.",
    ),
    (NotFound, "agency_not_found"): ("Không có cơ quan nào có mã {code}.", "No agency has the code {code}."),
    (NotFound, "procedure_not_found"): (
        "Không có thủ tục nào có mã {code}: tìm theo tên hoặc mã rồi chọn trong danh sách.",
        "No procedure has the code {code}: search by name or code, then pick one in the list.",
    ),
    (NotFound, "procedure_not_in_force"): (
        "Thủ tục {code} không có phiên bản còn hiệu lực vào ngày {day}.",
        "Procedure {code} has no version in force on {day}.",
    ),
    (InvalidInput, "template_placeholder"): (
        "Mẫu tin nhắn có ô {{{placeholder}}} không được phép: chỉ dùng các ô trong danh sách bên dưới.",
        "The text has a placeholder {{{placeholder}}} that is not allowed: use only those listed below.",
    ),
    (InvalidInput, "template_braces"): (
        "Mẫu tin nhắn có dấu ngoặc nhọn không đóng: viết ô như {{code}}.",
        "The text has an unclosed brace: write a placeholder as {{code}}.",
    ),
    (InvalidInput, "template_empty"): ("Nội dung tin nhắn đang trống.", "The text is empty."),
    (InvalidInput, "template_unknown"): ("Không có loại tin nhắn này.", "No such message."),
    (NotFound, "template_unknown"): ("Không có loại tin nhắn này.", "No such message."),
    (Forbidden, "contact_forbidden"): (
        "Chỉ cán bộ một cửa của cơ quan tiếp nhận hoặc lãnh đạo được đổi cách thông báo cho người nộp.",
        "The applicant's contact is changed by the receiving agency's clerks or a manager.",
    ),
    (InvalidInput, "contact_channel_missing"): (
        "Đồng ý nhận thông báo thì cần chọn kênh nhận (SMS, Zalo hoặc thư điện tử).",
        "Consent to messages needs a channel (SMS, Zalo or email).",
    ),
    (InvalidInput, "contact_phone_missing"): (
        "Nhận thông báo qua {channel} thì cần số điện thoại, mà hồ sơ chưa có số điện thoại.",
        "Messages by {channel} need the phone number, and the dossier has none.",
    ),
    (InvalidInput, "contact_email_missing"): (
        "Nhận thông báo qua thư điện tử thì cần địa chỉ thư điện tử.",
        "Messages by email need the email address.",
    ),
    (NotFound, "rule_not_found"): (
        "Không có quy tắc này (có thể đã bị xoá).",
        "No such rule (it may have been deleted).",
    ),
    (NotFound, "notification_not_found"): (
        "Không có thông báo này trong hộp thư của bạn.",
        "No such notification in your inbox.",
    ),
    (InvalidInput, "copies"): (
        "Số lượng của giấy tờ số {seq}: «{count}» không phải số nguyên (từ 1 trở lên).",
        "Copies of document {seq}: “{count}” is not a whole number (1 or more).",
    ),
    (InvalidInput, "status_code"): (
        "Trạng thái «{value}» không có: chọn một trạng thái trong danh sách.",
        "There is no status “{value}”: pick one in the list.",
    ),
    (InvalidInput, "refusal_reason"): (
        "Từ chối tiếp nhận cần ghi lý do (lý do được in trên mẫu 03).",
        "A refusal at receipt needs its reason (it is printed on form 03).",
    ),
    (NotFound, "no_apology"): (
        "Hồ sơ {code} chưa có phiếu xin lỗi (mẫu 04).",
        "Dossier {code} has no apology letter (form 04).",
    ),
    (InvalidTransition, "invalid_transition"): (
        "Không thể «{event}» khi hồ sơ đang ở trạng thái «{status}». Thao tác được phép lúc này: {allowed}.",
        "“{event}” is not possible while the dossier is “{status}”. Allowed now: {allowed}.",
    ),
    (InvalidTransition, "result_away"): (
        "Kết quả đang ở đơn vị giải quyết: đơn vị đó chuyển kết quả về Bộ phận Một cửa trước, rồi Bộ phận Một cửa "
        "trả cho người dân. Thao tác được phép lúc này: {allowed}.",
        "The result is at the processing agency: it sends the result back to the desk first, where it is returned. "
        "Allowed now: {allowed}.",
    ),
    (InvalidTransition, "result_at_desk"): (
        "Kết quả đã ở Bộ phận Một cửa nơi tiếp nhận (hồ sơ giải quyết tại đây, hoặc kết quả đã được chuyển về): "
        "không chuyển lại. Thao tác được phép lúc này: {allowed}.",
        "The result is already at the desk that received the dossier (resolved there, or already sent back): it is "
        "not sent again. Allowed now: {allowed}.",
    ),
    (Forbidden, "hand_back_forbidden"): (
        "Bạn không thể «{event}» hồ sơ {code}: kết quả do đơn vị đang giữ hồ sơ ({holder}) chuyển về Bộ phận Một cửa.",
        "You may not “{event}” on dossier {code}: the agency holding the resolved dossier ({holder}) sends the "
        "result back to the desk.",
    ),
    (InvalidInput, "hand_back_sender"): (
        "Kết quả do đơn vị đang giữ hồ sơ ({holder}) chuyển về, không phải {agency}.",
        "The result is sent back by the agency holding it ({holder}), not {agency}.",
    ),
    (InvalidInput, "hand_back_desk"): (
        "Kết quả chuyển về Bộ phận Một cửa đã tiếp nhận hồ sơ ({desk}), không phải {agency}.",
        "The result goes back to the desk that received the dossier ({desk}), not {agency}.",
    ),
    (Forbidden, "event_forbidden.manager"): (
        "Bạn không thể «{event}» hồ sơ {code}: lãnh đạo chỉ ghi nhận trên hồ sơ thuộc phạm vi đơn vị mình.",
        "You may not “{event}” on dossier {code}: managers record events on dossiers in their scope.",
    ),
    (Forbidden, "event_forbidden.clerk"): (
        "Bạn không thể «{event}» hồ sơ {code}: cán bộ một cửa ghi nhận trên hồ sơ do đơn vị mình tiếp nhận; "
        "xin lỗi, hẹn lại là việc của lãnh đạo.",
        "You may not “{event}” on dossier {code}: clerks record events on dossiers their agency received; "
        "apologies are the manager's.",
    ),
    (Forbidden, "event_forbidden.officer"): (
        "Bạn không thể «{event}» hồ sơ {code}: chuyên viên ghi nhận trên hồ sơ đơn vị mình đang giữ; "
        "xin lỗi, hẹn lại là việc của lãnh đạo.",
        "You may not “{event}” on dossier {code}: officers record events on dossiers their agency holds; "
        "apologies are the manager's.",
    ),
    (Forbidden, "event_forbidden.viewer"): (
        "Tài khoản chỉ xem không ghi nhận được thao tác nào.",
        "A viewer account records nothing.",
    ),
    (Forbidden, "acting_agency"): (
        "Không thể ghi nhận nhân danh {agency}: chọn đơn vị đang giữ hồ sơ hoặc một đơn vị thuộc phạm vi của bạn.",
        "You cannot act for {agency}: name the agency holding the dossier or one in your scope.",
    ),
    (Forbidden, "backdate_forbidden"): (
        "Thời điểm {instant} sớm hơn hiện tại quá {minutes} phút: chỉ lãnh đạo hoặc quản trị viên được ghi lùi "
        "thời gian, kèm lý do. Để trống ô thời điểm để ghi theo bây giờ, hoặc đề nghị lãnh đạo ghi nhận.",
        "{instant} is more than {minutes} minutes back: only a manager or an administrator may record that far "
        "back, with a reason. Leave the time empty to record it now, or ask a manager.",
    ),
    (InvalidInput, "backdate_reason_missing"): (
        "Thời điểm {instant} sớm hơn hiện tại quá {minutes} phút: ghi lý do ghi lùi thời gian (vì sao đến giờ "
        "mới ghi nhận).",
        "{instant} is more than {minutes} minutes back: give the reason why it is recorded only now.",
    ),
    (InvalidInput, "backdate_reason_within_grace"): (
        "Chỉ ghi lý do ghi lùi khi thời điểm sớm hơn hiện tại quá {minutes} phút: để trống ô lý do.",
        "A back-dating reason is only for a time more than {minutes} minutes back: leave it empty.",
    ),
    (InvalidInput, "future_instant"): (
        "Thời điểm {instant} ở tương lai (bây giờ là {now}): nhập thời điểm sự việc đã diễn ra.",
        "{instant} is in the future (now {now}): give the time it happened.",
    ),
    (InvalidInput, "event_before_previous"): (
        "Thời điểm {instant} sớm hơn thao tác trước đó ({previous}): các thao tác được ghi theo thứ tự thời gian.",
        "{instant} is before the previous event ({previous}): events are recorded in time order.",
    ),
    (InvalidInput, "agency_inactive"): (
        "Đơn vị {agency} không còn hoạt động: chọn một đơn vị đang hoạt động.",
        "Agency {agency} is inactive: choose an active agency.",
    ),
    (InvalidInput, "apology_too_far"): (
        "Ngày hẹn mới quá xa: muộn nhất là {latest}.",
        "The new appointment is too far: {latest} at the latest.",
    ),
    (InvalidInput, "forward_needs_agency"): ("Chọn đơn vị nhận hồ sơ chuyển đến.", "Choose the agency to forward to."),
    (InvalidInput, "apology_needs_fields"): (
        "Phiếu xin lỗi cần ngày hẹn trả mới và lý do.",
        "An apology needs the new appointment and a reason.",
    ),
    (InvalidInput, "supplement_needs_reason"): (
        "Ghi rõ giấy tờ cần bổ sung (đầy đủ, một lần).",
        "Say what is missing (all of it, once).",
    ),
    (InvalidInput, "choose_procedure"): (
        "Chọn thủ tục: tìm theo tên hoặc mã rồi chọn một thủ tục trong danh sách.",
        "Choose a procedure: search by its name or code, then pick one in the list.",
    ),
    (Forbidden, "intake_outside_scope"): (
        "Bạn tiếp nhận hồ sơ tại {own} (và các đơn vị trực thuộc), không tại {agency}.",
        "You receive dossiers at {own} (and the agencies under it), not at {agency}.",
    ),
    (Forbidden, "outside_scope"): (
        "Đơn vị {agency} nằm ngoài phạm vi của bạn ({own} và các đơn vị trực thuộc).",
        "Agency {agency} is outside your scope ({own} and the agencies under it).",
    ),
    (Forbidden, "role"): (
        "Chức năng này không dành cho tài khoản {role}; dành cho: {roles}.",
        "This is not for a {role} account; it is for: {roles}.",
    ),
    (Forbidden, "administrators_only"): (
        "Chỉ quản trị viên được thêm hoặc xóa điều chỉnh lịch.",
        "Only administrators add or remove calendar overrides.",
    ),
    (Forbidden, "csrf"): (
        "Biểu mẫu đã hết hạn hoặc không gửi từ trang này: tải lại trang rồi thử lại.",
        "This form has expired or did not come from this site: reload the page and try again.",
    ),
    (InvalidInput, "override_exists"): (
        "Ngày {day} đã có điều chỉnh lịch ({reason}) cho phạm vi này: xóa điều chỉnh đó trước.",
        "{day} already has an override ({reason}) for this scope: delete it first.",
    ),
    (InvalidInput, "period_reversed"): (
        "Kỳ báo cáo kết thúc ({last}) trước khi bắt đầu ({first}): chọn từ ngày ≤ đến ngày.",
        "The period ends ({last}) before it starts ({first}): give from ≤ to.",
    ),
    (TooManyAttempts, "sign_in_throttled"): (
        "Đăng nhập sai quá nhiều lần: vui lòng thử lại sau {seconds} giây.",
        "Too many failed sign-ins: try again in {seconds} seconds.",
    ),
    (Unauthorized, "wrong_password"): ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
}
MESSAGES.update(feedback_labels.MESSAGES)  # the ratings and complaints pages

# what an error of a class means when no message names it
FALLBACK: dict[type[DomainError], tuple[str, str]] = {
    TooManyAttempts: ("Quá nhiều lần thử: vui lòng thử lại sau ít phút.", "Too many attempts: try again later."),
    InvalidTransition: (
        "Trạng thái hiện tại của hồ sơ không cho phép thao tác này.",
        "The dossier's status does not allow this.",
    ),
    InvalidInput: ("Dữ liệu nhập chưa hợp lệ: vui lòng kiểm tra lại.", "The input is not valid: please check it."),
    Conflict: (
        "Thao tác trùng hoặc xung đột với dữ liệu hiện có: tải lại trang rồi thử lại.",
        "This conflicts with the data as it is now: reload the page and try again.",
    ),
    Forbidden: ("Bạn không có quyền thực hiện thao tác này.", "You are not allowed to do this."),
    Unauthorized: ("Vui lòng đăng nhập.", "Please sign in."),
    NotFound: ("Không tìm thấy nội dung yêu cầu.", "Not found."),
    DomainError: ("Yêu cầu chưa thực hiện được.", "The request could not be done."),
}

# input errors (pydantic error type): what is wrong with the field
INPUT_MESSAGES: dict[str, tuple[str, str]] = {
    "hidden_character": (
        "có ký tự ẩn {character} ở vị trí {position} (ký tự ẩn, điều khiển hoặc đảo chiều, thường do dán từ tài "
        "liệu khác): gõ hoặc dán lại dưới dạng văn bản thường",
        "contains {character} at position {position}, an invisible, direction or control character (often pasted "
        "from another document): type or paste it again as plain text",
    ),
    "missing": ("cần nhập", "is required"),
    "float_parsing": ("không phải là số", "is not a number"),
    "greater_than": ("phải lớn hơn {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("phải từ {ge} trở lên", "must be {ge} or more"),
    "less_than": ("phải nhỏ hơn {lt}", "must be less than {lt}"),
    "less_than_equal": ("phải từ {le} trở xuống", "must be {le} or less"),
    "escalation_order": (
        "các bậc phải tăng dần: mỗi bậc quá hạn nhiều ngày hơn bậc trước",
        "the levels climb: each overdue by more days than the one before",
    ),
    "string_too_long": ("quá dài", "is too long"),
    "string_too_short": ("quá ngắn", "is too short"),
    "string_pattern_mismatch": ("không đúng định dạng", "is not in the expected form"),
    "literal_error": ("không phải một giá trị được chấp nhận", "is not one of the accepted values"),
    "enum": ("không phải một giá trị được chấp nhận", "is not one of the accepted values"),
    "datetime_from_date_parsing": ("không phải ngày giờ hợp lệ (dd/mm/yyyy HH:mm)", "is not a valid date and time"),
    "datetime_parsing": ("không phải ngày giờ hợp lệ (dd/mm/yyyy HH:mm)", "is not a valid date and time"),
    "date_from_datetime_parsing": ("không phải ngày hợp lệ (dd/mm/yyyy)", "is not a valid date"),
    "date_parsing": ("không phải ngày hợp lệ (dd/mm/yyyy)", "is not a valid date"),
    "contact_channel_missing": (
        "đồng ý nhận thông báo thì cần chọn kênh nhận (SMS, Zalo hoặc thư điện tử)",
        "consent to messages needs a channel (SMS, Zalo or email)",
    ),
    "contact_phone_missing": (
        "nhận thông báo qua {channel} thì cần số điện thoại",
        "messages by {channel} need the phone number",
    ),
    "contact_email_missing": (
        "nhận thông báo qua thư điện tử thì cần địa chỉ thư điện tử",
        "messages by email need the email address",
    ),
}
INPUT_FALLBACK = ("chưa hợp lệ", "is not valid")
# input fields by name: their page label
FIELD_LABELS = {
    "name": "desk.name",
    "id_number": "desk.id_number",
    "phone": "desk.phone",
    "address": "desk.address",
    "applicant": "desk.applicant",
    "email": "desk.email",
    "preferred_channel": "desk.preferred_channel",
    "contact_consent": "desk.contact",
    "received_at": "desk.received_at",
    "procedure_code": "desk.procedure",
    "warn_working_hours_before": "rules.warn_hours",
    "apology_lead_working_hours": "rules.apology_lead",
    "supplement_reminder_working_days": "rules.supplement",
    "escalation": "rules.escalation",
    "after_working_days": "rules.after",
    "every_working_days": "rules.every",
    "to": "rules.to",
    "agency_code": "desk.agency",
    "channel": "desk.channel",
    "to_agency": "field.to_agency",
    "reason": "field.reason",
    "result": "field.result",
    "new_due_at": "field.new_due_at",
    "at": "common.when",
    "backdate_reason": "field.backdate_reason",
    "date": "cal.date",
    "code": "lookup.code",
    "phone_last4": "lookup.phone_last4",
    "username": "login.username",
    "password": "login.password",
    "kind": "cal.kind",
    "legal_ref": "cal.legal_ref",
    "type": "dossier.actions",
}
ROLE_NAMES = {
    "admin": ("quản trị viên", "administrator"),
    "manager": ("lãnh đạo", "manager"),
    "clerk": ("cán bộ một cửa", "clerk"),
    "officer": ("chuyên viên", "officer"),
    "viewer": ("chỉ xem", "viewer"),
}


def _lookup(kind: type | None, message_id: str | None) -> tuple[str, str] | None:
    for cls in getattr(kind, "__mro__", ()):
        if (cls, message_id) in MESSAGES:
            return MESSAGES[(cls, message_id)]
    return None


def _fallback(kind: type | None, status_code: int) -> tuple[str, str]:
    for cls in getattr(kind, "__mro__", ()):
        if cls in FALLBACK:
            return FALLBACK[cls]
    by_status = {
        401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 422: InvalidInput, 429: TooManyAttempts
    }
    return FALLBACK[by_status.get(status_code, DomainError)]


def _params(params: dict, fmt: Formats, index: int) -> dict:
    """The error's params in the reader's words: events and statuses by their labels, lists joined."""

    def word(name: str, value):
        if name == "event":
            return fmt.label("event", value) if f"action.{value}" not in LABELS else fmt.t(f"action.{value}")
        if name == "status":
            return fmt.label("status", value) if value else ("chưa có" if index == 0 else "none")
        if name == "role":
            return ROLE_NAMES.get(value, (value, value))[index]
        if name == "roles":
            return ", ".join(ROLE_NAMES.get(v, (v, v))[index] for v in value)
        if name == "allowed":
            named = [fmt.t(f"action.{e}") if f"action.{e}" in LABELS else fmt.label("event", e) for e in value]
            return ", ".join(named) if named else ("không còn thao tác nào" if index == 0 else "none")
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return "—" if value is None else value

    return {name: word(name, value) for name, value in params.items()}


def _input_problems(problems: Iterable[dict], fmt: Formats, index: int) -> str:
    said = []
    for problem in problems:
        where = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path", "form")]
        name = where[-1] if where else ""
        default = "Dữ liệu" if index == 0 else "Input"
        label = fmt.t(FIELD_LABELS[name]) if name in FIELD_LABELS else (name or default)
        what = INPUT_MESSAGES.get(problem.get("type", ""), INPUT_FALLBACK)[index]
        try:
            what = what.format(**(problem.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            what = INPUT_FALLBACK[index]
        said.append(f"{label}: {what}")
    return "; ".join(said) + "."


def _components_message(params: dict, index: int) -> str:
    """The intake checklist's refusal: which documents are unknown or given twice, and the procedure's list."""
    said = []
    if params.get("unknown"):
        unknown = ", ".join(str(u).replace("number ", "số " if index == 0 else "number ") for u in params["unknown"])
        said.append(f"giấy tờ không có trong danh mục: {unknown}" if index == 0 else f"not in the list: {unknown}")
    if params.get("twice"):
        twice = ", ".join(params["twice"])
        said.append(f"giấy tờ ghi hai lần: {twice}" if index == 0 else f"given twice: {twice}")
    listed = "; ".join(params.get("accepted") or []) or ("(không có)" if index == 0 else "(none)")
    head = "Thành phần hồ sơ" if index == 0 else "Documents"
    tail = "Danh mục của thủ tục" if index == 0 else "The procedure's list"
    return f"{head}: {'; '.join(said)}. {tail}: {listed}."


def page_message(problem, lang: str) -> str:
    """The sentence a page shows for `problem` (an `api.web.common.Problem`) in `lang`."""
    index = LANGUAGES.index(lang)
    fmt = Formats(lang)
    if problem.message_id == "worded":  # written in the page's language where it was raised (common.WORDED)
        return problem.detail
    if problem.message_id == "components":
        return _components_message(problem.params, index)
    if problem.message_id == "input" and problem.params.get("problems"):
        return _input_problems(problem.params["problems"], fmt, index)
    found = _lookup(problem.kind, problem.message_id)
    if found is not None:
        try:
            return found[index].format(**_params(problem.params, fmt, index))
        except (KeyError, IndexError):
            pass
    return _fallback(problem.kind, problem.status_code)[index]


def page_messages(lang: str) -> Callable:
    return lambda problem: page_message(problem, lang)
