"""The generator's ratings and complaints: dissatisfaction follows lateness, and every generated complaint is
what the register's derivation (complaints.clocks) makes of its events."""

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from complaints.clocks import Fact, derive
from complaints.models import Complaint, ComplaintEvent
from dossiers.models import Dossier, DossierRating
from seed.generator import feedback
from sla.core.calendar import WorkingCalendar
from tests.seed.test_generator import city  # noqa: F401  (fixture)

CALENDAR = WorkingCalendar(first_year=2025, last_year=2026)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minutes(*args) -> int:
    return int((datetime(*args, tzinfo=UTC) - EPOCH).total_seconds() // 60)


def test_dissatisfaction_follows_lateness_without_a_database():
    rng = np.random.Generator(np.random.PCG64(5))
    n = 40_000
    late = np.arange(n) % 2 == 0
    received = minutes(2025, 3, 3, 2) + rng.integers(0, 200 * 1440, n)
    dossiers = {
        "id": np.arange(1, n + 1),
        "status_code": np.full(n, 10),
        "outcome": ["late" if x else "on_time" for x in late],
        "finished_at": received + 10 * 1440,
        "received_at": received,
        "receiving_agency_id": np.full(n, 7),
        "procedure_id": np.full(n, 3),
    }
    ids = {"dossier_rating": 1, "complaint": 1, "complaint_event": 1}
    drawn = feedback.draw(dossiers, {7: CALENDAR}, rng, minutes(2026, 1, 1), ids)
    rated = drawn["dossier_rating"]
    assert 0.22 < len(rated["id"]) / n < 0.28
    unhappy = np.asarray(rated["rating"]) == "dissatisfied"
    rated_late = late[rated["dossier_id"] - 1]
    assert unhappy[rated_late].mean() > 5 * unhappy[~rated_late].mean()
    complaints = drawn["complaint"]
    about_late = late[complaints["dossier_id"] - 1]
    assert about_late.sum() > 5 * (~about_late).sum() > 0
    disliked = np.asarray([f == "disliked" for f in complaints["feedback"]])
    assert disliked[about_late].mean() > disliked[~about_late].mean()


def test_generated_complaints_are_their_events_replayed(city):  # noqa: F811
    engine, calendar_for, report = city
    with Session(engine) as session:
        complaints = session.execute(select(Complaint)).scalars().all()
        ratings = session.execute(select(DossierRating.dossier_id, Dossier.status_code).join(Dossier)).all()
        assert len(ratings) == report.ratings > 100 and {status for _, status in ratings} == {10}
        assert len(complaints) == report.complaints
        for complaint in complaints:
            events = session.execute(
                select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.seq)
            ).scalars()
            code = session.execute(select(Dossier.code).where(Dossier.id == complaint.dossier_id)).scalar_one()
            calendar = calendar_for(code.split("-")[0])
            derived = derive([Fact(e.type, e.at) for e in events], complaint.agency_id, calendar)
            for name in ("status", "answer_due_at", "refuse_due_at", "publish_due_at", "answered_at", "published_at",
                         "feedback", "next_due_at"):  # fmt: skip
                assert getattr(derived, name) == getattr(complaint, name), (complaint.id, name)
