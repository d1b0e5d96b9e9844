"""Page labels in Vietnamese (the default) and English, and the formats of dates, durations and rates.

Labels are looked up by key; a missing key is an error (tests render every page in both languages).
"""

from collections.abc import Callable
from datetime import date, datetime

from api.web import feedback_labels
from kernel.localtime import LOCAL_TZ, local_minute

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

# key: (Vietnamese, English)
LABELS: dict[str, tuple[str, str]] = {
    # frame
    "app.name": ("Một cửa", "One-stop desk"),
    "app.tagline": ("Theo dõi hồ sơ thủ tục hành chính", "Administrative-procedure dossiers"),
    "nav.home": ("Trang chủ", "Home"),
    "nav.desk": ("Tiếp nhận", "Desk"),
    "nav.dashboard": ("Điều hành", "Dashboard"),
    "nav.calendar": ("Lịch làm việc", "Calendar"),
    "nav.worklist": ("Việc cần xử lý", "Worklist"),
    "nav.exchange": ("Đồng bộ Cổng quốc gia", "National sync"),
    "nav.exchange_imports": ("Nhập lịch sử hồ sơ", "History import"),
    "nav.reconcile": ("Đối chiếu số liệu với Cổng", "Reconcile with the portal"),
    "nav.system": ("Hệ thống", "System"),
    "nav.inbox": ("Thông báo", "Notifications"),
    "nav.templates": ("Mẫu tin nhắn", "Message texts"),
    "nav.lookup": ("Tra cứu hồ sơ", "Dossier lookup"),
    "nav.main": ("Điều hướng chính", "Main navigation"),
    "nav.skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "login.title": ("Đăng nhập", "Sign in"),
    "login.username": ("Tên đăng nhập", "Username"),
    "login.password": ("Mật khẩu", "Password"),
    "login.submit": ("Đăng nhập", "Sign in"),
    "login.sign_out": ("Đăng xuất", "Sign out"),
    "lang.switch": ("English", "Tiếng Việt"),
    "lang.switch_label": ("Chuyển sang tiếng Anh", "Switch to Vietnamese"),
    "footer.time_zone": (
        "Giờ hiển thị theo giờ Việt Nam (UTC+07:00).",
        "Times are Vietnam time (UTC+07:00).",
    ),
    "error.title": ("Không thực hiện được", "Not done"),
    "error.code": ("Mã lỗi", "Error"),
    "error.page_title": ("Có lỗi", "Error"),
    "error.http_403": ("Tài khoản của bạn không được xem trang này.", "Your account may not open this page."),
    "error.http_404": (
        "Không có trang này: địa chỉ có thể đã gõ sai hoặc trang đã được chuyển đi.",
        "There is no such page: the address may be mistyped, or the page has moved.",
    ),
    "error.http_405": ("Trang này không nhận yêu cầu theo cách này.", "This page does not take this kind of request."),
    "error.http_500": (
        "Đã xảy ra lỗi ngoài dự kiến; lỗi đã được ghi lại. Vui lòng thử lại sau.",
        "An unexpected error occurred; it has been logged. Please try again later.",
    ),
    "done.title": ("Đã ghi nhận", "Recorded"),
    "common.search": ("Tìm", "Search"),
    "common.filter": ("Lọc", "Filter"),
    "common.all": ("Tất cả", "All"),
    "common.download": ("Tải về", "Download"),
    "common.optional": ("không bắt buộc", "optional"),
    "common.when": ("Thời điểm (nếu không phải bây giờ)", "When (if not now)"),
    "common.when_hint": ("Để trống: ghi theo thời điểm hiện tại.", "Leave empty for now."),
    "common.showing": ("Hiển thị {shown}/{total}", "Showing {shown} of {total}"),
    "common.sort_by": ("Sắp xếp theo cột này", "Sort by this column"),
    "common.data_table": ("Số liệu của biểu đồ", "Chart data"),
    "common.total": ("Tổng cộng", "Total"),
    "common.yes": ("Có", "Yes"),
    "common.no": ("Không", "No"),
    "common.national": ("Toàn quốc", "National"),
    # home
    "home.title": ("Chọn công việc", "Choose a task"),
    "home.desk": ("Tiếp nhận hồ sơ, theo dõi và ghi nhận xử lý", "Receive dossiers, follow and record their progress"),
    "home.dashboard": (
        "Hồ sơ quá hạn, sắp đến hạn, báo cáo và tỷ lệ đúng hạn",
        "Overdue and due-soon queues, reports and on-time rates",
    ),
    "home.calendar": (
        "Ngày làm việc, ngày nghỉ lễ, hoán đổi và làm bù",
        "Working days, holidays, swaps and make-up days",
    ),
    "home.worklist": (
        "Hồ sơ đơn vị đang giữ, bước nào đến hạn trước làm trước",
        "Dossiers your agency holds, the step due first on top",
    ),
    "home.lookup": ("Người dân tra cứu tình trạng hồ sơ", "Citizens look up a dossier's progress"),
    # desk: intake
    "desk.title": ("Tiếp nhận hồ sơ", "Receive a dossier"),
    "desk.procedure": ("Thủ tục hành chính", "Procedure"),
    "desk.procedure_search": (
        "Tìm thủ tục (tên hoặc mã, gõ không dấu cũng được)",
        "Find a procedure (name or code; accents optional)",
    ),
    "desk.procedure_hint": (
        "Gõ vài chữ rồi chọn một thủ tục trong danh sách.",
        "Type a few words, then pick one procedure below.",
    ),
    "desk.procedure_results": ("Thủ tục tìm được", "Procedures found"),
    "desk.procedure_none": ("Không có thủ tục nào khớp.", "No procedure matches."),
    "desk.procedure_more": ("Còn {more} thủ tục khác: gõ thêm để thu hẹp.", "{more} more: type more words to narrow."),
    "desk.agency": ("Cơ quan tiếp nhận", "Receiving agency"),
    "desk.channel": ("Hình thức nộp", "Channel"),
    "desk.applicant": ("Người nộp hồ sơ", "Applicant"),
    "desk.name": ("Họ và tên", "Full name"),
    "desk.id_number": ("Số định danh cá nhân (12 số)", "Identity number (12 digits)"),
    "desk.phone": ("Số điện thoại", "Phone"),
    "desk.email": ("Thư điện tử", "Email"),
    "desk.contact": ("Nhận thông báo", "Messages"),
    "desk.contact_consent": (
        "Người nộp đồng ý nhận thông báo về tiến độ hồ sơ",
        "The applicant agrees to be told of the dossier's progress",
    ),
    "desk.preferred_channel": ("Kênh nhận", "Channel"),
    "desk.contact_hint": (
        "Tin nhắn khi tiếp nhận, yêu cầu bổ sung, tạm dừng, xin lỗi, có kết quả và mời đánh giá; "
        "chỉ gửi từ 07:00 đến 21:00.",
        "Messages at receipt, supplement request, pause, apology, result ready and a rating link; "
        "sent only between 07:00 and 21:00.",
    ),
    "inbox.title": ("Thông báo", "Notifications"),
    "inbox.note": (
        "Cảnh báo sắp đến hạn, nhắc phiếu xin lỗi và báo quá hạn của các hồ sơ đơn vị bạn xử lý; thông báo phát "
        "sinh ngoài giờ làm việc hiện vào đầu giờ làm việc kế tiếp.",
        "Due-soon warnings, apology reminders and overdue escalations for dossiers your unit handles; those raised "
        "outside working time appear at the next working morning.",
    ),
    "inbox.count": ("{total} thông báo, {unread} chưa đọc", "{total} notifications, {unread} unread"),
    "inbox.all": ("Xem tất cả", "Show all"),
    "inbox.only_unread": ("Chỉ xem chưa đọc", "Unread only"),
    "inbox.read_all": ("Đánh dấu tất cả đã đọc", "Mark all read"),
    "inbox.mark_read": ("Đã đọc", "Mark read"),
    "inbox.read": ("đã đọc", "read"),
    "inbox.empty": ("Không có thông báo nào.", "No notifications."),
    "inbox.unread_label": ("{count} thông báo chưa đọc", "{count} unread notifications"),
    "notice.stage_warning": ("Sắp đến hạn bước", "Step due soon"),
    "notice.dossier_warning": ("Sắp đến hạn", "Due soon"),
    "notice.apology_owed": ("Cần phiếu xin lỗi", "Apology owed"),
    "notice.escalation": ("Quá hạn", "Overdue"),
    "notice.level": ("cấp {level}", "level {level}"),
    "notice.text_stage_warning": (
        "Bước xử lý tại đơn vị bạn sắp đến hạn: {due}.", "Your unit's step is due soon: {due}."
    ),
    "notice.text_dossier_warning": ("Hồ sơ sắp đến hạn trả kết quả: {due}.", "The dossier is due soon: {due}."),
    "notice.text_apology_owed": (
        "Hồ sơ chưa có kết quả: cần phát hành phiếu xin lỗi (mẫu 04) chậm nhất một ngày làm việc trước hạn {due}.",
        "No result yet: an apology (form 04) is owed at least one working day before the due, {due}.",
    ),
    "notice.text_escalation": (
        "Hồ sơ đã quá hạn {due}; báo cáo cấp {level}.", "The dossier is past its due, {due}; reported at level {level}."
    ),
    "tpl.title": ("Mẫu tin nhắn gửi người dân", "Messages to citizens"),
    "tpl.note": (
        "Nội dung tin nhắn theo loại và kênh; chỉ dùng các ô có sẵn (mã hồ sơ, thủ tục, ngày hẹn, đường dẫn…), "
        "không chứa thông tin cá nhân khác.",
        "The texts by kind and channel; only the listed placeholders (code, procedure, appointment, links…), "
        "no other personal data.",
    ),
    "tpl.kind": ("Loại tin", "Kind"),
    "tpl.channel": ("Kênh", "Channel"),
    "tpl.text": ("Nội dung", "Text"),
    "tpl.state": ("Trạng thái", "State"),
    "tpl.customised": ("Đã sửa", "Edited"),
    "tpl.default": ("Mặc định", "Default"),
    "tpl.edit": ("Sửa nội dung", "Edit"),
    "tpl.subject": ("Tiêu đề thư", "Subject"),
    "tpl.body": ("Nội dung", "Text"),
    "tpl.preview": ("Xem trước", "Preview"),
    "tpl.save": ("Lưu", "Save"),
    "tpl.reset": ("Về mặc định", "Back to the default"),
    "tpl.sample": (
        "Điền bằng một hồ sơ mẫu (không phải dữ liệu thật).", "Filled with a sample dossier (not real data)."
    ),
    "tpl.placeholders": ("Các ô được dùng", "Placeholders"),
    "tpl.done_saved": ("Đã lưu mẫu tin nhắn.", "The text is saved."),
    "tpl.done_reset": ("Đã trả về nội dung mặc định.", "Back to the default text."),
    "ph.code": ("mã hồ sơ", "the dossier's code"),
    "ph.procedure": ("tên thủ tục", "the procedure's name"),
    "ph.agency": ("tên cơ quan tiếp nhận", "the receiving agency's name"),
    "ph.due": ("ngày hẹn trả kết quả (dd/mm/yyyy HH:mm)", "the appointment (dd/mm/yyyy HH:mm)"),
    "ph.new_due": ("ngày hẹn mới trong phiếu xin lỗi", "an apology's new appointment"),
    "ph.reason": ("nội dung cán bộ ghi: giấy tờ cần bổ sung, lý do tạm dừng, lý do trễ hẹn",
                  "what staff wrote: what to bring, why paused, why late"),
    "ph.lookup_url": ("đường dẫn tra cứu hồ sơ", "the public lookup of the dossier"),
    "ph.rating_url": ("đường dẫn đánh giá mức độ hài lòng", "where the citizen rates the service"),
    "ph.limit": ("hạn cuối nộp bổ sung", "the last day to bring a supplement"),
    "ph.count": ("tin tổng hợp: số thông báo", "a digest: how many notifications"),
    "ph.items": ("tin tổng hợp: mỗi thông báo một dòng", "a digest: one line per notification"),
    "msg.title": ("Tin nhắn gửi người nộp", "Messages to the applicant"),
    "msg.kind": ("Tin", "Message"),
    "msg.state": ("Trạng thái", "State"),
    "msg.last": ("Lần gửi gần nhất", "Last attempt"),
    "msg.from": ("từ", "from"),
    "msg.none": ("Chưa có tin nhắn nào.", "No messages yet."),
    "msg.no_consent": (
        "Người nộp không đồng ý nhận thông báo: không gửi tin nhắn.", "No consent: no messages are sent."
    ),
    "msg.kind.received": ("Tiếp nhận", "Receipt"),
    "msg.kind.supplement_requested": ("Yêu cầu bổ sung", "Supplement request"),
    "msg.kind.paused": ("Tạm dừng", "Paused"),
    "msg.kind.resumed": ("Tiếp tục", "Resumed"),
    "msg.kind.apology": ("Xin lỗi, hẹn lại", "Apology, new date"),
    "msg.kind.result_ready": ("Có kết quả", "Result ready"),
    "msg.kind.rating": ("Mời đánh giá", "Rating link"),
    "msg.kind.supplement_reminder": ("Nhắc bổ sung", "Supplement reminder"),
    "msg.kind.digest": ("Tổng hợp ngày", "Daily digest"),
    "msg.status.pending": ("Chờ gửi", "Pending"),
    "msg.status.sent": ("Đã gửi", "Sent"),
    "msg.status.gave_up": ("Không gửi được", "Given up"),
    "msg.outcome.sent": ("đã gửi", "sent"),
    "msg.outcome.failed": ("lỗi", "failed"),
    "msg.outcome.held": ("hoãn (ngoài giờ)", "held (quiet hours)"),
    "msg.outcome.gave_up": ("dừng gửi", "given up"),
    "ladder.title": ("Báo quá hạn (leo thang)", "Escalation ladder"),
    "ladder.none": ("Chưa báo quá hạn lần nào.", "No escalation."),
    "channel.sms": ("SMS", "SMS"),
    "channel.zalo": ("Zalo", "Zalo"),
    "channel.email": ("Thư điện tử", "Email"),
    "desk.address": ("Địa chỉ", "Address"),
    "desk.received_at": ("Thời điểm tiếp nhận", "Received at"),
    "desk.received_at_hint": (
        "Để trống nếu tiếp nhận ngay bây giờ; chỉ nhập khi ghi lại hồ sơ đã nhận trước đó "
        "(sớm hơn quá {minutes} phút: cần quyền quản trị và lý do).",
        "Leave empty for now; fill in only for a dossier received earlier "
        "(more than {minutes} minutes back: an administrator, with a reason).",
    ),
    "desk.submit": ("Tiếp nhận và in giấy hẹn", "Receive and print the receipt"),
    "desk.refuse": ("Từ chối tiếp nhận", "Refuse at receipt"),
    "desk.refuse_summary": ("Từ chối tiếp nhận hồ sơ (in mẫu 03)", "Refuse the dossier at receipt (prints form 03)"),
    "desk.refusal_reason": ("Lý do từ chối", "Reason for the refusal"),
    "desk.refusal_hint": (
        "Bắt buộc khi từ chối: lý do được in trên phiếu từ chối (mẫu 03).",
        "Required to refuse: the reason is printed on the refusal slip (form 03).",
    ),
    "desk.register": ("Sổ theo dõi hồ sơ trong ngày", "The day's intake register"),
    "register.title": ("Sổ theo dõi hồ sơ", "Intake register"),
    "register.date": ("Ngày", "Date"),
    "register.show": ("Xem sổ", "Show"),
    "register.count": ("{n} hồ sơ", "{n} dossiers"),
    "register.xlsx": ("Tải sổ (XLSX)", "Download (XLSX)"),
    "register.empty": ("Không có hồ sơ nào được tiếp nhận trong ngày.", "No dossier was received that day."),
    "register.col.entry": ("STT", "No."),
    "register.col.code": ("Mã hồ sơ", "Code"),
    "register.col.procedure": ("Thủ tục", "Procedure"),
    "register.col.applicant": ("Tổ chức, cá nhân", "Applicant"),
    "register.col.address": ("Địa chỉ, điện thoại", "Address, phone"),
    "register.col.received_at": ("Nhận lúc", "Received"),
    "register.col.due_at": ("Hẹn trả", "Due"),
    "register.col.clerk": ("Người tiếp nhận", "Received by"),
    "register.col.status": ("Trạng thái", "Status"),
    "dossier.forms": ("Biểu mẫu in", "Printable forms"),
    "form.01": ("Giấy tiếp nhận và hẹn trả (mẫu 01)", "Receipt (form 01)"),
    "form.02": ("Phiếu yêu cầu bổ sung (mẫu 02)", "Supplement request (form 02)"),
    "form.03": ("Phiếu từ chối tiếp nhận (mẫu 03)", "Refusal at receipt (form 03)"),
    "form.04": ("Phiếu xin lỗi (mẫu 04)", "Apology letter (form 04)"),
    "form.05": ("Phiếu dừng giải quyết (mẫu 05)", "Stop notice (form 05)"),
    "form.06": ("Phiếu kiểm soát (mẫu 06)", "Control slip (form 06)"),
    "desk.confirm_submit": ("Tiếp nhận hồ sơ này?", "Receive this dossier?"),
    "components.title": ("Thành phần hồ sơ", "Documents of the dossier"),
    "components.hint": (
        "Đánh dấu giấy tờ đã nhận và số lượng; thiếu giấy tờ bắt buộc vẫn tiếp nhận được, giấy hẹn ghi rõ.",
        "Tick each document received and its copies; a missing required one does not block intake.",
    ),
    "components.none": ("Thủ tục này chưa khai báo thành phần hồ sơ.", "This procedure lists no documents."),
    "components.form.original": ("Bản chính", "Original"),
    "components.form.copy": ("Bản sao", "Copy"),
    "components.form.certified_copy": ("Bản sao có chứng thực", "Certified copy"),
    "components.optional": ("nếu có", "if applicable"),
    "components.copies": ("Số lượng", "Copies"),
    "components.document": ("Tên giấy tờ", "Document"),
    "components.form": ("Hình thức", "Form"),
    "components.received": ("Giấy tờ đã nhận", "Documents received"),
    "components.received_none": ("Không ghi nhận giấy tờ nào.", "No document recorded."),
    "components.missing": ("Chưa nhận (bắt buộc)", "Not received (required)"),
    "components.digitised": ("Số hóa", "Digitised"),
    "components.reused": ("Tái sử dụng", "Reused"),
    "components.from_citizen_store": ("Kho cá nhân", "Citizen's store"),
    "components.from_national_db": ("CSDL quốc gia", "National DB"),
    "components.digitised.title": ("Đã số hóa (quét hoặc nhận bản điện tử)", "Scanned or received electronically"),
    "components.reused.title": ("Tái sử dụng kết quả đã số hóa trước đó", "An earlier digitised result reused"),
    "components.from_citizen_store.title": (
        "Lấy từ kho dữ liệu cá nhân của công dân",
        "Taken from the citizen's data store",
    ),
    "components.from_national_db.title": ("Lấy từ cơ sở dữ liệu quốc gia", "Taken from a national database"),
    # the dossier's fees and facts recorded for Decision 766
    "fees.title": ("Phí, lệ phí", "Fees and charges"),
    "fees.name": ("Khoản thu", "Item"),
    "fees.amount": ("Số tiền (đồng)", "Amount (VND)"),
    "fees.channel": ("Hình thức nộp", "Paid through"),
    "fees.paid_at": ("Thời điểm nộp", "Paid at"),
    "fees.unpaid": ("Chưa nộp", "Not paid"),
    "fees.channel.dvcqg": ("Cổng Dịch vụ công quốc gia", "National Public Service Portal"),
    "fees.channel.gateway": ("Cổng thanh toán của tỉnh", "Provincial payment gateway"),
    "fees.channel.cash": ("Tiền mặt", "Cash"),
    "fees.channel.bank": ("Chuyển khoản ngân hàng", "Bank transfer"),
    "dossier.electronic_result": ("Kết quả điện tử", "Electronic result"),
    "dossier.vneid_verified": ("Xác thực qua VNeID", "Verified with VNeID"),
    "dossier.population_ref": ("Mã tham chiếu CSDL quốc gia về dân cư", "National population database reference"),
    "desk.search_title": ("Tìm hồ sơ", "Find a dossier"),
    "desk.more_filters": ("Lọc thêm", "More filters"),
    "desk.status": ("Trạng thái", "Status"),
    "desk.received_from": ("Tiếp nhận từ ngày", "Received from"),
    "desk.received_to": ("Đến ngày", "Received to"),
    "desk.field": ("Lĩnh vực", "Field"),
    "desk.search_procedure": ("Thủ tục (mã hoặc tên)", "Procedure (code or name)"),
    "desk.search_label": ("Mã hồ sơ, tên người nộp hoặc số điện thoại", "Dossier code, applicant name or phone"),
    "desk.latest": ("Hồ sơ mới tiếp nhận", "Latest dossiers"),
    "desk.results": ("Kết quả tìm kiếm", "Search results"),
    "search.more_than": ("hơn {total}", "more than {total}"),
    "search.export_title": ("Hồ sơ tìm được: {total}", "Dossiers found: {total}"),
    "search.sheet": ("Hồ sơ", "Dossiers"),
    "search.receiving_agency": ("Nơi tiếp nhận", "Received at"),
    "search.current_agency": ("Nơi đang giữ", "Held by"),
    "search.finished_at": ("Hoàn thành lúc", "Finished at"),
    "search.download": ("Tải XLSX", "Download XLSX"),
    "search.showing_more": ("Hiển thị {shown}/hơn {total}", "Showing {shown} of more than {total}"),
    "desk.no_results": ("Không có hồ sơ nào.", "No dossier found."),
    # dossier
    "dossier.code": ("Mã hồ sơ", "Dossier code"),
    "dossier.procedure": ("Thủ tục", "Procedure"),
    "dossier.applicant": ("Người nộp", "Applicant"),
    "dossier.status": ("Trạng thái", "Status"),
    "dossier.received_at": ("Tiếp nhận lúc", "Received at"),
    "dossier.due_at": ("Hạn trả kết quả", "Due"),
    "dossier.original_due_at": ("Hạn ban đầu", "Original due"),
    "dossier.rescheduled_due_at": ("Hạn hẹn lại (phiếu xin lỗi)", "Rescheduled due (apology)"),
    "dossier.holding": ("Đơn vị đang xử lý", "Held by"),
    "dossier.receiving": ("Nơi tiếp nhận", "Received by"),
    "dossier.channel": ("Hình thức nộp", "Channel"),
    "dossier.outcome": ("Kết quả so với hạn", "Outcome"),
    "dossier.finished_at": ("Kết thúc lúc", "Finished at"),
    "dossier.supplements": ("Số lần yêu cầu bổ sung", "Supplement requests"),
    "dossier.id_number": ("Số định danh", "Identity number"),
    "dossier.phone": ("Điện thoại", "Phone"),
    "dossier.address": ("Địa chỉ", "Address"),
    "dossier.email": ("Thư điện tử", "Email"),
    "dossier.contact": ("Nhận thông báo", "Messages"),
    "dossier.contact_yes": ("Đồng ý, qua {channel}", "Agreed, by {channel}"),
    "dossier.contact_no": ("Không đồng ý nhận thông báo", "No consent to messages"),
    "dossier.receipt": ("Giấy tiếp nhận và hẹn trả (mẫu 01)", "Receipt (form 01)"),
    "dossier.apology_form": ("Phiếu xin lỗi (mẫu 04)", "Apology letter (form 04)"),
    "dossier.clock": ("Thời gian xử lý", "Clock"),
    "dossier.clock_start": ("Bắt đầu tính", "Clock started"),
    "dossier.elapsed": ("Đã dùng", "Elapsed"),
    "dossier.remaining": ("Còn lại", "Remaining"),
    "dossier.overdue_by": ("Quá hạn", "Overdue by"),
    "dossier.paused": ("Thời gian tạm dừng", "Paused"),
    "dossier.clock_stopped": ("Đang dừng tính thời gian", "The clock is stopped"),
    "dossier.working_time": ("tính theo giờ làm việc", "in working time"),
    "dossier.paused_since": ("Tạm dừng từ", "Paused since"),
    "dossier.elapsed_to_pause": ("Đã dùng đến khi tạm dừng", "Used up to the pause"),
    "dossier.remaining_at_pause": ("Còn lại khi tạm dừng", "Left at the pause"),
    "dossier.overdue_at_pause": ("Đã quá hạn khi tạm dừng", "Already overdue when paused"),
    "dossier.due_today": ("Đến hạn hôm nay", "Due today"),
    "dossier.past_original_due": ("Quá hạn so với hạn ban đầu", "Past the original due"),
    "dossier.due_moves": ("sẽ lùi theo thời gian tạm dừng", "moves by the time paused"),
    "dossier.backdated": ("ghi lùi thời gian", "back-dated"),
    "dossier.recorded_at": ("ghi nhận lúc", "recorded at"),
    "dossier.backdate_reason": ("Lý do ghi lùi", "Why recorded late"),
    "dossier.apology_late": (
        "xin lỗi muộn: ghi nhận chưa đủ 1 ngày làm việc trước hạn",
        "late apology: recorded less than 1 working day before the due",
    ),
    "field.backdate_reason": ("Lý do ghi lùi thời gian", "Why it is recorded only now"),
    "dash.rescheduled": ("đã hẹn lại (xin lỗi)", "rescheduled (apology)"),
    "common.when_rule": (
        "Để trống: ghi theo thời điểm hiện tại. Sớm hơn hiện tại quá {minutes} phút cần quyền quản lý và lý do.",
        "Leave empty for now. More than {minutes} minutes back needs a manager and a reason.",
    ),
    "common.backdate_hint": (
        "Chỉ cần khi thời điểm sớm hơn hiện tại quá {minutes} phút; sự việc được tính là ghi muộn.",
        "Needed only when the time is more than {minutes} minutes back; it is counted as recorded late.",
    ),
    "dossier.stages": ("Các bước xử lý", "Stages"),
    "dossier.stage": ("Bước", "Stage"),
    "dossier.stage_agency": ("Đơn vị", "Agency"),
    "dossier.stage_started": ("Bắt đầu", "Started"),
    "dossier.stage_allotment": ("Thời gian được giao", "Allotment"),
    "dossier.stage_due": ("Hạn của bước", "Stage due"),
    "dossier.stage_ended": ("Kết thúc", "Ended"),
    "dossier.stage_outcome": ("Kết quả", "Outcome"),
    "dossier.stage_overrun": ("Vượt", "Overrun"),
    "dossier.excluded": ("không tính thời gian", "not counted"),
    "stage.intake": ("Tiếp nhận", "Intake"),
    "stage.hand-off": ("Xử lý sau khi chuyển", "After hand-off"),
    "stage.hand-back": ("Kết quả chuyển về Bộ phận Một cửa", "Result sent back to the desk"),
    "dossier.hand_back_stage": (
        "ngoài thời hạn giải quyết: không tính vào đánh giá đúng hạn",
        "after the processing time: not counted in the on-time figures",
    ),
    "dossier.result_away": (
        "Kết quả đang ở {agency}: đơn vị này chuyển kết quả về Bộ phận Một cửa {desk} để trả cho người dân.",
        "The result is at {agency}: that agency sends it back to the desk {desk}, where it is returned.",
    ),
    "dossier.result_at_desk": (
        "Kết quả đã chuyển về Bộ phận Một cửa: chờ trả cho người dân.",
        "The result is back at the desk: waiting to be returned to the applicant.",
    ),
    "dossier.timeline": ("Diễn biến", "Timeline"),
    "dossier.by": ("bởi", "by"),
    "dossier.to": ("đến", "to"),
    "dossier.reason": ("Lý do", "Reason"),
    "dossier.note": ("Ghi chú", "Note"),
    "dossier.result": ("Kết quả", "Result"),
    "dossier.new_due": ("Hẹn lại", "New appointment"),
    "dossier.actions": ("Thao tác", "Actions"),
    "dossier.no_actions": ("Hồ sơ đã kết thúc: không còn thao tác nào.", "The dossier is finished: no action is left."),
    "dossier.no_actions_for_role": (
        "Bạn chỉ xem được hồ sơ này: các thao tác ở bước hiện tại do đơn vị khác hoặc vai trò khác thực hiện.",
        "You can only read this dossier: the actions at this step are for another agency or role.",
    ),
    "dossier.back": ("Về trang tiếp nhận", "Back to the desk"),
    # events: what the clerk does (buttons), and what happened (timeline)
    "action.forwarded": ("Chuyển hồ sơ đến…", "Forward to…"),
    "action.supplement_requested": ("Yêu cầu bổ sung hồ sơ", "Request a supplement"),
    "action.supplement_received": ("Ghi nhận đã bổ sung", "Record the supplement"),
    "action.paused": ("Tạm dừng (chờ nghĩa vụ tài chính)", "Pause (financial obligation)"),
    "action.resumed": ("Tiếp tục xử lý", "Resume"),
    "action.apology_issued": ("Xin lỗi và hẹn lại ngày trả", "Apologise with a new date"),
    "action.resolved": ("Giải quyết xong", "Resolve"),
    "action.result_sent_to_desk": ("Chuyển kết quả về Bộ phận Một cửa", "Send the result back to the desk"),
    "action.result_returned": ("Trả kết quả cho người dân", "Return the result"),
    "action.withdrawn": ("Người nộp rút hồ sơ", "Withdraw"),
    "action.stopped": ("Dừng xử lý", "Stop"),
    "action.abandoned": ("Dừng do không bổ sung đúng hạn", "Close as abandoned"),
    "action.received": ("Tiếp nhận hồ sơ trực tuyến", "Receive the online dossier"),
    "action.refused": ("Từ chối tiếp nhận", "Refuse at intake"),
    "action.submit": ("Ghi nhận", "Record"),
    "confirm.forwarded": ("Chuyển hồ sơ đến đơn vị đã chọn?", "Forward the dossier to the chosen agency?"),
    "confirm.supplement_requested": (
        "Gửi yêu cầu bổ sung? Thời gian xử lý sẽ dừng; chỉ yêu cầu một lần, đầy đủ.",
        "Request a supplement? The clock stops; ask once, completely.",
    ),
    "confirm.supplement_received": (
        "Ghi nhận người dân đã bổ sung đủ hồ sơ?",
        "Record that the supplement was received?",
    ),
    "confirm.paused": ("Tạm dừng tính thời gian?", "Pause the clock?"),
    "confirm.resumed": ("Tiếp tục tính thời gian?", "Resume the clock?"),
    "confirm.apology_issued": (
        "Lập phiếu xin lỗi và hẹn lại ngày trả (chỉ một lần)?",
        "Issue the apology with the new date (once only)?",
    ),
    "confirm.resolved": ("Ghi nhận hồ sơ đã giải quyết xong?", "Record the dossier as resolved?"),
    "confirm.result_sent_to_desk": (
        "Ghi nhận đã chuyển kết quả về Bộ phận Một cửa nơi tiếp nhận hồ sơ?",
        "Record that the result was sent back to the desk that received the dossier?",
    ),
    "confirm.result_returned": ("Ghi nhận đã trả kết quả cho người dân?", "Record that the result was returned?"),
    "confirm.withdrawn": ("Ghi nhận người nộp rút hồ sơ?", "Record the withdrawal?"),
    "confirm.stopped": ("Dừng xử lý hồ sơ?", "Stop processing the dossier?"),
    "confirm.abandoned": ("Dừng hồ sơ do không bổ sung đúng hạn?", "Close the dossier as abandoned?"),
    "confirm.received": ("Tiếp nhận hồ sơ trực tuyến này?", "Receive this online dossier?"),
    "confirm.refused": ("Từ chối tiếp nhận hồ sơ?", "Refuse the dossier at intake?"),
    "field.to_agency": ("Chuyển đến đơn vị", "To agency"),
    "field.reason": ("Lý do", "Reason"),
    "field.note": ("Ghi chú (in trên phiếu kiểm soát)", "Note (printed on the control slip)"),
    "field.reason_supplement": ("Giấy tờ cần bổ sung (ghi đầy đủ, một lần)", "What is missing (all of it, once)"),
    "field.new_due_at": ("Ngày giờ hẹn trả mới", "New appointment"),
    "field.result": ("Kết quả giải quyết (quyết định, giấy chứng nhận…)", "Result (decision, certificate…)"),
    "field.choose": ("— Chọn —", "— Choose —"),
    "event.submitted": ("Nộp trực tuyến", "Submitted online"),
    "event.received": ("Tiếp nhận", "Received"),
    "event.refused": ("Từ chối tiếp nhận", "Refused at intake"),
    "event.forwarded": ("Chuyển xử lý", "Forwarded"),
    "event.supplement_requested": ("Yêu cầu bổ sung", "Supplement requested"),
    "event.supplement_received": ("Đã bổ sung", "Supplement received"),
    "event.paused": ("Tạm dừng", "Paused"),
    "event.resumed": ("Tiếp tục", "Resumed"),
    "event.apology_issued": ("Xin lỗi, hẹn lại", "Apology issued"),
    "event.resolved": ("Giải quyết xong", "Resolved"),
    "event.result_sent_to_desk": ("Chuyển kết quả về Một cửa", "Result sent back to the desk"),
    "event.result_returned": ("Đã trả kết quả", "Result returned"),
    "event.withdrawn": ("Rút hồ sơ", "Withdrawn"),
    "event.stopped": ("Dừng xử lý", "Stopped"),
    "event.abandoned": ("Dừng do không bổ sung", "Abandoned"),
    "status.submitted": ("Mới nộp trực tuyến", "Submitted online"),
    "status.received": ("Đã tiếp nhận", "Received"),
    "status.refused": ("Từ chối tiếp nhận", "Refused at intake"),
    "status.processing": ("Đang xử lý", "Processing"),
    "status.waiting_supplement": ("Chờ bổ sung hồ sơ", "Waiting for a supplement"),
    "status.waiting_obligation": ("Chờ thực hiện nghĩa vụ tài chính", "Waiting for a financial obligation"),
    "status.withdrawn": ("Đã rút", "Withdrawn"),
    "status.stopped": ("Dừng xử lý", "Stopped"),
    "status.resolved": ("Đã có kết quả", "Result ready"),
    "status.returned": ("Đã trả kết quả", "Result returned"),
    "outcome.early": ("Trước hạn", "Early"),
    "outcome.on_time": ("Đúng hạn", "On time"),
    "outcome.late": ("Quá hạn", "Late"),
    "outcome.withdrawn": ("Rút, dừng", "Withdrawn"),
    "channel.counter": ("Trực tiếp", "At the counter"),
    "channel.online": ("Trực tuyến", "Online"),
    "channel.post": ("Bưu chính", "By post"),
    "time.working_days": ("ngày làm việc", "working days"),
    "time.working_hours": ("giờ làm việc", "working hours"),
    "time.calendar_days": ("ngày", "calendar days"),
    "time.same_day": ("trong ngày", "same day"),
    "level.province": ("Cấp tỉnh, thành phố", "Province"),
    "level.department": ("Sở, ban, ngành", "Departments"),
    "level.commune": ("Cấp xã, phường", "Communes and wards"),
    "level.district": ("Cấp huyện (trước 01/07/2025)", "Districts (before 01/07/2025)"),
    "unit.day": ("ngày", "d"),
    "unit.hour": ("giờ", "h"),
    "unit.minute": ("phút", "min"),
    # the national exchange (/exchange)
    "xch.title": ("Đồng bộ hồ sơ lên Cổng Dịch vụ công quốc gia", "Dossiers synced to the national portal"),
    "xch.note": (
        "Mỗi thay đổi của hồ sơ được gửi lên Cổng: tạo mới hoặc cập nhật hồ sơ, rồi các bước xử lý mới (10 bước một "
        "lần). Chỉ tiêu 1.4 (Quyết định 766): số hồ sơ đã đồng bộ ÷ số hồ sơ tiếp nhận.",
        "Every change of a dossier is sent to the portal: the dossier created or updated, then its new process steps "
        "(10 at a time). Indicator 1.4 (Decision 766): dossiers synced ÷ dossiers received.",
    ),
    "xch.gateway": ("Cổng nhận", "Gateway"),
    "xch.no_gateway": (
        "Chưa cấu hình cổng (MOTCUA_EXCHANGE_URL): chưa gửi hồ sơ nào.",
        "No gateway configured (MOTCUA_EXCHANGE_URL): nothing is sent.",
    ),
    "xch.every": ("mỗi {minutes} phút", "every {minutes} minutes"),
    "xch.period": ("Kỳ", "Period"),
    "xch.agency": ("Đơn vị", "Unit"),
    "xch.pending": ("Chờ gửi", "Pending"),
    "xch.failed": ("Gửi lỗi", "Failed"),
    "xch.rate": ("Tỷ lệ đồng bộ", "Sync rate"),
    "xch.last": ("Lần gửi thành công gần nhất", "Last accepted"),
    "xch.never": ("chưa có", "never"),
    "xch.units": ("Tỷ lệ đồng bộ theo đơn vị tiếp nhận", "Sync rate per receiving unit"),
    "xch.received": ("Tiếp nhận", "Received"),
    "xch.synced": ("Đã đồng bộ", "Synced"),
    "xch.no_units": ("Không có hồ sơ tiếp nhận trong kỳ.", "No dossier received in the period."),
    "xch.failed_list": ("Hồ sơ gửi lỗi và trả lời của Cổng", "Failed dossiers and the gateway's answer"),
    "xch.no_failed": ("Không có hồ sơ gửi lỗi.", "No dossier failed."),
    "xch.attempts": ("Số lần lỗi", "Failures"),
    "xch.answer": ("Trả lời của Cổng", "The gateway's answer"),
    "xch.next": ("Thử lại lúc", "Next attempt"),
    "xch.shown": ("Hiển thị {shown}/{total}", "Showing {shown} of {total}"),
    "xch.total": ("Tổng", "Total"),
    # worklist
    "work.title": ("Việc cần xử lý", "Worklist"),
    "work.note": (
        "Hồ sơ đơn vị đang giữ và đang tính thời gian, bước đến hạn trước ở trên (bước quá hạn đầu tiên). "
        "Thời gian còn lại tính theo giờ làm việc; hồ sơ chờ bổ sung hoặc chờ nghĩa vụ tài chính không có ở đây.",
        "Dossiers your agencies hold whose clock runs, the step due first on top (overdue steps first). "
        "Time left is working time; dossiers waiting for a supplement or a financial obligation are not listed.",
    ),
    "work.count": ("{total} bước đang xử lý", "Steps in hand: {total}"),
    "work.step": ("Bước", "Step"),
    "work.left": ("Thời gian còn lại của bước", "Time left for the step"),
    "work.overdue_by": ("Quá hạn {duration}", "Overdue by {duration}"),
    "work.empty": ("Không có hồ sơ nào đang chờ đơn vị xử lý.", "No dossier waits for your agencies."),
    "work.pages": ("Trang", "Pages"),
    "work.previous": ("Trang trước", "Previous"),
    "work.next": ("Trang sau", "Next"),
    "work.results": ("Kết quả chờ chuyển về Một cửa, chờ trả", "Results to send back or return"),
    "work.results_note": (
        "Hồ sơ đã giải quyết xong mà đơn vị đang giữ, giải quyết xong trước ở trên: đơn vị giải quyết chuyển kết quả "
        "về Bộ phận Một cửa nơi tiếp nhận; Bộ phận Một cửa trả cho người dân.",
        "Resolved dossiers your agencies hold, resolved first on top: the processing agency sends the result back "
        "to the desk that received the dossier; the desk returns it to the applicant.",
    ),
    "work.results_count": ("{total} kết quả đang chờ", "Results waiting: {total}"),
    "work.results_empty": ("Không có kết quả nào đang chờ.", "No result is waiting."),
    "work.resolved_at": ("Giải quyết xong lúc", "Resolved at"),
    "work.waiting_for": ("Việc tiếp theo", "Next"),
    "work.send_back_to": ("Chuyển kết quả về Một cửa: {desk}", "Send the result back to the desk: {desk}"),
    "work.return": ("Trả kết quả cho người dân", "Return the result to the applicant"),
    # dashboard
    "dash.title": ("Điều hành", "Dashboard"),
    "dash.agency": ("Cơ quan, đơn vị", "Agency"),
    "dash.field": ("Lĩnh vực", "Field"),
    "dash.procedure": ("Thủ tục (mã hoặc tên)", "Procedure (code or name)"),
    "dash.within": ("Sắp đến hạn trong (ngày làm việc)", "Due within (working days)"),
    "dash.overdue": ("Hồ sơ quá hạn", "Overdue dossiers"),
    "dash.due_soon": ("Hồ sơ sắp đến hạn", "Dossiers due soon"),
    "dash.queue_note": (
        "Chỉ gồm hồ sơ đang tính thời gian (không gồm hồ sơ chờ bổ sung, chờ nghĩa vụ tài chính).",
        "Dossiers whose clock runs (not those waiting for a supplement or a financial obligation).",
    ),
    "dash.queue_empty": ("Không có hồ sơ nào.", "No dossier."),
    "dash.days_overdue": ("Thời gian quá hạn (làm việc)", "Working time overdue"),
    "dash.days_left": ("Thời gian còn lại (làm việc)", "Working time left"),
    "dash.current_stage": ("Bước đang xử lý", "Current stage"),
    "dash.period": ("Báo cáo kỳ {first} – {last}", "Report for {first} – {last}"),
    "dash.monthly": ("Tỷ lệ đúng hạn theo tháng ({span})", "On-time rate per month ({span})"),
    "dash.ranking": (
        "Xếp hạng tỷ lệ đúng hạn theo đơn vị ({first} – {last})",
        "On-time rate per agency, ranked ({first} – {last})",
    ),
    "dash.ranking_none": ("Chưa có hồ sơ giải quyết xong trong kỳ.", "No dossier was resolved in the period."),
    "dash.stages": ("Kết quả theo bước liên thông ({first} – {last})", "Stage attribution ({first} – {last})"),
    "dash.on_time_rate": ("Tỷ lệ đúng hạn", "On-time rate"),
    "dash.strict_rate": ("Tỷ lệ đúng hạn (chặt)", "Strict on-time rate"),
    "dash.month": ("Tháng", "Month"),
    "dash.period_name": ("Kỳ báo cáo", "Period"),
    "dash.period_hint": (
        "Tháng 2025-03, quý 2025-Q1, 6 tháng 2025-H1, năm 2025; hoặc từ ngày – đến ngày.",
        "Month 2025-03, quarter 2025-Q1, half 2025-H1, year 2025; or from – to.",
    ),
    "dash.from": ("Từ ngày", "From"),
    "dash.to": ("Đến ngày", "To"),
    "dash.level": ("Cấp thực hiện", "Level"),
    "dash.year_before": ("Cùng kỳ năm trước ({first} – {last})", "Same period a year earlier ({first} – {last})"),
    "dash.year_before_rate": ("Tỷ lệ đúng hạn cùng kỳ năm trước", "On-time rate a year earlier"),
    "dash.compare": (
        "Tỷ lệ đúng hạn {rate} (cùng kỳ năm trước {before}; {delta}).",
        "On-time rate {rate} (a year earlier {before}; {delta}).",
    ),
    "dash.points": ("{sign}{value} điểm %", "{sign}{value} percentage points"),
    "dash.no_compare": ("chưa so sánh được", "no comparison"),
    "dash.target": ("Mục tiêu {target}", "Target {target}"),
    "dash.axis_rate": ("Tỷ lệ (%)", "Rate (%)"),
    "dash.axis_month": ("Tháng", "Month"),
    "dash.cell_hint": ("Bấm vào một số để xem các hồ sơ được tính.", "Click a figure to see the dossiers it counts."),
    "dash.formula_on_time": (
        "Tỷ lệ đúng hạn = (giải quyết trước hạn + đúng hạn) ÷ số hồ sơ đã giải quyết trong kỳ.",
        "On-time rate = (resolved early + on time) ÷ dossiers resolved in the period.",
    ),
    "dash.formula_strict": (
        "Tỷ lệ đúng hạn (chặt) = 1 − (giải quyết quá hạn + đang giải quyết quá hạn) ÷ tổng số hồ sơ nhận "
        "giải quyết. Mẫu số gồm cả hồ sơ còn đang giải quyết trong hạn và hồ sơ rút, dừng: khi nhiều hồ sơ "
        "chưa đến hạn, tỷ lệ chặt có thể cao hơn tỷ lệ đúng hạn; nó thấp hơn khi hồ sơ tồn đọng quá hạn.",
        "Strict on-time rate = 1 − (resolved late + open overdue) ÷ all dossiers to resolve. Its denominator "
        "also counts dossiers still open within their due and those withdrawn: when many are not yet due it "
        "can be higher than the on-time rate; overdue backlog pulls it lower.",
    ),
    "dash.cell_title": ("Hồ sơ được tính: {column}", "Dossiers counted: {column}"),
    "dash.back": ("Về trang điều hành", "Back to the dashboard"),
    "dash.finished_at": ("Ngày kết thúc", "Finished"),
    "dash.original_due": ("Hạn ban đầu", "Original due"),
    "dash.avg_time": ("Thời gian giải quyết bình quân", "Average resolution time"),
    "col.total": ("Tổng số", "Total"),
    "col.carried_over": ("Kỳ trước chuyển qua", "Carried over"),
    "col.received_new": ("Mới tiếp nhận", "Newly received"),
    "col.resolved": ("Đã giải quyết", "Resolved"),
    "col.early": ("Trước hạn", "Early"),
    "col.on_time": ("Đúng hạn", "On time"),
    "col.late": ("Quá hạn", "Late"),
    "col.withdrawn": ("Rút, dừng", "Withdrawn"),
    "col.open": ("Đang giải quyết", "Open"),
    "col.open_within": ("Trong hạn", "Within due"),
    "col.open_overdue": ("Quá hạn", "Overdue"),
    "col.steps": ("Số bước đã xong", "Steps finished"),
    "col.steps_on_time": ("Bước đúng hạn", "Steps on time"),
    "col.steps_late": ("Bước quá hạn", "Steps late"),
    "col.step_on_time_rate": ("Tỷ lệ bước đúng hạn", "Step on-time rate"),
    "col.overrun_working_days": ("Thời gian vượt (làm việc)", "Working time overrun"),
    "col.dossiers_made_late": ("Số hồ sơ làm trễ", "Dossiers made late"),
    # calendar
    "cal.title": ("Lịch làm việc {year}", "Working calendar {year}"),
    "cal.year": ("Năm", "Year"),
    "cal.agency": ("Lịch của đơn vị", "Calendar of"),
    "cal.working_days": ("{count} ngày làm việc", "{count} working days"),
    "cal.hours": ("Giờ làm việc", "Working hours"),
    "cal.legend": ("Chú thích", "Legend"),
    "cal.kind.working": ("Ngày làm việc", "Working day"),
    "cal.kind.weekend": ("Nghỉ cuối tuần", "Weekend"),
    "cal.kind.off": ("Ngày nghỉ (lễ, Tết, hoán đổi)", "Day off (holiday, swap)"),
    "cal.kind.workday": ("Ngày làm bù (thứ Bảy làm việc)", "Make-up working day"),
    "cal.special": ("Ngày nghỉ và ngày làm bù trong năm", "Days off and make-up days of the year"),
    "cal.date": ("Ngày", "Date"),
    "cal.kind": ("Loại", "Kind"),
    "cal.reason": ("Lý do", "Reason"),
    "cal.source": ("Nguồn", "Source"),
    "cal.source.package": ("Gói holidays", "holidays package"),
    "cal.source.override": ("Điều chỉnh", "Override"),
    "cal.legal_ref": ("Căn cứ", "Legal reference"),
    "cal.overrides": ("Điều chỉnh lịch (quản trị viên)", "Calendar overrides (administrators)"),
    "cal.overrides_note": (
        "Điều chỉnh thắng gói holidays và áp dụng ngay cho các lần tính mới; hồ sơ đang mở được tính lại "
        "bằng lệnh motcua dossiers rebuild. Chỉ quản trị viên được thêm, xóa điều chỉnh.",
        "An override wins over the holidays package and applies to new computations at once; open dossiers "
        "are re-derived with motcua dossiers rebuild. Only administrators add or remove overrides.",
    ),
    "cal.no_overrides": ("Năm này chưa có điều chỉnh nào.", "No override this year."),
    "cal.scope": ("Phạm vi", "Scope"),
    "cal.add": ("Thêm điều chỉnh", "Add an override"),
    "cal.add_submit": ("Thêm", "Add"),
    "cal.confirm_add": (
        "Thêm điều chỉnh lịch này? Hạn xử lý mới sẽ tính theo lịch mới.",
        "Add this override? New dues follow it.",
    ),
    "cal.delete": ("Xóa", "Delete"),
    "cal.confirm_delete": ("Xóa điều chỉnh này?", "Delete this override?"),
    "cal.kind_off": ("Nghỉ (off)", "Day off"),
    "cal.kind_workday": ("Làm việc (workday)", "Working day"),
    "cal.months": (
        "Tháng 1|Tháng 2|Tháng 3|Tháng 4|Tháng 5|Tháng 6|Tháng 7|Tháng 8|Tháng 9|Tháng 10|Tháng 11|Tháng 12",
        "January|February|March|April|May|June|July|August|September|October|November|December",
    ),
    "cal.weekdays": ("T2|T3|T4|T5|T6|T7|CN", "Mon|Tue|Wed|Thu|Fri|Sat|Sun"),
    "cal.weekdays_long": (
        "Thứ Hai|Thứ Ba|Thứ Tư|Thứ Năm|Thứ Sáu|Thứ Bảy|Chủ Nhật",
        "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday",
    ),
    # citizen lookup
    "lookup.title": ("Tra cứu tình trạng hồ sơ", "Look up your dossier"),
    "lookup.intro": (
        "Nhập mã hồ sơ ghi trên giấy tiếp nhận và 4 số cuối của số điện thoại đã khai khi nộp hồ sơ.",
        "Enter the code printed on your receipt and the last 4 digits of the phone number you gave.",
    ),
    "lookup.code": ("Mã hồ sơ", "Dossier code"),
    "lookup.phone_last4": ("4 số cuối số điện thoại", "Last 4 digits of the phone"),
    "lookup.submit": ("Tra cứu", "Look up"),
    "lookup.not_found": (
        "Không tìm thấy hồ sơ khớp với mã và 4 số điện thoại đã nhập. Vui lòng kiểm tra lại cả hai.",
        "No dossier matches this code and these digits. Please check both.",
    ),
    "lookup.too_many": (
        "Đã tra cứu quá nhiều lần (hoặc đã nhập sai số điện thoại quá nhiều lần cho mã hồ sơ này). "
        "Vui lòng thử lại sau {minutes} phút.",
        "Too many lookups (or too many wrong phone digits for this dossier code). "
        "Please try again in {minutes} minutes.",
    ),
    "lookup.result": ("Tình trạng hồ sơ", "Dossier status"),
    "lookup.agency": ("Nơi tiếp nhận, trả kết quả", "Where to collect the result"),
    "lookup.appointment": ("Ngày hẹn trả kết quả", "Appointment"),
    "lookup.clock_stopped": (
        "Hồ sơ đang chờ bổ sung hoặc chờ nghĩa vụ tài chính: ngày hẹn sẽ được tính lại khi hoàn tất.",
        "The dossier waits for a supplement or a financial obligation: the appointment is set again once complete.",
    ),
    "lookup.clock_stopped_title": ("Thời gian giải quyết đang tạm dừng", "The processing time is stopped"),
    "lookup.since": ("từ", "since"),
    "lookup.clock_stopped_supplement": (
        "Hồ sơ cần bổ sung giấy tờ; ngày hẹn trả kết quả sẽ được tính lại khi nhận đủ.",
        "The dossier needs more documents; the appointment is set again once they are in.",
    ),
    "lookup.to_bring": ("Cần bổ sung (mang đến nơi tiếp nhận hồ sơ):", "To supplement (bring it where you filed):"),
    "lookup.appointment_pending": (
        "Sẽ hẹn lại khi hồ sơ được bổ sung đầy đủ",
        "Set again once the dossier is complete",
    ),
    "lookup.intro_code": (
        "Mã hồ sơ đã được điền từ mã QR trên giấy tiếp nhận: nhập 4 số cuối của số điện thoại đã khai khi nộp hồ sơ.",
        "The code comes from the QR code on your receipt: enter the last 4 digits of the phone number you gave.",
    ),
    "lookup.apology": ("Thư xin lỗi và hẹn lại", "Apology and new appointment"),
    "lookup.apology_at": ("Ngày xin lỗi", "Apology issued"),
    "lookup.new_appointment": ("Ngày hẹn mới", "New appointment"),
    "lookup.finished_at": ("Hoàn thành lúc", "Finished at"),
    "lookup.privacy": (
        "Trang này không hiển thị thông tin cá nhân của người nộp hồ sơ.",
        "This page shows no personal data of the applicant.",
    ),
}
LABELS.update(feedback_labels.LABELS)  # the ratings and complaints pages


def translator(lang: str) -> Callable[..., str]:
    index = LANGUAGES.index(lang)

    def t(key: str, **values) -> str:
        text = LABELS[key][index]
        return text.format(**values) if values else text

    return t


class Formats:
    """Dates, durations and rates as a reader of `lang` expects them; instants in local time."""

    def __init__(self, lang: str, minutes_per_day: int = 480) -> None:
        self.lang = lang
        self.t = translator(lang)
        self.minutes_per_day = minutes_per_day

    @staticmethod
    def local(instant: datetime | None) -> datetime | None:
        return instant.astimezone(LOCAL_TZ) if instant else None

    def when(self, instant: datetime | None) -> str:
        return local_minute(instant) if instant else "—"

    @staticmethod
    def day(value: date | None) -> str:
        return value.strftime("%d/%m/%Y") if value else "—"

    def duration(self, minutes: int | None) -> str:
        """Working time: '2 ngày 3 giờ 15 phút' (a working day has `minutes_per_day` minutes)."""
        if minutes is None:
            return "—"
        minutes = abs(int(minutes))
        days, rest = divmod(minutes, self.minutes_per_day)
        hours, mins = divmod(rest, 60)
        parts = [
            f"{value} {self.t(unit)}"
            for value, unit in ((days, "unit.day"), (hours, "unit.hour"), (mins, "unit.minute"))
            if value
        ]
        return " ".join(parts) or f"0 {self.t('unit.minute')}"

    def working_days(self, days: float | None) -> str:
        """A figure in working days (queues, reports) in the one format of durations: '2 ngày 3 giờ'."""
        return "—" if days is None else self.duration(round(float(days) * self.minutes_per_day))

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        if isinstance(value, int) or float(value).is_integer():
            return f"{int(value):,}".replace(",", "." if self.lang == "vi" else ",")
        text = f"{value:,.{digits}f}"
        return text.translate(str.maketrans(",.", ".,")) if self.lang == "vi" else text

    def percent(self, rate: float | None) -> str:
        if rate is None:
            return "—"
        text = self.number(round(rate * 100, 1), 1)
        return f"{text} %" if self.lang == "vi" else f"{text}%"

    def label(self, prefix: str, value: str | None) -> str:
        """`status.received` → 'Đã tiếp nhận'; unknown values are shown as they are."""
        if value is None:
            return "—"
        key = f"{prefix}.{value}"
        return self.t(key) if key in LABELS else value
