"""History in (exchange/history.py): national records taken in as dossiers, their events replayed in bulk; every bad
record named by line and field; the record's own appointment and status kept beside ours."""

import copy
import io
import json
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import func, select

from dossiers import events as dossier_events
from dossiers import intake, reading
from dossiers.models import Dossier, DossierCodeCounter, DossierEvent, Stage
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from exchange.history import ImportRefused, findings, import_history
from exchange.import_models import ExchangeImport, ImportedDossier
from procedures.service import agency_tree, get_agency
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ

NOW = datetime(2025, 12, 20, 9, tzinfo=UTC)
RELIGION = "1.012644"  # 30 working days: Sở Dân tộc và Tôn giáo 21 → Văn phòng UBND 7 → Sở 2
RESIDENCE = "1.004222"  # permanent residence, 7 working days, commune level
DEPARTMENT, CITY_OFFICE, WARD = "000.00.03.H26", "000.00.01.H26", "000.01.01.H26"


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def step(at: str, unit: str, text: str, status: int, who: str = "officer") -> dict:
    return {"MaHoSo": "", "NguoiXuLy": who, "ThoiDiemXuLy": at, "PhongBanXuLy": unit, "NoiDungXuLy": text,
            "TrangThai": status}  # fmt: skip


def religion_record(code: str = "HCM-2025-000123") -> dict:
    """Written by hand: received at the department, handed to the city office, a supplement wait, an apology, handed
    back, resolved and returned (the process of 1.012644: 21 + 7 + 2 working days)."""
    return {
        "PhienBan": "motcua-dvcqg-1",
        "MaHoSo": code,
        "MaTTHC": RELIGION,
        "DonViXuLy": DEPARTMENT,
        "KenhThucHien": 1,
        "ChuHoSo": "Nguyễn Thị Lan",
        "SoGiayToChuHoSo": "001190054321",
        "SoDienThoai": "0912000111",
        "NgayNopHoSo": "20250602090000",
        "NgayTiepNhan": "20250602090000",
        "NgayHenTra": "20250714090000",
        "NgayKetThucXuLy": "20250710110000",
        "NgayTra": "20250711093000",
        "TrangThaiHoSo": 10,
        "DanhSachHoSoBoSung": [
            {"NgayBoSung": "20250623090000", "NgayTiepNhanBoSung": "20250626140000", "NoiDungBoSung": "Thiếu bản sao"}
        ],
        "DanhSachXinLoi": [{"NgayXinLoi": "20250701090000", "NgayHenTraMoi": "20250820170000", "LyDo": "Xác minh"}],
        "QuaTrinhXuLy": [
            step("20250602090000", DEPARTMENT, "Tiếp nhận hồ sơ", 2, "clerk"),
            step("20250620100000", DEPARTMENT, f"Chuyển xử lý đến {CITY_OFFICE}", 4),
            step("20250623090000", CITY_OFFICE, "Yêu cầu bổ sung hồ sơ: Thiếu bản sao", 5),
            step("20250626140000", CITY_OFFICE, "Tiếp nhận hồ sơ bổ sung", 4, "clerk"),
            step("20250701090000", CITY_OFFICE, "Xin lỗi và hẹn lại ngày trả kết quả: Xác minh", 4, "manager"),
            step("20250708150000", CITY_OFFICE, f"Chuyển xử lý đến {DEPARTMENT}", 4),
            step("20250710110000", DEPARTMENT, "Có kết quả giải quyết", 9),
            step("20250711093000", DEPARTMENT, "Trả kết quả", 10, "clerk"),
        ],
    }


def residence_record(code: str, received: str = "20250425090000", appointment: str | None = None) -> dict:
    """A commune dossier still being processed, written without steps (read from its dates)."""
    return {
        "MaHoSo": code,
        "MaTTHC": RESIDENCE,
        "DonViXuLy": WARD,
        "KenhThucHien": 1,
        "ChuHoSo": "Trần Văn Minh",
        "NgayTiepNhan": received,
        "NgayHenTra": appointment or "",
        "TrangThaiHoSo": 2,
    }


def lines(*records) -> io.BytesIO:
    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in records))


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


@pytest.fixture
def run(session, calendar_for):
    def run(stream, **options):
        return import_history(session, stream, file_name=options.pop("file_name", "history.jsonl"), actor="admin",
                              calendar_for=calendar_for, now=NOW, **options)  # fmt: skip

    return run


def count(session, table=Dossier) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


DERIVED = ("status_code", "status", "clock_start_at", "original_due_at", "rescheduled_due_at", "due_at", "finished_at",
           "outcome", "supplement_count", "paused_minutes", "clock_stopped_since", "resolution_working_minutes",
           "current_agency_id", "received_at", "submitted_at", "event_count", "channel", "procedure_id",
           "receiving_agency_id")  # fmt: skip
STAGE = ("seq", "agency_id", "name", "step_seq", "started_at", "allotment_minutes", "due_at", "ended_at", "outcome",
         "overrun_minutes", "excluded")  # fmt: skip


def the_same_through_the_desk(session, calendar_for, record: dict) -> Dossier:
    """The dossier the record describes, written event by event through intake and append_event (the one-dossier
    replay): what the bulk import must give."""
    steps = record["QuaTrinhXuLy"]
    data = DossierCreate(procedure_code=record["MaTTHC"], agency_code=record["DonViXuLy"], received_at=local(
        "2025-06-02T09:00"), applicant=ApplicantIn(name=record["ChuHoSo"]))  # fmt: skip
    code = intake.receive(session, data=data, actor="clerk", calendar_for=calendar_for, now=NOW,
                          rules=intake.HISTORY).dossier.code  # fmt: skip
    events = [
        {"type": "forwarded", "at": "2025-06-20T10:00:00", "to_agency": CITY_OFFICE},
        {"type": "supplement_requested", "at": "2025-06-23T09:00:00", "reason": "Thiếu bản sao"},
        {"type": "supplement_received", "at": "2025-06-26T14:00:00"},
        {"type": "apology_issued", "at": "2025-07-01T09:00:00", "reason": "Xác minh", "new_due_at": "2025-08-20T17:00"},
        {"type": "forwarded", "at": "2025-07-08T15:00:00", "to_agency": DEPARTMENT},
        {"type": "resolved", "at": "2025-07-10T11:00:00"},
        {"type": "result_returned", "at": "2025-07-11T09:30:00"},
    ]
    assert len(events) == len(steps) - 1
    for event in events:
        dossier_events.record(session, code=code, data=EventCreate(**event), actor="officer", calendar_for=calendar_for,
                             now=NOW, rules=intake.HISTORY)  # fmt: skip
    return reading.get_dossier(session, code)


def test_a_hand_written_record_with_a_hand_off_a_supplement_wait_and_an_apology_imports_as_the_desk_writes_it(
    session, calendar_for, run
):
    report = run(lines(religion_record()))
    assert (report.records, report.written, report.problems, report.findings) == (1, 1, [], 0)
    session.expire_all()
    imported = session.execute(
        select(Dossier).join(ImportedDossier, ImportedDossier.dossier_id == Dossier.id)
        .where(ImportedDossier.external_code == "HCM-2025-000123")
    ).scalar_one()  # fmt: skip
    # another system's code is kept as the external code; ours is the department's next of the day
    assert imported.code == f"{DEPARTMENT}-250602-0001"
    desk = the_same_through_the_desk(session, calendar_for, religion_record())
    assert desk.code == f"{DEPARTMENT}-250602-0002"  # the counters continue after the imported one
    for name in DERIVED:
        assert getattr(imported, name) == getattr(desk, name), name
    # what the clock says, written out: restarted at the complete dossier (30 days from 26/06 14:00), then the
    # apology's appointment; resolved on 10/07, early against the original due
    assert (imported.status_code, imported.outcome, imported.supplement_count) == (10, "early", 1)
    assert imported.original_due_at == local("2025-08-07T14:00")
    assert imported.rescheduled_due_at == local("2025-08-20T17:00")

    def stages(dossier):
        rows = session.execute(select(Stage).where(Stage.dossier_id == dossier.id).order_by(Stage.seq)).scalars()
        return [tuple(getattr(s, n) for n in STAGE) for s in rows]

    assert stages(imported) == stages(desk)
    agencies = {a.id: a.code for a in agency_tree(session).by_id.values()}
    assert [agencies[s[1]] for s in stages(imported)] == [DEPARTMENT, CITY_OFFICE, DEPARTMENT]
    events = session.execute(
        select(DossierEvent.type, DossierEvent.at, DossierEvent.actor, DossierEvent.reason)
        .where(DossierEvent.dossier_id == imported.id).order_by(DossierEvent.seq)
    ).all()  # fmt: skip
    assert [e.type for e in events] == ["received", "forwarded", "supplement_requested", "supplement_received",
                                        "apology_issued", "forwarded", "resolved", "result_returned"]  # fmt: skip
    assert events[2].reason == "Thiếu bản sao" and events[4].actor == "manager"
    kept = session.get(ImportedDossier, imported.id)
    assert (kept.their_status_code, kept.our_status_code, kept.finding) == (10, 10, False)
    assert kept.their_appointment_at == kept.our_appointment_at == local("2025-07-14T09:00")


def test_an_external_code_of_our_shape_stays_ours_and_the_days_counter_continues_after_it(session, calendar_for, run):
    record = religion_record(f"{DEPARTMENT}-250602-0041")
    run(lines(record))
    assert reading.get_dossier(session, f"{DEPARTMENT}-250602-0041")
    counter = session.get(DossierCodeCounter, (get_agency(session, DEPARTMENT).id, local("2025-06-02").date()))
    assert counter.last_seq == 41
    desk = the_same_through_the_desk(session, calendar_for, record)
    assert desk.code == f"{DEPARTMENT}-250602-0042"


def test_a_disagreeing_appointment_is_a_finding_with_the_make_up_saturday_that_explains_it(session, run):
    # received Fri 25/04/2025 09:00, 7 working days: Sat 26/04 is a make-up working day (and 30/04–02/05 are off),
    # so our due is Thu 08/05 09:00; a system that did not work that Saturday says Fri 09/05
    report = run(lines(residence_record("EXT-1", appointment="20250509090000"),
                       residence_record("EXT-2", appointment="20250508090000")))  # fmt: skip
    assert report.findings == 1
    [finding] = report.first_findings
    assert (finding["external_code"], finding["line"]) == ("EXT-1", 1)
    assert finding["our_appointment_at"] == local("2025-05-08T09:00")
    assert finding["their_appointment_at"] == local("2025-05-09T09:00")
    assert finding["working_days_apart"] == 1
    days = {day: (kind, reason) for day, kind, reason in finding["explaining_days"]}
    assert days["2025-04-26"][0] == "workday" and "làm bù" in days["2025-04-26"][1].lower()
    assert days["2025-04-30"][0] == days["2025-05-02"][0] == "off"
    listed, total = findings(session, report.import_id)
    assert total == 1 and listed[0]["code"] == finding["code"] and listed[0]["explaining_days"]


def test_one_bad_record_writes_nothing_and_every_bad_record_is_named_by_line_and_field(session, run):
    before = (count(session), count(session, DossierEvent), count(session, ImportedDossier))
    late = religion_record("B-1")
    late["QuaTrinhXuLy"][3]["ThoiDiemXuLy"] = "20250622090000"  # before the step before it
    unknown = religion_record("B-2")
    unknown["MaTTHC"] = "9.999999"
    elsewhere = religion_record("B-3")
    elsewhere["QuaTrinhXuLy"][1]["NoiDungXuLy"] = "Chuyển xử lý đến 000.99.99.H99"
    impossible = religion_record("B-4")
    impossible["QuaTrinhXuLy"].insert(1, step("20250603090000", DEPARTMENT, "Trả kết quả", 10))
    stream = io.BytesIO(lines(religion_record("G-1"), late, unknown, elsewhere, impossible, residence_record("G-2"))
                        .getvalue() + b"{not json\n")  # fmt: skip
    with pytest.raises(ImportRefused) as refused:
        run(stream)
    session.rollback()
    named = {(p["line"], p["field"]) for p in refused.value.errors}
    assert {(2, "QuaTrinhXuLy[3].ThoiDiemXuLy"), (3, "MaTTHC"), (4, "QuaTrinhXuLy[1].NoiDungXuLy"),
            (5, "QuaTrinhXuLy[1]"), (7, "record")} <= named  # fmt: skip
    assert {line for line, _ in named} == {2, 3, 4, 5, 7}
    assert "nothing was imported" in refused.value.detail and "5 of 7 records are bad" in refused.value.detail
    assert (count(session), count(session, DossierEvent), count(session, ImportedDossier)) == before


def test_skip_bad_writes_the_good_records_and_the_bad_ones_to_the_rejects_file(session, run):
    bad = residence_record("S-2")
    bad["DonViXuLy"] = "000.99.99.H99"
    rejects = io.BytesIO()
    report = run(lines(residence_record("S-1"), bad, residence_record("S-3"), residence_record("S-1")),
                 skip_bad=True, rejects=rejects)  # fmt: skip
    assert (report.records, report.written, report.rejected) == (4, 2, 2)
    rejected = [json.loads(line) for line in rejects.getvalue().splitlines()]
    assert [r["line"] for r in rejected] == [2, 4]
    assert rejected[0]["problems"][0]["field"] == "DonViXuLy" and rejected[0]["record"]["MaHoSo"] == "S-2"
    assert "twice in the file (first on line 1)" in rejected[1]["problems"][0]["message"]
    codes = set(session.execute(select(ImportedDossier.external_code)).scalars())
    assert {"S-1", "S-3"} <= codes and "S-2" not in codes
    again = run(lines(residence_record("S-3")), skip_bad=True, rejects=io.BytesIO())
    assert again.written == 0 and "already imported" in again.problems[0].message


def test_csv_and_xlsx_carry_the_same_columns_lists_as_json(session, run, tmp_path):
    import csv

    from openpyxl import Workbook

    record = religion_record("C-1")
    names = list(record)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(names)
    writer.writerow([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in record.values()])
    report = run(io.BytesIO(text.getvalue().encode()), file_name="history.csv")
    assert report.written == 1
    book = Workbook()
    sheet = book.active
    sheet.append(names)
    other = {**record, "MaHoSo": "X-1", "QuaTrinhXuLy": copy.deepcopy(record["QuaTrinhXuLy"])}
    sheet.append([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in other.values()])
    broken = {**other, "MaHoSo": "X-2", "QuaTrinhXuLy": "[not json"}
    sheet.append([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in broken.values()])
    path = tmp_path / "history.xlsx"
    book.save(path)
    report = run(path.open("rb"), file_name="history.xlsx", skip_bad=True, rejects=io.BytesIO())
    assert report.written == 1 and [(p.line, p.field) for p in report.problems] == [(3, "QuaTrinhXuLy")]


def test_each_problem_carries_its_id_and_params_for_the_pages(session, run):
    unknown = residence_record("ID-1")
    unknown["MaTTHC"] = "9.999999"
    twice = residence_record("ID-2")
    stream = io.BytesIO(lines(unknown, twice, twice).getvalue() + b"[1]\n")
    report = run(stream, skip_bad=True, rejects=io.BytesIO())
    said = {(p.line, p.field): (p.message_id, p.params) for p in report.problems}
    assert said[(1, "MaTTHC")] == ("unknown_procedure", {"code": "9.999999"})
    assert said[(3, "MaHoSo")] == ("given_twice", {"code": "ID-2", "line": 2})
    assert said[(4, "record")] == ("not_object", {"got": "list"})
    kept = session.get(ExchangeImport, report.import_id)
    assert [(p["line"], p["message_id"]) for p in kept.problems] == [(1, "unknown_procedure"), (4, "not_object"),
                                                                      (3, "given_twice")]  # fmt: skip


def test_reader_processes_make_the_same_dossiers_as_the_importer_alone(session, run):
    """A large file on PostgreSQL is read by reader processes while the importer writes (`readers`): the same
    dossiers, problems, findings and rejects as when the importer reads it itself."""
    if session.connection().dialect.name != "postgresql":
        pytest.skip("reader processes read JSON lines for PostgreSQL")

    def records(prefix: str) -> io.BytesIO:
        late = residence_record(f"{prefix}-3", appointment="20250509090000")  # a finding
        bad = residence_record(f"{prefix}-4")
        bad["MaTTHC"] = "9.999999"
        twice = residence_record(f"{prefix}-2")  # in a later block: refused by the writer, its line read again
        return lines(religion_record(f"{prefix}-1"), residence_record(f"{prefix}-2"), late, bad,
                     residence_record(f"{prefix}-5", received="20250602090000"), twice)  # fmt: skip

    def imported(prefix: str, readers: int):
        rejects = io.BytesIO()
        report = run(records(prefix), readers=readers, chunk_size=2, skip_bad=True, rejects=rejects)
        rows = session.execute(
            select(ImportedDossier.external_code, *(getattr(Dossier, c) for c in DERIVED), ImportedDossier.finding,
                   ImportedDossier.our_appointment_at)
            .join(Dossier, Dossier.id == ImportedDossier.dossier_id)
            .where(ImportedDossier.import_id == report.import_id).order_by(ImportedDossier.line)
        ).all()  # fmt: skip
        said = sorted((p.line, p.field, p.message_id) for p in report.problems)
        rejected = [(r["line"], r["record"]["MaHoSo"][1:]) for r in map(json.loads, rejects.getvalue().splitlines())]
        return (report.written, report.findings, said, rejected), [(row[0][1:], *row[1:]) for row in rows]

    alone, here = imported("A", 0)
    readers, there = imported("B", 2)
    # the repeated code is in a later block than the first: imported already when the writer meets it
    assert alone == readers == (4, 1, [(4, "MaTTHC", "unknown_procedure"), (6, "MaHoSo", "already_imported")],
                                [(4, "-4"), (6, "-2")])  # fmt: skip
    assert here == there and len(here) == 4
