"""Catalogue files: one column set in CSV, JSON and XLSX; every bad row named; all or nothing."""

import io
import json

import pandas as pd
import pytest
from sqlalchemy import func, select

from kernel.errors import InvalidInput
from procedures.catalogue_io import COLUMNS, export_catalogue, import_catalogue, parse_steps
from procedures.models import Procedure

API = "/api/v1"


def record(**changes) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        code="9.999101",
        name="Thủ tục nhập thử",
        field_code="thu_nghiem",
        field_name="Thử nghiệm",
        level="department",
        agency_code="000.00.03.H26",
        amount="10",
        unit="working_days",
        supplement_policy="resume",
        steps="Thẩm định=000.00.03.H26:7;Phê duyệt=000.00.01.H26:3",
        effective_from="2025-07-01",
        confidence="illustrative",
    )
    row.update(changes)
    return row


def xlsx(rows: list[dict]) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=list(COLUMNS)).to_excel(buffer, index=False)
    return buffer.getvalue()


def count_procedures(session) -> int:
    return session.execute(select(func.count()).select_from(Procedure)).scalar_one()


def test_steps_grammar():
    assert parse_steps("Tiếp nhận=@receiving:0.5;Thuế=000.00.16.H26:excluded;BHYT=000.00.15.H26:4h|p") == [
        {"name": "Tiếp nhận", "parallel_group": None, "role": "receiving", "unit": "working_days", "amount": 0.5},
        {"name": "Thuế", "parallel_group": None, "agency_code": "000.00.16.H26", "unit": "excluded"},
        {"name": "BHYT", "parallel_group": "p", "agency_code": "000.00.15.H26", "unit": "working_hours", "amount": 4.0},
    ]
    with pytest.raises(ValueError, match="is not of the form"):
        parse_steps("Thẩm định 7 ngày")


def test_xlsx_with_one_bad_row_is_refused_naming_it_and_imports_nothing(client, session):
    before = count_procedures(session)
    rows = [record(code="9.999101"), record(code="9.999102", unit="fortnights"), record(code="9.999103")]
    response = client.post(
        f"{API}/catalogue/import",
        files={"file": ("catalogue.xlsx", xlsx(rows), "application/octet-stream")},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {"row": 3, "column": "unit", "message": body["errors"][0]["message"]},
    ]
    assert "working_days" in body["errors"][0]["message"]
    assert "row 3, unit" in body["detail"]
    assert "nothing was imported" in body["detail"]
    assert client.get(f"{API}/procedures/9.999101").status_code == 404
    assert count_procedures(session) == before


def test_every_bad_row_is_reported(session):
    rows = [
        record(code="9.999101", amount="abc"),
        record(code="9.999102", steps="Thẩm định=000.00.03.H26:20"),
        record(code="9.999103", steps="Thẩm định=999.99.99.H99:1"),
        record(code="9.999104", name=""),
        record(code="9.999104", level="galaxy"),
    ]
    content = pd.DataFrame(rows).to_csv(index=False).encode()
    with pytest.raises(InvalidInput) as refused:
        import_catalogue(session, content, "csv")
    found = {(e["row"], e["column"]) for e in refused.value.errors}
    assert found == {(2, "amount"), (3, "steps"), (4, "steps"), (5, "name"), (6, "level")}
    assert count_procedures(session) > 0
    assert session.execute(select(Procedure).where(Procedure.code.like("9.9991%"))).first() is None


def test_csv_import_creates_field_procedure_and_steps(client):
    content = pd.DataFrame([record()]).to_csv(index=False).encode()
    response = client.post(f"{API}/catalogue/import", files={"file": ("c.csv", content, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json() == {"procedures": 1, "fields": 1}
    body = client.get(f"{API}/procedures/9.999101").json()
    assert body["field_name"] == "Thử nghiệm"
    assert body["supplement_policy"] == "resume"
    assert [(s["name"], s["amount"]) for s in body["steps"]] == [("Thẩm định", 7), ("Phê duyệt", 3)]


def test_json_import_accepts_step_objects(client):
    row = {k: v for k, v in record().items() if v != ""}
    row["steps"] = [{"name": "Thẩm định", "agency_code": "000.00.03.H26", "amount": 10}]
    response = client.post(
        f"{API}/catalogue/import", files={"file": ("c.json", json.dumps([row]).encode(), "application/json")}
    )
    assert response.status_code == 200, response.text
    assert client.get(f"{API}/procedures/9.999101").json()["steps"][0]["amount"] == 10


def test_unknown_format_and_columns_are_refused(client):
    response = client.post(f"{API}/catalogue/import", files={"file": ("c.txt", b"x", "text/plain")})
    assert response.status_code == 422
    assert ".csv, .json, .xlsx" in response.json()["detail"]
    response = client.post(f"{API}/catalogue/import", files={"file": ("c.csv", b"code,colour\n1,red\n", "text/csv")})
    assert response.status_code == 422
    assert "unknown: colour" in response.json()["detail"]


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_export_then_import_round_trips(session, fmt):
    before_csv = export_catalogue(session, "csv")
    before_count = count_procedures(session)
    counts = import_catalogue(session, export_catalogue(session, fmt), fmt)
    assert counts["procedures"] == before_count
    assert count_procedures(session) == before_count
    assert export_catalogue(session, "csv") == before_csv


def test_export_route_serves_each_format(client):
    for fmt, marker in (("csv", b"code,name"), ("json", b'"code"'), ("xlsx", b"PK")):
        response = client.get(f"{API}/catalogue/export", params={"format": fmt})
        assert response.status_code == 200
        assert response.content.startswith(marker) or marker in response.content[:50]


FACTS = {
    "result_kind": "electronic",
    "fee_lines": '[{"name": "Lệ phí cấp giấy", "amount_vnd": 50000}, {"name": "Phí thẩm định", "amount_vnd": 0}]',
    "decision_number": "1594/QĐ-UBND",
    "decision_date": "2025-06-10",
    "legal_basis": "Luật Hộ tịch 2014; Nghị định 123/2015/NĐ-CP",
    "legal_basis_effective_date": "2025-06-01",
    "published_on": "2025-06-15",
}


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_version_facts_import_and_round_trip_in_each_format(client, session, fmt):
    rows = [record(**FACTS), record(code="9.999102", fee_lines="[]"), record(code="9.999103")]
    import_catalogue(session, pd.DataFrame(rows).to_csv(index=False).encode(), "csv")
    session.commit()
    body = client.get(f"{API}/procedures/9.999101").json()
    assert body["result_kind"] == "electronic"
    assert body["fee_lines"] == [
        {"name": "Lệ phí cấp giấy", "amount_vnd": 50000},
        {"name": "Phí thẩm định", "amount_vnd": 0},
    ]
    assert (body["decision_number"], body["decision_date"], body["published_on"]) == (
        "1594/QĐ-UBND",
        "2025-06-10",
        "2025-06-15",
    )
    assert body["legal_basis"] == FACTS["legal_basis"]
    assert body["legal_basis_effective_date"] == "2025-06-01"
    # [] (no fee) and an empty cell (not recorded) stay apart
    assert client.get(f"{API}/procedures/9.999102").json()["fee_lines"] == []
    assert client.get(f"{API}/procedures/9.999103").json()["fee_lines"] is None

    exported = export_catalogue(session, fmt)
    if fmt == "json":
        [mine] = [r for r in json.loads(exported) if r["code"] == "9.999101"]
        assert mine["fee_lines"][0] == {"name": "Lệ phí cấp giấy", "amount_vnd": 50000}
        assert {k: mine[k] for k in FACTS if k != "fee_lines"} == {k: v for k, v in FACTS.items() if k != "fee_lines"}
    before_csv = export_catalogue(session, "csv")
    import_catalogue(session, exported, fmt)
    assert export_catalogue(session, "csv") == before_csv
    frame = pd.read_csv(io.BytesIO(before_csv), dtype=str, keep_default_na=False).set_index("code")
    assert frame.loc["9.999101", "decision_number"] == "1594/QĐ-UBND"
    assert json.loads(frame.loc["9.999101", "fee_lines"])[1] == {"name": "Phí thẩm định", "amount_vnd": 0}
    assert frame.loc["9.999102", "fee_lines"] == "[]"
    assert frame.loc["9.999103", "fee_lines"] == ""


def test_bad_version_facts_are_named_by_row_and_column(session):
    rows = [
        record(code="9.999101", result_kind="scroll"),
        record(code="9.999102", fee_lines="Lệ phí 50.000đ"),
        record(code="9.999103", fee_lines='[{"name": "Lệ phí", "amount_vnd": -5}]'),
        record(code="9.999104", decision_date="2025-13-01"),
        record(code="9.999105", decision_date="2025-06-10", published_on="2025-06-01"),
        record(code="9.999106", legal_basis_effective_date="hiệu lực từ 1/6"),
        record(code="9.999107", fee_lines='{"name": "Lệ phí"}'),
    ]
    with pytest.raises(InvalidInput) as refused:
        import_catalogue(session, pd.DataFrame(rows).to_csv(index=False).encode(), "csv")
    found = {(e["row"], e["column"]): e["message"] for e in refused.value.errors}
    assert set(found) == {
        (2, "result_kind"),
        (3, "fee_lines"),
        (4, "fee_lines"),
        (5, "decision_date"),
        (6, "published_on"),
        (7, "legal_basis_effective_date"),
        (8, "fee_lines"),
    }
    assert "paper" in found[(2, "result_kind")] and "electronic" in found[(2, "result_kind")]
    assert "not JSON" in found[(3, "fee_lines")]
    assert found[(4, "fee_lines")].startswith("line 1, amount_vnd:")
    assert "decision_date" in found[(6, "published_on")]
    assert "a JSON list of fee lines" in found[(8, "fee_lines")]
    assert "row 6, published_on" in refused.value.detail
    assert session.execute(select(Procedure).where(Procedure.code.like("9.9991%"))).first() is None
