"""The history import page (administrators) and the reconciliation page (managers, administrators): the same use
cases as POST /api/v1/exchange/import and /exchange/reconcile (exchange/uses.py)."""

import io
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse

from accounts.models import Role
from api.calendars import calendar_for
from api.deps import RowId, SessionDep
from api.web.auth import page_access
from api.web.common import PAGE_ERRORS, PageRoute, Problem, keep_lang, language, render
from api.web.exchange_problems import problem_text
from api.web.i18n import LABELS
from exchange import history, uses
from exchange.reconcile import FIGURES, KINDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50

# The labels of these two pages (kept here, beside their pages; merged into the page labels at import).
LABELS.update({
    "xi.title": ("Nhập lịch sử hồ sơ", "History import"),
    "xi.intro": (
        "Nhập hồ sơ từ hệ thống cũ theo bản ghi đồng bộ quốc gia (JSON lines, CSV hoặc XLSX): mỗi bản ghi thành một "
        "hồ sơ, các sự kiện được tính lại theo lịch làm việc. Một bản ghi lỗi thì không nhập gì, trừ khi chọn bỏ qua "
        "bản ghi lỗi.",
        "Import dossiers from another system as national records (JSON lines, CSV or XLSX): each record becomes a "
        "dossier, its events replayed through our clock. One bad record imports nothing, unless you skip bad records.",
    ),
    "xi.file": ("Tệp bản ghi", "Records file"),
    "xi.skip_bad": ("Bỏ qua bản ghi lỗi (nhập các bản ghi đúng)", "Skip bad records (import the good ones)"),
    "xi.submit": ("Nhập", "Import"),
    "xi.imports": ("Các lần nhập", "Imports"),
    "xi.none": ("Chưa có lần nhập nào.", "No import yet."),
    "xi.id": ("Lần", "Import"),
    "xi.at": ("Thời điểm", "When"),
    "xi.by": ("Người nhập", "By"),
    "xi.file_name": ("Tệp", "File"),
    "xi.records": ("Bản ghi", "Records"),
    "xi.written": ("Đã nhập", "Imported"),
    "xi.rejected": ("Lỗi", "Rejected"),
    "xi.findings": ("Khác biệt", "Disagreements"),
    "xi.import": ("Lần nhập {id}: {file}", "Import {id}: {file}"),
    "xi.summary": (
        "{written}/{records} bản ghi đã nhập, {rejected} bản ghi lỗi, {findings} hồ sơ có ngày hẹn hoặc trạng thái "
        "khác với cách tính của hệ thống.",
        "{written} of {records} records imported, {rejected} rejected, {findings} dossiers whose appointment or "
        "status differs from ours.",
    ),
    "xi.refused": ("Không nhập bản ghi nào: {rejected}/{records} bản ghi lỗi.",
                   "Nothing imported: {rejected} of {records} records are bad."),
    "xi.line": ("Dòng", "Line"),
    "xi.field": ("Trường", "Field"),
    "xi.problem": ("Lỗi", "Problem"),
    "xi.code": ("Mã hồ sơ", "Dossier code"),
    "xi.external": ("Mã ở hệ thống cũ", "External code"),
    "xi.theirs": ("Hẹn trả (hệ thống cũ)", "Appointment (theirs)"),
    "xi.ours": ("Hẹn trả (tính lại)", "Appointment (ours)"),
    "xi.apart": ("Chênh lệch (ngày làm việc)", "Apart (working days)"),
    "xi.days": ("Ngày đặc biệt ở giữa", "Special days between"),
    "xi.status": ("Trạng thái (cũ / tính lại)", "Status (theirs / ours)"),
    "xi.no_findings": ("Mọi hồ sơ khớp với cách tính của hệ thống.", "Every dossier agrees with our clock."),
    "xi.no_day": ("không có: khác thời hạn, cách bắt đầu hoặc cách tính bổ sung",
                  "none: another allotment, start or supplement rule"),
    "xi.kind.off": ("nghỉ", "off"),
    "xi.kind.workday": ("làm bù", "make-up working day"),
    "xi.page": ("Trang {page}/{pages}", "Page {page} of {pages}"),
    "xi.rejects": ("Bản ghi bị loại", "Rejected records"),
    "xi.rejects_shown": ("{shown} lỗi đầu tiên; tệp bản ghi bị loại (hoặc câu trả lời của API) có đủ.",
                         "The first {shown} problems; the rejects file (or the API's answer) has them all."),
    "rc.title": ("Đối chiếu số liệu với Cổng DVC quốc gia", "Reconcile with the national portal"),
    "rc.intro": (
        "Số liệu tiến độ giải quyết của Cổng theo đơn vị (tệp CSV, các cột như trang thống kê của Cổng) đặt cạnh số "
        "liệu của hệ thống trong cùng kỳ; mỗi chênh lệch được giải thích bằng các hồ sơ đứng sau nó.",
        "The portal's progress figures per unit (a CSV file, the columns of the portal's statistics page) beside ours "
        "for the same period; each difference is explained by the dossiers behind it.",
    ),
    "rc.period": ("Kỳ (ví dụ 2026-Q3)", "Period (e.g. 2026-Q3)"),
    "rc.file": ("Tệp số liệu của Cổng (CSV)", "The portal's figures (CSV)"),
    "rc.submit": ("Đối chiếu", "Reconcile"),
    "rc.unit": ("Đơn vị", "Unit"),
    "rc.figure": ("Chỉ tiêu", "Figure"),
    "rc.portal": ("Cổng", "Portal"),
    "rc.ours": ("Hệ thống", "Ours"),
    "rc.difference": ("Chênh lệch", "Difference"),
    "rc.unexplained": ("Chưa giải thích", "Unexplained"),
    "rc.agrees": ("Khớp", "Agrees"),
    "rc.unknown_unit": ("Không phải đơn vị của hệ thống", "Not one of our agencies"),
    "rc.fig.received": ("Tiếp nhận", "Received"),
    "rc.fig.on_time": ("Đúng hạn", "On time"),
    "rc.fig.late": ("Trễ hạn (đã xong)", "Late (finished)"),
    "rc.fig.within_due": ("Trong hạn (đang xử lý)", "Within due (open)"),
    "rc.fig.overdue": ("Quá hạn", "Overdue"),
    "rc.fig.score": ("Điểm 766 (tiến độ)", "766 progress score"),
    "rc.kind.not_synced": ("Chưa đồng bộ lên Cổng", "Not synced to the portal"),
    "rc.kind.received_in_another_period": ("Nộp trong kỳ, tiếp nhận kỳ sau", "Submitted in the period, received after"),
    "rc.kind.status_differs": ("Trạng thái khác trên Cổng", "Status differs on the portal"),
    "rc.kind.appointment_differs": ("Ngày hẹn trả khác", "Appointment differs"),
    "rc.dossiers": ("{count} hồ sơ", "{count} dossiers"),
    "rc.moves": ("làm lệch", "moves"),
})


def _say(request: Request):
    """A bad record's reason in the page's language (api/web/exchange_problems.py)."""
    lang = language(request)
    return lambda problem: problem_text(problem, lang)


def _imports_page(request: Request, session, *, problem: Problem | None = None, refused: dict | None = None):
    return render(
        request,
        "web/exchange_imports.html",
        {"imports": history.imports(session), "problem": problem, "refused": refused, "say": _say(request)},
        status_code=problem.status_code if problem else 200,
        page_path="/exchange/imports",
    )


@router.get("/exchange/imports", dependencies=[Depends(page_access())])
def imports_page(request: Request, session: SessionDep):
    return _imports_page(request, session)


@router.post("/exchange/imports", dependencies=[Depends(page_access())])
def import_file(
    request: Request,
    session: SessionDep,
    file: UploadFile,
    skip_bad: Annotated[bool, Form()] = False,
):
    settings = request.app.state.settings
    principal = request.state.principal
    try:
        content = file.file.read(settings.max_upload_bytes + 1)
        if len(content) > settings.max_upload_bytes:
            from kernel.errors import InvalidInput

            raise InvalidInput(f"the file is larger than {settings.max_upload_bytes} bytes",
                               message_id="upload_too_large", limit=settings.max_upload_bytes)  # fmt: skip
        with session.begin_nested():
            report, _ = uses.import_upload(
                session, io.BytesIO(content), file_name=file.filename or "upload.jsonl", actor=principal.username,
                calendar_for=calendar_for(request, session), skip_bad=skip_bad,
            )  # fmt: skip
    except history.ImportRefused as exc:
        refused = {"records": exc.report.records, "rejected": exc.report.rejected, "problems": exc.report.problems}
        return _imports_page(request, session, problem=Problem.of(exc), refused=refused)
    except PAGE_ERRORS as exc:
        return _imports_page(request, session, problem=Problem.of(exc))
    request.state.audit_detail = f"history import {report.import_id}: {report.written} of {report.records} records"
    return RedirectResponse(keep_lang(request, f"/exchange/imports/{report.import_id}"), status_code=303)


@router.get("/exchange/imports/{import_id}", dependencies=[Depends(page_access())])
def import_page(request: Request, session: SessionDep, import_id: RowId, page: Annotated[int, Query(ge=1)] = 1):
    done = history.get_import(session, import_id)
    found, total = history.findings(session, import_id, page=page, page_size=PAGE_SIZE)
    return render(
        request,
        "web/exchange_import.html",
        {"done": done, "findings": found, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
         "say": _say(request), "kept": history.PROBLEMS_KEPT},
    )


def _reconcile_page(request: Request, *, period: str = "", result=None, problem: Problem | None = None):
    return render(
        request,
        "web/exchange_reconcile.html",
        {"period": period, "result": result, "problem": problem, "figures": FIGURES, "kinds": KINDS},
        status_code=problem.status_code if problem else 200,
        page_path="/exchange/reconcile",
    )


@router.get("/exchange/reconcile", dependencies=[Depends(page_access(Role.MANAGER))])
def reconcile_page(request: Request):
    return _reconcile_page(request)


@router.post("/exchange/reconcile", dependencies=[Depends(page_access(Role.MANAGER))])
def reconcile_file(
    request: Request, session: SessionDep, file: UploadFile, period: Annotated[str, Form(max_length=10)] = ""
):
    try:
        content = file.file.read(request.app.state.settings.max_upload_bytes + 1)
        result = uses.reconcile_upload(session, content, period=period.strip(), within=request.state.principal.scope)
    except PAGE_ERRORS as exc:
        return _reconcile_page(request, period=period, problem=Problem.of(exc))
    return _reconcile_page(request, period=period, result=result)
