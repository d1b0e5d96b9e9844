"""Sign-in (OAuth2 password flow) and sign-out, passwords, users and the audit trail."""

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from accounts import service as accounts
from accounts.audit import AuditFilter, audit_entries
from accounts.models import Role, User
from accounts.throttle import TooManyAttempts
from api.deps import FAILED_SIGN_IN, PagingDep, SessionDep
from api.errors import error_response
from api.security import PrincipalDep, allow, bearer
from kernel.errors import DomainError, Forbidden, Unauthorized
from kernel.schemas import Input, IsoDateTime
from procedures.service import agency_tree

router = APIRouter(tags=["accounts"])
admin = [Depends(allow())]


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserCreate(Input):
    username: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    role: Role
    agency_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the name forms and timelines show (e.g. 'Lê Thị Thu Trang'); default: the username"
    )


class UserUpdate(Input):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    agency_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    active: bool | None = Field(default=None, description="false: the user may not sign in, its tokens stop working")
    full_name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="the name forms and timelines show; an empty text removes it"
    )
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = Field(
        default=None, description="where the daily digest of the user's notifications goes; an empty text removes it"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: Annotated[str, StringConstraints(max_length=200)]
    new_password: Annotated[str, StringConstraints(min_length=10, max_length=200)] = Field(
        description="10 to 200 characters, not containing the username"
    )


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, StringConstraints(min_length=10, max_length=200)] = Field(
        description="10 to 200 characters, not containing the username"
    )


class MeRead(BaseModel):
    username: str
    role: str
    agency_code: str | None


class UserRead(MeRead):
    full_name: str | None = None
    email: str | None = None


def _refused(
    request: Request, exc: DomainError, headers: dict[str, str] | None = None, *, outcome: str | None = None
) -> JSONResponse:
    """A refusal answered, not raised. A wrong password is audited as `failed sign-in`: a write so named keeps
    what it wrote (the failed attempt it counted, `api.deps._commit`), where a `refused …` one is rolled back."""
    request.state.audit_outcome = outcome or f"refused {exc.status_code}"
    return error_response(exc.status_code, exc.error, exc.detail, headers=headers)


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/auth/token",
    response_model=TokenRead,
    responses={429: {"description": "Too many failed sign-ins for this username or address: wait `Retry-After`"}},
)
def sign_in(request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]):
    """Exchange a username and password for a bearer token (OAuth2 password flow).

    Failed attempts are throttled per username and per client address: after a few, each must wait (429 with
    `Retry-After`, doubling), and after more the username or address is locked for a while (see the README)."""
    request.state.audit_detail = f"sign-in as {form.username[:64]!r}"
    lifetime = timedelta(hours=request.app.state.settings.token_hours)
    try:
        token = accounts.sign_in(
            session,
            request.app.state.sign_in_throttle,
            username=form.username,
            password=form.password,
            address=_client_address(request),
            lifetime=lifetime,
        )
    except TooManyAttempts as exc:
        return _refused(request, exc, exc.headers)
    if token is None:
        unauthorized = Unauthorized("wrong username or password")
        return _refused(request, unauthorized, {"WWW-Authenticate": "Bearer"}, outcome=FAILED_SIGN_IN)
    return TokenRead(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post("/auth/logout", status_code=204)
def sign_out(
    request: Request, session: SessionDep, principal: PrincipalDep, token: Annotated[str | None, Depends(bearer)]
):
    """Revoke the token this request presents (other tokens of the user stay valid)."""
    request.state.audit_detail = f"sign-out of {principal.username}"
    accounts.revoke_token(session, token)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204)
def change_password(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    token: Annotated[str | None, Depends(bearer)],
    data: PasswordChange,
):
    """Change one's own password: the current one is needed (a wrong one counts as a failed sign-in); every
    other token of the user is revoked, the one presented stays valid."""
    request.state.audit_detail = f"password change of {principal.username}"
    try:
        changed = accounts.change_password(
            session,
            request.app.state.sign_in_throttle,
            username=principal.username,
            old_password=data.old_password,
            new_password=data.new_password,
            current_token=token,
            address=_client_address(request),
        )
    except TooManyAttempts as exc:
        return _refused(request, exc, exc.headers)
    if not changed:
        return _refused(request, Forbidden("old_password is not your current password"), outcome=FAILED_SIGN_IN)
    return Response(status_code=204)


@router.get("/auth/me", response_model=MeRead)
def me(principal: PrincipalDep):
    """Who the token names, from the cached principal alone (no statement; hence no full name here)."""
    return MeRead(username=principal.username, role=principal.role.value, agency_code=principal.agency_code)


@router.post("/users", response_model=UserRead, status_code=201, dependencies=admin)
def create_user(request: Request, session: SessionDep, data: UserCreate):
    """Create a user. The username is normalised (NFKC, case-folded: 'Clerk' is 'clerk'); 409 if it exists."""
    request.state.audit_detail = f"user {data.username} ({data.role.value})"
    user = accounts.create_user(
        session,
        username=data.username,
        password=data.password,
        role=data.role,
        agency_code=data.agency_code,
        full_name=data.full_name,
    )
    return UserRead(
        username=user.username, role=data.role.value, agency_code=data.agency_code, full_name=user.full_name
    )


@router.patch("/users/{username}", response_model=UserRead, dependencies=admin)
def update_user(request: Request, session: SessionDep, username: Annotated[str, Path(max_length=64)], data: UserUpdate):
    """Change a user's role or agency, or deactivate it; its tokens carry the change from the next request on."""
    request.state.audit_detail = f"user {username[:64]}: {', '.join(sorted(data.model_fields_set)) or 'no change'}"
    user = accounts.update_user(
        session,
        username,
        role=data.role.value if data.role else None,
        agency_code=data.agency_code,
        active=data.active,
        full_name=data.full_name,
        email=data.email,
    )
    return UserRead(
        username=user.username,
        role=user.role,
        agency_code=_agency_code(session, user),
        full_name=user.full_name,
        email=user.email,
    )


@router.post("/users/{username}/password", status_code=204, dependencies=admin)
def reset_password(
    request: Request, session: SessionDep, username: Annotated[str, Path(max_length=64)], data: PasswordReset
):
    """Set a user's password (an administrator's reset): every token of the user is revoked, and its failed
    sign-ins are forgotten."""
    request.state.audit_detail = f"password reset of user {username[:64]}"
    accounts.reset_password(session, username, data.password, throttle=request.app.state.sign_in_throttle)
    return Response(status_code=204)


def _agency_code(session, user: User) -> str | None:
    return agency_tree(session).by_id[user.agency_id].code if user.agency_id is not None else None


AUDIT_OUTCOMES = "ok, refused (every refusal), refused 403 (one status), failed sign-in, error"


@router.get("/audit", dependencies=admin)
def audit_trail(
    session: SessionDep,
    paging: PagingDep,
    username: Annotated[str | None, Query(max_length=64, description="who asked")] = None,
    dossier: Annotated[
        str | None, Query(max_length=80, description="the dossier code read, written or looked up")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=200, description="method and route, e.g. `POST /api/v1/dossiers/{code}/events`")
    ] = None,
    method: Annotated[str | None, Query(max_length=8, description="GET, POST, PATCH, DELETE…")] = None,
    path: Annotated[str | None, Query(max_length=500, description="the path starts with this")] = None,
    outcome: Annotated[str | None, Query(max_length=32, description=AUDIT_OUTCOMES)] = None,
    personal_data: Annotated[
        Literal["unmasked", "masked"] | None, Query(description="reads that showed the applicant's personal data")
    ] = None,
    from_: Annotated[
        IsoDateTime | None, Query(alias="from", description="from this instant (naive: local time)")
    ] = None,
    to: Annotated[IsoDateTime | None, Query(description="before this instant (exclusive; naive: local time)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="older name of page_size")] = None,
):
    """The audit trail, newest first, one page (`page`, `page_size`; the count in X-Total-Count): every write
    (refused and failed ones too), failed sign-ins, reads that showed a dossier's personal data, and public
    lookups. Filters combine; columns are described in docs/audit.md."""
    where = AuditFilter(
        username=username,
        dossier_code=dossier.strip() if dossier else None,
        action=action,
        method=method.upper() if method else None,
        path=path,
        outcome=outcome,
        personal_data=personal_data,
        since=from_,
        until=to,
    )
    page_size = limit or paging.page_size
    rows, total = audit_entries(session, where, page=paging.page, page_size=page_size)
    return JSONResponse(jsonable_encoder(rows), headers={"X-Total-Count": str(total)})
