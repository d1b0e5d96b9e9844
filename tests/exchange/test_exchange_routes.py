"""The exchange's doors: a dossier's national record (scoped, masked, audited as a read of the dossier), the
changed dossiers as JSON lines after a watermark, the sync status, and the /exchange page."""

import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from accounts.models import AuditEntry
from api.web.auth import SESSION_COOKIE
from dossiers.models import Dossier
from exchange.models import DossierSync
from tests.conftest import BACKDATE_REASON, OTHER_WARD, WARD

API = "/api/v1/exchange"
RESIDENCE = "1.004222"


def receive(client, agency=WARD, at="2025-07-02T09:00") -> str:
    body = {"procedure_code": RESIDENCE, "agency_code": agency, "received_at": at, "backdate_reason": BACKDATE_REASON,
            "applicant": {"name": "Phạm Văn An", "id_number": "001190012345", "phone": "0912345678",
                          "address": "5 Lý Thái Tổ"}}  # fmt: skip
    response = client.post("/api/v1/dossiers", json=body)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def test_a_dossiers_record_is_scoped_masked_outside_its_agencies_and_audited(client, client_as, session):
    code = receive(client)
    own = client_as("clerk").get(f"{API}/dossiers/{code}")
    assert own.status_code == 200, own.text
    record = own.json()
    assert record["PhienBan"] == "motcua-dvcqg-1" and record["MaHoSo"] == code and record["TrangThaiHoSo"] == 2
    assert (record["SoGiayToChuHoSo"], record["SoDienThoai"], record["DiaChiChuHoSo"]) == (
        "001190012345", "0912345678", "5 Lý Thái Tổ",
    )  # fmt: skip
    assert record["QuaTrinhXuLy"][0]["NoiDungXuLy"] == "Tiếp nhận hồ sơ"
    city = client_as("city-manager").get(f"{API}/dossiers/{code}").json()  # in scope, but not its agency
    assert city["SoGiayToChuHoSo"] == "*********345" and city["DinhDanhCHS"][0]["SoDinhDanh"] == "*********345"
    assert city["SoDienThoai"] == "*******678" and city["DiaChiChuHoSo"] == "********* Tổ"
    assert client_as("other-manager").get(f"{API}/dossiers/{code}").status_code == 404  # outside the scope
    assert client_as("viewer").get(f"{API}/dossiers/{code}").status_code == 403
    audit = session.execute(
        select(AuditEntry.username, AuditEntry.personal_data)
        .where(AuditEntry.dossier_code == code, AuditEntry.method == "GET")
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(row) for row in audit][-2:] == [("clerk", "unmasked"), ("city-manager", "masked")]


def test_changed_dossiers_page_as_json_lines_after_a_watermark(client, client_as):
    codes = [receive(client, at=f"2025-07-0{d}T09:00") for d in (2, 3, 4)]
    other = receive(client, agency=OTHER_WARD)
    first = client.get(f"{API}/dossiers", params={"since": 0, "limit": 3})
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in first.text.splitlines()]
    assert [r["MaHoSo"] for r in lines] == codes
    since = int(first.headers["X-Next-Since"])
    assert f"since={since}" in first.headers["Link"] and first.headers["X-Record-Version"] == "motcua-dvcqg-1"
    # a dossier changed again comes back once, at its latest change
    assert client.post(f"/api/v1/dossiers/{codes[0]}/events", json={"type": "forwarded", "to_agency": "000.00.03.H26"}
                       ).status_code == 201  # fmt: skip
    rest = client.get(f"{API}/dossiers", params={"since": since})
    assert [json.loads(line)["MaHoSo"] for line in rest.text.splitlines()] == [other, codes[0]]
    assert "Link" not in rest.headers
    last = int(rest.headers["X-Next-Since"])
    empty = client.get(f"{API}/dossiers", params={"since": last})
    assert empty.text == "" and empty.headers["X-Next-Since"] == str(last)
    mine = client_as("manager").get(f"{API}/dossiers")  # a manager: its scope only
    assert other not in mine.text and all(code in mine.text for code in codes)
    assert client_as("clerk").get(f"{API}/dossiers").status_code == 403
    assert client.get(f"{API}/dossiers", params={"since": -1}).status_code == 422


def fail(session, code: str, answer: str) -> None:
    dossier = session.execute(select(Dossier).where(Dossier.code == code)).scalar_one()
    session.add(DossierSync(dossier_id=dossier.id, state="failed", attempts=3, last_http_status=503, last_error=answer,
                            next_attempt_at=datetime(2025, 7, 5, 3, tzinfo=UTC)))  # fmt: skip
    session.flush()


def test_the_status_shows_pending_failed_with_the_answer_and_the_rate_per_unit(client, client_as, session):
    codes = [receive(client), receive(client, at="2025-07-03T09:00"), receive(client, agency=OTHER_WARD)]
    fail(session, codes[0], "/DongBoHoSoMC/create: HTTP 503: Hệ thống bảo trì")
    status = client.get(f"{API}/status", params={"period": "2025-Q3"})
    assert status.status_code == 200, status.text
    body = status.json()
    assert (body["pending"], body["failed_total"]) == (2, 1)
    assert body["failed"][0]["code"] == codes[0] and "bảo trì" in body["failed"][0]["answer"]
    assert (body["received"], body["synced"], body["rate"]) == (3, 0, 0.0)
    assert {u["agency_code"]: u["received"] for u in body["units"]} == {WARD: 2, OTHER_WARD: 1}
    assert (body["period_from"], body["period_to"]) == ("2025-07-01", "2025-09-30")
    mine = client_as("manager").get(f"{API}/status", params={"period": "2025-Q3"}).json()
    assert [u["agency_code"] for u in mine["units"]] == [WARD] and mine["pending"] == 1
    assert client_as("manager").get(f"{API}/status", params={"agency": OTHER_WARD}).status_code == 403
    assert client_as("viewer").get(f"{API}/status").status_code == 403
    bad = client.get(f"{API}/status", params={"period": "2025-Q5"})
    assert bad.status_code == 422 and "detail" in bad.json()


def page_as(app, tokens, username: str) -> TestClient:
    """A browser's session (the pages sign in by cookie, not by bearer token)."""
    return TestClient(app, raise_server_exceptions=False, cookies={SESSION_COOKIE: tokens[username]})


def test_the_page_shows_the_same_figures_in_both_languages(client, app, tokens, session):
    code = receive(client)
    fail(session, code, "/DongBoHoSoMC/create: HTTP 422: Trường NgayHenTra không hợp lệ")
    page = client.get("/exchange", params={"period": "2025-Q3"})
    assert page.status_code == 200
    assert "Đồng bộ hồ sơ lên Cổng Dịch vụ công quốc gia" in page.text and "NgayHenTra không hợp lệ" in page.text
    assert 'id="xch-failed" class="late">1<' in page.text and code in page.text
    english = client.get("/exchange", params={"period": "2025-Q3", "lang": "en"})
    assert "Dossiers synced to the national portal" in english.text and "Sync rate per receiving unit" in english.text
    with page_as(app, tokens, "manager") as manager, page_as(app, tokens, "clerk") as clerk:
        assert manager.get("/exchange").status_code == 200
        assert clerk.get("/exchange").status_code == 403
    wrong = client.get("/exchange", params={"period": "2025-Q9"})
    assert wrong.status_code == 422 and "2025-Q9" in wrong.text


def test_the_record_carries_the_dossiers_766_facts(client, client_as):
    """Issue 16's facts travel in the record: the component flags, the fee lines and how they were paid, the
    VNeID verification and the population database link (docs/exchange.md)."""
    body = {
        "procedure_code": RESIDENCE, "agency_code": WARD, "channel": "online", "received_at": "2025-07-08T09:00",
        "backdate_reason": BACKDATE_REASON, "vneid_verified": True, "population_ref": "DC-001190012345",
        "applicant": {"name": "Phạm Văn An", "phone": "0912345678"},
        "components": [{"seq": 1, "digitised": True, "reused": True}],
        "fees": [{"name": "Lệ phí", "amount_vnd": 50000, "payment_channel": "dvcqg", "paid_at": "2025-07-08T08:55"}],
    }  # fmt: skip
    response = client.post("/api/v1/dossiers", json=body)
    assert response.status_code == 201, response.text
    record = client.get(f"{API}/dossiers/{response.json()['code']}").json()
    assert [(d["DuocSoHoa"], d["DuocTaiSuDung"], d["DuocLayTuKhoDMQG"]) for d in record["TaiLieuNop"]][0] == (1, 1, 0)
    assert record["DanhSachLePhi"] == [
        {"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "1", "HinhThucThu": 1, "Gia": 50000, "LoaiPhiLePhi": 0,
         "NgayThanhToan": "20250708085500"}
    ]  # fmt: skip
    assert record["DuocThanhToanTrucTuyen"] == 1 and record["HoSoCoThanhPhanSoHoa"] == 1
    assert record["TaiKhoanDuocXacThucVoiVNeID"] == 1
    assert record["DSKetNoiCSDL"] == [{"MaCSDL": "CSDLQGDC", "MaThamChieu": "DC-001190012345"}]
    # which flags were recorded (motcua's own DaGhiNhan): a 0 outside the list is "not recorded", not "no"
    assert record["DaGhiNhan"] == ["TaiKhoanDuocXacThucVoiVNeID"] and record["KetQuaDienTu"] == 0
    assert record["TaiLieuNop"][0]["DaGhiNhan"] == ["DuocSoHoa", "DuocTaiSuDung"]
    city = client_as("city-manager").get(f"{API}/dossiers/{response.json()['code']}").json()  # not its agency
    assert city["DSKetNoiCSDL"][0]["MaThamChieu"].startswith("*") and city["DSKetNoiCSDL"][0]["MaThamChieu"] != (
        "DC-001190012345"
    )
    plain = client.get(f"{API}/dossiers/{receive(client)}").json()  # nothing recorded: nothing claimed
    assert plain["DanhSachLePhi"] == [] and plain["DSKetNoiCSDL"] == [] and plain["HoSoCoThanhPhanSoHoa"] == 0
