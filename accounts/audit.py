"""The audit trail: one row per write (refused and failed ones included), failed sign-in, read of a
dossier's personal data and public lookup (columns: docs/audit.md), and the filtered reading of it."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlmodel import Session

from accounts.models import AuditEntry
from kernel.db import utc_now

_INSERT_AUDIT_ENTRY = insert(AuditEntry)
_AUDIT_LENGTHS = {
    column.name: column.type.length for column in AuditEntry.__table__.columns if getattr(column.type, "length", None)
}


def storable(value: str, length: int) -> str:
    """`value` as any database stores it: characters that are not printable (NUL, control, bidi and
    zero-width characters, lone surrogates) escaped as `\\x00`, `\\u202e`…, then clipped to `length`."""
    if not value.isprintable():
        value = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in value)
    return value[:length]


def record(session: Session, **fields) -> None:
    """One audit row, by a plain INSERT (a table-model object through the unit of work costs several times more).

    Texts are made storable first (see `storable`), so that no value a client sends can make the row fail.
    """
    for name, value in fields.items():
        if type(value) is str:
            fields[name] = storable(value, _AUDIT_LENGTHS[name])
    session.connection().execute(_INSERT_AUDIT_ENTRY, {"at": utc_now(), **fields})


@dataclass(frozen=True)
class AuditFilter:
    """What `GET /audit` asks for; every field optional, all of them must match."""

    username: str | None = None
    dossier_code: str | None = None
    action: str | None = None
    method: str | None = None
    path: str | None = None  # a prefix of the path
    outcome: str | None = None  # exact, or "refused": every refusal
    personal_data: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def audit_entries(
    session: Session, where: AuditFilter, *, page: int = 1, page_size: int = 100
) -> tuple[list[dict], int]:
    """The matching rows, newest first, one page of them, and how many match in all."""
    conditions = [
        column == value
        for column, value in (
            (AuditEntry.username, where.username),
            (AuditEntry.dossier_code, where.dossier_code),
            (AuditEntry.action, where.action),
            (AuditEntry.method, where.method),
            (AuditEntry.personal_data, where.personal_data),
        )
        if value is not None
    ]
    if where.path is not None:
        conditions.append(AuditEntry.path.like(_like_prefix(where.path), escape="\\"))
    if where.outcome == "refused":
        conditions.append(AuditEntry.outcome.like("refused %"))
    elif where.outcome is not None:
        conditions.append(AuditEntry.outcome == where.outcome)
    if where.since is not None:
        conditions.append(AuditEntry.at >= where.since)
    if where.until is not None:
        conditions.append(AuditEntry.at < where.until)
    query = select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
    rows = session.execute(query.offset((page - 1) * page_size).limit(page_size)).scalars()
    total = session.execute(select(func.count()).select_from(AuditEntry).where(*conditions)).scalar_one()
    return [entry.model_dump() for entry in rows], total
