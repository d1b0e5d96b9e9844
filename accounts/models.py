"""The accounts' tables: users with a role and an agency scope, their access tokens, the audit trail and
the failed sign-ins in a row (`throttle`)."""

from datetime import datetime
from enum import StrEnum

import sqlmodel
from sqlalchemy import CheckConstraint, Column
from sqlmodel import SQLModel

from kernel.db import UTCDateTime, utc_now


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
    full_name: str | None = sqlmodel.Field(default=None, max_length=200)
    """The staff member's name as forms and timelines show it (`display_names`); None: the username is shown."""
    email: str | None = sqlmodel.Field(default=None, max_length=254)
    """Where the daily digest of the user's notifications goes (notify/); None: no digest."""
    active: bool = True
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_token"

    token_hash: str = sqlmodel.Field(max_length=64, primary_key=True)
    user_id: int = sqlmodel.Field(foreign_key="app_user.id", index=True)
    expires_at: datetime = sqlmodel.Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False))


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from where: every write (refused and failed ones included), failed sign-ins,
    reads that showed a dossier's personal data, and public lookups. Columns: see docs/audit.md."""

    __tablename__ = "audit_entry"

    id: int | None = sqlmodel.Field(default=None, primary_key=True)
    at: datetime = sqlmodel.Field(default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    username: str | None = sqlmodel.Field(default=None, max_length=64, index=True)
    role: str | None = sqlmodel.Field(default=None, max_length=8)
    client_address: str | None = sqlmodel.Field(default=None, max_length=64)
    method: str = sqlmodel.Field(max_length=8)
    path: str = sqlmodel.Field(max_length=500)
    action: str | None = sqlmodel.Field(default=None, max_length=200, index=True)  # method + route template
    dossier_code: str | None = sqlmodel.Field(default=None, max_length=80, index=True)
    personal_data: str | None = sqlmodel.Field(default=None, max_length=8)  # unmasked | masked | None: not shown
    outcome: str = sqlmodel.Field(max_length=32, index=True)  # ok | refused 4xx | failed sign-in | error
    detail: str | None = sqlmodel.Field(default=None, max_length=1000)


class SignInFailure(SQLModel, table=True):
    """Failed sign-ins in a row of one key (`user:<username>` or `address:<client address>`)."""

    __tablename__ = "sign_in_failure"

    key: str = sqlmodel.Field(max_length=80, primary_key=True)
    failures: int
    last_failed_at: datetime = sqlmodel.Field(sa_column=Column(UTCDateTime(), nullable=False))
    blocked_until: datetime | None = sqlmodel.Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
