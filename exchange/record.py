"""The national dossier record (hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia), version `motcua-dvcqg-1`.

One module maps both ways: :func:`to_record` turns a stored dossier (its intake, event log and derived
stages) into the record real provincial systems send to the portal; :func:`from_record` turns a record
back into plain intake data and the list of events to replay. Every field, what motcua fills and what it
leaves empty: docs/exchange.md. A change of format is a new version beside this one, never an edit.

Pure: no database. The caller reads a :class:`RecordSource` (exchange/service.py) and writes what
:func:`from_record` returns. Instants leave as local time `yyyyMMddHHmmss` (Asia/Ho_Chi_Minh), to the
second: what is finer than a second is not carried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from dossiers.derive import clock_events
from dossiers.schemas import MAX_FEES, POPULATION_REF_PATTERN
from exchange.problems import english
from procedures.schemas import MAX_COMPONENTS, MAX_COPIES
from sla.core.batch import NONE, micros_of
from sla.core.calendar import LOCAL_TZ, WorkingCalendar
from sla.core.lifecycle import STATUS_NAMES, InvalidTransition, Status, next_status
from sla.core.replay import ClockState, ProcedureRule, replay

VERSION = "motcua-dvcqg-1"
DATE_FORMAT = "%Y%m%d%H%M%S"
_DATE_SHAPE = re.compile(r"[0-9]{14}")

CHANNELS = {"counter": 1, "online": 2, "post": 3}  # KenhThucHien
CHANNEL_NAMES = {code: name for name, code in CHANNELS.items()}
RESULT_AT_DESK, RESULT_BY_POST = 0, 1  # HinhThuc
CITIZEN = 1  # LoaiDoiTuong: 1 citizen, 2 enterprise, 3 state body, 4 other organisation
IDENTITY_NUMBER = 1  # DinhDanhCHS.LoaiDinhDanh: a citizen identity number (CCCD, or an old 9-digit CMND)
SUPPLEMENT_WAITING, SUPPLEMENT_RECEIVED, SUPPLEMENT_NOT_RECEIVED = 0, 1, 2  # TrangThaiBoSung
COMPONENT_FORMS = ("original", "copy", "certified_copy")  # TaiLieuNop.HinhThucNop

# NoiDungXuLy of a process step: the action's label, then ": " and the reason when one was given.
# A forward names the agency it goes to after its label ("Chuyển xử lý đến 000.00.03.H26").
ACTION_LABELS = {
    "submitted": "Nộp hồ sơ trực tuyến",
    "received": "Tiếp nhận hồ sơ",
    "refused": "Từ chối tiếp nhận hồ sơ",
    "forwarded": "Chuyển xử lý đến",
    "supplement_requested": "Yêu cầu bổ sung hồ sơ",
    "supplement_received": "Tiếp nhận hồ sơ bổ sung",
    "paused": "Tạm dừng chờ thực hiện nghĩa vụ tài chính",
    "resumed": "Tiếp tục xử lý",
    "apology_issued": "Xin lỗi và hẹn lại ngày trả kết quả",
    "resolved": "Có kết quả giải quyết",
    "result_returned": "Trả kết quả",
    "withdrawn": "Rút hồ sơ theo đề nghị",
    "stopped": "Dừng xử lý hồ sơ",
    "abandoned": "Dừng xử lý: quá hạn bổ sung hồ sơ",
}
_LABELS_LONGEST_FIRST = sorted(ACTION_LABELS.items(), key=lambda item: -len(item[1]))
_CLOSING = ("forwarded", "resolved", "withdrawn", "stopped", "abandoned")  # events that end the acting stage
_FIRST_EVENTS = ("submitted", "received", "refused")
# A step another system wrote, read by the change of status it records (docs/exchange.md, "Reading a record").
_STATUS_EVENTS = {
    Status.SUBMITTED: "submitted",
    Status.RECEIVED: "received",
    Status.REFUSED: "refused",
    Status.WAITING_SUPPLEMENT: "supplement_requested",
    Status.WAITING_OBLIGATION: "paused",
    Status.WITHDRAWN: "withdrawn",
    Status.STOPPED: "stopped",
    Status.RESOLVED: "resolved",
    Status.RETURNED: "result_returned",
}
_BACK_TO_PROCESSING = {Status.WAITING_SUPPLEMENT: "supplement_received", Status.WAITING_OBLIGATION: "resumed"}
_STATUSES = {int(status): status for status in Status}
_STATUS_CODES = tuple(range(1, 11))
_CHANNEL_CODES = tuple(CHANNEL_NAMES)
_DATES = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi")
_STEP_NAMES = tuple(f"QuaTrinhXuLy[{n}]" for n in range(64))


# --- plain data ----------------------------------------------------------------------------------


class HistoryEvent(NamedTuple):
    """One event to replay: the fields of an `EventCreate`, with who recorded it and when (aware, local). A named
    tuple: an import makes millions."""

    type: str
    at: datetime
    actor: str | None = None
    agency: str | None = None
    """The acting agency's code (for a forward: the agency it comes from)."""
    to_agency: str | None = None
    reason: str | None = None
    result: str | None = None
    new_due_at: datetime | None = None


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Intake:
    """A dossier's intake: the fields of a `DossierCreate` but its time and status (its first event's)."""

    code: str
    """The dossier's code in the system that wrote the record (an external code once imported)."""
    procedure_code: str
    agency_code: str
    channel: str
    applicant: Applicant
    components: tuple[dict[str, Any], ...] = ()
    """{seq, name, form, copies, and the flags recorded of digitised, reused, from_citizen_store, from_national_db}:
    the procedure version's component by its seq and name, as handed in."""
    fees: tuple[dict[str, Any], ...] = ()
    """{name, amount_vnd, payment_channel, paid_at}: the fee lines in order (their seq is their place, from 1)."""
    vneid_verified: bool | None = None
    population_ref: str | None = None


class StepDates(NamedTuple):
    """A process step's own dates as the record gives them (derived by the sender: for comparison only)."""

    started_at: datetime | None
    statutory_end_at: datetime | None


@dataclass(frozen=True)
class History:
    """What a record says happened: the intake, then every event in order (the first is submitted, received or
    refused), and what the sender derived, kept beside ours: its appointment, its status, its steps' dates."""

    version: str
    intake: Intake
    events: tuple[HistoryEvent, ...]
    appointment_at: datetime | None
    """NgayHenTra: the due told at receipt."""
    status_code: int
    steps: tuple[StepDates, ...] = ()
    ignored_steps: tuple[int, ...] = ()
    electronic_result: bool | None = None
    """An electronic result file was attached (recorded with the resolution); None: not recorded."""
    """Indexes of QuaTrinhXuLy entries that record no event (another system's progress notes)."""

    def intake_data(self) -> dict[str, Any]:
        """The body of a `DossierCreate` (POST /api/v1/dossiers) for this dossier, first event included."""
        first = self.events[0]
        applicant = {k: v for k, v in asdict(self.intake.applicant).items() if v is not None}
        data = {
            "procedure_code": self.intake.procedure_code,
            "agency_code": self.intake.agency_code,
            "channel": self.intake.channel,
            "received_at": first.at,
            "status": first.type,
            "applicant": applicant,
            "components": [dict(c) for c in self.intake.components],
            "fees": [dict(f) for f in self.intake.fees],
            "vneid_verified": self.intake.vneid_verified,
            "population_ref": self.intake.population_ref,
        }
        if first.reason is not None:
            data["reason"] = first.reason
        return data


class RecordError(ValueError):
    """A record that cannot be read: every problem, each naming its field (`QuaTrinhXuLy[3].ThoiDiemXuLy`).

    `details`: (field, problem id, params) as exchange/problems.py names them; `problems`: (field, English)."""

    def __init__(self, details: Sequence[tuple[str, str, dict[str, Any]]], code: str | None = None) -> None:
        self.details = list(details)
        self.problems = [(name, english(message_id, params)) for name, message_id, params in self.details]
        self.code = code
        who = f"record {code}" if code else "record"
        super().__init__(f"{who}: " + "; ".join(f"{name}: {message}" for name, message in self.problems))


# --- dossier → record ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordSource:
    """What :func:`to_record` reads of a stored dossier (exchange/service.py reads it)."""

    dossier: Any
    """The dossier row (code, channel, applicant, instants, status_code)."""
    procedure: Any
    """Its procedure version (code, name)."""
    field_code: str
    field_name: str
    events: Sequence[Any]
    """Its event rows in order (type, at, actor, agency_id, from_agency_id, to_agency_id, reason, result,
    new_due_at)."""
    stages: Sequence[Any]
    """Its stage rows (agency_id, started_at, due_at, ended_at)."""
    components: Sequence[Any]
    """Its received components (component_seq, name, form, copies, and the flags digitised, reused,
    from_citizen_store, from_national_db: None when not recorded)."""
    codes: dict[int, str]
    """Agency id → code of every agency it names."""
    agency_names: dict[int, str]
    rule: ProcedureRule
    calendar: WorkingCalendar
    """The receiving agency's calendar, which runs the dossier's clock."""
    fees: Sequence[Any] = ()
    """Its fee lines (seq, name, amount_vnd, payment_channel, paid_at)."""


PAYMENT_CHANNEL_CODES = {"dvcqg": 1, "gateway": 2, "cash": 3, "bank": 4}
"""`HinhThucThu` (motcua's codes, docs/exchange.md): how a fee line was paid; 0 unpaid."""
PAID_ONLINE_CODES = {"dvcqg": 1, "gateway": 2}
"""`DuocThanhToanTrucTuyen`: 1 paid through the national platform, 2 through the provincial gateway, 0 not
online (cash, bank, unpaid)."""
POPULATION_DATABASE = "CSDLQGDC"
"""`DSKetNoiCSDL`'s code for the national population database (a dossier with a `population_ref`)."""


COMPONENT_FLAGS = {"digitised": "DuocSoHoa", "reused": "DuocTaiSuDung", "from_citizen_store": "DuocLayTuKhoCongDan",
                   "from_national_db": "DuocLayTuKhoDMQG"}  # fmt: skip
"""A received component's flags and their fields (`DuocLayTuKhoCongDan`, the citizen's store, is motcua's own)."""
DOSSIER_FLAGS = {"vneid_verified": "TaiKhoanDuocXacThucVoiVNeID", "electronic_result": "KetQuaDienTu"}
"""The dossier's flags and their fields (`KetQuaDienTu`, an electronic result file attached, is motcua's own)."""
RECORDED = "DaGhiNhan"
"""motcua's own list, in the record and in each `TaiLieuNop` item: which of its flags were recorded. A flag not in
it is sent as 0 but means "not recorded" (None), not "no"; without the list (another system's record) every flag
given is recorded as it is."""


def _flag(value: bool | None) -> int:
    return 1 if value else 0


def _recorded(row: Any, flags: dict[str, str]) -> list[str]:
    return [name for attribute, name in flags.items() if getattr(row, attribute, None) is not None]


def _paid_online(fees: Sequence[Any]) -> int:
    channels = [PAID_ONLINE_CODES[f.payment_channel] for f in fees if f.payment_channel in PAID_ONLINE_CODES]
    return min(channels) if channels else 0


def local_text(instant: datetime | None) -> str:
    """An instant as the record writes it: local `yyyyMMddHHmmss`, "" for none."""
    return "" if instant is None else instant.astimezone(LOCAL_TZ).strftime(DATE_FORMAT)


def to_record(source: RecordSource) -> dict[str, Any]:
    """The national record of a dossier, its process steps inside (`QuaTrinhXuLy`, one per event, in order)."""
    dossier, events, codes = source.dossier, list(source.events), source.codes
    clock = _Clock(source)
    statuses = _statuses(events)
    first = events[0]
    refused = [e for e in events if e.type == "refused"]
    resolved = [e for e in events if e.type == "resolved"]
    returned = [e for e in events if e.type == "result_returned"]
    received = [i for i, e in enumerate(events) if e.type == "received"]
    submitted_at = dossier.submitted_at or (first.at if first.type != "refused" else None) or dossier.received_at
    appointment = clock.state_after(received[0] + 1).original_due_at if received else None
    receiving = dossier.receiving_agency_id
    id_number = dossier.applicant_id_number
    return {
        "PhienBan": VERSION,
        "MaHoSo": dossier.code,
        "MaTTHC": source.procedure.code,
        "TenTTHC": source.procedure.name,
        "MaLinhVuc": source.field_code,
        "TenLinhVuc": source.field_name,
        "DonViXuLy": codes[receiving],
        "NoiNopHoSo": source.agency_names.get(receiving, ""),
        "KenhThucHien": CHANNELS[dossier.channel],
        "HinhThuc": RESULT_BY_POST if dossier.channel == "post" else RESULT_AT_DESK,
        "ChuHoSo": dossier.applicant_name,
        "LoaiDoiTuong": CITIZEN,
        "MaDoiTuong": "",
        "SoGiayToChuHoSo": id_number or "",
        "DinhDanhCHS": [{"LoaiDinhDanh": IDENTITY_NUMBER, "SoDinhDanh": id_number}] if id_number else [],
        "DiaChiChuHoSo": dossier.applicant_address or "",
        "Email": "",
        "SoDienThoai": dossier.applicant_phone or "",
        "TrichYeuHoSo": source.procedure.name,
        "NgayNopHoSo": local_text(submitted_at),
        "NgayTiepNhan": local_text(events[received[0]].at) if received else "",
        "NgayHenTra": local_text(appointment),
        "NgayKetThucXuLy": local_text(resolved[0].at) if resolved else "",
        "NgayTra": local_text(returned[0].at) if returned else "",
        "NgayTuChoi": local_text(refused[0].at) if refused else "",
        "TrangThaiHoSo": int(dossier.status_code),
        "TaiLieuNop": [
            {
                "TepDinhKemId": "",
                "TenTepDinhKem": c.name,
                "MaThanhPhanHoSo": str(c.component_seq),
                "DuongDanTaiTepTin": "",
                "DuocSoHoa": _flag(getattr(c, "digitised", None)),
                "DuocTaiSuDung": _flag(getattr(c, "reused", None)),
                "DuocLayTuKhoDMQG": _flag(getattr(c, "from_national_db", None)),
                "MaKetQuaThayThe": "",
                "HinhThucNop": c.form,
                "SoBan": c.copies,
                "DuocLayTuKhoCongDan": _flag(getattr(c, "from_citizen_store", None)),
                RECORDED: _recorded(c, COMPONENT_FLAGS),
            }
            for c in source.components
        ],
        "DanhSachLePhi": [
            {
                "TenPhiLePhi": f.name,
                "MaPhiLePhi": str(f.seq),
                "HinhThucThu": PAYMENT_CHANNEL_CODES.get(f.payment_channel, 0),
                "Gia": int(f.amount_vnd),
                "LoaiPhiLePhi": 0,
                "NgayThanhToan": local_text(f.paid_at),
            }
            for f in source.fees
        ],
        "DuocThanhToanTrucTuyen": _paid_online(source.fees),
        "DanhSachHoSoBoSung": _supplements(dossier.code, events, clock),
        "DanhSachXinLoi": [
            {
                "NgayXinLoi": local_text(e.at),
                "NguoiXinLoi": e.actor,
                "DonViXinLoi": codes.get(e.agency_id, ""),
                "LyDo": e.reason or "",
                "NgayHenTraTruoc": local_text(clock.state_after(i).due_at),
                "NgayHenTraMoi": local_text(e.new_due_at),
            }
            for i, e in enumerate(events)
            if e.type == "apology_issued"
        ],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": e.result or "",
                "MaThanhPhanHoSo": "",
                "GiayToId": f"{dossier.code}-KQ{n}",
                "DuongDanTepTinKetQua": "",
                "MaGiayToKetQua": "",
            }
            for n, e in enumerate(resolved, start=1)
        ],
        "HoSoCoThanhPhanSoHoa": _flag(any(getattr(c, "digitised", None) for c in source.components)),
        "TaiKhoanDuocXacThucVoiVNeID": _flag(getattr(dossier, "vneid_verified", None)),
        "KetQuaDienTu": _flag(getattr(dossier, "electronic_result", None)),
        RECORDED: _recorded(dossier, DOSSIER_FLAGS),
        "DSKetNoiCSDL": [{"MaCSDL": POPULATION_DATABASE, "MaThamChieu": dossier.population_ref}]
        if getattr(dossier, "population_ref", None) else [],  # fmt: skip
        "QuaTrinhXuLy": [
            process_step(dossier.code, e, statuses[i], _stage_of(e, source.stages), codes)
            for i, e in enumerate(events)
        ],
    }


def process_step(code: str, event: Any, status: Status, stage: Any | None, codes: dict[int, str]) -> dict[str, Any]:
    """One event as a process step (`CapNhatTienDoHoSoMC`): who, when, which unit, what, the status after it, and
    the dates of the stage it happened in (its start and its own statutory end)."""
    label = ACTION_LABELS[event.type]
    if event.type == "forwarded":
        label = f"{label} {codes[event.to_agency_id]}"
    return {
        "MaHoSo": code,
        "NguoiXuLy": event.actor,
        "ChucDanh": "",
        "ThoiDiemXuLy": local_text(event.at),
        "PhongBanXuLy": codes.get(event.agency_id, ""),
        "NoiDungXuLy": f"{label}: {event.reason}" if event.reason else label,
        "TrangThai": int(status),
        "NgayBatDau": local_text(stage.started_at) if stage is not None else "",
        "NgayKetThucTheoQuyDinh": local_text(stage.due_at) if stage is not None else "",
    }


def step_key(step: dict[str, Any]) -> tuple[str, str, str, str]:
    """What identifies a process step at the gateway: a step sent twice is the same step (docs/exchange.md)."""
    return step["MaHoSo"], step["ThoiDiemXuLy"], step["PhongBanXuLy"], step["NoiDungXuLy"]


class _Clock:
    """The dossier's clock after its first k events (the dues told at each moment), replayed once per k."""

    def __init__(self, source: RecordSource) -> None:
        self.source = source
        self.events = clock_events(source.events, source.codes)  # as one dossier's clock reads them
        self.states: dict[int, ClockState] = {}

    def state_after(self, k: int) -> ClockState:
        if k not in self.states:
            s = self.source
            self.states[k] = replay(
                s.rule,
                s.calendar,
                self.events[:k],
                receiving_agency_code=s.codes[s.dossier.receiving_agency_id],
                checked_from=k,  # history: taken as it was accepted
            )
        return self.states[k]


def _statuses(events: Sequence[Any]) -> list[Status]:
    status, apology, after = None, False, []
    for e in events:
        status = next_status(status, e.type, apology_issued=apology)
        apology = apology or e.type == "apology_issued"
        after.append(status)
    return after


def _supplements(code: str, events: list, clock: _Clock) -> list[dict[str, Any]]:
    found = []
    for i, e in enumerate(events):
        if e.type != "supplement_requested":
            continue
        answer = next((j for j in range(i + 1, len(events)) if events[j].type != "apology_issued"), None)
        received = answer is not None and events[answer].type == "supplement_received"
        state = SUPPLEMENT_RECEIVED if received else SUPPLEMENT_WAITING if answer is None else SUPPLEMENT_NOT_RECEIVED
        found.append(
            {
                "HoSoBoSungId": f"{code}-BS{len(found) + 1}",
                "NguoiYeuCauBoSung": e.actor,
                "NoiDungBoSung": e.reason or "",
                "NgayBoSung": local_text(e.at),
                "NgayTiepNhanBoSung": local_text(events[answer].at) if received else "",
                "TrangThaiBoSung": state,
                "NgayHenTraTruoc": local_text(clock.state_after(i).due_at),
                "NgayHenTraMoi": local_text(clock.state_after(answer + 1).due_at) if received else "",
            }
        )
    return found


def _stage_of(event: Any, stages: Sequence[Any]) -> Any | None:
    """The stage the event happened in: of the acting agency, the one it ends (a forward, the result) or the one
    open at that instant; None before the clock starts (submitted, refused)."""
    at = event.at
    mine = [s for s in stages if s.agency_id == event.agency_id and s.started_at <= at]
    ending = [s for s in mine if s.ended_at == at]
    running = [s for s in mine if s.ended_at is None or s.ended_at > at]
    choice = (ending or running) if event.type in _CLOSING else (running or ending)
    return max(choice, key=lambda s: (s.started_at, s.seq)) if choice else None


# --- record → intake and events ------------------------------------------------------------------


class _Reader:
    """Reads a record's fields, keeping every problem with the field it is in.

    A field is named by its item's prefix (`QuaTrinhXuLy[3]`, "" for the record's own) and its key, put together
    only for a problem. Each reading has a fast path for the value as a well-formed record holds it and falls back
    to the general one (which names the problem) for anything else: an import reads millions."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.problems: list[tuple[str, str, dict[str, Any]]] = []
        """(field, problem id, params): exchange/problems.py."""

    def fail(self, name: str, message_id: str, **params: Any) -> None:
        self.problems.append((name, message_id, params))

    def text(self, data: dict, key: str, prefix: str = "", required: bool = False, limit: int = 2000) -> str | None:
        value = data.get(key)
        if type(value) is str and value:
            value = value.strip()
            if len(value) > limit:
                self.fail(_named(prefix, key), "too_long", limit=limit)
                return None
            return value or None
        if value is None or value == "":
            if required:
                self.fail(_named(prefix, key), "missing")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(_named(prefix, key), "not_text", got=type(value).__name__)
            return None
        value = value.strip()
        if len(value) > limit:
            self.fail(_named(prefix, key), "too_long", limit=limit)
            return None
        return value or None

    def number(self, data: dict, key: str, prefix: str, accepted: Sequence[int], required: bool = True) -> int | None:
        value = data.get(key)
        if type(value) is int and value in accepted:
            return value
        if value is None or value == "":
            if required:
                self.fail(_named(prefix, key), "missing_choice", accepted=", ".join(map(str, accepted)))
            return None
        try:
            number = int(value) if not isinstance(value, bool) and str(value).strip().isdigit() else None
        except ValueError:
            number = None
        if number not in accepted:
            self.fail(_named(prefix, key), "not_one_of", value=value, accepted=", ".join(map(str, accepted)))
            return None
        return number

    def instant(self, data: dict, key: str, prefix: str = "", required: bool = False) -> datetime | None:
        value = data.get(key)
        if type(value) is str and len(value) == 14 and value.isascii() and value.isdigit():
            instant = _local_instant(value)
            if instant is not None:
                return instant
        if value is None or value == "":
            if required:
                self.fail(_named(prefix, key), "missing_date")
            return None
        return parse_local(value, _named(prefix, key), self.problems)

    def items(self, key: str) -> list[dict]:
        value = self.record.get(key)
        if type(value) is list:
            for item in value:
                if type(item) is not dict:
                    break
            else:
                return value
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(key, "not_a_list")
            return []
        return value


def _named(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def parse_local(value: Any, name: str, problems: list[tuple[str, str, dict[str, Any]]]) -> datetime | None:
    """`yyyyMMddHHmmss` (local time) as an aware instant; a problem naming `name` when it is not one."""
    text = str(value).strip()
    if not _DATE_SHAPE.fullmatch(text):
        problems.append((name, "date_shape", {"value": value}))
        return None
    instant = _local_instant(text)
    if instant is None:
        problems.append((name, "date_unreal", {"value": value}))
    return instant


def _plain_instant(value: Any) -> datetime | None:
    """14 ASCII digits as a local instant, None for anything else (which the reader then names)."""
    if type(value) is str and len(value) == 14 and value.isascii() and value.isdigit():
        return _local_instant(value)
    return None


@lru_cache(maxsize=65_536)
def _local_instant(text: str) -> datetime | None:
    """14 digits as an aware local instant (None: no such date or time). By slicing, not `strptime`, which cost
    two thirds of reading a record (an import reads millions: bench/README.md, "History import")."""
    try:
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                        int(text[12:14]), tzinfo=LOCAL_TZ)  # fmt: skip
    except ValueError:
        return None


def from_record(record: dict[str, Any]) -> History:
    """A record's intake and events, checked: dates, codes, and a sequence the state machine admits.

    The events come from `QuaTrinhXuLy` (one per step, in time order): a step whose NoiDungXuLy starts with
    one of motcua's labels is that action; another system's step is read by the status it leads to, and one
    that changes nothing is left out (`ignored_steps`). Without steps, the events come from the record's
    dates and lists. The supplement and apology lists and the dates must agree with the steps. Raises
    :class:`RecordError` naming every bad field.
    """
    if not isinstance(record, dict):
        raise RecordError([("record", "not_object", {"got": type(record).__name__})])
    r = _Reader(record)
    code = r.text(record, "MaHoSo", "", True, 80)
    version = record.get("PhienBan") or VERSION
    if version != VERSION:
        r.fail("PhienBan", "version", value=version, accepted=VERSION)
    channel = r.number(record, "KenhThucHien", "", _CHANNEL_CODES)
    status = r.number(record, "TrangThaiHoSo", "", _STATUS_CODES)
    id_number = r.text(record, "SoGiayToChuHoSo", "", False, 20)
    if id_number is None:
        for n, item in enumerate(r.items("DinhDanhCHS")):
            id_number = id_number or r.text(item, "SoDinhDanh", f"DinhDanhCHS[{n}]", limit=20)
    procedure_code = r.text(record, "MaTTHC", "", True, 64) or ""
    agency_code = r.text(record, "DonViXuLy", "", True, 64) or ""
    channel = CHANNEL_NAMES.get(channel, "counter")
    applicant = Applicant(
        name=r.text(record, "ChuHoSo", "", True, 200) or "",
        id_number=id_number,
        phone=r.text(record, "SoDienThoai", "", False, 20),
        address=r.text(record, "DiaChiChuHoSo", "", False, 500),
    )
    components = tuple(_components(r)) if record.get("TaiLieuNop") else ()
    dates = {key: r.instant(record, key) for key in _DATES}
    supplements = _supplement_list(r) if record.get("DanhSachHoSoBoSung") else []
    apologies = _apology_list(r) if record.get("DanhSachXinLoi") else []
    results = [r.text(item, "TenGiayTo", f"DanhSachGiayToKetQua[{n}]")
               for n, item in enumerate(r.items("DanhSachGiayToKetQua"))]  # fmt: skip
    fees = _fee_list(r) if record.get("DanhSachLePhi") else []
    recorded = _recorded_list(r, record, RECORDED, DOSSIER_FLAGS)
    vneid = _read_flag(r, record, "TaiKhoanDuocXacThucVoiVNeID", "", recorded)
    electronic = _read_flag(r, record, "KetQuaDienTu", "", recorded)
    population_ref = _population_ref(r) if record.get("DSKetNoiCSDL") else None
    steps_given = r.items("QuaTrinhXuLy")
    if r.problems:  # the steps are read only from a record whose own fields are sound
        raise RecordError(r.problems, code)
    if steps_given:
        events, step_dates, ignored = _events_from_steps(r, steps_given, agency_code, apologies, results)
    else:
        events, step_dates, ignored = _events_from_dates(r, dates, status, supplements, apologies, results), (), ()
    if not r.problems:
        final = _check_sequence(r, events, steps_given, ignored)
        if final is not None and status is not None and int(final) != status:
            r.fail("TrangThaiHoSo", "record_status", value=status, status=int(final))
        _check_agreement(r, events, dates, supplements, apologies)
        if electronic is not None and not any(e.type == "resolved" for e in events):
            r.fail("KetQuaDienTu", "electronic_result_unresolved")
    if r.problems:
        raise RecordError(r.problems, code)
    return History(
        version=VERSION,
        intake=Intake(
            code=code or "",
            procedure_code=procedure_code,
            agency_code=agency_code,
            channel=channel,
            applicant=applicant,
            components=components,
            fees=tuple(fees),
            vneid_verified=vneid if channel == "online" else None,  # recorded for online dossiers only
            population_ref=population_ref,
        ),
        events=tuple(events),
        appointment_at=dates["NgayHenTra"],
        status_code=status,
        steps=tuple(step_dates),
        ignored_steps=tuple(ignored),
        electronic_result=electronic,
    )


def _components(r: _Reader) -> list[dict[str, Any]]:
    """The documents handed in, checked as intake checks them (`ReceivedComponent`, `MAX_COMPONENTS`)."""
    items = r.items("TaiLieuNop")
    if len(items) > MAX_COMPONENTS:
        r.fail("TaiLieuNop", "too_many_components", count=len(items), limit=MAX_COMPONENTS)
        return []
    found = []
    for n, item in enumerate(items):
        name = f"TaiLieuNop[{n}]"
        given = item.get("MaThanhPhanHoSo")
        seq = int(given) if isinstance(given, int | str) and str(given).strip().isdigit() else None
        if seq == 0:
            r.fail(f"{name}.MaThanhPhanHoSo", "component_number", value=given)
        component = {"seq": seq, "name": r.text(item, "TenTepDinhKem", name, limit=500)}
        if component["seq"] is None and component["name"] is None:
            r.fail(name, "component_unnamed")
            continue
        form = item.get("HinhThucNop")
        if form not in (None, ""):
            if form not in COMPONENT_FORMS:
                r.fail(f"{name}.HinhThucNop", "not_one_of", value=form, accepted=", ".join(COMPONENT_FORMS))
            component["form"] = form
        copies = item.get("SoBan")
        if copies not in (None, ""):
            if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
                r.fail(f"{name}.SoBan", "copies", value=copies, limit=MAX_COPIES)
            component["copies"] = copies
        recorded = _recorded_list(r, item, f"{name}.{RECORDED}", COMPONENT_FLAGS)
        for attribute, flag in COMPONENT_FLAGS.items():
            component[attribute] = _read_flag(r, item, flag, name, recorded)
        found.append({k: v for k, v in component.items() if v is not None})
    return found


def _recorded_list(r: _Reader, data: dict, name: str, flags: dict[str, str]) -> list[str] | None:
    """motcua's `DaGhiNhan`: the flags recorded (None: the list is not given, every flag given counts)."""
    value = data.get(RECORDED)
    if value is None:
        return None
    if not isinstance(value, list) or not all(type(item) is str for item in value) or not _FLAG_NAMES[
            id(flags)].issuperset(value):  # fmt: skip
        r.fail(name, "flag_unknown", value=value, accepted=", ".join(flags.values()))
        return None
    return value


_FLAG_NAMES = {id(flags): frozenset(flags.values()) for flags in (COMPONENT_FLAGS, DOSSIER_FLAGS)}


def _read_flag(r: _Reader, data: dict, key: str, prefix: str, recorded: list[str] | None) -> bool | None:
    if recorded is not None and key not in recorded:
        return None
    value = r.number(data, key, prefix, (0, 1), required=False)
    return None if value is None else value == 1


PAYMENT_CHANNELS = {code: channel for channel, code in PAYMENT_CHANNEL_CODES.items()}
_POPULATION_REF = re.compile(POPULATION_REF_PATTERN)
_MAX_AMOUNT = 10_000_000_000


def _fee_list(r: _Reader) -> list[dict[str, Any]]:
    """`DanhSachLePhi` as fee lines (`FeeIn`'s fields): a paid line gives how (`HinhThucThu` 1–4) and when
    (`NgayThanhToan`), an unpaid one neither."""
    items = r.items("DanhSachLePhi")
    if len(items) > MAX_FEES:
        r.fail("DanhSachLePhi", "too_many_fees", count=len(items), limit=MAX_FEES)
        return []
    found = []
    for n, item in enumerate(items):
        name = f"DanhSachLePhi[{n}]"
        fee_name = r.text(item, "TenPhiLePhi", name, required=True, limit=500)
        amount = item.get("Gia")
        whole = isinstance(amount, float) and amount.is_integer()
        if whole or (isinstance(amount, str) and amount.strip().isdigit()):
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= _MAX_AMOUNT:
            r.fail(f"{name}.Gia", "amount", value=amount)
        code = r.number(item, "HinhThucThu", name, (0, *PAYMENT_CHANNELS), required=False)
        before = len(r.problems)
        paid_at = r.instant(item, "NgayThanhToan", name)
        if code and paid_at is None and len(r.problems) == before:
            r.fail(f"{name}.NgayThanhToan", "paid_without_date", value=code)
        if not code and paid_at is not None:
            r.fail(f"{name}.HinhThucThu", "date_without_channel", value=local_text(paid_at))
        found.append({"name": fee_name, "amount_vnd": amount, "payment_channel": PAYMENT_CHANNELS.get(code),
                      "paid_at": paid_at})  # fmt: skip
    return found


def _population_ref(r: _Reader) -> str | None:
    """The population database's reference from `DSKetNoiCSDL` (`MaThamChieu`, motcua's own); a link without one
    (another system's record) keeps the database's code as its reference: the link is known, the number is not."""
    found = None
    for n, item in enumerate(r.items("DSKetNoiCSDL")):
        if r.text(item, "MaCSDL", f"DSKetNoiCSDL[{n}]", limit=64) != POPULATION_DATABASE:
            continue
        reference = r.text(item, "MaThamChieu", f"DSKetNoiCSDL[{n}]", limit=64)
        if reference is not None and not _POPULATION_REF.fullmatch(reference):
            r.fail(f"DSKetNoiCSDL[{n}].MaThamChieu", "population_ref", value=reference)
        found = reference or POPULATION_DATABASE
    return found


def _supplement_list(r: _Reader) -> list[dict[str, Any]]:
    found = []
    for n, item in enumerate(r.items("DanhSachHoSoBoSung")):
        name = f"DanhSachHoSoBoSung[{n}]"
        found.append(
            {
                "requested_at": r.instant(item, "NgayBoSung", name, required=True),
                "received_at": r.instant(item, "NgayTiepNhanBoSung", name),
                "reason": r.text(item, "NoiDungBoSung", name),
                "actor": r.text(item, "NguoiYeuCauBoSung", name, limit=64),
                "state": r.number(item, "TrangThaiBoSung", name, (0, 1, 2), required=False),
            }
        )
    return found


def _apology_list(r: _Reader) -> list[dict[str, Any]]:
    found = []
    for n, item in enumerate(r.items("DanhSachXinLoi")):
        name = f"DanhSachXinLoi[{n}]"
        found.append(
            {
                "at": r.instant(item, "NgayXinLoi", name, required=True),
                "new_due_at": r.instant(item, "NgayHenTraMoi", name, required=True),
                "reason": r.text(item, "LyDo", name),
                "actor": r.text(item, "NguoiXinLoi", name, limit=64),
                "agency": r.text(item, "DonViXinLoi", name, limit=64),
            }
        )
    return found


_FORWARD = re.compile(rf"{re.escape(ACTION_LABELS['forwarded'])} (\S+?)(?:: (.*))?", re.DOTALL)


_LABEL_EVENTS = {label: event_type for event_type, label in ACTION_LABELS.items() if event_type != "forwarded"}
assert not any(f"{label}: ".startswith(f"{other}: ") for label in _LABEL_EVENTS for other in _LABEL_EVENTS
               if other != label), "a label and ': ' start another: _action's dictionary cannot tell them apart"


def _action(text: str) -> tuple[str, str | None, str | None] | None:
    """motcua's NoiDungXuLy read back: (event type, the agency a forward goes to, the reason); None if not ours."""
    event_type = _LABEL_EVENTS.get(text)
    if event_type is not None:
        return event_type, None, None
    label, colon, reason = text.partition(": ")
    event_type = _LABEL_EVENTS.get(label) if colon else None
    if event_type is not None:
        return event_type, None, reason
    if not text.startswith(ACTION_LABELS["forwarded"]):
        return _action_by_prefix(text)
    forward = _FORWARD.fullmatch(text)
    if forward:
        return "forwarded", forward[1], forward[2]
    return _action_by_prefix(text)


def _action_by_prefix(text: str) -> tuple[str, str | None, str | None] | None:
    for event_type, label in _LABELS_LONGEST_FIRST:
        if event_type == "forwarded":
            continue
        if text == label:
            return event_type, None, None
        if text.startswith(f"{label}: "):
            return event_type, None, text[len(label) + 2 :]
    return None


def _events_from_steps(r: _Reader, steps: list[dict], receiving: str, apologies: list, results: list):
    events, dates, ignored = [], [], []
    previous_at, status = None, None
    apology_queue, result_queue = list(apologies), list(results)
    text, instant, number = r.text, r.instant, r.number  # millions of calls: bound once
    for n, step in enumerate(steps):
        name = _STEP_NAMES[n] if n < len(_STEP_NAMES) else f"QuaTrinhXuLy[{n}]"
        # the values as a well-formed step holds them, read here; anything else by the reader, which names it
        get = step.get
        value = get("ThoiDiemXuLy")
        at = _plain_instant(value) if type(value) is str else None
        if at is None:
            at = instant(step, "ThoiDiemXuLy", name, True)
        value = get("PhongBanXuLy")
        unit = value.strip() if type(value) is str else None
        if unit is None or len(unit) > 64:
            unit = text(step, "PhongBanXuLy", name, False, 64)
        unit = unit or None
        value = get("NoiDungXuLy")
        content = value.strip() if type(value) is str else text(step, "NoiDungXuLy", name)
        if len(content or "") > 2000:
            content = text(step, "NoiDungXuLy", name)
        content = content or ""
        after = get("TrangThai")
        if type(after) is not int or not 1 <= after <= 10:
            after = number(step, "TrangThai", name, _STATUS_CODES)
        started = _plain_instant(get("NgayBatDau")) or instant(step, "NgayBatDau", name)
        statutory_end = _plain_instant(get("NgayKetThucTheoQuyDinh")) or instant(step, "NgayKetThucTheoQuyDinh", name)
        if at is None or after is None:
            continue
        if previous_at is not None and at < previous_at:
            r.fail(f"{name}.ThoiDiemXuLy", "step_order", at=local_text(at), previous=local_text(previous_at))
        previous_at = at
        action = _action(content)
        if action is None:
            action = _inferred(status, _STATUSES[after], unit, steps[n + 1 :])
            if action is None:
                ignored.append(n)
                continue
        event_type, to_agency, reason = action
        new_due_at = result = None
        if event_type == "apology_issued":
            if not apology_queue:
                r.fail(f"{name}.NoiDungXuLy", "apology_unlisted")
                continue
            new_due_at = apology_queue.pop(0)["new_due_at"]
        elif event_type == "resolved" and result_queue:
            result = result_queue.pop(0)
        value = get("NguoiXuLy")
        actor = value.strip() if type(value) is str else None
        if actor is None or len(actor) > 64:
            actor = text(step, "NguoiXuLy", name, False, 64)
        events.append(HistoryEvent(event_type, at, actor or None,
                                   unit or (receiving if not events else None), to_agency, reason, result,
                                   new_due_at))  # fmt: skip
        dates.append(StepDates(started, statutory_end))
        status = _STATUSES[after]
    if apology_queue:
        r.fail("DanhSachXinLoi", "apologies_without_step", count=len(apology_queue))
    return events, dates, ignored


def _inferred(before: Status | None, after: Status, unit: str | None, later: list[dict]):
    """Another system's step, read by the status it leads to: (event type, to agency, reason) or None."""
    if after == before:
        if after in (Status.RECEIVED, Status.PROCESSING):
            following = next((s.get("PhongBanXuLy") for s in later if s.get("PhongBanXuLy")), None)
            if following and unit and following != unit:
                return "forwarded", following, None
        return None
    if after == Status.PROCESSING:
        if before in _BACK_TO_PROCESSING:
            return _BACK_TO_PROCESSING[before], None, None
        following = next((s.get("PhongBanXuLy") for s in later if s.get("PhongBanXuLy")), None)
        if following and unit and following != unit:
            return "forwarded", following, None
        return None  # received → processing at the same unit: no event of ours
    if after == Status.RECEIVED and before is None:
        return "received", None, None
    event_type = _STATUS_EVENTS.get(after)
    return (event_type, None, None) if event_type else None


def _events_from_dates(r: _Reader, dates: dict, status: int | None, supplements: list, apologies: list, results: list):
    """A record without steps: its dates and lists as events (no hand-offs: those travel only as steps)."""
    found: list[tuple[datetime, int, HistoryEvent]] = []

    def add(order: int, event: HistoryEvent) -> None:
        found.append((event.at, order, event))

    submitted, received = dates["NgayNopHoSo"], dates["NgayTiepNhan"]
    if status == Status.REFUSED:
        at = dates["NgayTuChoi"] or r.fail("NgayTuChoi", "refusal_date_missing")
        if submitted and at and submitted < at:
            add(0, HistoryEvent("submitted", submitted))
        if at:
            add(1, HistoryEvent("refused", at))
        return [e for _, _, e in sorted(found, key=lambda x: (x[0], x[1]))]
    if submitted and (received is None or submitted < received):
        add(0, HistoryEvent("submitted", submitted))
    if received:
        add(1, HistoryEvent("received", received))
    elif status != Status.SUBMITTED:
        r.fail("NgayTiepNhan", "received_date_missing", status=status)
    for s in supplements:
        add(2, HistoryEvent("supplement_requested", s["requested_at"], actor=s["actor"], reason=s["reason"]))
        if s["received_at"]:
            add(3, HistoryEvent("supplement_received", s["received_at"]))
    for a in apologies:
        add(2, HistoryEvent("apology_issued", a["at"], actor=a["actor"], agency=a["agency"], reason=a["reason"],
                            new_due_at=a["new_due_at"]))  # fmt: skip
    if status in (Status.RESOLVED, Status.RETURNED):
        end = dates["NgayKetThucXuLy"] or r.fail("NgayKetThucXuLy", "resolved_date_missing", status=status)
        if end:
            add(4, HistoryEvent("resolved", end, result=results[0] if results else None))
    if status == Status.RETURNED:
        end = dates["NgayTra"] or r.fail("NgayTra", "returned_date_missing")
        if end:
            add(5, HistoryEvent("result_returned", end))
    if status in (Status.WITHDRAWN, Status.STOPPED):
        end = dates["NgayKetThucXuLy"] or r.fail("NgayKetThucXuLy", "end_date_missing", status=status)
        if end:
            add(4, HistoryEvent("withdrawn" if status == Status.WITHDRAWN else "stopped", end))
    if status == Status.WAITING_OBLIGATION:
        r.fail("QuaTrinhXuLy", "obligation_steps_missing")
    return [e for _, _, e in sorted(found, key=lambda x: (x[0], x[1]))]


def _check_sequence(r: _Reader, events: list[HistoryEvent], steps: list, ignored: list) -> Status | None:
    """Walk the events through the state machine; every step's TrangThai must be the status it leads to."""
    if not events:
        r.fail("QuaTrinhXuLy" if steps else "NgayTiepNhan", "no_event")
        return None
    if events[0].type not in _FIRST_EVENTS:
        r.fail("QuaTrinhXuLy[0]" if steps else "NgayTiepNhan", "first_event", event=events[0].type)
        return None
    positions = [n for n in range(len(steps)) if n not in ignored] if steps else []
    status, apology = None, False
    for k, event in enumerate(events):
        name = f"QuaTrinhXuLy[{positions[k]}]" if steps else "the record's dates"
        try:
            status = next_status(status, event.type, apology_issued=apology)
        except InvalidTransition as exc:
            r.fail(name, "impossible_sequence", reason=str(exc), event=exc.event_type,
                   status=STATUS_NAMES.get(exc.status) if exc.status is not None else None, allowed=exc.allowed)
            return None
        apology = apology or event.type == "apology_issued"
        if event.type == "forwarded" and not event.to_agency:
            r.fail(f"{name}.NoiDungXuLy", "handoff_without_agency")
        if steps and int(steps[positions[k]]["TrangThai"]) != int(status):
            r.fail(f"{name}.TrangThai", "step_status", value=steps[positions[k]]["TrangThai"], event=event.type,
                   status=int(status))
    return status


def _check_agreement(r: _Reader, events: list[HistoryEvent], dates: dict, supplements: list, apologies: list) -> None:
    """The record's dates and lists must say what its steps say."""
    first: dict[str, datetime] = {}
    requests, answers, apologised = [], [], []
    for e in events:
        if e.type not in first:
            first[e.type] = e.at
        if e.type == "supplement_requested":
            requests.append(e)
        elif e.type == "supplement_received":
            answers.append(e.at)
        elif e.type == "apology_issued":
            apologised.append(e)
    for key, event_type in _AGREEING_DATES:
        given, found = dates[key], first.get(event_type)
        if given is not None and found is not None and given != found:
            r.fail(key, "date_disagrees", value=local_text(given), event=event_type, found=local_text(found))
        if given is None and found is not None and key != "NgayKetThucXuLy":
            r.fail(key, "date_missing_step", event=event_type, found=local_text(found))
    if len(requests) != len(supplements):
        r.fail("DanhSachHoSoBoSung", "supplement_count", listed=len(supplements), steps=len(requests))
        return
    for n, (request, listed) in enumerate(zip(requests, supplements, strict=True)):
        if listed["requested_at"] != request.at:
            r.fail(f"DanhSachHoSoBoSung[{n}].NgayBoSung", "date_disagrees", value=local_text(listed["requested_at"]),
                   event="supplement_requested", found=local_text(request.at))
        if listed["received_at"] is not None and listed["received_at"] not in answers:
            r.fail(f"DanhSachHoSoBoSung[{n}].NgayTiepNhanBoSung", "supplement_answer_unknown",
                   value=local_text(listed["received_at"]))
    for n, listed in enumerate(apologies):
        if n < len(apologised) and listed["at"] != apologised[n].at:
            r.fail(f"DanhSachXinLoi[{n}].NgayXinLoi", "date_disagrees", value=local_text(listed["at"]),
                   event="apology_issued", found=local_text(apologised[n].at))


_AGREEING_DATES = (("NgayTiepNhan", "received"), ("NgayKetThucXuLy", "resolved"), ("NgayTra", "result_returned"),
                   ("NgayTuChoi", "refused"))  # fmt: skip


# --- record → plain values, for the bulk import ----------------------------------------------------


class Plain(NamedTuple):
    """What the bulk import takes of a record, in plain values: `from_record`'s reading without its objects, the
    instants in µs since 1970 (UTC, NONE for none). `plain_of` makes it of a `History`; `read_plain` reads a
    well-formed record straight into it (the twin; tests/exchange/test_record.py proves the two equal)."""

    code: str
    procedure_code: str
    agency_code: str
    channel: str
    applicant: Applicant
    components: tuple
    fees: tuple
    """The fee lines as `Intake.fees`, `paid_at` in µs."""
    vneid_verified: bool | None
    population_ref: str | None
    events: tuple
    """(type, at, actor, agency, to_agency, reason, result, new_due_at) of each event, instants in µs."""
    positions: tuple | None
    """Each event's step in QuaTrinhXuLy (None: the events came from the record's dates and lists)."""
    day: date
    """The local day of the first event."""
    appointment_at: int
    status_code: int
    electronic_result: bool | None


_EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
_LOCAL_OFFSET_S = 7 * 3600  # Asia/Ho_Chi_Minh is UTC+7 over the calendar's years (since 1975)


def local_micros(instant: datetime | None) -> int:
    """µs since 1970 (UTC) of an instant, NONE for none; a local one (UTC+7) from its fields, without a time-zone
    lookup nor timedelta (an import converts millions)."""
    if instant is None:
        return NONE
    if instant.tzinfo is LOCAL_TZ:
        return ((instant.toordinal() - _EPOCH_ORDINAL) * 86_400 + instant.hour * 3600 + instant.minute * 60
                + instant.second - _LOCAL_OFFSET_S) * 1_000_000 + instant.microsecond  # fmt: skip
    return micros_of(instant)


def plain_of(history: History) -> Plain:
    intake, events = history.intake, history.events
    first = events[0].at
    positions = None
    if history.steps:
        ignored = set(history.ignored_steps)
        positions = tuple(n for n in range(len(history.steps) + len(ignored)) if n not in ignored)
    return Plain(
        intake.code, intake.procedure_code, intake.agency_code, intake.channel, intake.applicant, intake.components,
        tuple({**f, "paid_at": local_micros(f["paid_at"])} for f in intake.fees), intake.vneid_verified,
        intake.population_ref,
        tuple((e.type, local_micros(e.at), e.actor, e.agency, e.to_agency, e.reason, e.result,
               local_micros(e.new_due_at)) for e in events),
        positions,
        first.date() if first.tzinfo is LOCAL_TZ else first.astimezone(LOCAL_TZ).date(),
        local_micros(history.appointment_at), history.status_code, history.electronic_result,
    )  # fmt: skip


_DAYS: dict[int, tuple[date, int]] = {}
"""yyyyMMdd → (the day, µs of its local midnight): a history spans a few thousand days."""


def _micros_of_text(value: Any) -> int | None:
    """14 ASCII digits as µs since 1970 of that local instant; None for anything else, or a year the fixed offset
    does not hold for (the reader then says what it is). One int() and its digits by divmod: cheaper than slices."""
    if type(value) is not str or len(value) != 14 or not value.isascii() or not value.isdigit():
        return None
    ymd, hms = divmod(int(value), 1_000_000)
    day = _DAYS.get(ymd)
    if day is None:
        year, month_day = divmod(ymd, 10_000)
        if not 1976 <= year <= 2099:
            return None
        try:
            found = date(year, month_day // 100, month_day % 100)
        except ValueError:
            return None
        day = _DAYS[ymd] = (found, ((found.toordinal() - _EPOCH_ORDINAL) * 86_400 - _LOCAL_OFFSET_S) * 1_000_000)
    hour, minute_second = divmod(hms, 10_000)
    minute, second = divmod(minute_second, 100)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return day[1] + (hour * 3600 + minute * 60 + second) * 1_000_000


def _plain_text(value: Any, limit: int) -> str | None | bool:
    """A text field as the reader takes it (stripped, "" as None); False when the reader would name it."""
    if value is None:
        return None
    if type(value) is not str:
        return False
    value = value.strip()
    return False if len(value) > limit else (value or None)


def read_plain(record: dict[str, Any]) -> Plain | None:
    """`plain_of(from_record(record))` for a well-formed record, read straight; None for any record `from_record`
    would refuse, and for what this reading leaves to it (a record without steps, identity numbers only in
    DinhDanhCHS, values in another type than the exported one): then `from_record` reads it."""
    get = record.get
    if (get("PhienBan") or VERSION) != VERSION:
        return None
    code = _plain_text(get("MaHoSo"), 80)
    procedure_code = _plain_text(get("MaTTHC"), 64)
    agency_code = _plain_text(get("DonViXuLy"), 64)
    name = _plain_text(get("ChuHoSo"), 200)
    id_number = _plain_text(get("SoGiayToChuHoSo"), 20)
    phone = _plain_text(get("SoDienThoai"), 20)
    address = _plain_text(get("DiaChiChuHoSo"), 500)
    channel = get("KenhThucHien")
    status = get("TrangThaiHoSo")
    if (not code or not procedure_code or not agency_code or not name or id_number is False or phone is False
            or address is False or type(channel) is not int or channel not in CHANNEL_NAMES
            or type(status) is not int or not 1 <= status <= 10):  # fmt: skip
        return None
    if id_number is None and get("DinhDanhCHS"):
        return None
    dates = {}
    for key in _DATES:
        value = get(key)
        if value is None or value == "":
            dates[key] = NONE
        elif (dates.setdefault(key, _micros_of_text(value))) is None:
            return None
    steps = get("QuaTrinhXuLy")
    if type(steps) is not list or not steps:
        return None
    r = _Reader(record)
    components = tuple(_components(r)) if get("TaiLieuNop") else ()
    supplements = _supplement_list(r) if get("DanhSachHoSoBoSung") else []
    apologies = _apology_list(r) if get("DanhSachXinLoi") else []
    results = [r.text(item, "TenGiayTo", f"DanhSachGiayToKetQua[{n}]")
               for n, item in enumerate(r.items("DanhSachGiayToKetQua"))]  # fmt: skip
    fees = _fee_list(r) if get("DanhSachLePhi") else []
    recorded = _recorded_list(r, record, RECORDED, DOSSIER_FLAGS)
    vneid = _read_flag(r, record, "TaiKhoanDuocXacThucVoiVNeID", "", recorded)
    electronic = _read_flag(r, record, "KetQuaDienTu", "", recorded)
    population_ref = _population_ref(r) if get("DSKetNoiCSDL") else None
    if r.problems:
        return None
    # the steps: as _events_from_steps, _check_sequence and _check_agreement read them
    events, positions = [], []
    previous_at, before, apology = None, None, False
    apology_queue = [local_micros(a["new_due_at"]) for a in apologies]
    result_queue = list(results)
    first: dict[str, int] = {}
    requests, answers, apologised = [], [], []
    for n, step in enumerate(steps):
        if type(step) is not dict:
            return None
        at = _micros_of_text(step.get("ThoiDiemXuLy"))
        unit = _plain_text(step.get("PhongBanXuLy"), 64)
        content = _plain_text(step.get("NoiDungXuLy"), 2000)
        actor = _plain_text(step.get("NguoiXuLy"), 64)
        after = step.get("TrangThai")
        if (at is None or unit is False or content is False or actor is False or type(after) is not int
                or not 1 <= after <= 10):  # fmt: skip
            return None
        for key in ("NgayBatDau", "NgayKetThucTheoQuyDinh"):
            value = step.get(key)
            if value is not None and value != "" and _micros_of_text(value) is None:
                return None
        if previous_at is not None and at < previous_at:
            return None
        previous_at = at
        after = _STATUSES[after]
        action = _action(content or "")
        if action is None:
            action = _inferred(before, after, unit, steps[n + 1 :])
            if action is None:
                continue
        event_type, to_agency, reason = action
        new_due_at, result = NONE, None
        if event_type == "apology_issued":
            if not apology_queue:
                return None
            new_due_at = apology_queue.pop(0)
        elif event_type == "resolved" and result_queue:
            result = result_queue.pop(0)
        try:
            status_after = next_status(before if events else None, event_type, apology_issued=apology)
        except InvalidTransition:
            return None
        if (not events and event_type not in _FIRST_EVENTS) or status_after != after or (
                event_type == "forwarded" and not to_agency):  # fmt: skip
            return None
        apology = apology or event_type == "apology_issued"
        events.append((event_type, at, actor, unit or (agency_code if not events else None), to_agency, reason,
                       result, new_due_at))  # fmt: skip
        positions.append(n)
        if event_type not in first:
            first[event_type] = at
        if event_type == "supplement_requested":
            requests.append(at)
        elif event_type == "supplement_received":
            answers.append(at)
        elif event_type == "apology_issued":
            apologised.append(at)
        before = after
    if apology_queue or not events or before != status:
        return None
    for key, event_type in _AGREEING_DATES:
        given, found = dates[key], first.get(event_type)
        if found is not None and (given != found if given != NONE else key != "NgayKetThucXuLy"):
            return None
    if len(requests) != len(supplements):
        return None
    for request, listed in zip(requests, supplements, strict=True):
        received = local_micros(listed["received_at"])
        if local_micros(listed["requested_at"]) != request or (received != NONE and received not in answers):
            return None
    for n, listed in enumerate(apologies):
        if n < len(apologised) and local_micros(listed["at"]) != apologised[n]:
            return None
    if electronic is not None and "resolved" not in first:
        return None
    return Plain(
        code, procedure_code, agency_code, CHANNEL_NAMES[channel], Applicant(name, id_number, phone, address),
        components, tuple({**f, "paid_at": local_micros(f["paid_at"])} for f in fees),
        vneid if channel == CHANNELS["online"] else None, population_ref, tuple(events), tuple(positions),
        _DAYS[int(steps[positions[0]]["ThoiDiemXuLy"][:8])][0], dates["NgayHenTra"], status, electronic,
    )  # fmt: skip


def history_of(source: RecordSource) -> History:
    """What a stored dossier holds, in the shape :func:`from_record` returns (to the second): the round trip's
    other side, and what an importer compares a record with."""
    dossier, codes = source.dossier, source.codes
    events = tuple(
        HistoryEvent(
            type=e.type,
            at=_second(e.at),
            actor=e.actor,
            agency=codes.get(e.agency_id),
            to_agency=codes.get(e.to_agency_id),
            reason=e.reason,
            result=e.result,
            new_due_at=_second(e.new_due_at),
        )
        for e in source.events
    )
    received = next((i for i, e in enumerate(source.events) if e.type == "received"), None)
    return History(
        version=VERSION,
        intake=Intake(
            code=dossier.code,
            procedure_code=source.procedure.code,
            agency_code=codes[dossier.receiving_agency_id],
            channel=dossier.channel,
            applicant=Applicant(
                dossier.applicant_name, dossier.applicant_id_number, dossier.applicant_phone, dossier.applicant_address
            ),
            components=tuple(
                {"seq": c.component_seq, "name": c.name, "form": c.form, "copies": c.copies,
                 **{flag: getattr(c, flag) for flag in COMPONENT_FLAGS if getattr(c, flag, None) is not None}}
                for c in source.components
            ),  # fmt: skip
            fees=tuple(
                {"name": f.name, "amount_vnd": f.amount_vnd, "payment_channel": f.payment_channel,
                 "paid_at": _second(f.paid_at)}
                for f in source.fees
            ),  # fmt: skip
            vneid_verified=getattr(dossier, "vneid_verified", None),
            population_ref=getattr(dossier, "population_ref", None),
        ),
        events=events,
        appointment_at=_second(_Clock(source).state_after(received + 1).original_due_at) if received is not None
        else None,
        status_code=int(dossier.status_code),
        electronic_result=getattr(dossier, "electronic_result", None),
    )


def _second(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.astimezone(LOCAL_TZ).replace(microsecond=0)


__all__ = [
    "VERSION",
    "ACTION_LABELS",
    "Applicant",
    "History",
    "HistoryEvent",
    "Intake",
    "RecordError",
    "RecordSource",
    "StepDates",
    "from_record",
    "history_of",
    "local_text",
    "process_step",
    "step_key",
    "to_record",
]
