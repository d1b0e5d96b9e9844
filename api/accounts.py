"""Accounts: users with a role and an agency scope, access tokens, and the audit trail.

Tokens are opaque random strings; only their SHA-256 is stored, so a leaked database holds no
usable token, and a token can be revoked by deleting its row.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlmodel
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, Column, delete, select
from sqlmodel import Session, SQLModel

from procedures.db import UTCDateTime, utc_now
from procedures.errors import Conflict, InvalidInput
from procedures.models import Agency
from procedures.service import agency_subtree_ids, get_agency


class Role(StrEnum):
    ADMIN = "admin"  # catalogue, calendar overrides, users, everything
    MANAGER = "manager"  # reads, reports, queues and apologies for its scope
    CLERK = "clerk"  # intake and events for dossiers received at its agency
    OFFICER = "officer"  # events for dossiers currently held by its agency
    VIEWER = "viewer"  # reports only


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint("role IN ('admin', 'manager', 'clerk', 'officer', 'viewer')", name="role_valid"),)

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    username: str = sqlmodel.Field(max_length=64, unique=True, index=True)
    password_hash: str = sqlmodel.Field(max_length=255)
    role: str = sqlmodel.Field(max_length=8)
    agency_id: int | None = sqlmodel.Field(default=None, foreign_key="agency.id")
    active: bool = True
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_token"

    token_hash: str = sqlmodel.Field(max_length=64, primary_key=True)
    user_id: int = sqlmodel.Field(foreign_key="app_user.id", index=True)
    expires_at: datetime = sqlmodel.Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from where: every write, refused ones and failed logins included."""

    __tablename__ = "audit_entry"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    username: str | None = sqlmodel.Field(default=None, max_length=64, index=True)
    role: str | None = sqlmodel.Field(default=None, max_length=8)
    client_address: str | None = sqlmodel.Field(default=None, max_length=64)
    method: str = sqlmodel.Field(max_length=8)
    path: str = sqlmodel.Field(max_length=500)
    outcome: str = sqlmodel.Field(max_length=32)  # ok | refused 4xx | failed login | error
    detail: str | None = sqlmodel.Field(default=None, max_length=1000)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated user with the agencies its scope covers (None: every agency)."""

    user_id: int
    username: str
    role: Role
    agency_id: int | None
    agency_code: str | None
    scope: frozenset[int] | None

    def covers(self, *agency_ids: int | None) -> bool:
        """Whether any of the agencies is in this user's scope."""
        return self.scope is None or any(agency_id in self.scope for agency_id in agency_ids if agency_id)

    def handles(self, *agency_ids: int | None) -> bool:
        """Whether this user works at one of the agencies itself (administrators handle everything)."""
        return self.role == Role.ADMIN or (self.agency_id is not None and self.agency_id in agency_ids)


def create_user(session: Session, *, username: str, password: str, role: str, agency_code: str | None) -> User:
    if not 3 <= len(username) <= 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("a username is 3 to 64 letters, digits, '.', '_' or '-'")
    if len(password) < 10:
        raise InvalidInput("a password has at least 10 characters")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; accepted: {', '.join(r.value for r in Role)}") from None
    if role != Role.ADMIN and agency_code is None:
        raise InvalidInput(f"a {role.value} needs an agency (its scope: the agency and its children)")
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username!r} exists")
    agency_id = get_agency(session, agency_code).id if agency_code else None
    user = User(username=username, password_hash=hash_password(password), role=role.value, agency_id=agency_id)
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, *, username: str, password: str, lifetime: timedelta) -> str | None:
    """A new access token, or None for a wrong username or password (the same answer for both)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        verify_password(_DUMMY_HASH, password)  # the same work whether or not the user exists
        return None
    if not user.active or not verify_password(user.password_hash, password):
        return None
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session.execute(delete(AccessToken).where(AccessToken.user_id == user.id, AccessToken.expires_at < now))
    session.add(AccessToken(token_hash=_token_hash(token), user_id=user.id, expires_at=now + lifetime))
    session.flush()
    return token


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(AccessToken).where(AccessToken.token_hash == _token_hash(token)))


def principal_for_token(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(User, AccessToken.expires_at)
        .join(AccessToken, AccessToken.user_id == User.id)
        .where(AccessToken.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if not user.active or expires_at <= utc_now():
        return None
    return principal_of(session, user)


def principal_of(session: Session, user: User) -> Principal:
    role = Role(user.role)
    agency_code = session.get(Agency, user.agency_id).code if user.agency_id is not None else None
    scope = None if role == Role.ADMIN or agency_code is None else frozenset(agency_subtree_ids(session, agency_code))
    return Principal(user.id, user.username, role, user.agency_id, agency_code, scope)


DEMO_USERS = (
    ("admin", Role.ADMIN, None),
    ("manager", Role.MANAGER, "000.01.01.H26"),
    ("clerk", Role.CLERK, "000.01.01.H26"),
    ("officer", Role.OFFICER, "000.00.03.H26"),
    ("viewer", Role.VIEWER, "000.00.00.H26"),
)


def create_demo_users(session: Session) -> list[tuple[str, str, str | None, str | None]]:
    """One user per role (username = role); returns (username, role, agency, password or None if it existed)."""
    created = []
    for username, role, agency_code in DEMO_USERS:
        exists = session.execute(select(User.id).where(User.username == username)).first() is not None
        password = None if exists else secrets.token_urlsafe(12)
        if password:
            create_user(session, username=username, password=password, role=role, agency_code=agency_code)
        created.append((username, role.value, agency_code, password))
    return created


def record(session: Session, **fields) -> None:
    session.add(AuditEntry(**fields))
    session.flush()


def audit_entries(session: Session, *, username: str | None = None, limit: int = 100) -> list[dict]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if username:
        query = query.where(AuditEntry.username == username)
    return [entry.model_dump() for entry in session.execute(query).scalars()]
