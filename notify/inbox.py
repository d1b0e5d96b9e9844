"""Reading notifications: a staff member's inbox (unread count, marking read), the messages a dossier caused
with their delivery state, and its escalation ladder (who was told, when)."""

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select, update
from sqlmodel import Session

from dossiers.models import Dossier
from dossiers.schemas import LocalInstant
from kernel.errors import NotFound
from notify.models import Delivery, OutboxMessage, StaffNotification
from notify.outbox import local_text
from notify.staff import USERS
from procedures.service import agency_tree


class DeliveryRead(BaseModel):
    attempt: int
    at: LocalInstant
    outcome: str = Field(description="sent, failed (with the provider's answer), held (quiet hours), gave_up")
    answer: str | None


class MessageRead(BaseModel):
    key: str = Field(description="(dossier, cause, channel): the idempotency key the providers receive")
    cause: str
    kind: str
    channel: str
    audience: str
    subject: str | None
    body: str
    status: str = Field(description="pending (to be sent, or held until its hour), sent, gave_up")
    attempts: int
    created_at: LocalInstant
    next_attempt_at: LocalInstant | None
    sent_at: LocalInstant | None
    deliveries: list[DeliveryRead]


class NotificationRead(BaseModel):
    id: int
    kind: str = Field(description="stage_warning, dossier_warning, apology_owed, escalation")
    level: int | None
    dossier_code: str
    dossier_url: str = Field(description="the dossier's page")
    agency_code: str | None
    title: str
    due_at: LocalInstant | None
    created_at: LocalInstant
    visible_at: LocalInstant
    read: bool


class Inbox(BaseModel):
    unread: int
    total: int
    page: int
    page_size: int
    items: list[NotificationRead]


class LadderStep(BaseModel):
    level: int
    at: LocalInstant
    username: str
    full_name: str | None
    agency_code: str | None
    read: bool


TITLES = {
    "stage_warning": "Cảnh báo: bước {agency} của hồ sơ {code} sắp đến hạn ({due})",
    "dossier_warning": "Cảnh báo: hồ sơ {code} sắp đến hạn trả kết quả ({due})",
    "apology_owed": "Nhắc: hồ sơ {code} chưa có kết quả, cần phiếu xin lỗi trước hạn {due}",
    "escalation": "Quá hạn (cấp {level}): hồ sơ {code}, hạn {due}",
}


def title(kind: str, level: int | None, code: str, agency: str, due: datetime | None) -> str:
    """A notification's one line (Vietnamese: the digest email's)."""
    return TITLES[kind].format(code=code, agency=agency, due=local_text(due), level=level or "")


def messages_of(session: Session, dossier: Dossier) -> list[MessageRead]:
    """Every message the dossier caused, oldest first, with its delivery log (addresses are not shown)."""
    rows = list(
        session.execute(
            select(OutboxMessage).where(OutboxMessage.dossier_id == dossier.id).order_by(OutboxMessage.id)
        ).scalars()
    )
    deliveries: dict[int, list[DeliveryRead]] = {}
    if rows:
        for d in session.execute(
            select(Delivery).where(Delivery.message_id.in_([m.id for m in rows])).order_by(Delivery.id)
        ).scalars():
            deliveries.setdefault(d.message_id, []).append(DeliveryRead.model_validate(d, from_attributes=True))
    return [
        MessageRead(
            key=m.key,
            cause=m.cause,
            kind=m.kind,
            channel=m.channel,
            audience=m.audience,
            subject=m.subject,
            body=m.body,
            status=m.status,
            attempts=m.attempts,
            created_at=m.created_at,
            next_attempt_at=m.next_attempt_at if m.status == "pending" else None,
            sent_at=m.sent_at,
            deliveries=deliveries.get(m.id, []),
        )
        for m in rows
    ]


def _visible(user_id: int, now: datetime):
    return and_(StaffNotification.user_id == user_id, StaffNotification.visible_at <= now)


def unread_count(session: Session, user_id: int, now: datetime) -> int:
    return session.execute(
        select(func.count()).where(_visible(user_id, now), StaffNotification.read_at.is_(None))
    ).scalar_one()


def inbox(
    session: Session, *, user_id: int, now: datetime, page: int = 1, page_size: int = 20, unread_only: bool = False
) -> Inbox:
    """The user's notifications shown by now (their working time come), newest first."""
    where = [_visible(user_id, now)]
    if unread_only:
        where.append(StaffNotification.read_at.is_(None))
    total = session.execute(select(func.count()).select_from(StaffNotification).where(*where)).scalar_one()
    rows = session.execute(
        select(StaffNotification, Dossier.code)
        .join(Dossier, Dossier.id == StaffNotification.dossier_id)
        .where(*where)
        .order_by(StaffNotification.visible_at.desc(), StaffNotification.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    tree = agency_tree(session)
    items = []
    for n, code in rows:
        agency = tree.by_id.get(n.agency_id)
        items.append(
            NotificationRead(
                id=n.id,
                kind=n.kind,
                level=n.level,
                dossier_code=code,
                dossier_url=f"/desk/dossiers/{code}",
                agency_code=agency.code if agency else None,
                title=title(n.kind, n.level, code, agency.name if agency else "", n.due_at),
                due_at=n.due_at,
                created_at=n.created_at,
                visible_at=n.visible_at,
                read=n.read_at is not None,
            )
        )
    return Inbox(unread=unread_count(session, user_id, now), total=total, page=page, page_size=page_size, items=items)


def mark_read(session: Session, *, user_id: int, now: datetime, notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all those shown) read; another user's is unknown (404)."""
    query = update(StaffNotification).where(_visible(user_id, now), StaffNotification.read_at.is_(None))
    if notification_id is not None:
        exists = session.execute(
            select(StaffNotification.id).where(_visible(user_id, now), StaffNotification.id == notification_id)
        ).first()
        if exists is None:
            raise NotFound(f"no notification {notification_id} in your inbox", message_id="notification_not_found")
        query = query.where(StaffNotification.id == notification_id)
    return session.execute(query.values(read_at=now)).rowcount


def ladder(session: Session, dossier: Dossier) -> list[LadderStep]:
    """The dossier's escalations: who was told, at which level, when (the instant it reached their inbox)."""
    rows = session.execute(
        select(StaffNotification, USERS.c.username, USERS.c.full_name)
        .join(USERS, USERS.c.id == StaffNotification.user_id)
        .where(StaffNotification.dossier_id == dossier.id, StaffNotification.kind == "escalation")
        .order_by(StaffNotification.visible_at, StaffNotification.level, USERS.c.username)
    ).all()
    tree = agency_tree(session)
    return [
        LadderStep(
            level=n.level or 1,
            at=n.visible_at,
            username=username,
            full_name=full_name,
            agency_code=tree.by_id[n.agency_id].code if n.agency_id in tree.by_id else None,
            read=n.read_at is not None,
        )
        for n, username, full_name in rows
    ]
