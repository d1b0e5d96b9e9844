"""The national record (exchange/record.py): a dossier out to the record and the record back to its intake and
events, field by field, with every bad field named."""

import copy
from datetime import UTC, datetime

import pytest

from dossiers import events as dossier_events
from dossiers import intake, reading
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate, ReceivedComponent
from exchange.record import (
    VERSION,
    History,
    HistoryEvent,
    RecordError,
    from_record,
    history_of,
    plain_of,
    read_plain,
    to_record,
)
from exchange.service import record_source
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ

NOW = datetime(2025, 12, 20, 9, tzinfo=UTC)
RELIGION = "1.012644"  # 30 working days: Sở Dân tộc và Tôn giáo 21 → Văn phòng UBND 7 → Sở 2
RESIDENCE = "1.004222"  # permanent residence, 7 working days, commune level, two components
DEPARTMENT, CITY_OFFICE, WARD = "000.00.03.H26", "000.00.01.H26", "000.01.01.H26"
APPLICANT = ApplicantIn(name="Trần Văn Minh", phone="0912345678", id_number="001190012345", address="12 Hàng Bài")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


@pytest.fixture
def make(session, calendar_for):
    """make(procedure, agency, first event time, [events...], **intake fields) → the stored dossier's code."""

    def make(procedure: str, agency: str, at: str, events=(), **fields) -> str:
        data = DossierCreate(procedure_code=procedure, agency_code=agency, received_at=at, applicant=APPLICANT,
                             **fields)  # fmt: skip
        code = intake.receive(
            session, data=data, actor="clerk", calendar_for=calendar_for, now=NOW, rules=intake.HISTORY
        ).dossier.code
        for actor, event in events:
            dossier_events.record(
                session, code=code, data=EventCreate(**event), actor=actor, calendar_for=calendar_for, now=NOW,
                rules=intake.HISTORY,
            )  # fmt: skip
        session.flush()  # the last event's facts (electronic_result, index_flags) wait for the flush
        return code

    return make


@pytest.fixture
def source_of(session, calendar_for):
    def source_of(code: str):
        session.expire_all()
        return record_source(session, reading.get_dossier(session, code), calendar_for=calendar_for)

    return source_of


def assert_round_trip(source) -> tuple[dict, History]:
    """to_record then from_record gives back what the database holds: the intake and every event."""
    record = to_record(source)
    back = from_record(record)
    stored = history_of(source)
    assert back.intake == stored.intake
    assert back.events == stored.events
    assert back.appointment_at == stored.appointment_at
    assert back.status_code == stored.status_code == source.dossier.status_code
    assert len(back.steps) == len(record["QuaTrinhXuLy"])
    assert back.ignored_steps == ()
    return record, back


HAND_OFFS = [
    ("officer", {"type": "forwarded", "at": "2025-06-20T10:00:00", "to_agency": CITY_OFFICE}),
    ("officer", {"type": "supplement_requested", "at": "2025-06-23T09:00:00", "reason": "Thiếu bản sao quyết định"}),
    ("clerk", {"type": "supplement_received", "at": "2025-06-26T14:00:00"}),
    ("officer", {"type": "paused", "at": "2025-06-27T08:30:00", "reason": "Chờ nộp lệ phí"}),
    ("officer", {"type": "resumed", "at": "2025-06-30T10:15:00"}),
    ("manager", {"type": "apology_issued", "at": "2025-07-01T09:00:00", "reason": "Cần xác minh thêm",
                 "new_due_at": "2025-08-20T17:00:00"}),
    ("officer", {"type": "forwarded", "at": "2025-07-08T15:00:00", "to_agency": DEPARTMENT}),
    ("officer", {"type": "resolved", "at": "2025-07-10T11:00:00", "result": "Quyết định số 12/QĐ-SDTTG"}),
    ("clerk", {"type": "result_returned", "at": "2025-07-11T09:30:00"}),
]  # fmt: skip


def test_a_dossier_with_hand_offs_a_supplement_a_pause_and_an_apology_round_trips(make, source_of):
    code = make(RELIGION, DEPARTMENT, "2025-06-02T09:00:00", HAND_OFFS)
    source = source_of(code)
    record, back = assert_round_trip(source)

    assert record["PhienBan"] == VERSION
    assert (record["MaHoSo"], record["MaTTHC"], record["DonViXuLy"]) == (code, RELIGION, DEPARTMENT)
    assert record["MaLinhVuc"] == "tin_nguong_ton_giao" and record["TenLinhVuc"] == "Tín ngưỡng, tôn giáo"
    assert (record["KenhThucHien"], record["HinhThuc"], record["LoaiDoiTuong"]) == (1, 0, 1)
    assert record["ChuHoSo"] == "Trần Văn Minh" and record["SoGiayToChuHoSo"] == "001190012345"
    assert record["DinhDanhCHS"] == [{"LoaiDinhDanh": 1, "SoDinhDanh": "001190012345"}]
    assert record["NgayNopHoSo"] == record["NgayTiepNhan"] == "20250602090000"
    # the appointment told at receipt: 30 working days from Mon 02/06/2025 09:00
    assert record["NgayHenTra"] == "20250714090000"
    assert (record["NgayKetThucXuLy"], record["NgayTra"], record["NgayTuChoi"]) == (
        "20250710110000", "20250711093000", "",
    )  # fmt: skip
    assert record["TrangThaiHoSo"] == 10
    assert record["DanhSachLePhi"] == []  # fees of a dossier are not modelled (docs/exchange.md)
    # the supplement: the due before the request, and after the complete dossier (restart: 30 days again)
    [supplement] = record["DanhSachHoSoBoSung"]
    assert supplement == {
        "HoSoBoSungId": f"{code}-BS1",
        "NguoiYeuCauBoSung": "officer",
        "NoiDungBoSung": "Thiếu bản sao quyết định",
        "NgayBoSung": "20250623090000",
        "NgayTiepNhanBoSung": "20250626140000",
        "TrangThaiBoSung": 1,
        "NgayHenTraTruoc": "20250714090000",
        "NgayHenTraMoi": "20250807140000",
    }
    [apology] = record["DanhSachXinLoi"]
    assert apology["NgayHenTraMoi"] == "20250820170000" and apology["DonViXinLoi"] == CITY_OFFICE
    assert apology["NgayHenTraTruoc"] == "20250808154500"  # the restarted due, moved by the obligation's pause
    assert record["DanhSachGiayToKetQua"][0]["TenGiayTo"] == "Quyết định số 12/QĐ-SDTTG"

    steps = record["QuaTrinhXuLy"]
    assert [s["TrangThai"] for s in steps] == [2, 4, 5, 4, 6, 4, 4, 4, 9, 10]  # never 9 for a supplement wait
    assert [s["PhongBanXuLy"] for s in steps] == [DEPARTMENT] * 2 + [CITY_OFFICE] * 6 + [DEPARTMENT] * 2
    assert steps[1]["NoiDungXuLy"] == f"Chuyển xử lý đến {CITY_OFFICE}"
    assert steps[2]["NoiDungXuLy"] == "Yêu cầu bổ sung hồ sơ: Thiếu bản sao quyết định"
    # the department's first step: received 02/06, its own 21 working days; forwarded on 20/06
    assert (steps[0]["NgayBatDau"], steps[0]["NgayKetThucTheoQuyDinh"]) == ("20250602090000", "20250701090000")
    assert (steps[1]["NgayBatDau"], steps[1]["ThoiDiemXuLy"]) == ("20250602090000", "20250620100000")
    # the city office's step (7 days from 20/06, moved by the supplement wait and the pause) holds steps 2–7
    assert {s["NgayBatDau"] for s in steps[2:8]} == {"20250620100000"}
    assert steps[6]["NgayKetThucTheoQuyDinh"] == steps[2]["NgayKetThucTheoQuyDinh"] != ""
    assert back.events[7] == HistoryEvent("forwarded", local("2025-07-08T15:00"), "officer", CITY_OFFICE, DEPARTMENT)
    assert back.events[6].new_due_at == local("2025-08-20T17:00")


def test_an_online_dossier_waiting_for_a_supplement_keeps_status_5_and_its_components(make, source_of):
    components = [ReceivedComponent(seq=1, copies=2), ReceivedComponent(seq=2, form="certified_copy")]
    code = make(
        RESIDENCE,
        WARD,
        "2025-06-02T20:15:00",
        [
            ("clerk", {"type": "received", "at": "2025-06-03T08:10:00"}),
            ("clerk", {"type": "supplement_requested", "at": "2025-06-04T10:00:00", "reason": "Thiếu tờ khai CT01"}),
        ],
        status="submitted",
        channel="online",
        components=components,
    )
    record, back = assert_round_trip(source_of(code))
    assert record["TrangThaiHoSo"] == 5 and record["NgayKetThucXuLy"] == ""
    assert [s["TrangThai"] for s in record["QuaTrinhXuLy"]] == [1, 2, 5]
    assert (record["NgayNopHoSo"], record["NgayTiepNhan"]) == ("20250602201500", "20250603081000")
    assert record["KenhThucHien"] == 2
    assert record["DanhSachHoSoBoSung"][0]["TrangThaiBoSung"] == 0
    assert record["DanhSachHoSoBoSung"][0]["NgayHenTraMoi"] == ""
    assert [(d["MaThanhPhanHoSo"], d["HinhThucNop"], d["SoBan"]) for d in record["TaiLieuNop"]] == [
        ("1", "original", 2), ("2", "certified_copy", 1),
    ]  # fmt: skip
    assert back.intake_data()["status"] == "submitted" and back.intake_data()["channel"] == "online"
    assert [e.type for e in back.events] == ["submitted", "received", "supplement_requested"]
    # what from_record gives is what intake takes
    DossierCreate(**back.intake_data())


@pytest.mark.parametrize(
    "fields, events, status",
    [
        ({"status": "refused", "reason": "Không thuộc thẩm quyền"}, [], 3),
        ({}, [("clerk", {"type": "withdrawn", "at": "2025-06-03T10:00:00", "reason": "Công dân xin rút"})], 7),
        ({}, [("clerk", {"type": "supplement_requested", "at": "2025-06-03T10:00:00", "reason": "Thiếu giấy tờ"}),
              ("clerk", {"type": "abandoned", "at": "2025-06-30T10:00:00"})], 8),
        ({}, [("clerk", {"type": "paused", "at": "2025-06-03T10:00:00", "reason": "Chờ nghĩa vụ tài chính"}),
              ("clerk", {"type": "stopped", "at": "2025-06-05T10:00:00", "reason": "Không nộp"})], 8),
    ],
)  # fmt: skip
def test_refused_withdrawn_abandoned_and_stopped_dossiers_round_trip(make, source_of, fields, events, status):
    code = make(RESIDENCE, WARD, "2025-06-02T09:00:00", events, **fields)
    record, back = assert_round_trip(source_of(code))
    assert record["TrangThaiHoSo"] == status
    assert record["NgayKetThucXuLy"] == ""  # only a resolution fills it
    if status == 3:
        assert (record["NgayTiepNhan"], record["NgayTuChoi"], record["NgayHenTra"]) == ("", "20250602090000", "")
        assert back.intake_data()["reason"] == "Không thuộc thẩm quyền"


def test_what_the_record_says_is_what_the_database_holds_field_by_field(make, source_of):
    """The round trip compares with the database's own rows, not only with itself."""
    code = make(RELIGION, DEPARTMENT, "2025-06-02T09:00:00", HAND_OFFS)
    back = from_record(to_record(source_of(code)))
    assert back.intake.code == code and back.intake.applicant.address == "12 Hàng Bài"
    assert [(e.type, e.at, e.actor) for e in back.events] == [("received", local("2025-06-02T09:00"), "clerk")] + [
        (event["type"], local(event["at"]), actor) for actor, event in HAND_OFFS
    ]
    assert back.events[8].result == "Quyết định số 12/QĐ-SDTTG"
    assert back.events[4].reason == "Chờ nộp lệ phí"


# --- bad records ---------------------------------------------------------------------------------


@pytest.fixture
def good(make, source_of):
    return to_record(source_of(make(RELIGION, DEPARTMENT, "2025-06-02T09:00:00", HAND_OFFS)))


def problems(record) -> dict[str, str]:
    with pytest.raises(RecordError) as caught:
        from_record(record)
    return dict(caught.value.problems)


def test_bad_dates_and_codes_are_named_by_their_field(good):
    bad = copy.deepcopy(good)
    bad["NgayHenTra"] = "2025-07-14"
    bad["KenhThucHien"] = 7
    bad["TrangThaiHoSo"] = "chín"
    bad["QuaTrinhXuLy"][3]["ThoiDiemXuLy"] = "20250231090000"
    bad["DanhSachHoSoBoSung"][0]["NgayBoSung"] = ""
    found = problems(bad)
    assert set(found) == {"NgayHenTra", "KenhThucHien", "TrangThaiHoSo", "DanhSachHoSoBoSung[0].NgayBoSung"}
    assert "yyyyMMddHHmmss" in found["NgayHenTra"]
    assert "1, 2, 3" in found["KenhThucHien"]
    del bad["NgayHenTra"], bad["KenhThucHien"], bad["TrangThaiHoSo"], bad["DanhSachHoSoBoSung"]
    bad["KenhThucHien"], bad["TrangThaiHoSo"] = 1, 10
    found = problems(bad)
    assert "not a real date" in found["QuaTrinhXuLy[3].ThoiDiemXuLy"]


def test_impossible_sequences_are_named_by_their_step(good):
    resolved_first = copy.deepcopy(good)
    resolved_first["QuaTrinhXuLy"].insert(1, {**resolved_first["QuaTrinhXuLy"][-1], "ThoiDiemXuLy": "20250602100000",
                                              "NoiDungXuLy": "Trả kết quả"})  # fmt: skip
    found = problems(resolved_first)
    assert "impossible sequence" in found["QuaTrinhXuLy[1]"] and "result_returned" in found["QuaTrinhXuLy[1]"]

    out_of_order = copy.deepcopy(good)
    out_of_order["QuaTrinhXuLy"][2]["ThoiDiemXuLy"] = "20250601090000"
    assert "before the step before it" in problems(out_of_order)["QuaTrinhXuLy[2].ThoiDiemXuLy"]

    flattered = copy.deepcopy(good)  # the known fault: a supplement wait sent as 9
    flattered["QuaTrinhXuLy"][2]["TrangThai"] = 9
    assert "supplement_requested leads to (5)" in problems(flattered)["QuaTrinhXuLy[2].TrangThai"]

    wrong_status = copy.deepcopy(good)
    wrong_status["TrangThaiHoSo"] = 9
    assert "(10)" in problems(wrong_status)["TrangThaiHoSo"]

    disagreeing = copy.deepcopy(good)
    disagreeing["NgayTiepNhan"] = "20250602100000"
    disagreeing["DanhSachHoSoBoSung"][0]["NgayBoSung"] = "20250624090000"
    found = problems(disagreeing)
    assert set(found) == {"NgayTiepNhan", "DanhSachHoSoBoSung[0].NgayBoSung"}

    no_apology_date = copy.deepcopy(good)
    no_apology_date["DanhSachXinLoi"] = []
    assert "DanhSachXinLoi" in problems(no_apology_date)["QuaTrinhXuLy[6].NoiDungXuLy"]

    missing = copy.deepcopy(good)
    del missing["MaTTHC"], missing["DonViXuLy"]
    assert set(problems(missing)) == {"MaTTHC", "DonViXuLy"}
    with pytest.raises(RecordError, match="PhienBan"):
        from_record({**good, "PhienBan": "motcua-dvcqg-0"})


def test_a_record_without_steps_is_read_from_its_dates_and_lists(good):
    bare = {k: v for k, v in good.items() if k != "QuaTrinhXuLy"}
    history = from_record(bare)
    assert [e.type for e in history.events] == [
        "received", "supplement_requested", "supplement_received", "apology_issued", "resolved", "result_returned",
    ]  # fmt: skip
    assert history.events[3].new_due_at == local("2025-08-20T17:00")
    assert history.events[4].result == "Quyết định số 12/QĐ-SDTTG"
    assert problems({**bare, "TrangThaiHoSo": 6})["QuaTrinhXuLy"].startswith("missing")
    assert "NgayKetThucXuLy" in problems({**bare, "NgayKetThucXuLy": ""})


def test_another_systems_steps_are_read_by_the_status_they_lead_to(good):
    foreign = copy.deepcopy(good)
    notes = ["Tiếp nhận", "Phân công thụ lý", "Chuyển Văn phòng", "Đề nghị bổ sung", "Đã bổ sung", "Chờ thuế",
             "Đã nộp thuế", "Xin lỗi", "Chuyển lại Sở", "Ký duyệt", "Đã trả"]  # fmt: skip
    steps = foreign["QuaTrinhXuLy"]
    # a progress note at the department that changes nothing, between receipt and the hand-off
    steps.insert(1, {**steps[0], "ThoiDiemXuLy": "20250603090000", "TrangThai": 4, "NoiDungXuLy": ""})
    for step, note in zip(steps, notes, strict=True):
        step["NoiDungXuLy"] = note
    del foreign["DanhSachXinLoi"]  # another system's apology is not read from its steps
    steps.pop(7)
    history = from_record(foreign)
    assert history.ignored_steps == (1,)
    assert [(e.type, e.to_agency) for e in history.events] == [
        ("received", None), ("forwarded", CITY_OFFICE), ("supplement_requested", None),
        ("supplement_received", None), ("paused", None), ("resumed", None), ("forwarded", DEPARTMENT),
        ("resolved", None), ("result_returned", None),
    ]  # fmt: skip


def test_a_record_is_plain_json():
    with pytest.raises(RecordError, match="expected a JSON object"):
        from_record(["not", "a", "record"])


# --- the Decision 766 facts ----------------------------------------------------------------------


def test_fee_lines_component_flags_vneid_population_and_electronic_result_round_trip(make, source_of):
    components = [ReceivedComponent(seq=1, digitised=True, from_citizen_store=False),
                  ReceivedComponent(seq=2, reused=True, from_national_db=True)]  # fmt: skip
    fees = [{"name": "Lệ phí", "amount_vnd": 20000, "payment_channel": "gateway", "paid_at": "2025-06-02T20:10:00"},
            {"name": "Phí thẩm định", "amount_vnd": 0}]  # fmt: skip
    events = [("clerk", {"type": "received", "at": "2025-06-03T08:10:00"}),
              ("clerk", {"type": "resolved", "at": "2025-06-05T10:00:00", "electronic_result": True})]  # fmt: skip
    code = make(RESIDENCE, WARD, "2025-06-02T20:15:00", events, status="submitted", channel="online",
                components=components, fees=fees, vneid_verified=False, population_ref="DC-0011")  # fmt: skip
    record, back = assert_round_trip(source_of(code))
    assert back.intake.fees == ({"name": "Lệ phí", "amount_vnd": 20000, "payment_channel": "gateway",
                                 "paid_at": local("2025-06-02T20:10")},
                                {"name": "Phí thẩm định", "amount_vnd": 0, "payment_channel": None,
                                 "paid_at": None})  # fmt: skip
    assert back.intake.components[0] == {"seq": 1, "name": back.intake.components[0]["name"], "form": "original",
                                         "copies": 1, "digitised": True, "from_citizen_store": False}  # fmt: skip
    assert (back.intake.vneid_verified, back.intake.population_ref, back.electronic_result) == (False, "DC-0011", True)
    assert record["DuocThanhToanTrucTuyen"] == 2 and record["TaiKhoanDuocXacThucVoiVNeID"] == 0
    assert record["DaGhiNhan"] == ["TaiKhoanDuocXacThucVoiVNeID", "KetQuaDienTu"] and record["KetQuaDienTu"] == 1
    assert record["TaiLieuNop"][1]["DaGhiNhan"] == ["DuocTaiSuDung", "DuocLayTuKhoDMQG"]
    # what from_record gives is what intake takes
    DossierCreate(**back.intake_data())


def test_another_systems_flags_are_read_as_given_and_a_link_without_a_reference_keeps_the_databases_code(good):
    foreign = copy.deepcopy(good)
    foreign["KenhThucHien"] = 2
    foreign.pop("DaGhiNhan")
    foreign.pop("KetQuaDienTu")
    foreign["TaiKhoanDuocXacThucVoiVNeID"] = 0  # without motcua's DaGhiNhan, a 0 is a "no"
    foreign["DSKetNoiCSDL"] = [{"MaCSDL": "CSDLDD"}, {"MaCSDL": "CSDLQGDC"}]
    foreign["TaiLieuNop"] = [{"MaThanhPhanHoSo": "1", "DuocSoHoa": 1, "DuocTaiSuDung": 0}]
    history = from_record(foreign)
    assert (history.intake.vneid_verified, history.intake.population_ref, history.electronic_result) == (
        False, "CSDLQGDC", None,
    )  # fmt: skip
    assert history.intake.components == ({"seq": 1, "digitised": True, "reused": False},)
    counter = {**foreign, "KenhThucHien": 1, "TaiKhoanDuocXacThucVoiVNeID": 1}
    assert from_record(counter).intake.vneid_verified is None  # VNeID is recorded for online dossiers only


def test_bad_facts_are_named_by_their_field(good):
    bad = copy.deepcopy(good)
    bad["DanhSachLePhi"] = [
        {"TenPhiLePhi": "Lệ phí", "Gia": -5, "HinhThucThu": 7},
        {"TenPhiLePhi": "Phí", "Gia": 1000, "HinhThucThu": 1},
        {"TenPhiLePhi": "", "Gia": 1000, "HinhThucThu": 0, "NgayThanhToan": "20250602090000"},
    ]
    bad["DaGhiNhan"] = ["VNeID"]
    bad["DSKetNoiCSDL"] = [{"MaCSDL": "CSDLQGDC", "MaThamChieu": "số định danh"}]
    bad["TaiLieuNop"] = [{"MaThanhPhanHoSo": "1", "DuocSoHoa": 2}]
    found = problems(bad)
    assert set(found) == {
        "DanhSachLePhi[0].Gia", "DanhSachLePhi[0].HinhThucThu", "DanhSachLePhi[1].NgayThanhToan",
        "DanhSachLePhi[2].TenPhiLePhi", "DanhSachLePhi[2].HinhThucThu", "DaGhiNhan", "DSKetNoiCSDL[0].MaThamChieu",
        "TaiLieuNop[0].DuocSoHoa",
    }  # fmt: skip
    assert "NgayThanhToan" in found["DanhSachLePhi[1].NgayThanhToan"]
    unresolved = copy.deepcopy(good)
    unresolved["KetQuaDienTu"], unresolved["DaGhiNhan"] = 1, ["KetQuaDienTu"]
    steps = unresolved["QuaTrinhXuLy"] = unresolved["QuaTrinhXuLy"][:2]
    unresolved.update(TrangThaiHoSo=steps[-1]["TrangThai"], NgayKetThucXuLy="", NgayTra="", DanhSachHoSoBoSung=[],
                      DanhSachXinLoi=[], DanhSachGiayToKetQua=[])  # fmt: skip
    assert set(problems(unresolved)) == {"KetQuaDienTu"}


def test_every_problem_has_its_id_and_params():
    with pytest.raises(RecordError) as caught:
        from_record({"MaHoSo": "X", "NgayTiepNhan": "20251332000000"})
    details = {name: (message_id, params) for name, message_id, params in caught.value.details}
    assert details["NgayTiepNhan"] == ("date_unreal", {"value": "20251332000000"})
    assert details["MaTTHC"] == ("missing", {})
    said = dict(caught.value.problems)["NgayTiepNhan"]
    assert said == "'20251332000000' is not a real date and time (yyyyMMddHHmmss)"


ODD_VALUES = [None, "", "   ", 0, -1, True, 3.5, [], {}, "x" * 2100, " 20250602090000 ", "２０２５０６０２０９００００",
              "20250602090000\n", 20250602090000, "2025060209000", "abcdefghijklmn"]  # fmt: skip


@pytest.mark.parametrize("key", ["ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy", "TrangThai", "NgayBatDau",
                                 "NgayKetThucTheoQuyDinh", "NguoiXuLy"])  # fmt: skip
def test_an_odd_value_in_a_step_is_read_as_given_or_named_never_misread(good, key):
    """A step's fields are read by a fast path for well-formed values and by the reader for anything else: every odd
    value is either taken as the reader takes it or named by its field (never an error of another kind)."""
    for value in ODD_VALUES:
        record = copy.deepcopy(good)
        record["QuaTrinhXuLy"][3][key] = value
        try:
            history = from_record(record)
        except RecordError as exc:
            assert any(name.startswith("QuaTrinhXuLy") or name in ("TrangThaiHoSo", "NgayTiepNhan", "DanhSachXinLoi",
                       "DanhSachHoSoBoSung") or name.startswith("Danh") for name, _ in exc.problems), (key, value)
            continue
        step = history.events[3] if len(history.events) > 3 else None
        if key == "NguoiXuLy" and step is not None:
            expected = value.strip() if isinstance(value, str) else (str(value) if isinstance(value, int | float)
                                                                      and not isinstance(value, bool) else None)
            assert step.actor == (expected or None), value
        if key in ("NgayBatDau", "NgayKetThucTheoQuyDinh") and value not in (None, ""):
            assert isinstance(value, str | int) and str(value).strip().isdigit(), value  # only a real date passes


# --- the bulk twin: read_plain -------------------------------------------------------------------


def twin_agrees(record: dict) -> str:
    """read_plain gives what from_record gives (as plain values), or leaves the record to it: 'read', 'left' or
    'refused' (from_record names why); never a different reading, never a record from_record refuses."""
    plain = read_plain(copy.deepcopy(record))
    try:
        slow = plain_of(from_record(copy.deepcopy(record)))
    except RecordError:
        assert plain is None, record
        return "refused"
    if plain is None:
        return "left"
    assert plain == slow, (plain, slow)
    return "read"


def test_read_plain_reads_every_exported_record_as_from_record_does(make, source_of):
    made = [make(RELIGION, DEPARTMENT, "2025-06-02T09:00:00", HAND_OFFS)]
    made.append(make(RESIDENCE, WARD, "2025-06-02T20:15:00", [
        ("clerk", {"type": "received", "at": "2025-06-03T08:10:00"}),
        ("clerk", {"type": "resolved", "at": "2025-06-05T10:00:00", "electronic_result": True})],
        status="submitted", channel="online", vneid_verified=True, population_ref="DC-0011",
        components=[ReceivedComponent(seq=1, digitised=True), ReceivedComponent(seq=2, copies=2)],
        fees=[{"name": "Lệ phí", "amount_vnd": 20000, "payment_channel": "dvcqg", "paid_at": "2025-06-02T20:10:00"}]))
    made.append(make(RESIDENCE, WARD, "2025-06-02T09:00:00", [], status="refused", reason="Không thuộc thẩm quyền"))
    made.append(make(RESIDENCE, WARD, "2025-06-02T09:00:00", [
        ("clerk", {"type": "supplement_requested", "at": "2025-06-03T10:00:00", "reason": "Thiếu giấy tờ"}),
        ("clerk", {"type": "abandoned", "at": "2025-06-30T10:00:00"})]))  # fmt: skip
    for code in made:
        assert twin_agrees(to_record(source_of(code))) == "read", code


@pytest.mark.parametrize("step_key", ["ThoiDiemXuLy", "PhongBanXuLy", "NoiDungXuLy", "TrangThai", "NgayBatDau",
                                      "NgayKetThucTheoQuyDinh", "NguoiXuLy"])  # fmt: skip
def test_read_plain_never_reads_an_odd_step_otherwise_than_from_record(good, step_key):
    for n in (0, 3, 8):
        for value in ODD_VALUES:
            record = copy.deepcopy(good)
            record["QuaTrinhXuLy"][n][step_key] = value
            twin_agrees(record)


RECORD_KEYS = ["MaHoSo", "PhienBan", "MaTTHC", "DonViXuLy", "KenhThucHien", "TrangThaiHoSo", "ChuHoSo",
               "SoGiayToChuHoSo", "DinhDanhCHS", "SoDienThoai", "DiaChiChuHoSo", "NgayNopHoSo", "NgayTiepNhan",
               "NgayHenTra", "NgayKetThucXuLy", "NgayTra", "NgayTuChoi", "TaiLieuNop", "DanhSachLePhi",
               "DanhSachHoSoBoSung", "DanhSachXinLoi", "DanhSachGiayToKetQua", "DaGhiNhan", "KetQuaDienTu",
               "TaiKhoanDuocXacThucVoiVNeID", "DSKetNoiCSDL", "QuaTrinhXuLy"]  # fmt: skip


@pytest.mark.parametrize("key", RECORD_KEYS)
def test_read_plain_never_reads_an_odd_field_otherwise_than_from_record(good, key):
    for value in [*ODD_VALUES, "motcua-dvcqg-1", 1, 2, 10, ["x"], [{}], [{"MaCSDL": "CSDLQGDC"}]]:
        record = copy.deepcopy(good)
        record[key] = value
        twin_agrees(record)
    record = copy.deepcopy(good)
    del record[key]
    twin_agrees(record)


def test_read_plain_agrees_on_reordered_and_foreign_steps(good):
    """Steps out of order, a dropped step, another system's wording: the twin reads as from_record or leaves it."""
    outcomes = set()
    for n in range(len(good["QuaTrinhXuLy"])):
        dropped = copy.deepcopy(good)
        dropped["QuaTrinhXuLy"].pop(n)
        outcomes.add(twin_agrees(dropped))
        foreign = copy.deepcopy(good)
        foreign["QuaTrinhXuLy"][n]["NoiDungXuLy"] = "Chuyển bước"
        outcomes.add(twin_agrees(foreign))
        for m in range(len(good["QuaTrinhXuLy"])):
            swapped = copy.deepcopy(good)
            steps = swapped["QuaTrinhXuLy"]
            steps[n], steps[m] = steps[m], steps[n]
            outcomes.add(twin_agrees(swapped))
    assert "read" in outcomes and "refused" in outcomes
