"""Message texts: Vietnamese defaults per kind and channel, an administrator's stored version winning.

A text names what it shows with `{placeholders}` from `PLACEHOLDERS` only: the dossier's code, its
procedure and agency, dates, links and the reason staff wrote. Nothing else of the applicant (no name,
identity number, phone or address) can appear in a message.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from string import Formatter

from sqlalchemy import delete, select
from sqlmodel import Session

from kernel.errors import InvalidInput
from notify.models import CHANNELS, MessageTemplate

PLACEHOLDERS = {
    "code": "the dossier's code (mã hồ sơ)",
    "procedure": "the procedure's name",
    "agency": "the receiving agency's name",
    "due": "the appointment (hẹn trả), dd/mm/yyyy HH:mm",
    "new_due": "an apology's new appointment",
    "reason": "what staff wrote: what to bring, why paused, why late",
    "lookup_url": "the public lookup of the dossier",
    "rating_url": "where the citizen rates the service",
    "limit": "the last day to bring a supplement",
    "count": "a digest: how many notifications",
    "items": "a digest: one line per notification",
}
KINDS = {
    "received": "Tiếp nhận hồ sơ",
    "supplement_requested": "Yêu cầu bổ sung hồ sơ",
    "paused": "Tạm dừng tính thời gian giải quyết",
    "resumed": "Tiếp tục giải quyết hồ sơ",
    "apology": "Xin lỗi và hẹn lại ngày trả kết quả",
    "result_ready": "Có kết quả giải quyết",
    "rating": "Đánh giá mức độ hài lòng",
    "supplement_reminder": "Nhắc bổ sung hồ sơ",
    "digest": "Thông báo trong ngày (cán bộ)",
}
_DEFAULTS: dict[tuple[str, str], tuple[str | None, str]] = {
    ("received", "sms"): (
        None,
        "Ho so {code} ({procedure}) da duoc tiep nhan. Hen tra ket qua: {due}. Tra cuu: {lookup_url}",
    ),
    ("received", "email"): (
        "Đã tiếp nhận hồ sơ {code}",
        "{agency} đã tiếp nhận hồ sơ {code} ({procedure}).\nHẹn trả kết quả: {due}.\nTra cứu tiến độ: {lookup_url}",
    ),
    ("supplement_requested", "sms"): (
        None,
        "Ho so {code} can bo sung: {reason}. Vui long mang den {agency} truoc {limit}. Tra cuu: {lookup_url}",
    ),
    ("supplement_requested", "email"): (
        "Hồ sơ {code} cần bổ sung",
        "Hồ sơ {code} ({procedure}) cần bổ sung:\n{reason}\n\nVui lòng nộp bổ sung tại {agency} trước {limit}. "
        "Thời gian chờ bổ sung không tính vào thời hạn giải quyết.\nTra cứu: {lookup_url}",
    ),
    ("paused", "sms"): (None, "Ho so {code} tam dung tinh thoi gian giai quyet: {reason}. Tra cuu: {lookup_url}"),
    ("paused", "email"): (
        "Hồ sơ {code} tạm dừng tính thời gian",
        "Hồ sơ {code} ({procedure}) tạm dừng tính thời gian giải quyết: {reason}.\nTra cứu: {lookup_url}",
    ),
    ("resumed", "sms"): (None, "Ho so {code} tiep tuc duoc giai quyet. Hen tra ket qua: {due}. Tra cuu: {lookup_url}"),
    ("resumed", "email"): (
        "Hồ sơ {code} tiếp tục được giải quyết",
        "Hồ sơ {code} ({procedure}) tiếp tục được giải quyết.\nHẹn trả kết quả: {due}.\nTra cứu: {lookup_url}",
    ),
    ("apology", "sms"): (
        None,
        "{agency} xin loi vi ho so {code} cham tra ket qua ({reason}). Hen lai: {new_due}. Tra cuu: {lookup_url}",
    ),
    ("apology", "email"): (
        "Thư xin lỗi và hẹn lại ngày trả kết quả hồ sơ {code}",
        "{agency} trân trọng xin lỗi vì hồ sơ {code} ({procedure}) chưa có kết quả đúng hẹn.\n"
        "Lý do: {reason}\nNgày hẹn trả kết quả mới: {new_due}.\nTra cứu: {lookup_url}",
    ),
    ("result_ready", "sms"): (None, "Ho so {code} da co ket qua. Moi ong/ba den {agency} nhan. Tra cuu: {lookup_url}"),
    ("result_ready", "email"): (
        "Hồ sơ {code} đã có kết quả",
        "Hồ sơ {code} ({procedure}) đã có kết quả. Mời ông/bà đến {agency} nhận kết quả.\nTra cứu: {lookup_url}",
    ),
    ("rating", "sms"): (None, "Cam on ong/ba da su dung dich vu. Danh gia muc do hai long ho so {code}: {rating_url}"),
    ("rating", "email"): (
        "Đánh giá mức độ hài lòng – hồ sơ {code}",
        "Cảm ơn ông/bà đã sử dụng dịch vụ của {agency}.\nMời ông/bà đánh giá mức độ hài lòng với việc giải quyết "
        "hồ sơ {code}: {rating_url}",
    ),
    ("supplement_reminder", "sms"): (
        None,
        "Nhac: ho so {code} dang cho bo sung ({reason}). Han cuoi: {limit}. Tra cuu: {lookup_url}",
    ),
    ("supplement_reminder", "email"): (
        "Nhắc bổ sung hồ sơ {code}",
        "Hồ sơ {code} ({procedure}) vẫn đang chờ ông/bà bổ sung: {reason}.\nHạn cuối nộp bổ sung: {limit}; "
        "quá hạn, hồ sơ có thể bị dừng giải quyết.\nTra cứu: {lookup_url}",
    ),
    ("digest", "email"): ("motcua: {count} thông báo chưa đọc", "Các thông báo chưa đọc của ông/bà:\n\n{items}"),
}
SAMPLE = {
    "code": "000.01.01.H26-250602-0001",
    "procedure": "Đăng ký thường trú",
    "agency": "UBND phường Phúc Xá",
    "due": "11/06/2025 09:00",
    "new_due": "16/06/2025 17:00",
    "reason": "Bản sao giấy khai sinh có chứng thực",
    "lookup_url": "https://motcua.example/lookup?code=000.01.01.H26-250602-0001",
    "rating_url": "https://motcua.example/lookup?code=000.01.01.H26-250602-0001#rating",
    "limit": "23/06/2025 17:00",
    "count": "2",
    "items": "- Cảnh báo: hồ sơ 000.01.01.H26-250602-0001 đến 75 % thời hạn của bước",
}


@dataclass(frozen=True)
class Text:
    kind: str
    channel: str
    subject: str | None
    body: str
    customised: bool

    def render(self, values: dict[str, str]) -> tuple[str | None, str]:
        fill = {name: values.get(name, "") for name in PLACEHOLDERS}
        return (self.subject.format_map(fill) if self.subject else None), self.body.format_map(fill)


def default_text(kind: str, channel: str) -> Text | None:
    """SMS without accents (one GSM-7 part holds 160 of them, 70 with accents); Zalo the email's body, accented."""
    if channel == "zalo" and (kind, "email") in _DEFAULTS and kind != "digest":
        return Text(kind, channel, None, _DEFAULTS[(kind, "email")][1], customised=False)
    found = _DEFAULTS.get((kind, channel))
    return Text(kind, channel, *found, customised=False) if found else None


def text_for(session: Session, kind: str, channel: str) -> Text | None:
    row = session.get(MessageTemplate, (kind, channel))
    if row is not None:
        return Text(kind, channel, row.subject, row.body, customised=True)
    return default_text(kind, channel)


def all_texts(session: Session) -> list[Text]:
    stored = {(row.kind, row.channel): row for row in session.execute(select(MessageTemplate)).scalars()}
    texts = []
    for kind in KINDS:
        for channel in CHANNELS:
            row = stored.get((kind, channel))
            if row is not None:
                texts.append(Text(kind, channel, row.subject, row.body, customised=True))
            elif (text := default_text(kind, channel)) is not None:
                texts.append(text)
    return texts


def check_text(text: str, what: str) -> None:
    """Refuse a placeholder outside `PLACEHOLDERS` (or a format the sender cannot fill): the text would fail later."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise InvalidInput(
            f"{what}: {exc}; write a placeholder as {{code}}, and a brace itself as {{{{ or }}}}",
            message_id="template_braces",
        ) from None
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            raise InvalidInput(
                f"{what}: unknown placeholder {{{name}}}; known: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
                message_id="template_placeholder",
                placeholder=name,
            )


def _check_kind(kind: str, channel: str) -> None:
    if kind not in KINDS or channel not in CHANNELS or default_text(kind, channel) is None:
        raise InvalidInput(
            f"no message {kind!r} on channel {channel!r}; kinds: {', '.join(KINDS)}; channels: sms, zalo, email "
            "(the digest: email only)",
            message_id="template_unknown",
        )


def save_text(session: Session, *, kind: str, channel: str, subject: str | None, body: str, actor: str) -> Text:
    _check_kind(kind, channel)
    check_text(body, "body")
    if subject:
        check_text(subject, "subject")
    if channel != "email":
        subject = None
    row = session.get(MessageTemplate, (kind, channel))
    if row is None:
        row = MessageTemplate(kind=kind, channel=channel, body=body, subject=subject, updated_by=actor)
        session.add(row)
    else:
        row.subject, row.body, row.updated_by, row.updated_at = subject, body, actor, datetime.now(UTC)
    session.flush()
    return Text(kind, channel, subject, body, customised=True)


def reset_text(session: Session, *, kind: str, channel: str) -> Text:
    """Back to the default text."""
    _check_kind(kind, channel)
    session.execute(delete(MessageTemplate).where(MessageTemplate.kind == kind, MessageTemplate.channel == channel))
    return default_text(kind, channel)


def preview(kind: str, channel: str, subject: str | None, body: str) -> tuple[str | None, str]:
    """The text filled with the sample dossier's values (no real person's data)."""
    _check_kind(kind, channel)
    check_text(body, "body")
    if subject:
        check_text(subject, "subject")
    return Text(kind, channel, subject if channel == "email" else None, body, True).render(SAMPLE)
