"""Warning, apology, escalation and supplement-reminder rules, evaluated over the stored dues (#17 rules)."""

from datetime import datetime

import pytest
from sqlalchemy import select

from notify.models import StaffNotification
from notify.outbox import Links
from notify.quiet import Calendars
from notify.rules import evaluate
from sla.core.calendar import LOCAL_TZ
from tests.notify.conftest import CONSENT, outbox_of

WARD = "000.01.01.H26"
DEPARTMENT = "000.00.03.H26"
RELIGION = "1.012644"  # 30 working days: the department 21 → the city office 7 → the department 2
LINKS = Links("https://motcua.example")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture
def run(app, session):
    def run(at: str):
        return evaluate(session, calendars=Calendars(session, app.state.calendars), now=local(at), links=LINKS)

    return run


def told(session, kind: str | None = None) -> list[tuple]:
    """(kind, level, username, visible_at local text) of the notifications written, in order."""
    from notify.staff import USERS

    session.expire_all()
    query = (
        select(StaffNotification.kind, StaffNotification.level, USERS.c.username, StaffNotification.visible_at)
        .join(USERS, USERS.c.id == StaffNotification.user_id)
        .order_by(StaffNotification.id)
    )
    if kind:
        query = query.where(StaffNotification.kind == kind)
    rows = session.execute(query)
    return [(k, level, user, at.astimezone(LOCAL_TZ).strftime("%d/%m %H:%M")) for k, level, user, at in rows]


def test_a_warning_at_75_percent_of_a_stage_fires_at_its_working_instant_on_a_make_up_saturday(
    client_as, session, receive, run
):
    # the religion procedure's first step: 21 working days at the department, from Thu 03/04/2025 14:00
    # (07/04 is the Hùng Kings' day, Sat 26/04 a make-up working day); 75 % of it used = 5.25 working days left
    dossier = receive(procedure_code=RELIGION, agency_code=DEPARTMENT, received_at="2025-04-03T14:00")
    stage = dossier["stages"][0]
    assert (stage["agency_code"], stage["allotment_minutes"]) == (DEPARTMENT, 21 * 480)
    assert run("2025-04-26T10:59").notifications == 0
    report = run("2025-04-26T11:00")
    assert report.fired == {"stage_warning": 1}
    assert sorted(told(session)) == [
        ("stage_warning", None, "department-clerk", "26/04 11:00"),
        ("stage_warning", None, "officer", "26/04 11:00"),
    ]
    assert run("2025-04-26T11:05").notifications == 0  # told once
    inbox = client_as("officer").get("/api/v1/notifications").json()
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert item["kind"] == "stage_warning" and item["dossier_code"] == dossier["code"]
    assert item["dossier_url"] == f"/desk/dossiers/{dossier['code']}"
    assert item["visible_at"] == "2025-04-26T11:00:00+07:00"


def test_a_dossier_without_steps_is_warned_at_75_percent_of_its_own_time(session, receive, run):
    # Mon 21/04/2025 09:00 + 7 working days: Sat 26/04 is a make-up working day → due Tue 29/04 09:00
    dossier = receive(received_at="2025-04-21T09:00")
    assert dossier["due_at"] == "2025-04-29T09:00:00+07:00"
    # 75 % used = 14 working hours left: Tue 08–09, Mon 08–17 (8 h), and Sat 26/04 11:00–17:00 (5 h)
    assert run("2025-04-26T10:59").notifications == 0
    assert run("2025-04-26T11:00").fired == {"dossier_warning": 1}
    assert told(session) == [
        ("dossier_warning", None, "manager", "26/04 11:00"),
        ("dossier_warning", None, "clerk", "26/04 11:00"),
    ]


def test_no_warning_while_the_clock_stands_still(session, receive, event, run):
    code = receive(received_at="2025-04-21T09:00")["code"]
    event(code, "supplement_requested", at="2025-04-24T10:00", reason="Bản sao giấy khai sinh")
    for at in ("2025-04-26T11:00", "2025-04-29T09:00", "2025-05-12T09:00"):
        run(at)
    assert told(session) == []  # neither warning, apology reminder nor escalation during the wait
    resumed = event(code, "supplement_received", at="2025-05-12T09:00")
    # the full time counts again (restart): due 7 working days later; 75 % of it is the new warning instant
    assert resumed["due_at"] == "2025-05-21T09:00:00+07:00"
    # 14 working hours before Wed 21/05 09:00: Mon 19/05 11:00
    assert run("2025-05-19T10:59").fired == {}
    assert run("2025-05-19T11:00").fired == {"dossier_warning": 1}


def test_an_escalation_repeats_at_its_interval_and_climbs(session, receive, event, run):
    code = receive(received_at="2025-04-21T09:00")["code"]  # due Tue 29/04 09:00
    run("2025-04-29T09:00")
    assert told(session, "escalation") == []  # due, not yet overdue
    # overdue by 1 working day (30/04–02/05 are holidays): Mon 05/05 09:00, to the ward's managers
    assert run("2025-05-05T08:59").fired.get("escalation") is None
    assert run("2025-05-05T09:00").fired == {"escalation": 1}
    assert run("2025-05-05T16:00").notifications == 0
    run("2025-05-06T09:00")  # a day later: told again (the interval: 1 working day)
    run("2025-05-07T09:00")  # overdue 3 working days: the centre (the top of the tree's managers)
    run("2025-05-08T09:00")  # level 2 repeats every 2 working days: not yet
    run("2025-05-09T09:00")
    assert told(session, "escalation") == [
        ("escalation", 1, "manager", "05/05 09:00"),
        ("escalation", 1, "manager", "06/05 09:00"),
        ("escalation", 2, "city-manager", "07/05 09:00"),
        ("escalation", 2, "city-manager", "09/05 09:00"),
    ]
    event(code, "resolved", at="2025-05-09T10:00")  # the dossier moves: no more
    assert run("2025-05-20T09:00").notifications == 0


def test_the_apology_reminder_comes_before_the_last_day_to_issue_it(session, receive, event, run):
    receive(received_at="2025-04-21T09:00")  # due Tue 29/04 09:00
    # owed at least one working day before the due (Mon 28/04 09:00); reminded 4 working hours before that
    assert "apology_owed" not in run("2025-04-26T13:59").fired
    assert run("2025-04-26T14:00").fired == {"apology_owed": 1}
    code = receive(received_at="2025-04-21T09:00")["code"]
    event(code, "apology_issued", at="2025-04-25T10:00", new_due_at="2025-05-09T17:00", reason="Cần xác minh")
    run("2025-04-26T15:00")
    assert len(told(session, "apology_owed")) == 2  # the first dossier's (manager, clerk), none for the second


def test_a_warning_at_night_reaches_staff_the_next_working_morning_and_citizens_at_7(session, receive, event, run):
    receive(received_at="2025-04-18T09:00")  # due Mon 28/04 09:00; its warning was due Fri 25/04 11:00
    run("2025-04-25T23:00")  # found only at 23:00: staff see it at the next working morning, a make-up Saturday
    assert {row[3] for row in told(session, "dossier_warning")} == {"26/04 08:00"}
    # a citizen's supplement reminder found at 23:00 goes at 07:00
    code = receive(received_at="2025-06-02T09:00", applicant=CONSENT)["code"]
    event(code, "supplement_requested", at="2025-06-02T10:00", reason="Bản sao sổ hộ khẩu")
    run("2025-06-16T23:00")  # 10 working days later
    reminder = [m for m in outbox_of(session, code) if m.kind == "supplement_reminder"]
    assert len(reminder) == 1
    assert reminder[0].next_attempt_at.astimezone(LOCAL_TZ) == local("2025-06-17T07:00")


def test_the_citizen_is_reminded_of_a_supplement_not_yet_brought(session, receive, event, run):
    code = receive(received_at="2025-06-02T09:00", applicant=CONSENT)["code"]
    event(code, "supplement_requested", at="2025-06-02T10:00", reason="Bản sao sổ hộ khẩu")
    silent = receive(received_at="2025-06-02T09:00")["code"]  # no consent
    event(silent, "supplement_requested", at="2025-06-02T10:00", reason="Bản sao sổ hộ khẩu")
    assert run("2025-06-16T09:59").citizen_messages == 0
    assert run("2025-06-16T10:00").citizen_messages == 1  # 10 of the 15 working days
    assert run("2025-06-17T10:00").citizen_messages == 0  # once
    [reminder] = [m for m in outbox_of(session, code) if m.kind == "supplement_reminder"]
    assert "Bản sao sổ hộ khẩu" in reminder.body and "23/06/2025 10:00" in reminder.body
    assert reminder.key == f"{code}:supplement_reminder:1:sms"
    assert [m for m in outbox_of(session, silent)] == []


def test_a_calendar_change_moves_a_pending_warning_with_the_due(client, session, receive, run, app):
    from dossiers.rebuild import rebuild

    code = receive(received_at="2025-04-21T09:00")["code"]  # due Tue 29/04 09:00, warning Sat 26/04 11:00
    # Thu 24/04/2025 declared a day off at the ward (a storm): the due moves to Mon 05/05 09:00 (30/04–02/05 are
    # holidays), and the warning with it, to 14 working hours before: Mon 28/04 11:00
    response = client.post(
        "/api/v1/calendar/overrides",
        json={"date": "2025-04-24", "kind": "off", "reason": "Bão", "agency_code": WARD},
    )
    assert response.status_code == 201, response.text
    rebuild(session, calendar_for=lambda agency: app.state.calendars.get(session, agency), agency=WARD)
    assert client.get(f"/api/v1/dossiers/{code}").json()["due_at"] == "2025-05-05T09:00:00+07:00"
    assert run("2025-04-26T11:00").fired == {}  # the old instant: nothing
    assert run("2025-04-28T10:59").fired == {}
    assert run("2025-04-28T11:00").fired == {"dossier_warning": 1}


def test_rules_inherit_down_the_tree_and_a_procedure_rule_wins(client, session, receive, run):
    city = client.put("/api/v1/notify/rules", json={"agency_code": "000.00.00.H26", "warn_share": 0.5})
    assert city.status_code == 200, city.text
    receive(received_at="2025-04-21T09:00")
    # half of 7 working days = 28 working hours: Mon 21/04 09:00 + 7 h + 8 h + 8 h + 5 h = Thu 24/04 14:00
    assert run("2025-04-24T13:59").fired == {}
    assert run("2025-04-24T14:00").fired == {"dossier_warning": 1}
    rule = client.put(
        "/api/v1/notify/rules",
        json={"agency_code": WARD, "procedure_code": "1.004222", "warn_share": 0.9, "warn_working_hours_before": 2},
    )
    assert rule.status_code == 200
    code = receive(received_at="2025-04-21T09:00")["code"]
    # 10 % of 56 h = 5 h 36 min left (more than 2 h): Tue 29/04 08–09 and Mon 28/04 from 11:24
    assert "dossier_warning" not in run("2025-04-28T11:23").fired  # (both owe their apology by now)
    assert run("2025-04-28T11:24").fired == {"dossier_warning": 1}
    listed = client.get("/api/v1/notify/rules").json()
    assert [(r["agency_code"], r["procedure_code"], r["warn_share"]) for r in listed] == [
        ("000.00.00.H26", None, 0.5),
        (WARD, "1.004222", 0.9),
    ]
    assert code


def test_bad_rules_are_refused(client):
    for body, words in (
        ({"warn_share": 1.5}, "less than 1"),
        (
            {
                "escalation": [
                    {"after_working_days": 3, "every_working_days": 1, "to": "unit"},
                    {"after_working_days": 1, "every_working_days": 1, "to": "centre"},
                ]
            },
            "climb",
        ),
        ({"agency_code": "nope", "warn_share": 0.5}, "nope"),
        ({"escalation": [{"after_working_days": 1, "every_working_days": 1, "to": "everyone"}]}, "to"),
    ):
        response = client.put("/api/v1/notify/rules", json=body)
        assert response.status_code in (404, 422), (body, response.text)
        assert words in response.text


def test_named_users_and_a_centre_agency_on_the_ladder(client, session, receive, run):
    ladder = [
        {"after_working_days": 1, "every_working_days": 5, "to": "unit"},
        {"after_working_days": 2, "every_working_days": 5, "to": "centre", "usernames": ["admin", "viewer"]},
    ]
    assert client.put("/api/v1/notify/rules", json={"escalation": ladder}).status_code == 200
    receive(received_at="2025-04-21T09:00")
    run("2025-05-06T09:00")
    assert told(session, "escalation") == [
        ("escalation", 2, "admin", "06/05 09:00"),
        ("escalation", 2, "viewer", "06/05 09:00"),
    ]
