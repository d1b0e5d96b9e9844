"""The desk's door to the applicant's contact (the dossier page's "change how the applicant is told"), and the
citizen's "stop the messages" on the lookup: the same use case as `PUT /api/v1/dossiers/{code}/contact`
(api/routes/contact.py → notify/consent.py)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import SessionDep, audit_dossier
from api.limits import LookupAttemptDep
from api.routes.contact import change
from api.web.citizen import answer_publicly
from api.web.common import PAGE_ERRORS, PageRoute, Problem, blank_to_none, keep_lang
from api.web.desk import _dossier_page
from api.web.i18n import LABELS
from dossiers import lookup as dossier_lookup
from dossiers.contact import ContactChange
from dossiers.ratings import INDICES, RATING_LEVELS
from notify import consent

router = APIRouter(route_class=PageRoute, include_in_schema=False)  # staff (api/web/pages.py)
public_router = APIRouter(route_class=PageRoute, include_in_schema=False)  # anyone holding the receipt

LABELS.update({
    "contact.change": ("Đổi cách thông báo cho người nộp", "Change how the applicant is told"),
    "contact.consent": ("Người nộp đồng ý nhận thông báo về hồ sơ", "The applicant agrees to be told of the dossier"),
    "contact.channel": ("Kênh nhận", "Channel"),
    "contact.email": ("Thư điện tử mới (để trống: giữ như cũ)", "New email (empty: keep it)"),
    "contact.phone_note": (
        "Tin SMS, Zalo gửi đến số điện thoại đã tiếp nhận. Tin đang chờ gửi theo cách cũ sẽ dừng.",
        "SMS and Zalo go to the phone received. Messages waiting under the old terms are stopped.",
    ),
    "contact.save": ("Lưu cách thông báo", "Save"),
    "contact.done": ("Đã lưu cách thông báo cho người nộp.", "How the applicant is told is saved."),
    "contact.stop": ("Ngừng nhận thông báo về hồ sơ này", "Stop the messages about this dossier"),
    "contact.stop_note": (
        "Bạn đang nhận tin về tiến độ hồ sơ. Có thể ngừng bất cứ lúc nào; muốn nhận lại, liên hệ bộ phận một cửa.",
        "You are told of the dossier's progress. You may stop at any time; to start again, ask the desk.",
    ),
    "contact.stopped": ("Đã ngừng gửi thông báo về hồ sơ này.", "No more messages about this dossier will be sent."),
})  # fmt: skip


@router.post("/desk/dossiers/{code}/contact")
def change_contact(
    request: Request,
    session: SessionDep,
    code: str,
    contact_consent: Annotated[bool, Form()] = False,
    preferred_channel: Annotated[str, Form(max_length=8)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
):
    submitted = {"contact_consent": contact_consent, "preferred_channel": preferred_channel, "email": email}
    try:
        with session.begin_nested():
            data = ContactChange(
                contact_consent=contact_consent,
                preferred_channel=blank_to_none(preferred_channel) if contact_consent else None,
                email=blank_to_none(email),
            )
            change(session, request, request.state.principal, code, data)
    except PAGE_ERRORS as exc:
        return _dossier_page(request, session, code, problem=Problem.of(exc), extra={"contact_form": submitted})
    return RedirectResponse(keep_lang(request, f"/desk/dossiers/{code}?done=contact#contact"), status_code=303)


@public_router.post("/lookup/stop-messages")
def stop_messages(
    request: Request,
    attempt: LookupAttemptDep,  # before the session: its refund is settled after the session has ended
    session: SessionDep,
    code: Annotated[str, Form(max_length=dossier_lookup.CODE_MAX_LENGTH)] = "",
    phone_last4: Annotated[str, Form(max_length=8)] = "",
):
    """The citizen, proven as at the lookup (the code and the phone's last 4 digits), stops the messages."""
    audit_dossier(request, code.strip())  # the code, never the digits
    context = {"code": dossier_lookup.normalise_code(code), "result": None, "not_found": False,
               "digits": phone_last4.strip(), "levels": RATING_LEVELS, "indices": INDICES}  # fmt: skip

    def work(context: dict) -> None:
        with session.begin_nested():
            dossier = dossier_lookup.find(session, code=code, phone_last4=phone_last4)
            changed = consent.change_consent(session, dossier, ContactChange(contact_consent=False))
            request.state.audit_detail = f"dossier {dossier.code} (the applicant): {consent.describe(changed)}"
        context["result"] = dossier_lookup.lookup(session, code=code, phone_last4=phone_last4)
        context["stopped"] = True

    return answer_publicly(request, attempt, code, context, work)
