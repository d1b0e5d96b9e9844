"""The warning and escalation rules page (administrators): the defaults, every rule with what it sets, and a form
to set or change a rule of an agency, a procedure, or a procedure at an agency. The same functions as the JSON
routes (`GET|PUT /api/v1/notify/rules`, `DELETE /api/v1/notify/rules/{id}`: notify/rules.py)."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from api.deps import RowId, SessionDep
from api.web.common import PAGE_ERRORS, WORDED, PageRoute, Problem, agencies, blank_to_none, keep_lang, language, render
from api.web.i18n import LABELS, translator
from api.web.messages import ROLE_NAMES
from kernel.errors import InvalidInput, NotFound
from notify import rules

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LEVELS = 3  # escalation rows on the form (a rule may hold up to five through the API)

LABELS.update({
    "rules.title": ("Quy tắc cảnh báo và leo thang", "Warning and escalation rules"),
    "rules.note": (
        "Ô để trống được kế thừa: mặc định ← đơn vị cấp trên ← đơn vị ← quy tắc của thủ tục ← thủ tục tại đơn vị. "
        "Quy tắc của một đơn vị áp dụng cả cho các đơn vị trực thuộc.",
        "An empty field inherits: defaults ← the units above ← the unit ← the procedure's rule ← the procedure at "
        "the unit. A unit's rule applies to the units under it too.",
    ),
    "rules.defaults": ("Mặc định của hệ thống", "The system's defaults"),
    "rules.rules": ("Các quy tắc", "Rules"),
    "rules.none": ("Chưa có quy tắc nào: mặc định áp dụng cho mọi hồ sơ.", "No rules yet: the defaults apply."),
    "rules.scope": ("Đơn vị", "Unit"),
    "rules.every_unit": ("Mọi đơn vị", "Every unit"),
    "rules.procedure": ("Mã thủ tục", "Procedure code"),
    "rules.every_procedure": ("Mọi thủ tục", "Every procedure"),
    "rules.procedure_hint": ("Để trống: mọi thủ tục", "Empty: every procedure"),
    "rules.warn": ("Cảnh báo sắp hết hạn", "Due-soon warning"),
    "rules.warn_share": ("Cảnh báo khi đã dùng (% thời gian của bước)", "Warn at (% of the step's time used)"),
    "rules.warn_hours": ("hoặc trước hạn (giờ làm việc)", "or before the due (working hours)"),
    "rules.apology": ("Nhắc xin lỗi", "Apology reminder"),
    "rules.apology_reminder": ("Nhắc viết thư xin lỗi khi hồ sơ sắp trễ hẹn", "Remind to apologise before a late due"),
    "rules.apology_lead": ("Nhắc trước hạn (giờ làm việc)", "Remind before the due (working hours)"),
    "rules.supplement": ("Nhắc bổ sung (ngày làm việc chờ)", "Supplement reminder (working days waiting)"),
    "rules.escalation": ("Leo thang khi quá hạn", "Escalation when overdue"),
    "rules.escalation_mode": ("Leo thang", "Escalation"),
    "rules.inherit": ("Kế thừa", "Inherit"),
    "rules.yes": ("Có", "Yes"),
    "rules.no": ("Không", "No"),
    "rules.no_escalation": ("Không leo thang", "No escalation"),
    "rules.levels": ("Theo các bậc dưới đây", "The levels below"),
    "rules.level": ("Bậc {n}", "Level {n}"),
    "rules.after": ("Quá hạn (ngày làm việc)", "Overdue by (working days)"),
    "rules.every": ("Nhắc lại mỗi (ngày làm việc)", "Again every (working days)"),
    "rules.to": ("Báo cho", "Tell"),
    "rules.to.unit": ("lãnh đạo đơn vị đang giữ hồ sơ", "the holding unit's managers"),
    "rules.to.centre": ("cấp trên cùng (trung tâm)", "the top of the tree (centre)"),
    "rules.role": ("Vai trò", "Role"),
    "rules.level_text": (
        "quá hạn {after} ngày: {to} ({role}), nhắc lại mỗi {every} ngày",
        "overdue {after} d: {to} ({role}), again every {every} d",
    ),
    "rules.by": ("Người sửa", "Changed by"),
    "rules.edit": ("Sửa", "Edit"),
    "rules.delete": ("Xoá", "Delete"),
    "rules.delete_confirm": (
        "Xoá quy tắc này? Hồ sơ sẽ theo quy tắc kế thừa.",
        "Delete this rule? Dossiers will follow the inherited one.",
    ),
    "rules.save": ("Lưu quy tắc", "Save the rule"),
    "rules.new": ("Đặt quy tắc", "Set a rule"),
    "rules.editing": ("Sửa quy tắc #{id}", "Editing rule #{id}"),
    "rules.cancel": ("Huỷ sửa", "Cancel"),
    "rules.saved": ("Đã lưu quy tắc.", "The rule is saved."),
    "rules.deleted": ("Đã xoá quy tắc.", "The rule is deleted."),
    "rules.same_key": (
        "Lưu lại với cùng đơn vị và thủ tục sẽ thay quy tắc đang có.",
        "Saving with the same unit and procedure replaces the rule there.",
    ),
    "nav.rules": ("Quy tắc cảnh báo", "Warning rules"),
    **{f"role.{name}": words for name, words in ROLE_NAMES.items()},
})  # fmt: skip


def _form_of(rule: rules.RuleRead | None) -> dict:
    """The form's values: a rule's, or empty."""
    if rule is None:
        return {"agency_code": "", "procedure_code": "", "levels": [{}] * LEVELS, "escalation_mode": "inherit"}
    levels = [level.model_dump() for level in rule.escalation or []]
    return {
        **rule.model_dump(exclude={"escalation"}),
        "warn_percent": round(rule.warn_share * 100) if rule.warn_share is not None else None,
        "escalation_mode": "inherit" if rule.escalation is None else ("levels" if rule.escalation else "none"),
        "levels": (levels + [{}] * LEVELS)[: max(LEVELS, len(levels))],
    }


def _page(request: Request, session, *, form: dict | None = None, editing: int | None = None,
          problem: Problem | None = None, done: str | None = None):  # fmt: skip
    return render(
        request,
        "web/rules.html",
        {
            "rules": rules.list_rules(session),
            "defaults": rules.DEFAULTS,
            "agencies": agencies(session),
            "form": form or _form_of(None),
            "editing": editing,
            "problem": problem,
            "done": done,
        },
        status_code=problem.status_code if problem else 200,
        page_path="/notify/rules",
    )


def _rule(rule_id: int, session) -> rules.RuleRead:
    for rule in rules.list_rules(session):
        if rule.id == rule_id:
            return rule
    raise NotFound(f"no rule {rule_id}; GET /api/v1/notify/rules lists them", message_id="rule_not_found")


@router.get("/notify/rules")
def rules_page(
    request: Request,
    session: SessionDep,
    edit: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    done: Annotated[str | None, Query(max_length=8)] = None,
):
    """The defaults, every rule, and the form (filled with rule `edit`)."""
    form = _form_of(_rule(edit, session)) if edit else None
    return _page(request, session, form=form, editing=edit, done=done if done in ("saved", "deleted") else None)


Number = Annotated[str, Form(max_length=16)]


@router.post("/notify/rules")
def save_rule(
    request: Request,
    session: SessionDep,
    agency_code: Annotated[str, Form(max_length=64)] = "",
    procedure_code: Annotated[str, Form(max_length=64)] = "",
    warn_percent: Number = "",
    warn_working_hours_before: Number = "",
    apology_reminder: Annotated[str, Form(max_length=8)] = "",
    apology_lead_working_hours: Number = "",
    supplement_reminder_working_days: Number = "",
    escalation_mode: Annotated[str, Form(max_length=8)] = "inherit",
    after_working_days: Annotated[list[str] | None, Form()] = None,
    every_working_days: Annotated[list[str] | None, Form()] = None,
    to: Annotated[list[str] | None, Form()] = None,
    role: Annotated[list[str] | None, Form()] = None,
    editing: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
):
    """Set the rule of (agency, procedure) through `notify.rules.save_rule`, as `PUT /api/v1/notify/rules`."""
    rows = list(zip(after_working_days or [], every_working_days or [], to or [], role or [], strict=False))
    levels = [
        {"after_working_days": after, "every_working_days": every, "to": whom, "role": who}
        for after, every, whom, who in rows[:LEVELS]
        if blank_to_none(after) or blank_to_none(every)
    ]
    form = {
        "agency_code": agency_code, "procedure_code": procedure_code, "warn_percent": blank_to_none(warn_percent),
        "warn_working_hours_before": blank_to_none(warn_working_hours_before),
        "apology_reminder": {"yes": True, "no": False}.get(apology_reminder),
        "apology_lead_working_hours": blank_to_none(apology_lead_working_hours),
        "supplement_reminder_working_days": blank_to_none(supplement_reminder_working_days),
        "escalation_mode": escalation_mode, "levels": (levels + [{}] * LEVELS)[:LEVELS],
    }  # fmt: skip
    try:
        with session.begin_nested():
            data = rules.RuleIn.model_validate(
                {
                    "agency_code": blank_to_none(agency_code),
                    "procedure_code": blank_to_none(procedure_code),
                    "warn_share": _share(request, form["warn_percent"]),
                    "warn_working_hours_before": form["warn_working_hours_before"],
                    "apology_reminder": form["apology_reminder"],
                    "apology_lead_working_hours": form["apology_lead_working_hours"],
                    "supplement_reminder_working_days": form["supplement_reminder_working_days"],
                    "escalation": {"inherit": None, "none": []}.get(escalation_mode, levels),
                }
            )
            rule = rules.save_rule(session, data, actor=request.state.principal.username)
    except PAGE_ERRORS as exc:
        return _page(request, session, form=form, editing=editing, problem=Problem.of(exc))
    request.state.audit_detail = f"notify rule {rule.id}: {rule.agency_code or '*'} / {rule.procedure_code or '*'}"
    return RedirectResponse(keep_lang(request, "/notify/rules?done=saved"), status_code=303)


def _share(request: Request, percent: str | None) -> float | None:
    """The warning threshold typed in percent (1–99) as the rule's share of the allotment."""
    if percent is None:
        return None
    try:
        value = float(percent.replace(",", "."))
    except ValueError:
        value = -1.0
    if not 0 < value < 100:
        lang = language(request)
        said = "không hợp lệ, cần một số từ 1 đến 99" if lang == "vi" else "is not valid: a number from 1 to 99"
        raise InvalidInput(f"{translator(lang)('rules.warn_share')}: {percent} {said}", message_id=WORDED)
    return round(value / 100, 4)


@router.post("/notify/rules/{rule_id}/delete")
def delete_rule(request: Request, session: SessionDep, rule_id: RowId):
    """Delete a rule through `notify.rules.delete_rule`, as `DELETE /api/v1/notify/rules/{id}`."""
    rules.delete_rule(session, rule_id)
    request.state.audit_detail = f"notify rule {rule_id} deleted"
    return RedirectResponse(keep_lang(request, "/notify/rules?done=deleted"), status_code=303)
