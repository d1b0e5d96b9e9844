"""The catalogue API on the seeded Hanoi catalogue."""

import pytest

API = "/api/v1"


def procedure_body(**changes) -> dict:
    body = {
        "code": "9.999001",
        "name": "Cấp giấy phép thử nghiệm",
        "field_code": "ho_tich",
        "level": "commune",
        "processing_time": {"amount": 5, "unit": "working_days"},
        "effective_from": "2025-07-01",
        "steps": [],
    }
    body.update(changes)
    return body


def test_seeded_catalogue_lists_at_least_60_procedures(client):
    response = client.get(f"{API}/procedures", params={"page_size": 100})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] >= 60
    assert len(body["items"]) >= 60
    assert len({item["field_code"] for item in body["items"]}) >= 8


@pytest.mark.parametrize("query", ["dang ky khai sinh", "ĐĂNG KÝ KHAI SINH", "Dang Ky Khai Sinh"])
def test_search_ignores_accents_and_case(client, query):
    items = client.get(f"{API}/procedures", params={"q": query}).json()["items"]
    names = {item["code"]: item["name"] for item in items}
    assert names["1.001193"] == "Đăng ký khai sinh"
    assert all("khai sinh" in item["name"].lower() for item in items)


def test_search_by_code(client):
    items = client.get(f"{API}/procedures", params={"q": "1.012644"}).json()["items"]
    assert [item["code"] for item in items] == ["1.012644"]


def test_filters_by_field_and_level(client):
    items = client.get(f"{API}/procedures", params={"field": "chung_thuc", "page_size": 100}).json()["items"]
    assert len(items) == 11
    assert {item["field_code"] for item in items} == {"chung_thuc"}
    provincial = client.get(f"{API}/procedures", params={"level": "province"}).json()["items"]
    assert provincial and {item["level"] for item in provincial} == {"province"}


def test_filter_by_agency_finds_its_procedures_and_steps(client):
    items = client.get(f"{API}/procedures", params={"agency": "000.00.01.H26", "page_size": 100}).json()["items"]
    assert {"1.012644", "1.012657"} <= {item["code"] for item in items}
    commune = client.get(f"{API}/procedures", params={"agency": "000.01.01.H26", "page_size": 100}).json()
    assert commune["total"] >= 40
    assert {item["level"] for item in commune["items"]} == {"commune"}


def test_read_one_procedure_with_its_steps(client):
    response = client.get(f"{API}/procedures/1.012644")
    assert response.status_code == 200
    body = response.json()
    assert body["processing_time"] == {"amount": 30, "unit": "working_days"}
    assert body["supplement_policy"] == "restart"
    assert body["same_day_cutoff"] is None
    assert [(s["seq"], s["agency_code"], s["amount"], s["unit"]) for s in body["steps"]] == [
        (1, "000.00.03.H26", 21, "working_days"),
        (2, "000.00.01.H26", 7, "working_days"),
        (3, "000.00.03.H26", 2, "working_days"),
    ]


def test_birth_chain_has_parallel_steps_and_cutoff(client):
    body = client.get(f"{API}/procedures/2.000986").json()
    assert body["same_day_cutoff"] == "15:00"
    assert [s["unit"] for s in body["steps"]] == ["same_day", "working_days", "working_days"]
    assert [s["parallel_group"] for s in body["steps"]] == [None, "after_registration", "after_registration"]


def test_unknown_code_is_404_in_the_error_shape(client):
    response = client.get(f"{API}/procedures/1.999999")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "1.999999" in response.json()["detail"]


def test_version_before_effective_from_is_404(client):
    response = client.get(f"{API}/procedures/1.012644", params={"as_of": "2020-01-01"})
    assert response.status_code == 404
    assert "no version in force on 2020-01-01" in response.json()["detail"]


def test_create_procedure(client):
    response = client.post(f"{API}/procedures", json=procedure_body(same_day_cutoff="15:00"))
    assert response.status_code == 201, response.text
    assert response.json()["same_day_cutoff"] == "15:00"
    assert client.get(f"{API}/procedures/9.999001").json()["name"] == "Cấp giấy phép thử nghiệm"


def test_invalid_unit_is_422_naming_accepted_units(client):
    response = client.post(
        f"{API}/procedures", json=procedure_body(processing_time={"amount": 3, "unit": "fortnights"})
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    for unit in ("working_days", "working_hours", "calendar_days", "same_day"):
        assert unit in detail
    assert client.get(f"{API}/procedures/9.999001").status_code == 404


@pytest.mark.parametrize(
    "processing_time, message",
    [
        ({"amount": 2.3, "unit": "working_days"}, "multiple of 0.5"),
        ({"amount": -1, "unit": "working_days"}, "greater than or equal to 0"),
        ({"unit": "working_days"}, "needs an amount"),
    ],
)
def test_bad_amounts_are_refused(client, processing_time, message):
    response = client.post(f"{API}/procedures", json=procedure_body(processing_time=processing_time))
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_steps_may_not_allot_more_than_the_whole(client):
    steps = [
        {"name": "Thẩm định", "agency_code": "000.00.03.H26", "amount": 4},
        {"name": "Phê duyệt", "agency_code": "000.00.01.H26", "amount": 2},
    ]
    response = client.post(f"{API}/procedures", json=procedure_body(steps=steps))
    assert response.status_code == 422
    assert client.get(f"{API}/procedures/9.999001").status_code == 404


def test_parallel_steps_count_along_the_longest_path(client):
    steps = [
        {"name": "Khai sinh", "role": "receiving", "unit": "same_day"},
        {"name": "Thường trú", "role": "commune_police", "amount": 4, "parallel_group": "p"},
        {"name": "BHYT", "agency_code": "000.00.15.H26", "amount": 4, "parallel_group": "p"},
    ]
    response = client.post(f"{API}/procedures", json=procedure_body(steps=steps))
    assert response.status_code == 201, response.text


def test_step_with_unknown_agency_is_404(client):
    steps = [{"name": "Thẩm định", "agency_code": "999.99.99.H99", "amount": 1}]
    response = client.post(f"{API}/procedures", json=procedure_body(steps=steps))
    assert response.status_code == 404
    assert "999.99.99.H99" in response.json()["detail"]


def test_duplicate_code_is_409(client):
    assert client.post(f"{API}/procedures", json=procedure_body()).status_code == 201
    response = client.post(f"{API}/procedures", json=procedure_body())
    assert response.status_code == 409
    assert "/versions" in response.json()["detail"]


def test_new_version_changes_time_from_its_effective_date(client):
    version = procedure_body(processing_time={"amount": 3, "unit": "working_days"}, effective_from="2026-01-01")
    del version["code"]
    response = client.post(
        f"{API}/procedures/1.004222/versions", json=version | {"name": "Đăng ký thường trú", "field_code": "cu_tru"}
    )
    assert response.status_code == 201, response.text
    before = client.get(f"{API}/procedures/1.004222", params={"as_of": "2025-12-31"}).json()
    after = client.get(f"{API}/procedures/1.004222", params={"as_of": "2026-01-01"}).json()
    assert before["processing_time"]["amount"] == 7
    assert before["effective_to"] == "2025-12-31"
    assert after["processing_time"]["amount"] == 3
    assert after["effective_to"] is None
    versions = client.get(f"{API}/procedures/1.004222/versions").json()
    assert [v["effective_from"] for v in versions] == ["2024-01-01", "2026-01-01"]


def test_version_before_the_latest_is_refused(client):
    version = procedure_body(effective_from="2023-01-01", field_code="cu_tru")
    del version["code"]
    response = client.post(f"{API}/procedures/1.004222/versions", json=version)
    assert response.status_code == 422
    assert "must start after" in response.json()["detail"]


def test_patch_corrects_the_version_in_force(client):
    response = client.patch(f"{API}/procedures/1.004222", json={"fee": "20000", "online_level": "full"})
    assert response.status_code == 200
    assert response.json()["fee_vnd"] == 20000
    assert client.get(f"{API}/procedures/1.004222").json()["online_level"] == "full"


def test_patch_takes_the_publication_facts_fee_lines_and_result_kind(client):
    facts = {
        "result_kind": "electronic",
        "fee_lines": [{"name": "Lệ phí đăng ký cư trú", "amount_vnd": 20000}],
        "decision_number": "1594/QĐ-UBND",
        "decision_date": "2025-06-10",
        "legal_basis": "Luật Cư trú 2020",
        "legal_basis_effective_date": "01/07/2021",
        "published_on": "2025-06-15",
    }
    response = client.patch(f"{API}/procedures/1.004222", json=facts)
    assert response.status_code == 200, response.text
    shown = client.get(f"{API}/procedures/1.004222").json()
    assert {k: shown[k] for k in facts} == facts | {"legal_basis_effective_date": "2021-07-01"}
    # checked against what is stored: made public before the stored decision date is refused, nothing changed
    early = client.patch(f"{API}/procedures/1.004222", json={"published_on": "2025-06-01", "result_kind": "paper"})
    assert early.status_code == 422 and "decision_date (2025-06-10" in early.json()["detail"]
    for body, word in (
        ({"result_kind": "scroll"}, "electronic"),
        ({"fee_lines": [{"name": "Lệ phí", "amount_vnd": -1}]}, "amount_vnd"),
        ({"decision_date": "2025-06-20", "published_on": "2025-06-15"}, "published_on"),
        ({"decision_date": "31/02/2025"}, "decision_date"),
    ):
        refused = client.patch(f"{API}/procedures/1.004222", json=body)
        assert refused.status_code == 422 and word in refused.text, (body, refused.text)
    assert client.get(f"{API}/procedures/1.004222").json() == shown
    # fee_lines: [] is "no fee", null is "not recorded"
    assert client.patch(f"{API}/procedures/1.004222", json={"fee_lines": []}).json()["fee_lines"] == []
    assert client.patch(f"{API}/procedures/1.004222", json={"fee_lines": None}).json()["fee_lines"] is None


def test_agencies_and_fields(client):
    agencies = client.get(f"{API}/agencies").json()
    levels = {a["level"] for a in agencies}
    assert {"province", "department", "commune", "district"} <= levels
    assert all(not a["active"] for a in agencies if a["level"] == "district")
    ward = client.get(f"{API}/agencies/000.01.01.H26").json()
    assert ward["parent_code"] == "000.00.00.H26"
    assert client.get(f"{API}/agencies/nope").status_code == 404
    fields = {f["code"]: f for f in client.get(f"{API}/fields").json()}
    assert fields["ho_tich"]["name"] == "Hộ tịch"
    assert fields["chung_thuc"]["procedure_count"] == 11
