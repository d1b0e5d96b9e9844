"""Notifications (notify/): a staff member's inbox, the messages a dossier caused, the message templates and the
warning and escalation rules (administrators)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from accounts.models import Role
from accounts.service import Principal
from api.deps import PagingDep, RowId, SessionDep
from api.security import STAFF, allow, readable_dossier
from kernel.schemas import Input
from notify import inbox, rules, templates
from notify.inbox import Inbox, LadderStep, MessageRead
from notify.outbox import Links
from notify.quiet import Calendars

router = APIRouter(tags=["notifications"])
Staff = Annotated[Principal, Depends(allow(*STAFF, Role.VIEWER))]
Admin = Annotated[Principal, Depends(allow())]
Kind = Annotated[str, Path(max_length=32, description=", ".join(templates.KINDS))]
Channel = Annotated[Literal["sms", "zalo", "email"], Path()]


class DossierMessages(BaseModel):
    code: str
    messages: list[MessageRead]
    escalations: list[LadderStep] = Field(description="the escalation ladder: who was told, at which level, when")


class Marked(BaseModel):
    marked: int
    unread: int


class TemplateRead(BaseModel):
    kind: str
    name: str
    channel: str
    subject: str | None
    body: str
    customised: bool = Field(description="false: the default text")


class TemplateIn(Input):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Preview(BaseModel):
    subject: str | None
    body: str
    placeholders: dict[str, str]


def _template(text: templates.Text) -> TemplateRead:
    return TemplateRead(
        kind=text.kind,
        name=templates.KINDS[text.kind],
        channel=text.channel,
        subject=text.subject,
        body=text.body,
        customised=text.customised,
    )


@router.get("/notifications", response_model=Inbox)
def list_notifications(
    session: SessionDep,
    principal: Staff,
    paging: PagingDep,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
):
    """Your warnings, reminders and escalations, newest first, with the unread count; each links to its dossier.
    A notification fired outside your unit's working time appears at its next working instant."""
    return inbox.inbox(
        session,
        user_id=principal.user_id,
        now=datetime.now(UTC),
        page=paging.page,
        page_size=paging.page_size,
        unread_only=unread,
    )


@router.post("/notifications/{notification_id}/read", response_model=Marked)
def mark_read(session: SessionDep, principal: Staff, notification_id: RowId):
    now = datetime.now(UTC)
    marked = inbox.mark_read(session, user_id=principal.user_id, now=now, notification_id=notification_id)
    return Marked(marked=marked, unread=inbox.unread_count(session, principal.user_id, now))


@router.post("/notifications/read", response_model=Marked)
def mark_all_read(session: SessionDep, principal: Staff):
    now = datetime.now(UTC)
    marked = inbox.mark_read(session, user_id=principal.user_id, now=now)
    return Marked(marked=marked, unread=0)


@router.get("/dossiers/{code}/messages", response_model=DossierMessages, tags=["dossiers"])
def dossier_messages(session: SessionDep, principal: Annotated[Principal, Depends(allow(*STAFF))], code: str):
    """Every message the dossier caused (to its applicant), with its delivery state and log, and its escalation
    ladder. Scoped like the dossier (outside your scope: 404); addresses are not shown."""
    dossier = readable_dossier(session, code, principal)
    return DossierMessages(
        code=dossier.code, messages=inbox.messages_of(session, dossier), escalations=inbox.ladder(session, dossier)
    )


class EvaluationRead(BaseModel):
    at: datetime
    open_stages: int
    open_dossiers: int
    waiting_supplement: int
    fired: dict[str, int] = Field(description="causes newly told, by kind")
    notifications: int
    citizen_messages: int
    due: int = Field(description="causes due by now, told before or not")


@router.post("/notify/evaluate", response_model=EvaluationRead)
def evaluate_now(request: Request, session: SessionDep, principal: Admin):
    """Run the rules now (the scheduler does every minute; `motcua notify evaluate` from a shell). Idempotent:
    what was told is not told again."""
    settings = request.app.state.settings
    report = rules.evaluate(
        session,
        calendars=Calendars(session, request.app.state.calendars),
        now=datetime.now(UTC),
        links=Links(settings.public_url or str(request.base_url)),
        citizen_hours=settings.citizen_window,
    )
    return EvaluationRead(**vars(report))


@router.get("/notify/templates", response_model=list[TemplateRead])
def list_templates(session: SessionDep, principal: Admin):
    """The message texts per kind and channel (Vietnamese), the stored one or the default."""
    return [_template(text) for text in templates.all_texts(session)]


@router.put("/notify/templates/{kind}/{channel}", response_model=TemplateRead)
def save_template(session: SessionDep, principal: Admin, kind: Kind, channel: Channel, data: TemplateIn):
    """Replace a text; placeholders from `GET /notify/placeholders` only (no personal data can be named)."""
    text = templates.save_text(
        session, kind=kind, channel=channel, subject=data.subject, body=data.body, actor=principal.username
    )
    return _template(text)


@router.delete("/notify/templates/{kind}/{channel}", response_model=TemplateRead)
def reset_template(session: SessionDep, principal: Admin, kind: Kind, channel: Channel):
    """Back to the default text."""
    return _template(templates.reset_text(session, kind=kind, channel=channel))


@router.post("/notify/templates/{kind}/{channel}/preview", response_model=Preview)
def preview_template(principal: Admin, kind: Kind, channel: Channel, data: TemplateIn):
    """The text filled with a sample dossier, before saving it."""
    subject, body = templates.preview(kind, channel, data.subject, data.body)
    return Preview(subject=subject, body=body, placeholders=templates.PLACEHOLDERS)


@router.get("/notify/placeholders", response_model=dict[str, str])
def placeholders(principal: Admin):
    return templates.PLACEHOLDERS


@router.get("/notify/rules", response_model=list[rules.RuleRead])
def list_rules(session: SessionDep, principal: Admin):
    """The warning and escalation rules; `GET /notify/rules/defaults` for what applies without one."""
    return rules.list_rules(session)


@router.get("/notify/rules/defaults", response_model=rules.RuleSettings)
def rule_defaults(principal: Admin):
    return rules.DEFAULTS


@router.put("/notify/rules", response_model=rules.RuleRead)
def save_rule(session: SessionDep, principal: Admin, data: rules.RuleIn):
    """Set the rule of an agency (inherited by the agencies below it), a procedure, or a procedure at an agency;
    without either, the defaults. Empty fields inherit."""
    return rules.save_rule(session, data, actor=principal.username)


@router.delete("/notify/rules/{rule_id}", status_code=204)
def delete_rule(session: SessionDep, principal: Admin, rule_id: RowId):
    rules.delete_rule(session, rule_id)
