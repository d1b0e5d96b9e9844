"""Notification pages: the staff inbox (warnings, reminders, escalations; mark read) and the message templates
an administrator edits, with a preview. The same functions as the JSON routes (api/routes/notifications.py)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse

from api.deps import SessionDep
from api.web.common import PAGE_ERRORS, PageRoute, Problem, blank_to_none, keep_lang, render
from kernel.errors import InvalidInput, NotFound
from notify import inbox, templates
from notify.models import CHANNELS

INBOX_PAGE_SIZE = 30

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # staff
admin_router = APIRouter(route_class=PageRoute, include_in_schema=False)  # administrators


@router.get("/desk/inbox")
def inbox_page(
    request: Request,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    unread: Annotated[bool, Query()] = False,
):
    """The user's warnings, apology reminders and escalations, newest first; each links to its dossier."""
    found = inbox.inbox(
        session,
        user_id=request.state.principal.user_id,
        now=datetime.now(UTC),
        page=page,
        page_size=INBOX_PAGE_SIZE,
        unread_only=unread,
    )
    pages = max((found.total + INBOX_PAGE_SIZE - 1) // INBOX_PAGE_SIZE, 1)
    return render(request, "web/inbox.html", {"inbox": found, "page": page, "pages": pages, "unread_only": unread})


@router.post("/desk/inbox/{notification_id}/read")
def read_one(request: Request, session: SessionDep, notification_id: Annotated[int, Path(ge=1)]):
    inbox.mark_read(
        session, user_id=request.state.principal.user_id, now=datetime.now(UTC), notification_id=notification_id
    )
    return RedirectResponse(keep_lang(request, "/desk/inbox"), status_code=303)


@router.post("/desk/inbox/read")
def read_all(request: Request, session: SessionDep):
    inbox.mark_read(session, user_id=request.state.principal.user_id, now=datetime.now(UTC))
    return RedirectResponse(keep_lang(request, "/desk/inbox"), status_code=303)


@admin_router.get("/notify/templates")
def templates_page(request: Request, session: SessionDep):
    """Every message text (kind × channel), the stored one or the default."""
    texts = templates.all_texts(session)
    return render(request, "web/templates.html", {"texts": texts, "kinds": templates.KINDS})


def _text_page(request, session, kind: str, channel: str, *, draft=None, preview=None, problem=None, done=None):
    if kind not in templates.KINDS or channel not in CHANNELS or templates.default_text(kind, channel) is None:
        raise NotFound(f"no message {kind!r} on channel {channel!r}", message_id="template_unknown")
    stored = templates.text_for(session, kind, channel)
    return render(
        request,
        "web/template_edit.html",
        {
            "kind": kind,
            "channel": channel,
            "name": templates.KINDS[kind],
            "text": stored,
            "draft": draft or {"subject": stored.subject or "", "body": stored.body},
            "preview": preview,
            "placeholders": templates.PLACEHOLDERS,
            "problem": problem,
            "done": done,
        },
        status_code=problem.status_code if problem else 200,
        page_path=f"/notify/templates/{kind}/{channel}",
    )


@admin_router.get("/notify/templates/{kind}/{channel}")
def template_page(
    request: Request,
    session: SessionDep,
    kind: Annotated[str, Path(max_length=32)],
    channel: Annotated[str, Path(max_length=8)],
    done: Annotated[str | None, Query(max_length=8)] = None,
):
    """One text: its editor, the placeholders it may use, and a preview with a sample dossier."""
    text = templates.text_for(session, kind, channel) if kind in templates.KINDS and channel in CHANNELS else None
    preview = templates.preview(kind, channel, text.subject, text.body) if text else None
    done = done if done in ("saved", "reset") else None
    return _text_page(request, session, kind, channel, preview=preview, done=done)


@admin_router.post("/notify/templates/{kind}/{channel}")
def template_post(
    request: Request,
    session: SessionDep,
    kind: Annotated[str, Path(max_length=32)],
    channel: Annotated[str, Path(max_length=8)],
    body: Annotated[str, Form(max_length=2000)] = "",
    subject: Annotated[str | None, Form(max_length=300)] = None,
    action: Annotated[str, Form(max_length=8)] = "preview",
):
    """preview: show the draft filled with the sample; save: store it; reset: back to the default."""
    draft = {"subject": subject or "", "body": body}
    try:
        with session.begin_nested():
            if action == "reset":
                templates.reset_text(session, kind=kind, channel=channel)
                return RedirectResponse(keep_lang(request, f"/notify/templates/{kind}/{channel}?done=reset"), 303)
            if not body.strip():
                raise InvalidInput("the text is empty", message_id="template_empty")
            preview = templates.preview(kind, channel, blank_to_none(subject), body.strip())
            if action == "save":
                templates.save_text(
                    session,
                    kind=kind,
                    channel=channel,
                    subject=blank_to_none(subject),
                    body=body.strip(),
                    actor=request.state.principal.username,
                )
                return RedirectResponse(keep_lang(request, f"/notify/templates/{kind}/{channel}?done=saved"), 303)
    except PAGE_ERRORS as exc:
        return _text_page(request, session, kind, channel, draft=draft, problem=Problem.of(exc))
    return _text_page(request, session, kind, channel, draft=draft, preview=preview)
