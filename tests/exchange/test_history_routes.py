"""The two doors of the history import and the reconciliation: POST /api/v1/exchange/import (administrators,
audited), /exchange/imports…, POST /api/v1/exchange/reconcile (managers), and their pages."""

import orjson
from sqlalchemy import select

from accounts.models import AuditEntry
from tests.conftest import WARD
from tests.exchange.test_history import religion_record, residence_record
from tests.exchange.test_reconcile import HEADER


def upload(*records, name="history.jsonl") -> dict:
    return {"file": (name, b"".join(orjson.dumps(r) + b"\n" for r in records), "application/x-ndjson")}


def test_an_administrator_imports_records_and_the_import_is_audited(client, session):
    records = upload(religion_record("API-1"), residence_record("API-2", appointment="20250509090000"))
    answer = client.post("/api/v1/exchange/import", files=records)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["records"], body["written"], body["rejected"], body["findings"]) == (2, 2, 0, 1)
    [finding] = body["first_findings"]
    assert finding["external_code"] == "API-2" and finding["working_days_apart"] == 1
    audit = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert (audit.action, audit.outcome, audit.username) == ("POST /api/v1/exchange/import", "ok", "admin")
    assert f"history import {body['import_id']}: 2 of 2 records" in audit.detail
    listed = client.get("/api/v1/exchange/imports").json()
    assert listed[0]["id"] == body["import_id"] and listed[0]["findings"] == 1
    one = client.get(f"/api/v1/exchange/imports/{body['import_id']}").json()
    assert one["findings_total"] == 1 and one["findings"][0]["external_code"] == "API-2"


def test_a_bad_record_is_a_422_naming_it_and_nothing_is_written(client, client_as):
    bad = religion_record("API-BAD")
    bad["NgayHenTra"] = "14/07/2025"
    answer = client.post("/api/v1/exchange/import", files=upload(religion_record("API-OK"), bad))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"line": 2, "code": "API-BAD", "field": "NgayHenTra",
                                        "message": answer.json()["errors"][0]["message"], "message_id": "date_shape",
                                        "params": {"value": "14/07/2025"}}]  # fmt: skip
    assert client.get("/api/v1/dossiers", params={"q": "API-OK"}).json()["total"] == 0
    skipped = client.post("/api/v1/exchange/import", files=upload(religion_record("API-OK"), bad),
                          data={"skip_bad": "true"})  # fmt: skip
    assert skipped.status_code == 200 and skipped.json()["written"] == 1
    assert skipped.json()["rejects"][0]["line"] == 2 and skipped.json()["rejects"][0]["record"]["MaHoSo"] == "API-BAD"
    assert client_as("clerk").post("/api/v1/exchange/import", files=upload(religion_record("X"))).status_code == 403
    assert client_as("manager").get("/api/v1/exchange/imports").status_code == 403


def test_a_manager_reconciles_through_the_api_and_a_clerk_may_not(client, client_as):
    client.post("/api/v1/exchange/import", files=upload(residence_record("RC-1", received="20250602090000")))
    portal = (HEADER + f"{WARD},Phường,COMMUNE,2,1,,,1,50.00,10.00,20\n").encode()
    answer = client_as("manager").post("/api/v1/exchange/reconcile", params={"period": "2025-Q2"},
                                       files={"file": ("portal.csv", portal, "text/csv")})  # fmt: skip
    assert answer.status_code == 200, answer.text
    [unit] = answer.json()["units"]
    assert unit["ours"]["received"] == 1 and unit["difference"]["received"] == -1
    bad = client_as("manager").post("/api/v1/exchange/reconcile", params={"period": "2025-Q5"},
                                    files={"file": ("portal.csv", portal, "text/csv")})  # fmt: skip
    assert bad.status_code == 422 and "2025-Q5" in bad.json()["detail"]
    elsewhere = (HEADER + "000.02.01.H26,Phường khác,COMMUNE,0,0,,,0,,,20\n").encode()
    outside = client_as("manager").post("/api/v1/exchange/reconcile", params={"period": "2025-Q2"},
                                        files={"file": ("portal.csv", elsewhere, "text/csv")})  # fmt: skip
    assert outside.status_code == 403 and "000.02.01.H26" in outside.json()["detail"]
    assert client_as("clerk").post("/api/v1/exchange/reconcile", params={"period": "2025-Q2"},
                                   files={"file": ("portal.csv", portal, "text/csv")}).status_code == 403  # fmt: skip


def test_the_pages_import_list_findings_and_reconcile_in_both_languages(client):
    for lang in ("vi", "en"):
        page = client.get("/exchange/imports", params={"lang": lang})
        assert page.status_code == 200 and 'id="import-form"' in page.text
    posted = client.post("/exchange/imports", files=upload(residence_record("PG-1", appointment="20250509090000")),
                         follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303, posted.text
    found = client.get(posted.headers["location"])
    assert found.status_code == 200 and "PG-1" in found.text and "26/04/2025" in found.text
    assert "làm bù" in found.text
    english = client.get(posted.headers["location"], params={"lang": "en"})
    assert "make-up working day" in english.text and "Disagreements (1)" in english.text
    bad = residence_record("PG-2")
    bad["MaTTHC"] = "9.999999"
    refused = client.post("/exchange/imports?lang=vi", files=upload(bad))
    assert refused.status_code == 422 and 'id="problems"' in refused.text and "MaTTHC" in refused.text
    assert "Không nhập bản ghi nào" in refused.text
    portal = (HEADER + f"{WARD},Phường,COMMUNE,0,0,,,0,,,20\n").encode()
    reconciled = client.post("/exchange/reconcile", data={"period": "2025-Q2"},
                             files={"file": ("portal.csv", portal, "text/csv")})  # fmt: skip
    assert reconciled.status_code == 200 and "Chưa đồng bộ" not in reconciled.text
    assert 'data-unit="000.01.01.H26"' in reconciled.text and "Điểm 766" in reconciled.text
    wrong = client.post("/exchange/reconcile", data={"period": "2025-Q2"},
                        files={"file": ("portal.csv", b"a,b\n1,2\n", "text/csv")})  # fmt: skip
    assert wrong.status_code == 422 and 'role="alert"' in wrong.text


def test_a_bad_records_problem_is_said_in_the_pages_language_with_its_line_and_field(client):
    bad = residence_record("PG-3")
    bad["NgayTiepNhan"] = "20250231090000"
    unknown = residence_record("PG-4")
    unknown["DonViXuLy"] = "000.99.99.H99"
    vietnamese = client.post("/exchange/imports?lang=vi", files=upload(residence_record("PG-5"), bad, unknown))
    assert vietnamese.status_code == 422
    assert "«20250231090000» không phải ngày giờ có thật" in vietnamese.text
    assert "không có đơn vị nào mã 000.99.99.H99" in vietnamese.text and "<code>DonViXuLy</code>" in vietnamese.text
    assert "is not a real date" not in vietnamese.text
    english = client.post("/exchange/imports?lang=en", files=upload(residence_record("PG-5"), bad))
    assert "“20250231090000” is not a real date and time" in english.text
    # with skip_bad the import's page keeps the rejected records' problems
    posted = client.post("/exchange/imports?lang=vi", files=upload(residence_record("PG-6"), bad),
                         data={"skip_bad": "true"}, follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303
    page = client.get(posted.headers["location"], params={"lang": "vi"})
    assert 'id="problems"' in page.text and "không phải ngày giờ có thật" in page.text and "NgayTiepNhan" in page.text


def test_every_problem_is_said_in_both_languages_with_the_params_of_its_english():
    import re
    import string

    from api.web.exchange_problems import PROBLEMS
    from exchange.problems import ENGLISH

    given = {"impossible_sequence": {"reason", "event", "status", "allowed"}}  # the pages word the state machine's
    assert set(PROBLEMS) == set(ENGLISH)
    for message_id, english in ENGLISH.items():
        names = given.get(message_id) or {name for _, name, _, _ in string.Formatter().parse(english) if name}
        for said in PROBLEMS[message_id]:
            if message_id == "components":
                continue
            assert {name for _, name, _, _ in string.Formatter().parse(said) if name} <= names, message_id
            assert said.format(**dict.fromkeys(names, "x")), message_id
            assert not re.search(r"\{\w+!r\}", said), message_id
