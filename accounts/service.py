"""Accounts: users with a role and an agency scope, passwords, access tokens, and the principals they stand
for (cached per token). The tables are in `accounts.models`, the audit trail in `accounts.audit`, sign-in
throttling in `accounts.throttle`.

Tokens are opaque random strings; only their SHA-256 is stored, so a leaked database holds no
usable token, and a token can be revoked by deleting its row. A user's tokens are all revoked when
it is deactivated or its password is reset (its other tokens when it changes its own), so that a
re-activated user's old tokens stay dead.

Usernames are normalised (NFKC, case-folded) wherever they enter: 'Clerk' and a full-width 'ｃｌｅｒｋ'
are the user 'clerk'.
"""

import hashlib
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from accounts.models import AccessToken, Role, User
from accounts.throttle import SignInThrottle
from kernel.db import utc_now
from kernel.errors import Conflict, InvalidInput, NotFound
from procedures.service import agency_tree, get_agency

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


USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
USERNAME_RULE = (
    "a username is 3 to 64 characters: letters a-z, digits, '.', '_' or '-' "
    "(capitals and full-width forms are read as these letters: 'Clerk' is 'clerk')"
)
PASSWORD_MIN, PASSWORD_MAX = 10, 200


def normalize_username(username: str) -> str:
    """The username as stored: NFKC, case-folded ('Clerk' and full-width 'ｃｌｅｒｋ' are 'clerk')."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def valid_username(username: str) -> str:
    """The normalised username, or InvalidInput if it is not made of `[a-z0-9._-]`, 3 to 64 of them."""
    normalized = normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(normalized):
        raise InvalidInput(f"{USERNAME_RULE}; got {username[:80]!r}")
    return normalized


def check_password(password: str, username: str) -> None:
    """The password policy, at creation, change and reset: 10 to 200 characters, not containing the username."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters; this one has {len(password)}")
    if normalize_username(username) in normalize_username(password):
        raise InvalidInput("a password must not be or contain the username")


FULL_NAME_MAX = 200


EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def valid_email(email: str) -> str | None:
    """A staff member's email for the digest (blank: none); InvalidInput if it does not look like one."""
    email = email.strip()
    if not email:
        return None
    if len(email) > 254 or not EMAIL_SHAPE.fullmatch(email):
        raise InvalidInput(f"{email[:60]!r} is not an email address (name@domain)", message_id="email_invalid")
    return email


def valid_full_name(full_name: str | None) -> str | None:
    """The full name as stored: spaces collapsed, printable, at most 200 characters; blank is None."""
    if full_name is None:
        return None
    name = " ".join(unicodedata.normalize("NFC", full_name).split())
    if not name:
        return None
    if len(name) > FULL_NAME_MAX or not name.isprintable():
        raise InvalidInput(f"a full name is printable text of at most {FULL_NAME_MAX} characters")
    return name


def display_names(session: Session, usernames: Iterable[str | None]) -> dict[str, str]:
    """Each username with the name forms and timelines show for it: the user's full name, else the username
    itself (unknown users, users without a full name, actors such as 'import'). One query for the whole set."""
    wanted = {name for name in usernames if name}
    if not wanted:
        return {}
    rows = session.execute(select(User.username, User.full_name).where(User.username.in_(wanted))).all()
    names = {row.username: row.full_name for row in rows if row.full_name}
    return {name: names.get(name, name) for name in wanted}


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    agency_code: str | None,
    full_name: str | None = None,
) -> User:
    """A new user; Conflict if the (normalised) username exists, even when another request creates it meanwhile."""
    username = valid_username(username)
    full_name = valid_full_name(full_name)
    check_password(password, username)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; accepted: {', '.join(r.value for r in Role)}") from None
    if role != Role.ADMIN and agency_code is None:
        raise InvalidInput(f"a {role.value} needs an agency (its scope: the agency and its children)")
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username!r} exists")
    agency_id = get_agency(session, agency_code).id if agency_code else None
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        agency_id=agency_id,
        full_name=full_name,
    )
    try:
        with session.begin_nested():  # a racing create of the same name: its unique violation ends only this
            session.add(user)
    except IntegrityError:
        # not chained: the statement's parameters (the password hash) must not reach a log
        raise Conflict(f"user {username!r} exists") from None
    return user


def _authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user these credentials name, or None. One password-hash verification whatever the case
    (unknown user, deactivated user, wrong password), so that neither the answer nor its time tells them apart."""
    name = normalize_username(username)
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none() if len(name) <= 64 else None
    matches = verify_password(user.password_hash if user is not None else _DUMMY_HASH, password)
    return user if user is not None and user.active and matches else None


def _new_token(session: Session, user: User, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session.execute(delete(AccessToken).where(AccessToken.user_id == user.id, AccessToken.expires_at < now))
    session.add(AccessToken(token_hash=_token_hash(token), user_id=user.id, expires_at=now + lifetime))
    session.flush()
    return token


def issue_token(session: Session, *, username: str, password: str, lifetime: timedelta) -> str | None:
    """A new access token, or None for a wrong username or password (the same answer for both); not throttled
    (for scripts and tests: both sign-in doors call `sign_in`)."""
    user = _authenticate(session, username, password)
    return _new_token(session, user, lifetime) if user is not None else None


def sign_in(
    session: Session,
    throttle: SignInThrottle,
    *,
    username: str,
    password: str,
    address: str | None,
    lifetime: timedelta,
) -> str | None:
    """A new access token, or None for wrong credentials (counted against the username and the address, in
    `session`: the caller answers the refusal without rolling it back). `TooManyAttempts` while either waits."""
    name = normalize_username(username)
    throttle.check(session, name, address)
    user = _authenticate(session, name, password)
    if user is None:
        throttle.failed(session, name, address)
        return None
    throttle.succeeded(session, name)
    return _new_token(session, user, lifetime)


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def revoke_token(session: Session, token: str) -> None:
    token_hash = _token_hash(token)
    session.execute(delete(AccessToken).where(AccessToken.token_hash == token_hash))
    _changed(session, token_hashes={token_hash})


def _revoke_tokens_of(session: Session, user_id: int, *, keep: str | None = None) -> None:
    """Revoke every token of the user (but `keep`, a token itself)."""
    query = delete(AccessToken).where(AccessToken.user_id == user_id)
    if keep is not None:
        query = query.where(AccessToken.token_hash != _token_hash(keep))
    session.execute(query)
    _changed(session, user_ids={user_id})


def _user(session: Session, username: str) -> User:
    name = normalize_username(username)
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def change_password(
    session: Session,
    throttle: SignInThrottle,
    *,
    username: str,
    old_password: str,
    new_password: str,
    current_token: str,
    address: str | None,
) -> bool:
    """A user's own change: False if `old_password` is wrong (counted as a failed sign-in, in `session`: the
    caller answers the refusal without rolling it back). The user's other tokens are revoked; `current_token`
    stays valid."""
    user = _user(session, username)
    throttle.check(session, user.username, address)
    if not verify_password(user.password_hash, old_password):
        throttle.failed(session, user.username, address)
        return False
    check_password(new_password, user.username)
    user.password_hash = hash_password(new_password)
    session.add(user)
    session.flush()
    _revoke_tokens_of(session, user.id, keep=current_token)
    return True


def reset_password(
    session: Session, username: str, new_password: str, *, throttle: SignInThrottle | None = None
) -> User:
    """An administrator's reset: a new password and every token of the user revoked; with `throttle`, the
    username's failed sign-ins are forgotten too (a locked-out user may sign in with the new password at once)."""
    user = _user(session, username)
    check_password(new_password, user.username)
    user.password_hash = hash_password(new_password)
    session.add(user)
    session.flush()
    _revoke_tokens_of(session, user.id)
    if throttle is not None:
        throttle.succeeded(session, user.username)
    return user


def update_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    agency_code: str | None = None,
    active: bool | None = None,
    full_name: str | None = None,
    email: str | None = None,
) -> User:
    """Change a user's role, agency, full name (blank: none), email (blank: none) or whether it may sign in; a
    deactivated user's tokens are revoked (they stay dead if it is re-activated: it signs in again)."""
    user = _user(session, username)
    if role is not None:
        try:
            user.role = Role(role).value
        except ValueError:
            raise InvalidInput(f"unknown role {role!r}; accepted: {', '.join(r.value for r in Role)}") from None
    if agency_code is not None:
        user.agency_id = get_agency(session, agency_code).id
    if full_name is not None:
        user.full_name = valid_full_name(full_name)
    if email is not None:
        user.email = valid_email(email)
    if active is not None:
        user.active = active
        if not active:
            _revoke_tokens_of(session, user.id)
    if user.role != Role.ADMIN and user.agency_id is None:
        raise InvalidInput(f"a {user.role} needs an agency (its scope: the agency and its children)")
    session.add(user)
    session.flush()
    _changed(session, user_ids={user.id})
    return user


_TOKEN_USER = (
    select(User.id, User.username, User.role, User.agency_id, User.active, AccessToken.expires_at)
    .join(AccessToken, AccessToken.user_id == User.id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


def _principal_until(session: Session, token_hash: str) -> tuple[Principal, datetime] | None:
    """The principal of a token and when the token expires, or None (unknown, expired, user deactivated)."""
    row = session.execute(_TOKEN_USER, {"token_hash": token_hash}).first()
    if row is None or not row.active or row.expires_at <= utc_now():
        return None
    return _principal(session, row.id, row.username, Role(row.role), row.agency_id), row.expires_at


def _principal(session: Session, user_id: int, username: str, role: Role, agency_id: int | None) -> Principal:
    tree = agency_tree(session)
    agency_code = tree.by_id[agency_id].code if agency_id is not None else None
    scope = None if role == Role.ADMIN or agency_code is None else tree.subtree_ids(agency_code)
    return Principal(user_id, username, role, agency_id, agency_code, scope)


# --- principals cached per token --------------------------------------------------------------

_CHANGED_IN_SESSION = "accounts.changed"


def _changed(session: Session, *, token_hashes: Iterable[str] = (), user_ids: Iterable[int] = ()) -> None:
    """Note, in the session, accounts whose cached principals must go when its transaction ends."""
    changed = session.info.setdefault(_CHANGED_IN_SESSION, (set(), set()))
    changed[0].update(token_hashes)
    changed[1].update(user_ids)


def changed_accounts(session: Session) -> tuple[set[str], set[int]]:
    """The token hashes and user ids this session changed (and forgets them): see `PrincipalCache.forget`."""
    return session.info.pop(_CHANGED_IN_SESSION, (set(), set()))


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    until: float  # on the monotonic clock


class PrincipalCache:
    """Principals by token hash for up to `ttl_seconds` (0: not kept), so that a request finds who is asking
    without a statement and without a thread hop: `cached` does no I/O, `load` reads the database and keeps
    what it found.

    An entry lasts until its time to live or its token's expiry, whichever comes first, or until `forget`,
    which the request that revoked a token or changed a user calls once its transaction has ended: this
    process stops serving the old principal at once. Another process (a second worker) serves a revoked
    token, a deactivated user, an old role or an old scope (the agency tree changed) until its own entry
    expires: for up to `ttl_seconds`.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Cached] = {}
        self._generation = 0

    def cached(self, token: str) -> Principal | None:
        cached = self._entries.get(_token_hash(token))
        return cached.principal if cached is not None and self._clock() < cached.until else None

    def load(self, session: Session, token: str) -> Principal | None:
        token_hash = _token_hash(token)
        with self._lock:
            generation = self._generation
        found = _principal_until(session, token_hash)
        now = self._clock()
        with self._lock:
            if found is None:
                self._entries.pop(token_hash, None)
                return None
            principal, expires_at = found
            # a lookup that began before a `forget` may have read what was just changed: not kept
            if self.ttl_seconds > 0 and generation == self._generation:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries = {key: entry for key, entry in self._entries.items() if now < entry.until}
                lifetime = min(self.ttl_seconds, (expires_at - utc_now()).total_seconds())
                self._entries[token_hash] = _Cached(principal, now + lifetime)
        return principal

    def forget(self, *, token_hashes: Iterable[str] = (), user_ids: Iterable[int] = ()) -> None:
        token_hashes, user_ids = set(token_hashes), set(user_ids)
        if not token_hashes and not user_ids:
            return
        with self._lock:
            self._generation += 1
            self._entries = {
                key: entry
                for key, entry in self._entries.items()
                if key not in token_hashes and entry.principal.user_id not in user_ids
            }


DEMO_USERS = (
    ("admin", Role.ADMIN, None, "Nguyễn Văn Quản"),
    ("manager", Role.MANAGER, "000.01.01.H26", "Trần Thị Minh Hằng"),
    ("clerk", Role.CLERK, "000.01.01.H26", "Lê Thị Thu Trang"),
    ("officer", Role.OFFICER, "000.00.03.H26", "Phạm Đức Anh"),
    ("viewer", Role.VIEWER, "000.00.00.H26", "Hoàng Văn Bình"),
)


def create_demo_users(session: Session) -> list[tuple[str, str, str | None, str | None]]:
    """One user per role (username = role); returns (username, role, agency, password or None if it existed)."""
    created = []
    for username, role, agency_code, full_name in DEMO_USERS:
        exists = session.execute(select(User.id).where(User.username == username)).first() is not None
        password = None if exists else secrets.token_urlsafe(12)
        if password:
            create_user(
                session, username=username, password=password, role=role, agency_code=agency_code, full_name=full_name
            )
        created.append((username, role.value, agency_code, password))
    return created
