"""Signing in to the pages: a session cookie holding an access token, and a CSRF token on every form.

The cookie is HttpOnly, SameSite=Lax and Secure over HTTPS (or always, with `MOTCUA_SECURE_COOKIES=true`);
the CSRF token is derived from the session's token (HMAC), so a page of another site can neither read it
nor forge a form post. The sign-in form, posted before there is a session, carries the HMAC of a random
pre-session cookie (double submit), so that another site cannot sign a visitor in as someone else.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from accounts import service as accounts
from accounts.models import Role
from accounts.service import Principal
from accounts.throttle import TooManyAttempts
from api.deps import FAILED_SIGN_IN, SessionDep
from api.security import token_principal
from api.web.common import PageRoute, Problem, keep_lang, render
from kernel.errors import Forbidden, Unauthorized

SESSION_COOKIE = "motcua_session"
SIGN_IN_CSRF_COOKIE = "motcua_sign_in"  # the pre-session secret of the sign-in form
SIGN_IN_CSRF_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"  # for scripts (htmx, fetch): a header another site cannot set

router = APIRouter(route_class=PageRoute, include_in_schema=False)


class SignInRequired(Exception):
    """A page asked for without a valid session: answered with a redirect to the sign-in page."""

    status_code = 401  # how the audit trail records it (refused 401)

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def sign_in_redirect(request: Request, exc: SignInRequired) -> RedirectResponse:
    """To the sign-in page, in the reader's language, coming back to `next` (its own `?lang=` kept) afterwards."""
    return RedirectResponse(keep_lang(request, f"/login?next={quote(exc.next_path, safe='/')}"), status_code=303)


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"motcua-csrf", hashlib.sha256).hexdigest()


def secure_cookies(request: Request) -> bool:
    """Whether cookies are sent only over HTTPS: always with `MOTCUA_SECURE_COOKIES=true`, else when this request
    came over https (behind a trusted proxy, its `X-Forwarded-Proto` sets the scheme)."""
    return request.app.state.settings.secure_cookies or request.url.scheme == "https"


def _safe_next(path: str | None) -> str:
    return path if path and path.startswith("/") and not path.startswith("//") else "/"


def page_access(*roles: Role):
    """A page dependency: a signed-in user of these roles (or an administrator); POSTs carry the CSRF token."""
    admitted = {Role.ADMIN, *roles}

    async def check(request: Request, session: SessionDep) -> Principal:
        token = request.cookies.get(SESSION_COOKIE)
        principal = await token_principal(request, session, token) if token else None
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target if request.method == "GET" else "/")
        request.state.principal = principal  # known from here on: a refusal below is audited with the user
        if request.method == "POST":
            sent = request.headers.get(CSRF_HEADER) or (await request.form()).get(CSRF_FIELD, "")
            if not hmac.compare_digest(str(sent), csrf_token(token)):
                raise Forbidden(
                    "this form has expired or did not come from this site: reload the page and try again",
                    message_id="csrf",
                )
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise Forbidden(
                f"this page is for {names}; you are signed in as a {principal.role.value}",
                message_id="role",
                role=principal.role.value,
                roles=tuple(sorted(r.value for r in admitted)),
            )
        request.state.csrf = csrf_token(token)
        return principal

    return check


async def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """For public pages that show the signed-in user's menu: the user of a valid session cookie, else None."""
    token = request.cookies.get(SESSION_COOKIE)
    principal = await token_principal(request, session, token) if token else None
    request.state.principal = principal
    if principal is not None:
        request.state.csrf = csrf_token(token)
    return principal


def _login_form(request: Request, next_path: str | None, problem: Problem | None, status_code: int = 200):
    """The sign-in form, with the CSRF token of the visitor's pre-session cookie (set here if it has none)."""
    secret = request.cookies.get(SIGN_IN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    context = {"next": _safe_next(next_path), "problem": problem, "sign_in_csrf": csrf_token(secret)}
    response = render(request, "web/login.html", context, status_code=status_code, page_path="/login")
    if request.cookies.get(SIGN_IN_CSRF_COOKIE) != secret:
        response.set_cookie(
            SIGN_IN_CSRF_COOKIE,
            secret,
            max_age=SIGN_IN_CSRF_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
        )
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None):
    return _login_form(request, next, None)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form(max_length=500)] = None,
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
):
    request.state.audit_detail = f"page sign-in as {username!r}"
    secret = request.cookies.get(SIGN_IN_CSRF_COOKIE)
    if not secret or not hmac.compare_digest(csrf, csrf_token(secret)):
        request.state.audit_outcome = "refused 403"
        problem = Problem(
            403, "forbidden", "this form has expired or did not come from this site: try again", message_id="csrf"
        )
        problem.kind = Forbidden
        return _login_form(request, next, problem, status_code=403)
    hours = request.app.state.settings.token_hours
    try:
        token = accounts.sign_in(
            session,
            request.app.state.sign_in_throttle,
            username=username,
            password=password,
            address=request.client.host if request.client else None,
            lifetime=timedelta(hours=hours),
        )
    except TooManyAttempts as exc:
        request.state.audit_outcome = "refused 429"
        response = _login_form(request, next, Problem.of(exc), status_code=429)
        response.headers.update(exc.headers)
        return response
    if token is None:
        request.state.audit_outcome = FAILED_SIGN_IN
        problem = Problem(401, "unauthorized", "wrong username or password", message_id="wrong_password")
        problem.kind = Unauthorized
        return _login_form(request, next, problem, status_code=401)
    response = RedirectResponse(keep_lang(request, _safe_next(next)), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(page_access(Role.MANAGER, Role.CLERK, Role.OFFICER, Role.VIEWER))],
):
    accounts.revoke_token(session, request.cookies[SESSION_COOKIE])
    response = RedirectResponse(keep_lang(request, "/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
