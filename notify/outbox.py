"""The message outbox: what a dossier's event tells its applicant, written in the event's own transaction.

Only with the applicant's consent (recorded at intake), on the channel they chose. A message's key is
(dossier, cause, channel), the cause being the event (its type and sequence number): a cause never
makes two messages. The dispatcher (notify/dispatcher.py) sends them later, in the citizens' hours.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from urllib.parse import quote

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from kernel.db import insert_columns
from kernel.localtime import MINUTE_FORMAT
from notify.models import OutboxMessage
from notify.quiet import CITIZEN_HOURS, next_citizen_instant
from notify.templates import PLACEHOLDERS, text_for
from procedures.service import agency_tree
from sla.core.calendar import LOCAL_TZ, WorkingCalendar

SUPPLEMENT_LIMIT_WORKING_DAYS = 15
"""No answer to a supplement request within this many working days: the dossier may be closed (domain.md §3)."""

EVENT_KINDS = {
    "received": "received",
    "supplement_requested": "supplement_requested",
    "paused": "paused",
    "resumed": "resumed",
    "supplement_received": "resumed",
    "apology_issued": "apology",
    "resolved": "result_ready",
    "result_returned": "rating",
}
"""Which message each event sends (events not named here send none)."""

_INSERT_IGNORING = {
    "postgresql": lambda: postgresql.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["key"]),
    "sqlite": lambda: sqlite.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["key"]),
}


@dataclass(frozen=True)
class Links:
    """Where messages point the citizen: the public site's base URL."""

    public_url: str

    def lookup(self, code: str) -> str:
        return f"{self.public_url.rstrip('/')}/lookup?code={quote(code, safe='')}"

    def rating(self, code: str) -> str:
        return f"{self.lookup(code)}#rating"


def local_text(instant: datetime | None) -> str:
    return instant.astimezone(LOCAL_TZ).strftime(MINUTE_FORMAT) if instant else ""


def local_texts(instants: np.ndarray) -> np.ndarray:
    """`local_text` of each UTC instant (numpy `datetime64`), for many messages at once."""
    return pd.DatetimeIndex(instants).tz_localize(UTC).tz_convert(LOCAL_TZ).strftime(MINUTE_FORMAT).to_numpy()


def contact(dossier) -> tuple[str, str] | None:
    """(channel, address) when the applicant agreed to be told, else None: no consent, no message."""
    if not dossier.contact_consent or dossier.preferred_channel is None:
        return None
    address = dossier.applicant_email if dossier.preferred_channel == "email" else dossier.applicant_phone
    return (dossier.preferred_channel, address) if address else None


def message_key(code: str, cause: str, channel: str) -> str:
    return f"{code}:{cause}:{channel}"


def supplement_limit(calendar: WorkingCalendar, requested_at: datetime) -> datetime:
    return calendar.due_at(requested_at, SUPPLEMENT_LIMIT_WORKING_DAYS, "working_days")[1]


def values_for(session: Session, written, event, links: Links) -> dict[str, str]:
    """What a dossier's messages may say: its code, procedure, agency, dates, links and staff's reason."""
    dossier = written.dossier
    agency = agency_tree(session).by_id.get(dossier.receiving_agency_id)
    values = {
        "code": dossier.code,
        "procedure": written.procedure.name,
        "agency": agency.name if agency else "",
        "due": local_text(dossier.due_at),
        "new_due": local_text(getattr(event, "new_due_at", None)),
        "reason": (getattr(event, "reason", None) or "").strip(),
        "lookup_url": links.lookup(dossier.code),
        "rating_url": links.rating(dossier.code),
    }
    if event is not None and event.type == "supplement_requested":
        values["limit"] = local_text(supplement_limit(written.calendar, event.at))
    return values


def enqueue(
    session: Session,
    *,
    dossier,
    kind: str,
    cause: str,
    values: dict[str, str],
    now: datetime,
    hours: tuple[time, time] = CITIZEN_HOURS,
) -> OutboxMessage | None:
    """One message to the applicant of `dossier` (if they consented), in the session's transaction; a cause
    already written is not written again (the key is unique)."""
    reach = contact(dossier)
    if reach is None:
        return None
    channel, address = reach
    text = text_for(session, kind, channel)
    if text is None:
        return None
    subject, body = text.render(values)
    row = {
        "key": message_key(dossier.code, cause, channel),
        "dossier_id": dossier.id,
        "cause": cause[:64],
        "kind": kind,
        "channel": channel,
        "audience": "citizen",
        "user_id": None,
        "agency_id": dossier.receiving_agency_id,
        "address": address,
        "subject": subject,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": next_citizen_instant(now, hours),
        "created_at": now,
        "sent_at": None,
    }
    dialect = session.get_bind().dialect.name
    inserted = session.connection().execute(_INSERT_IGNORING[dialect]().returning(OutboxMessage.id), row).first()
    return OutboxMessage(id=inserted[0], **row) if inserted else None


def enqueue_many(
    session: Session,
    messages: pd.DataFrame,
    *,
    kind: str,
    now: datetime,
    hours: tuple[time, time] = CITIZEN_HOURS,
) -> int:
    """Messages of one kind to applicants who consented, worded and written at once (one statement on
    PostgreSQL); a key written before is left out. `messages` holds a row per message with its `dossier_id`,
    `code`, `cause`, `channel` (the applicant's), `address`, `agency_id` and the `values` its text fills (a
    column per placeholder). The number written."""
    if not len(messages):
        return 0
    texts = {channel: text_for(session, kind, channel) for channel in messages["channel"].unique().tolist()}
    messages = messages[messages["channel"].map(lambda channel: texts[channel] is not None)]
    if not len(messages):
        return 0
    placeholders = [name for name in messages.columns if name in PLACEHOLDERS]
    worded = [
        texts[channel].render(dict(zip(placeholders, values, strict=True)))
        for channel, *values in zip(
            messages["channel"].tolist(), *(messages[name].tolist() for name in placeholders), strict=True
        )
    ]
    subjects, bodies = zip(*worded, strict=True) if worded else ((), ())
    written = insert_columns(
        session.connection(),
        OutboxMessage.__table__,
        {
            "key": messages["code"] + ":" + messages["cause"] + ":" + messages["channel"],
            "dossier_id": messages["dossier_id"],
            "cause": messages["cause"].str.slice(0, 64),
            "kind": kind,
            "channel": messages["channel"],
            "audience": "citizen",
            "agency_id": messages["agency_id"],
            "address": messages["address"],
            "subject": list(subjects),
            "body": list(bodies),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": next_citizen_instant(now, hours),
            "created_at": now,
        },
        skip_conflicts_on="key",
    )
    return len(written)


def on_written(
    session: Session, written, *, links: Links, now: datetime, hours: tuple[time, time] = CITIZEN_HOURS
) -> OutboxMessage | None:
    """The message the last event of a write (intake or an event) sends its applicant, if any."""
    event = written.events[-1]
    kind = EVENT_KINDS.get(event.type)
    if kind is None or contact(written.dossier) is None:  # nothing to send: the message is not even worded
        return None
    return enqueue(
        session,
        dossier=written.dossier,
        kind=kind,
        cause=f"{event.type}:{event.seq}",
        values=values_for(session, written, event, links),
        now=now,
        hours=hours,
    )


def prune_messages(session: Session, *, before: datetime) -> int:
    """Deletes the messages done with (sent, or given up) that were written before `before`, with their delivery
    log (ON DELETE CASCADE): a message's text names the applicant, and once it is sent and its retention over it
    serves no one. Pending messages are kept whatever their age. The messages deleted."""
    return session.execute(
        delete(OutboxMessage).where(OutboxMessage.status != "pending", OutboxMessage.created_at < before)
    ).rowcount
