"""What every page shares: the templates, the language (?lang= remembered in a cookie), rendering,
and error pages that show the API's `{"error", "detail"}` as they are."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

import sla  # noqa: F401  (imported, sla has translated its core's errors: PAGE_ERRORS lists them)
from accounts.models import Role
from accounts.service import Principal
from api.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, Formats, translator
from api.web.messages import page_messages
from kernel.errors import DomainError, InvalidInput, as_domain_error, translated_errors
from kernel.schemas import DateFormatError, parse_day_first
from notify.inbox import unread_count
from procedures import service as catalogue
from procedures.schemas import AgencyRead
from sla.core.lifecycle import Status

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LANG_COOKIE = "lang"
LANG_COOKIE_SECONDS = 365 * 24 * 3600
MINUTES_PER_WORKING_DAY = 480

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def day_first(value: str | date | None) -> str:
    """An ISO day (YYYY-MM-DD) or a date shown as the date fields take it, dd/mm/yyyy; anything else as it was
    typed."""
    if not value:
        return ""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


templates.env.filters["day_first"] = day_first
templates.env.globals["Status"] = Status  # the lifecycle's status codes, by name


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200, page_path: str | None = None
) -> Response:
    """A page in the reader's language; `?lang=` is remembered in a cookie for the next pages.

    `page_path`: for a page answering a form post, the page the language switch leads to.
    A page answered with an error status is audited as refused (`api.deps.get_session`: a refused
    write keeps nothing but its audit row), unless the page named its outcome already.
    """
    if status_code >= 400 and not getattr(request.state, "audit_outcome", None):
        request.state.audit_outcome = f"refused {status_code}"
    lang = language(request)
    other = LANGUAGES[1 - LANGUAGES.index(lang)]
    here = request.url if request.method == "GET" else request.url.replace(path=page_path or "/", query="")
    switch = here.include_query_params(lang=other)
    response = templates.TemplateResponse(
        request,
        name,
        {
            **context,
            "lang": lang,
            "t": translator(lang),
            "fmt": Formats(lang, context.get("minutes_per_day", MINUTES_PER_WORKING_DAY)),
            "switch_url": f"{switch.path}?{switch.query}",
            "csrf": getattr(request.state, "csrf", ""),
            "problem_text": page_messages(lang),
            "may": (may := may_use(getattr(request.state, "principal", None))),
            "menu": menu(may),
            "unread": _unread(request),
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_SECONDS, samesite="lax", httponly=True)
    return response


def _unread(request: Request) -> int:
    """The signed-in staff member's unread notifications, for the header (0 for anyone else)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or not may_use(principal)["inbox"]:
        return 0
    try:
        with request.app.state.open_session(False) as session:
            return unread_count(session, principal.user_id, datetime.now(UTC))
    except SQLAlchemyError:  # an error page still renders when the database does not answer
        return 0


def keep_lang(request: Request, url: str) -> str:
    """`url` with the reader's language when it is not the default (a redirect keeps `?lang=en`)."""
    lang = language(request)
    if lang == DEFAULT_LANGUAGE or "lang=" in url.partition("?")[2]:
        return url
    return f"{url}{'&' if '?' in url else '?'}lang={lang}"


@dataclass
class Problem:
    """An error as the API answers it: `{"error", "detail"}` (+ `errors`), with its status code.

    Pages never show `detail`: they say `kind` (the error class) and `message_id` with `params` in the
    reader's language (api/web/messages.py, `problem_text` in the templates)."""

    status_code: int
    error: str
    detail: str
    errors: list = field(default_factory=list)
    message_id: str | None = None
    params: dict = field(default_factory=dict)
    kind: type | None = None

    @classmethod
    def of(cls, exc: Exception) -> "Problem":
        exc = as_domain_error(exc) or exc  # the core's errors, translated once (kernel.errors)
        if isinstance(exc, DomainError):
            return cls(exc.status_code, exc.error, exc.detail, exc.errors or [], exc.message_id, exc.params, type(exc))
        if isinstance(exc, ValidationError | RequestValidationError):
            problems = exc.errors()
            detail = "; ".join(_describe(p) for p in problems)
            params = {"problems": problems}
            return cls(422, "invalid_input", detail, message_id="input", params=params, kind=InvalidInput)
        raise TypeError(f"not a domain error: {exc!r}")


PAGE_ERRORS = (DomainError, ValidationError, RequestValidationError, *translated_errors())


def _describe(problem: dict) -> str:
    where = ".".join(str(part) for part in problem["loc"] if part not in ("body", "query", "path", "form"))
    return f"{where}: {problem['msg']}" if where else problem["msg"]


class PageRoute(APIRoute):
    """A page route: a domain or input error becomes an HTML page with the error box, not JSON.

    The exception stops here, inside the request's session dependency, which then sees a page with an
    error status: it rolls the writes back and audits the request as refused (see `render`).
    """

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PAGE_ERRORS as exc:
                problem = Problem.of(exc)
                return render(
                    request, "web/error.html", {"problem": problem}, status_code=problem.status_code, page_path="/"
                )

        return page_handler


# which pages each role may use (the routes' `page_access` admits the same roles; administrators all)
PAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "desk": (Role.MANAGER, Role.CLERK, Role.OFFICER),
    "receive": (Role.CLERK,),  # as POST /api/v1/dossiers admits
    "worklist": (Role.CLERK, Role.OFFICER),
    "inbox": (Role.MANAGER, Role.CLERK, Role.OFFICER),
    "templates": (),
    "rules": (),  # the warning and escalation rules (api/web/rules_view.py)
    "dashboard": (Role.MANAGER,),
    "exchange": (Role.MANAGER,),
    "exchange_imports": (),  # the history import (page_access() in api/web/exchange_pages.py)
    "reconcile": (Role.MANAGER,),
    "calendar": (Role.MANAGER, Role.CLERK, Role.OFFICER, Role.VIEWER),
    "calendar_overrides": (),
    "lookup": tuple(Role),
    "complaints": (Role.MANAGER, Role.CLERK, Role.OFFICER),
    "ratings": (Role.MANAGER, Role.CLERK, Role.VIEWER),
}


# The staff menu in its order: a name and its page, or a group's name and its entries. A group of which the
# user may use one entry shows that entry as a plain link; of none, nothing.
MENU: tuple[tuple[str, str | tuple[tuple[str, str], ...]], ...] = (
    ("desk", "/desk"),
    ("worklist", "/desk/worklist"),
    ("inbox", "/desk/inbox"),
    ("dashboard", "/dashboard"),
    ("complaints", "/desk/complaints"),
    ("ratings", "/desk/ratings"),
    (
        "system",
        (
            ("exchange", "/exchange"),
            ("exchange_imports", "/exchange/imports"),
            ("reconcile", "/exchange/reconcile"),
            ("calendar", "/calendar"),
            ("templates", "/notify/templates"),
            ("rules", "/notify/rules"),
        ),
    ),
    ("lookup", "/lookup"),
)


def menu(may: dict[str, bool]) -> list[dict[str, Any]]:
    """The menu entries this user sees (`may`: `may_use`): {name, href} or {name, links: [{name, href}…]}."""
    entries: list[dict[str, Any]] = []
    for name, target in MENU:
        if isinstance(target, str):
            if may[name]:
                entries.append({"name": name, "href": target})
            continue
        links = [{"name": entry, "href": href} for entry, href in target if may[entry]]
        if len(links) == 1:
            entries.append(links[0])
        elif links:
            entries.append({"name": name, "links": links})
    return entries


def may_use(principal: Principal | None) -> dict[str, bool]:
    """For the navigation and the pages: which sections this user may use (signed out: the public ones)."""
    if principal is None:
        return {name: name == "lookup" for name in PAGE_ROLES}
    return {name: principal.role == Role.ADMIN or principal.role in roles for name, roles in PAGE_ROLES.items()}


def blank_to_none(value: str | None) -> str | None:
    """Form fields arrive as '' when left empty."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def agencies(session: Session) -> list[AgencyRead]:
    """Every agency, parents before children, for pickers and names."""
    return catalogue.list_agencies(session)


WORDED = "worded"
"""The `message_id` of an error whose detail is already in the page's language: a page shows it as it is."""


def typed_date(request: Request, value: str | None, label_key: str, *, date_only: bool = False) -> str | None:
    """A date (`date_only`) or date-time typed in a page's form (dd/mm/yyyy HH:mm, dd/mm/yyyy or ISO,
    `kernel.schemas.parse_day_first`), as ISO text for the API's shapes; None when left empty.

    Day first whatever the browser's locale. Unreadable: InvalidInput naming the field (its label,
    `label_key` in api/web/i18n.py) and the accepted forms, in the page's language.
    """
    value = blank_to_none(value)
    if value is None:
        return None
    try:
        return parse_day_first(value, date_only=date_only).isoformat()
    except DateFormatError as exc:
        lang = language(request)
        raise InvalidInput(f"{translator(lang)(label_key)}: {exc.message(lang)}", message_id=WORDED) from None
