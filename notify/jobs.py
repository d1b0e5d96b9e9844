"""The notification jobs, each one at a time (a leader lock): evaluate the rules, dispatch the outbox, and the
daily digest email per user. The scheduler (api/scheduler.py) runs the first two every minute and the digest
once a day; `motcua notify evaluate|dispatch|digest` runs them by hand."""

from datetime import UTC, datetime, time

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dossiers.models import Dossier
from notify.dispatcher import DispatchPolicy, DispatchReport, dispatch
from notify.inbox import title
from notify.models import OutboxMessage, StaffNotification
from notify.outbox import Links
from notify.providers import Providers
from notify.quiet import CITIZEN_HOURS, Calendars, next_working_instant
from notify.rules import Evaluation, evaluate
from notify.staff import USERS
from notify.templates import text_for
from procedures.service import agency_tree
from sla.calendars import CalendarStore
from sla.core.calendar import LOCAL_TZ
from sla.jobs import LockBusy, leader_lock  # noqa: F401  (LockBusy: what callers catch)

DIGEST_MAX_ITEMS = 50


def run_evaluate(
    engine: Engine,
    *,
    store: CalendarStore,
    now: datetime | None = None,
    links: Links | None = None,
    citizen_hours: tuple[time, time] = CITIZEN_HOURS,
) -> Evaluation:
    with leader_lock(engine, "notify-evaluate") as acquired:
        if not acquired:
            raise LockBusy("another rule evaluation is running")
        with Session(engine, expire_on_commit=False) as session:
            report = evaluate(
                session,
                calendars=Calendars(session, store),
                now=now or datetime.now(UTC),
                links=links,
                citizen_hours=citizen_hours,
            )
            session.commit()
    return report


def run_dispatch(
    engine: Engine, *, providers: Providers, store: CalendarStore, policy: DispatchPolicy = DispatchPolicy()
) -> DispatchReport:
    with leader_lock(engine, "notify-dispatch") as acquired:
        if not acquired:
            raise LockBusy("another dispatcher is running")
        try:
            return dispatch(engine, providers=providers, store=store, policy=policy)
        finally:
            providers.close()


def digest(session: Session, *, store: CalendarStore, now: datetime, links: Links) -> int:
    """One email per user with an email address and unread notifications: how many, and one line each (with the
    dossier's page). Once per user and local day (the key); held to the user's working time like any staff
    message."""
    day = now.astimezone(LOCAL_TZ).date()
    unread = session.execute(
        select(StaffNotification.user_id, func.count())
        .where(StaffNotification.read_at.is_(None), StaffNotification.visible_at <= now)
        .group_by(StaffNotification.user_id)
    ).all()
    if not unread:
        return 0
    counts = dict(unread)
    users = session.execute(
        select(USERS.c.id, USERS.c.email, USERS.c.agency_id).where(
            USERS.c.id.in_(list(counts)), USERS.c.email.is_not(None), USERS.c.active.is_(True)
        )
    ).all()
    text = text_for(session, "digest", "email")
    calendars = Calendars(session, store)
    tree = agency_tree(session)
    insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(OutboxMessage)
    insert = insert.on_conflict_do_nothing(index_elements=["key"]).returning(OutboxMessage.id)
    written = 0
    for user_id, email, agency_id in users:
        rows = session.execute(
            select(StaffNotification, Dossier.code)
            .join(Dossier, Dossier.id == StaffNotification.dossier_id)
            .where(
                StaffNotification.user_id == user_id,
                StaffNotification.read_at.is_(None),
                StaffNotification.visible_at <= now,
            )
            .order_by(StaffNotification.visible_at.desc())
            .limit(DIGEST_MAX_ITEMS)
        ).all()
        lines = []
        for n, code in rows:
            agency = tree.by_id.get(n.agency_id)
            line = title(n.kind, n.level, code, agency.name if agency else "", n.due_at)
            lines.append(f"- {line}\n  {links.public_url.rstrip('/')}/desk/dossiers/{code}")
        subject, body = text.render({"count": str(counts[user_id]), "items": "\n".join(lines)})
        row = {
            "key": f"digest:{user_id}:{day.isoformat()}",
            "dossier_id": None,
            "cause": f"digest:{day.isoformat()}",
            "kind": "digest",
            "channel": "email",
            "audience": "staff",
            "user_id": user_id,
            "agency_id": agency_id,
            "address": email,
            "subject": subject,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": next_working_instant(calendars.of(agency_id), now),
            "created_at": now,
            "sent_at": None,
        }
        written += session.connection().execute(insert, row).first() is not None
    return written


def run_digest(engine: Engine, *, store: CalendarStore, links: Links, now: datetime | None = None) -> int:
    with Session(engine) as session:
        written = digest(session, store=store, now=now or datetime.now(UTC), links=links)
        session.commit()
    return written
