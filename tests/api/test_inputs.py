"""Inputs: digits normalised to ASCII; invisible, direction (bidi) and control characters refused in every
text of every body, query, path and form, with a 422 naming the field; statement parameters never shown."""

import html

import pandas as pd
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from accounts.models import User
from api.web.auth import SESSION_COOKIE
from dossiers.models import Dossier
from kernel.db import utc_now
from tests.conftest import PASSWORD, WARD, signed_in

API = "/api/v1"
HIDDEN = {
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "pop directional isolate": "\u2069",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "NUL": "\x00",
    "bell": "\x07",
    "escape": "\x1b",
}


def intake(**applicant) -> dict:
    return {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Vũ Thị Hoa", **applicant}}


def _dossier_count(session) -> int:
    return len(session.execute(select(Dossier.id)).all())


# --- digits --------------------------------------------------------------------------------------


def test_full_width_digits_are_stored_as_ascii_and_the_lookup_matches(client, client_as):
    body = intake(phone="０９１２ ３４５ ６７８".replace(" ", ""), id_number="００１１９００１２３４５")
    received = client.post(f"{API}/dossiers", json=body)
    assert received.status_code == 201, received.text
    applicant = received.json()["applicant"]
    assert (applicant["phone"], applicant["id_number"]) == ("0912345678", "001190012345")
    code = received.json()["code"]
    found = client_as(None).get(f"{API}/lookup", params={"code": code, "phone_last4": "5678"})
    assert found.status_code == 200 and found.json()["code"] == code
    by_phone = client.get(f"{API}/dossiers", params={"q": "0912345678"}).json()["items"]
    assert code in {d["code"] for d in by_phone}


@pytest.mark.parametrize(
    "field, value", [("phone", "٠٩١٢٣٤٥٦٧٨"), ("id_number", "००११९००१२३४५"), ("phone", "0912-345-678")]
)
def test_digits_that_are_not_ascii_after_normalising_are_refused(client, field, value):
    response = client.post(f"{API}/dossiers", json=intake(**{field: value}))
    assert response.status_code == 422 and f"applicant.{field}" in response.json()["detail"]


# --- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("what", HIDDEN)
def test_hidden_characters_in_a_name_are_refused_and_nothing_is_written(client, session, what):
    before = _dossier_count(session)
    response = client.post(f"{API}/dossiers", json=intake(name=f"Vũ{HIDDEN[what]}Thị Hoa"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["detail"].startswith("applicant.name: contains U+")
    assert "invisible, direction (bidi) and control characters" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "applicant", "name"]
    assert _dossier_count(session) == before


def _procedure(**changes) -> dict:
    return {
        "code": "9.654321", "name": "Cấp giấy phép thử", "field_code": "cu_tru", "level": "commune",
        "processing_time": {"amount": 5, "unit": "working_days"}, "effective_from": "2030-01-01", **changes,
    }  # fmt: skip


BODIES = [  # method, path, body with a hidden character, the field the answer names
    ("post", "/dossiers", intake(address="12 Hàng Bạc\x00"), "applicant.address"),
    ("post", "/dossiers", intake(address="12 Hàng Bạc\nphường Hoàn Kiếm"), "applicant.address"),
    ("post", "/dossiers", {**intake(), "agency_code": "000.01.01.H26\u200b"}, "agency_code"),
    ("post", "/dossiers", {**intake(), "status": "refused", "reason": "sai\u202emẫu"}, "reason"),
    ("post", "/procedures", _procedure(name="Cấp giấy\u2066 phép"), "name"),
    (
        "post", "/procedures", _procedure(steps=[{"name": "Tiếp nhận\x00", "role": "receiving", "amount": 1}]),
        "steps.0.name",
    ),
    ("patch", "/procedures/1.004222", {"fee": "15.000\u200bđồng"}, "fee"),
    ("post", "/calendar/overrides", {"date": "2030-05-05", "kind": "off", "reason": "Bão\u200f"}, "reason"),
    ("post", "/users",
     {"username": "cl\u200berk2", "password": "long enough pw", "role": "viewer", "agency_code": WARD}, "username"),
    ("post", "/users", {"username": "clerk3", "password": "long enough\x00", "role": "viewer", "agency_code": WARD},
     "password"),
    ("patch", "/users/clerk", {"agency_code": f"{WARD}\x00"}, "agency_code"),
]  # fmt: skip


@pytest.mark.parametrize("method, path, body, field", BODIES)
def test_hidden_characters_are_refused_in_every_body(client, method, path, body, field):
    response = getattr(client, method)(API + path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}: contains U+"), response.json()["detail"]


def test_event_texts_may_hold_line_breaks_but_no_hidden_characters(client):
    code = client.post(f"{API}/dossiers", json=intake()).json()["code"]
    reason = "Thiếu:\n- bản sao giấy khai sinh\n- ảnh 4x6\tcm"
    nul = client.post(f"{API}/dossiers/{code}/events", json={"type": "supplement_requested", "reason": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["detail"].startswith("reason: contains U+0000 (NUL)")
    bidi = client.post(f"{API}/dossiers/{code}/events", json={"type": "supplement_requested", "reason": "\u202eabc"})
    assert bidi.status_code == 422 and "RIGHT-TO-LEFT OVERRIDE" in bidi.json()["detail"]
    lines = client.post(f"{API}/dossiers/{code}/events", json={"type": "supplement_requested", "reason": reason})
    assert lines.status_code == 201 and lines.json()["timeline"][-1]["reason"] == reason


# --- queries, paths, forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/dossiers", {"q": "Hoa\x00"}, "q"),
        ("/dossiers", {"agency": f"{WARD}\u202e"}, "agency"),
        ("/procedures", {"q": "khai\u200bsinh"}, "q"),
        ("/lookup", {"code": "X\x00", "phone_last4": "1234"}, "code"),
        ("/reports/period", {"from": "2025-01-01", "to": "2025-01-31", "agency": "\ufeff"}, "agency"),
    ],
)
def test_hidden_characters_are_refused_in_every_query(client, path, params, field):
    response = client.get(API + path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field}: contains U+")
    assert response.json()["errors"][0]["loc"] == ["query", field]


PATHS = [
    ("get", "/dossiers/000.01.01.H26-250602-0001%00"),
    ("get", "/dossiers/%00/receipt"),
    ("get", "/procedures/1.004222%00"),
    ("get", "/agencies/000.01.01.H26%E2%80%AE"),
    ("post", "/dossiers/000.01.01.H26-250602-0001%00/events"),
    ("patch", "/users/cl%00erk"),
]


@pytest.mark.parametrize("method, path", PATHS)
def test_a_nul_byte_in_a_path_is_a_clean_422_on_both_databases(client, method, path):
    arguments = {"json": {"type": "paused"}} if method == "post" else {"json": {}} if method == "patch" else {}
    response = getattr(client, method)(API + path, **arguments)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"


@pytest.mark.parametrize("method, path", PATHS)
def test_a_hidden_character_in_a_path_is_named(client, method, path):
    # a refused write is audited with its path made storable (accounts.storable), so the answer names the field
    arguments = {"json": {"type": "paused"}} if method == "post" else {"json": {}} if method == "patch" else {}
    response = getattr(client, method)(API + path, **arguments)
    assert response.status_code == 422 and "contains U+" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"][0] == "path"


@pytest.fixture
def page(app, tokens):
    from fastapi.testclient import TestClient

    with TestClient(
        app,
        raise_server_exceptions=False,
        headers=signed_in(tokens["clerk"]),
        cookies={SESSION_COOKIE: tokens["clerk"]},
    ) as signed_in_page:
        yield signed_in_page


def test_hidden_characters_are_refused_in_page_forms_and_queries(page, session):
    before = _dossier_count(session)
    form = {"procedure_code": "1.004222", "agency_code": WARD, "name": "Vũ\u202eThị Hoa"}
    refused = page.post("/desk/dossiers", data=form)
    assert refused.status_code == 422 and "text/html" in refused.headers["content-type"]
    assert "Họ và tên: có ký tự ẩn U+202E ở vị trí 3" in html.unescape(refused.text)
    assert _dossier_count(session) == before
    assert page.get("/desk", params={"q": "0912\x00"}).status_code == 422
    assert page.get("/desk/dossiers/%00").status_code == 422
    lookup = page.post("/lookup", data={"code": "X\x00", "phone_last4": "1234"})
    assert lookup.status_code == 422 and "Mã hồ sơ: có ký tự ẩn U+0000" in html.unescape(lookup.text)
    sign_in = page.post("/login", data={"username": "clerk\u200b", "password": PASSWORD})
    assert sign_in.status_code == 422 and "Tên đăng nhập: có ký tự ẩn U+200B" in html.unescape(sign_in.text)


def test_a_reason_typed_in_a_textarea_keeps_its_line_breaks(page, client):
    code = client.post(f"{API}/dossiers", json=intake()).json()["code"]
    reason = "Thiếu:\r\n- bản sao giấy khai sinh"
    form = {"type": "supplement_requested", "reason": reason}
    posted = page.post(f"/desk/dossiers/{code}/events", data=form, follow_redirects=False)
    assert posted.status_code == 303
    assert client.get(f"{API}/dossiers/{code}").json()["timeline"][-1]["reason"].startswith("Thiếu:")


# --- statement parameters ------------------------------------------------------------------------


def test_a_failed_statement_shows_no_parameter_values(connection, caplog):
    secret = "argon2id$v=19$SECRET-HASH-never-shown"
    clerk_id = connection.execute(select(User.id).where(User.username == "clerk")).scalar_one()
    row = {"username": "clerk", "password_hash": secret, "role": "clerk", "active": True, "created_at": utc_now()}
    savepoint = connection.begin_nested()
    with pytest.raises(IntegrityError) as failure:
        connection.execute(insert(User).values(**row))  # the username is taken
    savepoint.rollback()
    assert clerk_id and secret not in str(failure.value)
    assert "hidden due to hide_parameters=True" in str(failure.value)
    assert secret not in caplog.text


@pytest.mark.parametrize("column", ["name", "field_name", "steps"])
def test_hidden_characters_in_an_imported_row_are_named_and_nothing_is_imported(client, column):
    from tests.procedures.test_catalogue_io import record

    row = record()
    row[column] = "Thẩm\u202e định=000.00.03.H26:7" if column == "steps" else f"Thử\u200bnghiệm {column}"
    content = pd.DataFrame([row]).to_csv(index=False).encode()
    response = client.post(f"{API}/catalogue/import", files={"file": ("c.csv", content, "text/csv")})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["column"] == column
    assert "contains U+" in response.json()["errors"][0]["message"]
    assert client.get(f"{API}/procedures/9.999101").status_code == 404
