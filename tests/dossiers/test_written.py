"""A write answers from what it wrote: the same view a read of the stored dossier gives, and the
procedure rule it used is the version's current content even when the version was rewritten."""

from datetime import UTC, datetime

import pytest

from dossiers import derive, events, reading
from dossiers import intake as dossier_intake
from dossiers.schemas import ApplicantIn, DossierCreate, DossierRead, EventCreate
from procedures.schemas import ProcedureVersionCreate
from procedures.service import add_version
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.dossiers.conftest import CITY_OFFICE, DEPARTMENT, RELIGION, RESIDENCE, WARD

NOW = datetime(2025, 12, 20, 9, tzinfo=UTC)


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


def intake(session, calendar_for, procedure_code: str, agency_code: str, received_at: str) -> reading.Written:
    data = DossierCreate(
        procedure_code=procedure_code,
        agency_code=agency_code,
        received_at=received_at,
        applicant=ApplicantIn(name="Trần Văn Minh", phone="0912345678", id_number="001190012345"),
    )
    return dossier_intake.receive(
        session, data=data, actor="test", calendar_for=calendar_for, now=NOW, rules=dossier_intake.HISTORY
    )


def event(session, calendar_for, code: str, **fields) -> reading.Written:
    data = EventCreate(**fields)
    return events.record(
        session, code=code, data=data, actor="test", calendar_for=calendar_for, now=NOW, rules=dossier_intake.HISTORY
    )


def answers_as_stored(session, calendar_for, written: reading.Written) -> DossierRead:
    """The write's own answer, checked against a read of what it stored, field for field."""
    view = reading.view(written, now=NOW)
    stored = reading.get_dossier(session, written.dossier.code)
    assert view == reading.read(session, stored, calendar_for=calendar_for, now=NOW)
    assert written.handling_agency_ids == reading.handling_agency_ids(session, stored)
    return view


def test_every_write_answers_what_a_read_of_the_stored_dossier_shows(session, calendar_for):
    written = intake(session, calendar_for, RELIGION, DEPARTMENT, "2025-06-02T09:00")
    answers_as_stored(session, calendar_for, written)
    code = written.dossier.code
    for fields in (
        {"type": "forwarded", "at": "2025-06-20T10:00", "to_agency": CITY_OFFICE},
        {"type": "supplement_requested", "at": "2025-06-23T09:00", "reason": "Thiếu bản sao"},
        {"type": "supplement_received", "at": "2025-06-26T14:00"},
        {"type": "paused", "at": "2025-06-27T08:30"},
        {"type": "resumed", "at": "2025-06-30T10:15"},
        {"type": "resolved", "at": "2025-08-20T16:00", "result": "Đã giải quyết"},
    ):
        view = answers_as_stored(session, calendar_for, event(session, calendar_for, code, **fields))
    assert [s.agency_code for s in view.stages] == [DEPARTMENT, CITY_OFFICE]
    assert view.outcome == "late" and view.late_stages  # the graded, overrun path too


def test_a_refused_intake_writes_no_stage(session, calendar_for):
    data = DossierCreate(
        procedure_code=RESIDENCE,
        agency_code=WARD,
        received_at="2025-06-02T09:00",
        status="refused",
        reason="Không thuộc thẩm quyền",
        applicant=ApplicantIn(name="Lê Thị Hoa"),
    )
    written = dossier_intake.receive(
        session, data=data, actor="test", calendar_for=calendar_for, now=NOW, rules=dossier_intake.HISTORY
    )
    assert written.stages == []
    view = answers_as_stored(session, calendar_for, written)
    assert view.status == "refused" and view.outcome == "refused"


def test_a_version_rewritten_in_place_gives_its_new_rule_at_once(session, calendar_for):
    before = intake(session, calendar_for, RESIDENCE, WARD, "2025-06-02T09:00")
    assert before.dossier.due_at == datetime(2025, 6, 11, 2, tzinfo=UTC)  # 7 working days
    rewrite = ProcedureVersionCreate(
        name="Đăng ký thường trú",
        field_code="cu_tru",
        level="commune",
        processing_time={"amount": 3, "unit": "working_days"},
        effective_from=before.procedure.effective_from,  # the same version, rewritten (same id)
    )
    rewritten = add_version(session, RESIDENCE, rewrite)
    assert rewritten.id == before.procedure.id
    after = intake(session, calendar_for, RESIDENCE, WARD, "2025-06-02T09:00")
    assert after.dossier.due_at == datetime(2025, 6, 5, 2, tzinfo=UTC)  # 3 working days
    assert derive.rule_of(session, rewritten.id).amount == 3
