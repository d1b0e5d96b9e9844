"""Rule options the main walk-through leaves aside: a warning by working hours before the due, an escalation to
another role, and staff told in their own unit's working time when the unit keeps its own calendar."""

from tests.notify.test_rules import WARD, run, told  # noqa: F401  (the `run` fixture)


def test_a_warning_by_working_hours_before_the_due_comes_first_when_it_is_earlier(
    client, session, receive, run  # noqa: F811
):
    rule = client.put(
        "/api/v1/notify/rules", json={"agency_code": WARD, "warn_share": 0.9, "warn_working_hours_before": 20}
    )
    assert rule.status_code == 200, rule.text
    receive(received_at="2025-04-21T09:00")  # due Tue 29/04 09:00 (Sat 26/04 a make-up working day)
    # 10 % of 56 working hours (5 h 36) is later than 20 working hours before the due: Tue 08–09 (1 h), Mon 28/04
    # (8 h), Sat 26/04 (8 h), and the last 3 h of Fri 25/04: 14:00
    assert run("2025-04-25T13:59").fired == {}
    assert run("2025-04-25T14:00").fired == {"dossier_warning": 1}
    assert told(session, "dossier_warning") == [
        ("dossier_warning", None, "manager", "25/04 14:00"),
        ("dossier_warning", None, "clerk", "25/04 14:00"),
    ]


def test_an_escalation_level_may_name_another_role_of_the_unit(client, session, receive, run):  # noqa: F811
    ladder = [{"after_working_days": 1, "every_working_days": 5, "to": "unit", "role": "clerk"}]
    assert client.put("/api/v1/notify/rules", json={"escalation": ladder}).status_code == 200
    receive(received_at="2025-04-21T09:00")  # due Tue 29/04 09:00; a working day late: Mon 05/05 09:00
    assert run("2025-05-05T08:59").fired.get("escalation") is None
    assert run("2025-05-05T09:00").fired == {"escalation": 1}
    assert told(session, "escalation") == [("escalation", 1, "clerk", "05/05 09:00")]


def test_staff_are_told_in_their_own_units_working_time(client, session, receive, run):  # noqa: F811
    # the ward works no make-up Saturday on 26/04 (its own calendar): a warning found on Friday night reaches its
    # staff on Monday morning, not on the national make-up Saturday
    response = client.post(
        "/api/v1/calendar/overrides",
        json={"date": "2025-04-26", "kind": "off", "reason": "Phường nghỉ bù riêng", "agency_code": WARD},
    )
    assert response.status_code == 201, response.text
    dossier = receive(received_at="2025-04-18T09:00")
    # 7 working days without Sat 26/04: Tue 29/04 09:00; 14 working hours before it: Fri 25/04 11:00
    assert dossier["due_at"] == "2025-04-29T09:00:00+07:00"
    assert run("2025-04-25T23:00").fired == {"dossier_warning": 1, "apology_owed": 1}  # the apology: from 14:00
    assert {row[3] for row in told(session)} == {"28/04 08:00"}
