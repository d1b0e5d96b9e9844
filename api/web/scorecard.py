"""The dashboard's scorecard page: a unit's Decision 766 points per group, the points lost per indicator, what was
never recorded, links to what cost points (dossiers, procedures, complaints, agencies), and the XLSX. The figures
are the API's (`api.routes.scorecard`): the page and the route call the same function."""

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.routes import scorecard as routes
from api.security import scoped_agency
from api.web.common import PageRoute, Problem, agencies, blank_to_none, language, render
from kernel.errors import InvalidInput
from sla import scorecard
from sla.core.index766 import GROUPS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ROWS = 100
WORDS = {
    "vi": {
        "title": "Chỉ số phục vụ người dân, doanh nghiệp (QĐ 766)", "period": "Kỳ", "agency": "Đơn vị",
        "children": "Gồm đơn vị trực thuộc", "show": "Xem", "total": "Tổng điểm", "group": "Nhóm",
        "points": "Điểm", "lost": "Điểm bị trừ", "indicator": "Chỉ số", "rate": "Tỷ lệ", "threshold": "Ngưỡng",
        "figures": "Tử số / mẫu số", "missing": "Chưa ghi nhận dữ liệu (không chấm điểm)", "needs": "Cần",
        "costly": "Các trường hợp bị trừ điểm", "xlsx": "Tải XLSX", "none": "Không có", "back": "Về bảng điểm",
        "code": "Mã", "procedure": "Thủ tục", "received": "Ngày tiếp nhận", "outcome": "Kết quả",
        "formula": "Công thức", "not_scored": "chưa chấm",
        "why": "Lý do", "late": "Trễ hạn", "reason_late": "Trễ hạn (chỉ số 2.1)",
        "reason_complaint": "Bị phản ánh, kiến nghị",
        "unit": "Đơn vị", "level": "Cấp", "setting": "Chứng thực bản sao điện tử", "not_recorded": "Chưa ghi nhận",
        "not_offered": "Không cung cấp", "offered_from": "Cung cấp từ {day}", "disliked": "Không hài lòng với trả lời",
        "repeated": "Phản ánh lại", "dissatisfied_title": "Đánh giá không hài lòng",
        "dissatisfied_note": "Đếm theo đơn vị và thủ tục, không hiển thị đánh giá của từng hồ sơ.",
        "dissatisfied_both": "{both} hồ sơ trong số này cũng bị phản ánh, kiến nghị: đã có trong danh sách trên, "
        "chỉ tính một lần.",
        "dissatisfied_count": "Lượt",
    },
    "en": {
        "title": "Decision 766 scorecard", "period": "Period", "agency": "Unit", "children": "With the units under it",
        "show": "Show", "total": "Total points", "group": "Group", "points": "Points", "lost": "Points lost",
        "indicator": "Indicator", "rate": "Rate", "threshold": "Threshold", "figures": "Numerator / denominator",
        "missing": "Never recorded (not scored)", "needs": "Needs", "costly": "What cost points",
        "xlsx": "Download XLSX", "none": "None", "back": "Back to the scorecard", "code": "Code",
        "procedure": "Procedure", "received": "Received", "outcome": "Outcome", "formula": "Formula",
        "not_scored": "not scored", "why": "Why", "late": "Late",
        "reason_late": "Late (indicator 2.1)", "reason_complaint": "Named by a complaint", "unit": "Unit",
        "level": "Level", "setting": "Electronic certified copies", "not_recorded": "Never recorded",
        "not_offered": "Not offered", "offered_from": "Offered from {day}", "disliked": "Disliked the answer",
        "repeated": "Complained again", "dissatisfied_title": "Dissatisfied ratings",
        "dissatisfied_note": "Counted per unit and procedure, never shown per dossier.",
        "dissatisfied_both": "{both} of these dossiers were also named by a complaint: listed above already, and "
        "counted once.",
        "dissatisfied_count": "Ratings",
    },
}  # fmt: skip
# What an unscored indicator needs (sla.scorecard.NEEDS, which the JSON route answers in English), in Vietnamese
NEEDS_VI = {
    "1.1": "ngày ban hành quyết định công bố và ngày hiệu lực của căn cứ pháp lý của các phiên bản thủ tục của đơn vị",
    "1.2": "ngày ban hành quyết định công bố và ngày công khai của các phiên bản thủ tục của đơn vị",
    "1.4": "việc đồng bộ lên Cổng Dịch vụ công quốc gia (MOTCUA_EXCHANGE_URL) chưa có hồ sơ nào được Cổng nhận",
    "3.1": "mức độ trực tuyến của các phiên bản thủ tục của đơn vị",
    "3.5": "thủ tục có phí, lệ phí (mức phí hoặc các khoản phí trong danh mục)",
    "3.5b": "thủ tục có phí, lệ phí (mức phí hoặc các khoản phí trong danh mục)",
    "3.6": "các khoản phí của hồ sơ tiếp nhận trong kỳ",
    "4.1": "loại kết quả của thủ tục và việc trả kết quả điện tử của hồ sơ giải quyết trong kỳ",
    "4.2": "đánh dấu số hóa của thành phần hồ sơ đã nhận (hồ sơ giải quyết trong kỳ)",
    "4.3": "đánh dấu tái sử dụng của thành phần hồ sơ đã nhận",
    "4.4": "đánh dấu lấy từ kho dữ liệu của công dân của thành phần hồ sơ đã nhận",
    "4.5a": "xác thực VNeID của hồ sơ trực tuyến",
    "4.5b": "liên kết Cơ sở dữ liệu quốc gia về dân cư của hồ sơ",
    "4.6": "việc các xã (đơn vị không có xã: chính các đơn vị) của đơn vị có cung cấp chứng thực bản sao điện tử "
    "hay không, do quản trị viên ghi nhận cho từng đơn vị",
    "5.2": "sổ theo dõi phản ánh, kiến nghị",
    "5.3": "sổ theo dõi phản ánh, kiến nghị",
    "5.4": "sổ theo dõi phản ánh, kiến nghị và đánh giá của người dân",
}
OptionalCode = Annotated[str | None, Query(max_length=64)]
PeriodName = Annotated[str | None, Query(max_length=7)]


def _default_period(today: date) -> str:
    quarter = (today.month - 1) // 3
    return f"{today.year}-Q{quarter}" if quarter else f"{today.year - 1}-Q4"


def _link(path: str, **params) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("/dashboard/scorecard")
def scorecard_page(
    request: Request,
    session: SessionDep,
    period: PeriodName = None,
    agency: OptionalCode = None,
    include_children: bool = False,
):
    lang = language(request)
    period = blank_to_none(period) or _default_period(date.today())
    agency = scoped_agency(session, request.state.principal, blank_to_none(agency))
    agency = agency or agencies(session)[0].code
    card, problem = None, None
    try:
        card = routes.scorecard_of(session, request, period=period, agency=agency, include_children=include_children)
    except InvalidInput as exc:
        problem = Problem.of(exc)
    groups = []
    if card:
        for key, name in GROUPS.items():
            lines = [line for line in card["indicators"] if line["group"] == key]
            scored = [line["points"] for line in lines if line["points"] is not None]
            groups.append(
                {"key": key, "name": name, "lines": lines, "points": sum(scored) if scored else None,
                 "max_points": sum(line["max_points"] for line in lines)}
            )  # fmt: skip
    params = {"period": period, "agency": agency, "include_children": include_children}
    return render(
        request,
        "web/scorecard.html",
        {
            "section": "dashboard",
            "w": WORDS[lang],
            "needs": NEEDS_VI if lang == "vi" else {},
            "card": card,
            "groups": groups,
            "problem": problem,
            "period": period,
            "agency": agency,
            "include_children": include_children,
            "agency_choices": agencies(session),
            "names": scorecard.agency_names(session),
            "xlsx": _link("/dashboard/scorecard/download", **params),
            "costly": lambda indicator: _link(f"/dashboard/scorecard/{indicator}", **params),
            "listed": scorecard.LISTED,
        },
        status_code=422 if problem else 200,
    )


@router.get("/dashboard/scorecard/download")
def scorecard_download(
    request: Request, session: SessionDep, period: str, agency: OptionalCode = None, include_children: bool = False
):
    agency = routes.scored_unit(session, request.state.principal, blank_to_none(agency))
    card = routes.scorecard_of(session, request, period=period, agency=agency, include_children=include_children)
    return routes.scorecard_download(session, card, language(request))


@router.get("/dashboard/scorecard/{indicator}")
def costly_page(
    request: Request,
    session: SessionDep,
    indicator: str,
    period: str,
    agency: OptionalCode = None,
    include_children: bool = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
):
    lang = language(request)
    agency = routes.scored_unit(session, request.state.principal, blank_to_none(agency))
    found = routes.costly_of(
        session,
        request,
        indicator=indicator,
        period=period,
        agency=agency,
        include_children=include_children,
        page=page,
        page_size=ROWS,
    )
    params = {"period": period, "agency": agency, "include_children": include_children}
    names = scorecard.agency_names(session)
    rows = found.rows.astype(object).where(found.rows.notna(), None).to_dict("records")
    for row in rows:
        for key in ("reasons", "missed_clocks"):
            if key in row:
                row[key] = [part for part in (row[key] or "").split(",") if part]
        if row.get("e_certified_copies_from"):
            row["e_certified_copies_from"] = date.fromisoformat(row["e_certified_copies_from"])
    return render(
        request,
        "web/scorecard_costly.html",
        {
            "section": "dashboard",
            "w": WORDS[lang],
            "indicator": indicator,
            "name": scorecard.formulas_by_id()[indicator].name,
            "kind": found.kind,
            "rows": rows,
            "names": names,
            "dissatisfied": found.dissatisfied,
            "also_complained": found.dissatisfied_also_complained,
            "total": found.total,
            "page": page,
            "pages": max(1, -(-found.total // ROWS)),
            "period": period,
            "agency_name": names.get(agency, agency),
            "include_children": include_children,
            "back": _link("/dashboard/scorecard", **params),
            "page_link": lambda number: _link(f"/dashboard/scorecard/{indicator}", **params, page=number),
        },
    )
