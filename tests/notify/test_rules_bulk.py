"""A rules run writes its notifications and citizen reminders in bulk (`kernel.db.insert_columns`): the same rows
as the row-by-row writers it replaced, for the same city and instants.

The reference below is main's writing as it was before (commit d8865b5): a dict a notification sent as an
executemany INSERT, and a reminder a dossier through `outbox.enqueue` (its ORM row, its text worded, one INSERT).
Which reminders are due is not part of it: both call `rules.supplement_reminders_due`.
"""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from accounts.models import User
from api.db import make_engine, upgrade
from dossiers.models import Dossier, DossierEvent
from notify import outbox, rules
from notify.models import OutboxMessage, StaffNotification
from notify.outbox import Links
from notify.quiet import Calendars, next_working_instant
from notify.templates import save_text
from procedures.models import Agency, Procedure
from procedures.service import agency_tree
from seed.generator import generate
from seed.loader import load_catalogue
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS, LOCAL_TZ
from sla.core.lifecycle import Status
from tests.conftest import _postgres_database

LINKS = Links("https://motcua.example")
INSTANTS = ("2025-12-22T10:00", "2025-12-29T23:30", "2025-12-31T10:00")
"""Each run finds causes told before and new ones; the second, at night, holds what it writes (staff: until the
next working morning, citizens: until 07:00)."""


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request, tmp_path_factory):
    """A generated city of 5,000 dossiers in a database of its own, with staff at every agency and applicants
    who consented (every channel, some without an address) waiting for a supplement."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path_factory.mktemp('bulk') / 'city.db'}"])
    else:
        urls = _postgres_database()
    engine = make_engine(next(urls))
    upgrade(engine)
    store = CalendarStore(first_year=2025, last_year=2027, working_hours=DEFAULT_WORKING_HOURS)
    with Session(engine) as session:
        load_catalogue(session)
        session.commit()

    def calendar_for(code: str):
        with Session(engine) as session:
            return store.get(session, code)

    generate(engine, dossiers=5000, year=2025, seed=3, calendar_for=calendar_for, chunk_size=1000)
    with Session(engine) as session:
        for agency_id, code in session.execute(select(Agency.id, Agency.code).order_by(Agency.id)).all():
            for role in ("manager", "officer", "clerk"):
                session.add(User(username=f"{role}-{code}", password_hash="x", role=role, agency_id=agency_id))
        # returned dossiers become waiting for a supplement asked 8 to 20 working days before the instants
        running = session.execute(
            select(Dossier.id).where(Dossier.status_code == Status.RETURNED).order_by(Dossier.id).limit(60)
        ).scalars()
        for n, dossier_id in enumerate(running.all()):
            asked = local("2025-12-05T08:00") + timedelta(days=n % 12, minutes=37 * n)
            session.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id)
                .values(status_code=Status.WAITING_SUPPLEMENT, clock_stopped_since=asked, supplement_count=1 + n % 2)
            )
            # asked twice (the last request's reason is told), once, or without a request on record
            for seq in range(1000, 1000 + (2, 1, 0)[n % 3]):
                session.add(
                    DossierEvent(
                        dossier_id=dossier_id,
                        seq=seq,
                        type="supplement_requested",
                        at=asked,
                        actor="clerk",
                        reason=f"Giấy tờ {seq} của hồ sơ {n}",
                    )  # fmt: skip
                )
        waiting = session.execute(
            select(Dossier.id).where(Dossier.status_code == Status.WAITING_SUPPLEMENT).order_by(Dossier.id)
        ).scalars()
        for n, dossier_id in enumerate(waiting):
            channel = ("sms", "zalo", "email", None)[n % 4]
            session.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id)
                .values(
                    contact_consent=n % 7 != 3,
                    preferred_channel=channel,
                    applicant_phone=None if n % 9 == 4 else f"09{n:08d}",
                    applicant_email=None if n % 5 == 2 else f"citizen{n}@example.vn",
                )
            )
        session.commit()
    # every run on a connection opened after the generator's ANALYZE: SQLite plans the reads alike (a pooled
    # connection from before it reads the stages in another order)
    engine.dispose()
    yield engine, store
    engine.dispose()
    next(urls, None)  # drops the PostgreSQL database


def written(session: Session) -> tuple[list[tuple], list[tuple]]:
    """The notifications in the order written (without their ids) and the messages by key."""
    notifications = [
        tuple(row)
        for row in session.execute(
            select(*(c for c in StaffNotification.__table__.c if c.name != "id")).order_by(StaffNotification.id)
        )
    ]
    messages = [
        tuple(row)
        for row in session.execute(
            select(*(c for c in OutboxMessage.__table__.c if c.name != "id")).order_by(OutboxMessage.key)
        )
    ]
    return notifications, messages


def runs(engine, store, *, reference: bool, monkeypatch) -> tuple[list, tuple]:
    with monkeypatch.context() as patch:
        if reference:
            patch.setattr(rules, "_notify_staff", _notify_staff_before)
            patch.setattr(rules, "_remind_citizens", _remind_citizens_before)
        with Session(engine) as session:
            # an administrator's text for the email reminders
            save_text(session, kind="supplement_reminder", channel="email", subject="Nhắc {code}",
                      body="{agency}: {procedure}, {reason} trước {limit}. {lookup_url}", actor="admin")  # fmt: skip
            # warnings early: at 30 % of the time
            rules.save_rule(session, rules.RuleIn(warn_share=0.3), actor="admin")
            reports = []
            for at in INSTANTS:
                report = rules.evaluate(session, calendars=Calendars(session, store), now=local(at), links=LINKS)
                reports.append(report)
            rows = written(session)
            session.rollback()
    return reports, rows


def test_the_bulk_writers_write_what_the_row_by_row_ones_wrote(city, monkeypatch):
    engine, store = city
    before_reports, (before_notifications, before_messages) = runs(
        engine, store, reference=True, monkeypatch=monkeypatch
    )
    after_reports, (after_notifications, after_messages) = runs(engine, store, reference=False, monkeypatch=monkeypatch)
    # something of each kind was written, at each instant, and some causes were told before
    kinds = {row[3] for row in before_notifications}
    assert kinds == {"stage_warning", "dossier_warning", "apology_owed", "escalation"}
    assert all(report.notifications and report.citizen_messages for report in before_reports)
    second = before_reports[1]
    assert sum(count for kind, count in second.fired.items() if kind != "supplement_reminder") < second.due
    channels = {row[4] for row in before_messages}
    assert channels == {"sms", "zalo", "email"} and len(before_messages) >= 10
    assert any(row[9] and row[9].startswith("Nhắc ") for row in before_messages)  # the administrator's text
    # the same rows
    assert after_notifications == before_notifications
    assert after_messages == before_messages
    assert [vars(report) for report in after_reports] == [vars(report) for report in before_reports]


def test_a_repeated_run_writes_nothing_and_reads_what_was_told(city):
    engine, store = city
    with Session(engine) as session:
        first = rules.evaluate(session, calendars=Calendars(session, store), now=local(INSTANTS[2]), links=LINKS)
        again = rules.evaluate(session, calendars=Calendars(session, store), now=local(INSTANTS[2]), links=LINKS)
        assert first.notifications and first.citizen_messages
        assert (again.notifications, again.citizen_messages, again.fired) == (0, 0, {})
        assert again.due == first.due
        session.rollback()


# --- the reference: main's row-by-row writers (d8865b5), returning what evaluate now expects ---------------


def _notify_staff_before(session, fired, staff, calendars, now, dialect) -> pd.DataFrame:
    if not len(fired):
        return pd.DataFrame({"kind": [], "cause": []})
    fired = fired.assign(agency_id=fired["agency_id"].astype(np.int64))
    rows = fired.merge(rules._recipients(fired, staff), on=["target", "agency_id"])
    rows = rows.assign(key=rows["cause"] + ":u" + rows["user_id"].astype(str))
    told = set(session.execute(select(StaffNotification.key)).scalars())
    rows = rows[~rows["key"].isin(told)]
    if not len(rows):
        return pd.DataFrame({"kind": [], "cause": []})
    visible = {
        user: next_working_instant(calendars.of(staff.agency_of.get(user)), now) for user in rows["user_id"].unique()
    }
    due = pd.to_datetime(rows["due_min"].astype(np.int64), unit="m", utc=True)
    records = [
        {
            "key": key,
            "user_id": int(user),
            "dossier_id": int(dossier_id),
            "kind": kind,
            "level": None if pd.isna(level) else int(level),
            "agency_id": int(agency_id),
            "due_at": due_at.to_pydatetime(),
            "created_at": now,
            "visible_at": visible[user],
            "read_at": None,
        }
        for key, user, dossier_id, kind, level, agency_id, due_at in zip(
            rows["key"],
            rows["user_id"],
            rows["dossier_id"],
            rows["kind"],
            rows["level"],
            rows["agency_id"],
            due,
            strict=True,
        )  # fmt: skip
    ]
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(StaffNotification)
    insert = insert.on_conflict_do_nothing(index_elements=["key"])
    keys = session.connection().execute(insert.returning(StaffNotification.key), records).scalars().all()
    return rows[rows["key"].isin(keys)][["kind", "cause"]]


def _remind_citizens_before(session, book, calendars, now, now_m, dialect, links, hours) -> tuple[int, int]:
    waiting, due = rules.supplement_reminders_due(session, book, calendars, now_m, dialect)  # which: shared
    chosen = waiting[due]
    if not len(chosen):
        return 0, len(waiting)
    written = 0
    ids = [int(i) for i in chosen["dossier_id"]]
    requests = dict(
        session.execute(
            select(DossierEvent.dossier_id, DossierEvent.reason)
            .where(DossierEvent.dossier_id.in_(ids), DossierEvent.type == "supplement_requested")
            .order_by(DossierEvent.dossier_id, DossierEvent.seq)
        ).all()
    )
    tree = agency_tree(session)
    found = session.execute(
        select(Dossier, Procedure.name).join(Procedure, Procedure.id == Dossier.procedure_id).where(Dossier.id.in_(ids))
    ).all()
    for dossier, procedure_name in found:
        calendar = calendars.of(dossier.receiving_agency_id)
        agency = tree.by_id.get(dossier.receiving_agency_id)
        values = {
            "code": dossier.code,
            "procedure": procedure_name,
            "agency": agency.name if agency else "",
            "reason": requests.get(dossier.id) or "",
            "limit": outbox.local_text(outbox.supplement_limit(calendar, dossier.clock_stopped_since)),
            "lookup_url": links.lookup(dossier.code) if links else "",
            "rating_url": links.rating(dossier.code) if links else "",
        }
        message = outbox.enqueue(
            session,
            dossier=dossier,
            kind="supplement_reminder",
            cause=f"supplement_reminder:{dossier.supplement_count}",
            values=values,
            now=now,
            hours=hours,
        )
        written += message is not None
    return written, len(waiting)
