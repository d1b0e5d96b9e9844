"""The complaint figures for 5.2, 5.3 and 5.4, counted by hand over January 2026 (a make-up Saturday on
10/01), and the complaints that cost points."""

from datetime import datetime

import pytest
from sqlalchemy import select

from complaints import figures, service
from complaints.schemas import ComplaintCreate, ComplaintEventCreate
from dossiers import ratings
from dossiers.models import Dossier
from procedures.service import get_agency
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ

WARD, OTHER_WARD, DEPARTMENT = "000.01.01.H26", "000.02.01.H26", "000.00.03.H26"
JANUARY = (datetime(2026, 1, 1, tzinfo=LOCAL_TZ), datetime(2026, 2, 1, tzinfo=LOCAL_TZ))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2015, last_year=2035, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


@pytest.fixture
def returned(receive, event, session):
    def returned() -> Dossier:
        code = receive()["code"]
        event(code, "resolved", at="2025-06-04T10:00", result="Đã đăng ký thường trú")
        event(code, "result_returned", at="2025-06-05T09:00")
        return session.execute(select(Dossier).where(Dossier.code == code)).scalar_one()

    return returned


@pytest.fixture
def complaint(session, calendar_for):
    def complaint(received_at, *events, agency=WARD, dossier_code=None):
        data = ComplaintCreate(
            agency_code=agency, channel="portal", category="other", content="Phản ánh", dossier_code=dossier_code
        )
        made = service.receive(session, data=data, actor="clerk", calendar_for=calendar_for, now=received_at)
        for type, at, *extra in events:
            fields = {"note": "Nội dung"} if type in ("answered", "refused", "supplement_requested") else {}
            if extra:
                fields["to_agency"] = extra[0]
            service.record(
                session, complaint_id=made.id, data=ComplaintEventCreate(type=type, **fields), actor="clerk",
                calendar_for=calendar_for, now=at,
            )  # fmt: skip
        return made

    return complaint


def test_hand_counted_complaint_figures(session, complaint, returned):
    # Received Thu 08/01/2026 10:00: refuse by Sat 10/01 (make-up), first supplement by Wed 14/01,
    # answer by Wed 28/01; publish within 2 working days of the answer.
    received = local(2026, 1, 8, 10)
    rated_dossier, disliked_only, liked_only = returned(), returned(), returned()
    a = complaint(received, ("answered", local(2026, 1, 20, 10)), ("published", local(2026, 1, 21, 9)),
                  ("liked", local(2026, 1, 23, 9)))  # fmt: skip  # every clock kept, liked
    b = complaint(received, ("answered", local(2026, 1, 29, 9)))  # answered late; publish due 02/02: not yet late
    c = complaint(received, ("supplement_requested", local(2026, 1, 15, 9)), ("answered", local(2026, 1, 20, 10)),
                  ("published", local(2026, 1, 22, 10)), ("disliked", local(2026, 1, 23, 9)),
                  dossier_code=rated_dossier.code)  # fmt: skip  # first supplement a day late; disliked
    d = complaint(received, ("refused", local(2026, 1, 12, 9)))  # refused after Saturday's due
    e = complaint(received, ("answered", local(2026, 1, 9, 9)), ("published", local(2026, 1, 9, 10)),
                  ("repeated", local(2026, 1, 15, 9)))  # fmt: skip  # on time, but complained again
    f = complaint(local(2026, 1, 20, 10))  # open, its answer due in February: within its clocks
    complaint(local(2025, 12, 29, 10))  # received before the period: not counted
    complaint(received, ("transferred", local(2026, 1, 8, 11), OTHER_WARD), ("answered", local(2026, 1, 16, 9)),
              ("published", local(2026, 1, 19, 9)))  # fmt: skip  # counts for the ward it went to
    complaint(local(2026, 1, 30, 10), ("answered", local(2026, 2, 2, 9)))  # answered after the period: open
    for dossier, level in ((rated_dossier, "dissatisfied"), (disliked_only, "dissatisfied"), (liked_only, "satisfied")):
        ratings.record_paper(session, dossier=dossier, data=ratings.RatingIn(rating=level), actor="clerk",
                             now=local(2026, 1, 15, 9))  # fmt: skip
    ward, other, department = (get_agency(session, code).id for code in (WARD, OTHER_WARD, DEPARTMENT))

    counted = figures.complaint_figures(session, [ward, other, department], *JANUARY, now=local(2026, 3, 1))

    assert counted[ward] == {
        "complaints": 7,  # a, b, c, d, e, f and the one answered in February
        "on_time": 4,  # a, e, f, the last (its answer due in February)
        "late": 3,  # b, c, d
        "late_refuse": 1, "late_supplement": 1, "late_answer": 1, "late_publish": 0,
        "refused": 1, "answered": 4, "published": 3, "open": 2,
        "liked": 1, "disliked": 1, "repeated": 1,
        "satisfactory": 3,  # a, f, the last: neither late, disliked nor repeated
        "dossiers_with_complaint": 1,  # c's dossier
        "dossiers_with_complaint_or_dislike": 2,  # c's dossier (also disliked, counted once) and another
    }  # fmt: skip
    # 5.2 = 6 × 4/7; 5.3 by the portal's rule = 6 × (7 − 1 disliked − 3 late − 1 repeated) / 7 = 6 × 2/7
    assert counted[other]["complaints"] == counted[other]["on_time"] == 1
    assert counted[department] == dict.fromkeys(figures.FIGURE_KEYS, 0)  # no complaint: full 5.2 and 5.3 points
    assert figures.add_up(counted, [ward, other])["complaints"] == 8

    costly = figures.costly_complaints(session, [ward], *JANUARY, now=local(2026, 3, 1))
    assert [(row["id"], row["reasons"]) for row in costly] == [
        (b.id, ["late_answer"]),
        (c.id, ["late_supplement", "disliked"]),
        (d.id, ["late_refuse"]),
        (e.id, ["repeated"]),
    ]
    assert a.id not in {row["id"] for row in costly} and f.id not in {row["id"] for row in costly}


def test_a_period_still_running_is_judged_now(session, complaint):
    open_one = complaint(local(2026, 1, 5, 10))  # answer due Fri 23/01
    ward = get_agency(session, WARD).id
    early = figures.complaint_figures(session, [ward], *JANUARY, now=local(2026, 1, 20, 9))[ward]
    assert (early["on_time"], early["late"]) == (1, 0)
    late = figures.complaint_figures(session, [ward], *JANUARY, now=local(2026, 1, 26, 9))[ward]
    assert (late["on_time"], late["late_answer"]) == (0, 1)
    assert open_one.next_due_at == local(2026, 1, 23, 10)
