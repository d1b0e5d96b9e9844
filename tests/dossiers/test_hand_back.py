"""The hand-back to the desk (docs/hand-back.md): after the processing agency resolves a forwarded dossier, the
result travels back to the receiving desk (result_sent_to_desk, its own stage, the desk holds it) and is
returned there; who may record it, what is refused (403, 409, 422), and the reports that do not move."""

from datetime import date

import pytest

from sla import reports
from tests.dossiers.conftest import API, DEPARTMENT, WARD

OTHER_WARD = "000.01.02.H26"


@pytest.fixture
def resolved_away(receive, event):
    """A residence dossier received at the ward, forwarded to the department and resolved there, late."""

    def make() -> str:
        code = receive()["code"]  # due 11/06 09:00
        event(code, "forwarded", at="2025-06-03T09:00", to_agency=DEPARTMENT)
        resolved = event(code, "resolved", at="2025-06-12T10:00", result="Đã đăng ký thường trú")
        assert (resolved["outcome"], resolved["current_agency_code"]) == ("late", DEPARTMENT)
        assert resolved["allowed_events"] == ["result_sent_to_desk"]
        return code

    return make


def test_the_result_travels_back_to_the_desk_and_is_returned_there(resolved_away, event):
    code = resolved_away()
    sent = event(code, "result_sent_to_desk", at="2025-06-12T15:00", reason="Gửi kèm bản chính")
    assert (sent["status_code"], sent["current_agency_code"]) == (9, WARD)
    assert sent["allowed_events"] == ["result_returned"]
    assert sent["finished_at"] == "2025-06-12T10:00:00+07:00" and sent["outcome"] == "late"
    back = sent["stages"][-1]
    assert (back["seq"], back["agency_code"], back["name"], back["step_seq"]) == (3, WARD, "hand-back", None)
    assert (back["due_at"], back["allotment_minutes"], back["ended_at"], back["outcome"]) == (None, None, None, None)
    hand_back = sent["timeline"][-1]
    assert (hand_back["type"], hand_back["agency_code"]) == ("result_sent_to_desk", DEPARTMENT)
    assert (hand_back["from_agency_code"], hand_back["to_agency_code"]) == (DEPARTMENT, WARD)
    assert sent["late_stages"] == [2]  # the department's step, as before the hand-back

    returned = event(code, "result_returned", at="2025-06-15T09:00")
    assert (returned["status_code"], returned["current_agency_code"], returned["allowed_events"]) == (10, WARD, [])
    assert returned["stages"][-1]["ended_at"] == "2025-06-15T09:00:00+07:00"
    assert returned["stages"][-1]["outcome"] is None
    assert returned["timeline"][-1]["agency_code"] == WARD  # returned by the desk
    assert returned["finished_at"] == sent["finished_at"] and returned["outcome"] == "late"


def test_the_hand_back_may_name_its_agencies_but_only_the_right_ones(resolved_away, event):
    code = resolved_away()
    wrong_desk = event(code, "result_sent_to_desk", expect=422, to_agency=OTHER_WARD)
    assert "goes back to the desk that received the dossier (000.01.01.H26)" in wrong_desk["detail"]
    wrong_sender = event(code, "result_sent_to_desk", expect=422, from_agency=WARD)
    assert "sent back by the agency holding it (000.00.03.H26), not 000.01.01.H26" in wrong_sender["detail"]
    named = event(code, "result_sent_to_desk", to_agency=WARD, from_agency=DEPARTMENT)
    assert named["current_agency_code"] == WARD
    wrong_field = event(code, "result_returned", expect=422, to_agency=WARD)
    assert "to_agency is only for forwarded and result_sent_to_desk events" in wrong_field["detail"]


def test_what_the_state_machine_refuses(receive, resolved_away, event):
    code = resolved_away()
    early = event(code, "result_returned", expect=409)
    assert early["error"] == "invalid_transition"
    assert "goes back to the receiving desk first (result_sent_to_desk)" in early["detail"]
    assert early["detail"].endswith("allowed events: result_sent_to_desk")
    event(code, "result_sent_to_desk", at="2025-06-12T15:00")
    twice = event(code, "result_sent_to_desk", expect=409)
    assert "already at the receiving desk" in twice["detail"]

    at_desk = receive()["code"]  # never forwarded: resolved at the desk, returned directly
    event(at_desk, "resolved", at="2025-06-05T10:00")
    assert "already at the receiving desk" in event(at_desk, "result_sent_to_desk", expect=409)["detail"]
    assert event(at_desk, "result_returned", at="2025-06-05T15:00")["status_code"] == 10

    open_ = receive()["code"]
    event(open_, "forwarded", at="2025-06-03T09:00", to_agency=DEPARTMENT)
    not_yet = event(open_, "result_sent_to_desk", expect=409)
    assert "'result_sent_to_desk' is not allowed for status 4 (processing)" in not_yet["detail"]


def test_nothing_is_written_by_a_refused_hand_back(client, resolved_away, event):
    code = resolved_away()
    before = client.get(f"{API}/{code}").json()
    event(code, "result_sent_to_desk", expect=422, to_agency=OTHER_WARD)
    event(code, "result_returned", expect=409)
    after = client.get(f"{API}/{code}").json()
    assert after["timeline"] == before["timeline"] and after["stages"] == before["stages"]
    assert after["current_agency_code"] == DEPARTMENT


def test_who_may_record_the_hand_back_and_the_return(client_as, resolved_away, event):
    code = resolved_away()
    body = {"type": "result_sent_to_desk"}
    clerk = client_as("clerk").post(f"{API}/{code}/events", json=body)  # the ward's desk waits; it does not send
    assert clerk.status_code == 403
    assert "sent back to the desk by the agency holding the resolved dossier (000.00.03.H26)" in clerk.json()["detail"]
    manager = client_as("manager").post(f"{API}/{code}/events", json=body)  # the ward's manager: not the holder
    assert manager.status_code == 403
    officer = client_as("officer").post(f"{API}/{code}/events", json=body)  # the department holds it
    assert officer.status_code == 201, officer.text
    assert officer.json()["current_agency_code"] == WARD
    # now the desk holds the result: the department no longer acts, the ward's desk returns it
    late_return = client_as("officer").post(f"{API}/{code}/events", json={"type": "result_returned"})
    assert late_return.status_code == 403
    returned = client_as("clerk").post(f"{API}/{code}/events", json={"type": "result_returned"})
    assert returned.status_code == 201 and returned.json()["status_code"] == 10


def test_a_manager_over_the_holding_agency_may_send_it_back(client_as, resolved_away):
    code = resolved_away()
    sent = client_as("city-manager").post(f"{API}/{code}/events", json={"type": "result_sent_to_desk"})
    assert sent.status_code == 201 and sent.json()["current_agency_code"] == WARD


def _reports(session) -> tuple[list, list, list]:
    period = reports.Period(date(2025, 6, 1), date(2025, 6, 30))
    by_agency = reports.period_report(session, period=period, group_by="agency").to_dict("records")
    by_procedure = reports.period_report(session, period=period, group_by="procedure").to_dict("records")
    stages = reports.stage_report(session, period=period).to_dict("records")
    return by_agency, by_procedure, stages


def test_the_reports_attribution_is_the_same_with_and_without_the_hand_back(session, resolved_away, receive, event):
    late_away = resolved_away()
    on_time_away = receive()["code"]
    event(on_time_away, "forwarded", at="2025-06-03T09:00", to_agency=DEPARTMENT)
    event(on_time_away, "resolved", at="2025-06-06T09:00")
    before = _reports(session)
    stages = {row["agency_code"]: row for row in before[2] if row["group"] != "total"}
    assert stages[DEPARTMENT]["steps_late"] == 1 and stages[DEPARTMENT]["dossiers_made_late"] == 1
    for code in (late_away, on_time_away):
        event(code, "result_sent_to_desk", at="2025-06-16T09:00")
    assert _reports(session) == before  # sent back: nothing counted moves
    for code in (late_away, on_time_away):
        event(code, "result_returned", at="2025-06-17T09:00")
    assert _reports(session) == before  # returned at the desk: nor now


def test_a_rebuild_keeps_the_hand_back_stage_and_an_older_return_away(client, session, resolved_away, event):
    """`motcua dossiers rebuild --refreeze` (the batch replay) gives the hand-back stage back as it was written; a
    log from before the rule (returned at the processing agency, no hand-back) is history and replays as it was."""
    from dossiers import rebuild
    from dossiers.models import Dossier, DossierEvent, Stage
    from sla.calendars import CalendarStore
    from sla.core.calendar import DEFAULT_WORKING_HOURS

    sent = resolved_away()
    event(sent, "result_sent_to_desk", at="2025-06-12T15:00")
    older = resolved_away()
    dossier = session.query(Dossier).filter_by(code=older).one()
    last = session.query(DossierEvent).filter_by(dossier_id=dossier.id).order_by(DossierEvent.seq.desc()).first()
    session.add(DossierEvent(dossier_id=dossier.id, seq=last.seq + 1, type="result_returned", at=last.at,
                             recorded_at=last.at, actor="import", agency_id=dossier.current_agency_id))  # fmt: skip
    session.flush()

    def stages(code):
        row = session.query(Dossier).filter_by(code=code).one()
        found = session.query(Stage).filter_by(dossier_id=row.id).order_by(Stage.seq).all()
        columns = ("seq", "agency_id", "name", "step_seq", "started_at", "due_at", "ended_at", "outcome")
        return row.status_code, row.current_agency_id, [tuple(getattr(s, c) for c in columns) for s in found]

    before = stages(sent)
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    report = rebuild.rebuild(session, calendar_for=lambda code: store.get(session, code), refreeze=True)
    assert report.failed == {}
    session.expire_all()
    assert stages(sent) == before and before[2][-1][2:4] == ("hand-back", None)
    status, holder, older_stages = stages(older)
    assert status == 10 and holder == dossier.current_agency_id and len(older_stages) == 2
