"""Signing in to the pages: a session cookie holding an access token, and a CSRF token on every form.

The cookie is HttpOnly, SameSite=Lax and Secure over HTTPS; the CSRF token is derived from the
session's token (HMAC), so a page of another site can neither read it nor forge a form post.
"""

import hashlib
import hmac
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from api import accounts
from api.accounts import Principal, Role
from api.deps import SessionDep
from api.security import token_principal
from api.web.common import PageRoute, Problem, render
from procedures.errors import Forbidden

SESSION_COOKIE = "motcua_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"  # for scripts (htmx, fetch): a header another site cannot set

router = APIRouter(route_class=PageRoute, include_in_schema=False)


class SignInRequired(Exception):
    """A page asked for without a valid session: answered with a redirect to the sign-in page."""

    status_code = 401  # how the audit trail records it (refused 401)

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def sign_in_redirect(_: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"motcua-csrf", hashlib.sha256).hexdigest()


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
                raise Forbidden("this form has expired or did not come from this site: reload the page and try again")
        if principal.role not in admitted:
            names = ", ".join(sorted(r.value for r in admitted))
            raise Forbidden(f"this page is for {names}; you are signed in as a {principal.role.value}")
        request.state.csrf = csrf_token(token)
        return principal

    return check


@router.get("/login")
def login_page(request: Request, next: str | None = None):
    return render(request, "web/login.html", {"next": _safe_next(next), "problem": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form(max_length=500)] = None,
):
    request.state.audit_detail = f"page sign-in as {username!r}"
    hours = request.app.state.settings.token_hours
    token = accounts.issue_token(session, username=username, password=password, lifetime=timedelta(hours=hours))
    if token is None:
        request.state.audit_outcome = "failed sign-in"
        problem = Problem(401, "unauthorized", "wrong username or password")
        return render(request, "web/login.html", {"next": _safe_next(next), "problem": problem}, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(page_access(Role.MANAGER, Role.CLERK, Role.OFFICER, Role.VIEWER))],
):
    accounts.revoke_token(session, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
