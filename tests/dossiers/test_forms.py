"""The printable forms of Circular 03/2025 (01–06), the desk's refusal at receipt, the day's intake register,
and staff full names on forms and timelines (api/forms.py, docs/forms.md)."""

import html
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import BACKDATE_REASON
from tests.dossiers.conftest import API, DEPARTMENT, WARD
from tests.qr import decode_data_uri

CLERK_NAME = "Lê Thị Thu Trang"  # the administrator's full name in these tests: it receives the dossiers
REGISTER = "/api/v1/registers/intake"


def text(response) -> str:
    return html.unescape(response.text)


@pytest.fixture
def named(client):
    response = client.patch("/api/v1/users/admin", json={"full_name": f"  {CLERK_NAME} "})
    assert response.status_code == 200 and response.json()["full_name"] == CLERK_NAME, response.text


def sequence(code: str) -> int:
    return int(code.rsplit("-", 1)[1])


def test_form_01_is_complete(client, receive, named):
    dossier = receive()
    code = dossier["code"]
    response = client.get(f"{API}/{code}/forms/01")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = text(response)
    number = sequence(code)
    assert "Mẫu số 01" in page
    assert f"Số: {number:04d}/TNHS" in page
    assert '<p class="upper governing" id="governing">UBND Thành phố Hà Nội</p>' in page  # the agency's parent
    assert '<p class="upper strong" id="agency-line">UBND Phường Hoàn Kiếm</p>' in page
    assert "Hà Nội, ngày 02 tháng 06 năm 2025" in page
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in page
    assert re.search(r'id="statutory-time">\d+ ngày làm việc<', page)
    assert "09 giờ 00 phút, ngày 11 tháng 06 năm 2025" in page  # the appointment
    assert f"Sổ theo dõi hồ sơ ngày 02/06/2025, số thứ tự {number}" in page
    assert f'id="clerk">{CLERK_NAME}<' in page and ">admin<" not in page
    assert 'id="documents"' in page  # the spot the component list fills
    qr = re.search(r'<img id="qr" src="([^"]+)"', page).group(1)
    assert decode_data_uri(qr) == f"http://testserver/lookup?code={code}"
    assert "<style" not in page and " style=" not in page and "<script>" not in page  # the CSP: files only


def test_aliases_and_the_desk_show_the_same_forms(client, receive, event, named):
    code = receive()["code"]
    event(code, "apology_issued", at="2025-06-09T09:00", reason="Chờ xác minh", new_due_at="2025-06-16T09:00")
    canonical = text(client.get(f"{API}/{code}/forms/01"))
    for path in (f"{API}/{code}/receipt", f"/desk/dossiers/{code}/forms/01", f"/desk/dossiers/{code}/receipt"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert text(response) == canonical, path
    apology = text(client.get(f"{API}/{code}/forms/04"))
    assert "Mẫu số 04" in apology and "Chờ xác minh" in apology and "16 tháng 06 năm 2025" in apology
    assert "Hà Nội, ngày 09 tháng 06 năm 2025" in apology  # dated the day of the apology
    assert text(client.get(f"{API}/{code}/apology")) == apology
    assert text(client.get(f"/desk/dossiers/{code}/forms/04")) == apology


def test_a_form_without_its_event_answers_404(client, receive):
    code = receive()["code"]
    for number, missing in (("02", "no supplement"), ("03", "not refused"), ("04", "no apology"), ("05", "neither")):
        response = client.get(f"{API}/{code}/forms/{number}")
        assert response.status_code == 404, number
        assert f"has no form {number}" in response.json()["detail"] and missing in response.json()["detail"]
        assert client.get(f"/desk/dossiers/{code}/forms/{number}").status_code == 404
    assert client.get(f"{API}/{code}/apology").status_code == 404
    assert client.get(f"{API}/{code}/forms/07").status_code == 422  # 01 to 06 only
    assert client.get(f"{API}/nope-250602-0001/forms/01").status_code == 404


def test_forms_02_05_06_tell_their_events(client, receive, event, named):
    code = receive()["code"]
    event(code, "forwarded", at="2025-06-03T09:00", to_agency=DEPARTMENT, reason="Chuyển thẩm định")
    event(code, "supplement_requested", at="2025-06-04T09:00", reason="Bản sao giấy khai sinh có chứng thực")
    event(code, "stopped", at="2025-06-05T10:00", reason="Người nộp không bổ sung trong thời hạn")

    supplement = text(client.get(f"{API}/{code}/forms/02"))
    assert "Mẫu số 02" in supplement and "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ" in supplement
    assert "Bản sao giấy khai sinh có chứng thực" in supplement and "ngày 04 tháng 06 năm 2025" in supplement
    assert f'id="clerk">{CLERK_NAME}<' in supplement

    stop = text(client.get(f"{API}/{code}/forms/05"))
    assert "Mẫu số 05" in stop and "Người nộp không bổ sung trong thời hạn" in stop and "dừng giải quyết" in stop

    control = text(client.get(f"{API}/{code}/forms/06"))
    assert "Mẫu số 06" in control and "Phiếu kiểm soát quá trình giải quyết hồ sơ" in control
    hand_off = re.search(r'<tr class="hand-off">(.*?)</tr>', control, re.S).group(1)
    assert "Giao: Phường Hoàn Kiếm" in hand_off and "Nhận: Sở Dân tộc và Tôn giáo" in hand_off
    assert "09:00 03/06/2025" in hand_off and CLERK_NAME in hand_off and "Chuyển thẩm định" in hand_off
    assert hand_off.count('class="sign"') == 2  # the signature boxes of who gives and who takes


def test_refusal_at_intake_prints_form_03(client, receive):
    code = receive(status="refused", reason="Thủ tục không thuộc thẩm quyền của phường")["code"]
    refusal = text(client.get(f"{API}/{code}/forms/03"))
    assert "Mẫu số 03" in refusal and "Thủ tục không thuộc thẩm quyền của phường" in refusal
    assert client.get(f"{API}/{code}/forms/01").status_code == 404  # nothing was received
    assert "refused at intake" in client.get(f"{API}/{code}/receipt").json()["detail"]


def test_the_desk_records_a_refusal_at_receipt(client, named):
    form = {
        "procedure_code": "1.004222",
        "agency_code": WARD,
        "channel": "counter",
        "name": "Đỗ Văn Hùng",
        "phone": "0911222444",
        "received_at": "2025-06-02T10:00",
        "backdate_reason": BACKDATE_REASON,
        "status": "refused",
        "key": "desk-refusal-1",
    }
    without_reason = client.post("/desk/dossiers", data=form, follow_redirects=False)
    assert without_reason.status_code == 422 and "cần ghi lý do" in text(without_reason)  # the page's words
    assert client.get(API, params={"q": "do van hung"}).json()["total"] == 0  # nothing written
    form["refusal_reason"] = "Hồ sơ không thuộc thẩm quyền giải quyết của phường"
    form["key"] = "desk-refusal-2"
    response = client.post("/desk/dossiers", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert re.fullmatch(rf"/desk/dossiers/{re.escape(WARD)}-250602-\d{{4}}/forms/03", response.headers["location"])
    code = response.headers["location"].split("/")[3]
    assert client.get(f"{API}/{code}").json()["status"] == "refused"
    slip = text(client.get(response.headers["location"]))
    assert "Hồ sơ không thuộc thẩm quyền giải quyết của phường" in slip and f'id="clerk">{CLERK_NAME}<' in slip
    desk = text(client.get("/desk"))
    assert 'name="status" value="refused"' in desk and 'name="refusal_reason"' in desk


def test_the_intake_register(client, client_as, receive, named):
    first = receive(applicant={"name": "Nguyễn Thị Lan", "phone": "0912345678", "address": "12 Hàng Bạc"})
    second = receive(received_at="2025-06-02T10:30", applicant={"name": '=HYPERLINK("x")'})
    receive(received_at="2025-06-03T09:00")  # another day
    answer = client.get(REGISTER, params={"agency": WARD, "date": "2025-06-02"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["agency_code"] == WARD and body["date"] == "2025-06-02"
    entries = body["entries"]
    assert [e["code"] for e in entries] == [first["code"], second["code"]]  # register order: the daily sequence
    assert entries[0]["entry"] == sequence(first["code"]) and entries[0]["clerk"] == CLERK_NAME
    assert entries[0]["received_at"] == "02/06/2025 09:00" and entries[0]["due_at"] == "11/06/2025 09:00"
    assert entries[0]["address"] == "12 Hàng Bạc, 0912345678" and entries[0]["status"] == "Đã tiếp nhận"

    xlsx = client.get(REGISTER, params={"agency": WARD, "date": "2025-06-02", "format": "xlsx"})
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("Sổ theo dõi hồ sơ – Phường Hoàn Kiếm – ngày 02/06/2025")
    assert rows[2][:3] == ("Số thứ tự", "Mã hồ sơ", "Tên thủ tục hành chính")
    assert [row[1] for row in rows[3:]] == [first["code"], second["code"]]
    formula_cell = sheet.cell(5, 4)
    assert formula_cell.value == '=HYPERLINK("x")' and formula_cell.data_type == "s"  # text, never a formula

    page = client.get("/desk/registers/intake", params={"agency": WARD, "date": "2025-06-02"})
    assert page.status_code == 200 and first["code"] in page.text and second["code"] in page.text
    assert CLERK_NAME in text(page) and 'id="register-xlsx"' in page.text
    download = client.get("/desk/registers/intake", params={"agency": WARD, "date": "2025-06-02", "format": "xlsx"})
    assert download.content[:2] == b"PK"
    typed = client.get("/desk/registers/intake", params={"agency": WARD, "date": "02/06/2025"})  # day first, as typed
    assert first["code"] in typed.text and 'value="02/06/2025"' in typed.text
    assert 'value="02/06/2025"' in page.text  # the ISO day is shown day first too
    wrong = client.get("/desk/registers/intake", params={"agency": WARD, "date": "06/31/2025"})
    assert wrong.status_code == 422 and "dd/mm/yyyy" in wrong.text


def test_the_register_is_scoped(client, client_as, receive):
    receive()
    foreign = client_as("other-clerk").get(REGISTER, params={"agency": WARD, "date": "2025-06-02"})
    assert foreign.status_code == 403 and "outside your scope" in foreign.json()["detail"]
    own = client_as("other-clerk").get(REGISTER, params={"date": "2025-06-02"}).json()
    assert own["agency_code"] != WARD and own["entries"] == []  # its own agency by default
    assert client_as("clerk").get(REGISTER, params={"date": "2025-06-02"}).json()["agency_code"] == WARD
    assert client_as("viewer").get(REGISTER).status_code == 403
    assert client.get(REGISTER).status_code == 422  # an administrator names the agency
    assert client.get(REGISTER, params={"agency": WARD, "date": "02/06/2025"}).status_code == 422


def test_full_names_of_staff(client, receive, event, named):
    created = client.post(
        "/api/v1/users",
        json={
            "username": "clerk-two",
            "password": "a long enough password",
            "role": "clerk",
            "agency_code": WARD,
            "full_name": "Phạm Thị Hoa",
        },
    )
    assert created.status_code == 201 and created.json()["full_name"] == "Phạm Thị Hoa"
    cleared = client.patch("/api/v1/users/clerk-two", json={"full_name": ""})
    assert cleared.status_code == 200 and cleared.json()["full_name"] is None
    assert client.patch("/api/v1/users/clerk-two", json={"full_name": "x" * 201}).status_code == 422
    code = receive()["code"]
    timeline = text(client.get(f"/desk/dossiers/{code}"))
    assert f'<span class="actor" title="admin">{CLERK_NAME}</span>' in timeline
    assert 'href="/desk/dossiers/' + code + '/receipt"' in timeline


def test_display_names_one_query(session):
    from accounts.service import create_user, display_names

    create_user(
        session,
        username="named-one",
        password="a long password!",
        role="admin",
        agency_code=None,
        full_name="Trần Văn An",
    )
    assert display_names(session, ["named-one", "import", None, "named-one"]) == {
        "named-one": "Trần Văn An",
        "import": "import",
    }
    assert display_names(session, []) == {}


def test_form_05_of_an_online_submission_withdrawn_before_receipt(client, receive, event):
    code = receive(channel="online", status="submitted")["code"]
    event(code, "withdrawn", at="2025-06-03T09:00", reason="Người nộp rút hồ sơ")
    stop = text(client.get(f"{API}/{code}/forms/05"))
    assert "Mẫu số 05" in stop and "Theo đề nghị rút hồ sơ" in stop and "Người nộp rút hồ sơ" in stop
    assert client.get(f"{API}/{code}/forms/01").status_code == 404  # never received at a desk
    assert client.get(f"{API}/{code}/forms/06").status_code == 404
