"""The catalogue's component lists (thành phần hồ sơ): API shapes, import and export, the seed."""

import csv
import io
import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from kernel.errors import InvalidInput
from procedures.catalogue_io import COLUMNS, export_catalogue, import_catalogue
from procedures.service import get_procedure, to_read
from seed.loader import DATA
from tests.procedures.test_catalogue_io import record, xlsx

API = "/api/v1"
COMPONENTS = [
    {"name": "Tờ khai (theo mẫu)", "form": "original", "copies": 1, "required": True},
    {"name": "Bản sao giấy tờ chứng minh", "form": "certified_copy", "copies": 2, "required": True},
    {"name": "Văn bản ủy quyền", "form": "copy", "copies": 1, "required": False},
]


def components_of(session, code: str) -> list[dict]:
    [read] = to_read(session, [get_procedure(session, code)])
    return [c.model_dump(mode="json") for c in read.components]


def numbered(components: list[dict]) -> list[dict]:
    return [{**c, "seq": seq} for seq, c in enumerate(components, start=1)]


def test_api_creates_and_reads_a_version_with_its_components(client):
    body = {
        "code": "9.999201",
        "name": "Thủ tục có thành phần",
        "field_code": "ho_tich",
        "level": "commune",
        "processing_time": {"amount": 3, "unit": "working_days"},
        "effective_from": "2025-01-01",
        "components": COMPONENTS,
    }
    response = client.post(f"{API}/procedures", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["components"] == numbered(COMPONENTS)
    assert client.get(f"{API}/procedures/9.999201").json()["components"] == numbered(COMPONENTS)
    # a new version carries its own list; the old one keeps its own
    newer = {k: v for k, v in body.items() if k != "code"} | {"effective_from": "2026-01-01", "components": []}
    assert client.post(f"{API}/procedures/9.999201/versions", json=newer).status_code == 201, response.text
    versions = client.get(f"{API}/procedures/9.999201/versions").json()
    assert [len(v["components"]) for v in versions] == [3, 0]


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        ([{"name": "A", "form": "photocopy"}], "original"),
        ([{"name": "A", "copies": 0}], "greater than or equal to 1"),
        ([{"name": "A"}, {"name": " a "}], "listed twice"),
        ([{"name": "A", "colour": "red"}], "Extra inputs"),
        ([{"name": "A\u202e"}], "U+202E"),
    ],
)
def test_api_refuses_a_bad_component(client, components, expected):
    body = {
        "code": "9.999202",
        "name": "Thủ tục",
        "field_code": "ho_tich",
        "level": "commune",
        "processing_time": {"amount": 3, "unit": "working_days"},
        "effective_from": "2025-01-01",
        "components": components,
    }
    response = client.post(f"{API}/procedures", json=body)
    assert response.status_code == 422
    assert expected in response.text


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_components_round_trip_through_each_format(session, fmt):
    rows = [record(components=json.dumps(COMPONENTS, ensure_ascii=False)), record(code="9.999102")]
    content = xlsx(rows) if fmt == "xlsx" else pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(index=False).encode()
    if fmt == "json":  # a list in JSON
        content = json.dumps(
            [
                {k: v for k, v in r.items() if v != ""}
                | ({"components": COMPONENTS} if r["code"] == "9.999101" else {})
                for r in rows
            ],
            ensure_ascii=False,
        ).encode()
    import_catalogue(session, content, fmt)
    assert components_of(session, "9.999101") == numbered(COMPONENTS)
    assert components_of(session, "9.999102") == []
    exported = export_catalogue(session, fmt)
    if fmt == "json":
        entry = next(r for r in json.loads(exported) if r["code"] == "9.999101")
        assert entry["components"] == COMPONENTS
    elif fmt == "csv":
        entry = next(r for r in csv.DictReader(io.StringIO(exported.decode())) if r["code"] == "9.999101")
        assert json.loads(entry["components"]) == COMPONENTS
    else:
        sheet = load_workbook(io.BytesIO(exported)).worksheets[0]
        header = [cell.value for cell in sheet[1]]
        cells = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "9.999101")
        assert json.loads(cells[header.index("components")]) == COMPONENTS
    # and back again: the whole catalogue, components included, unchanged
    before = export_catalogue(session, "csv")
    import_catalogue(session, exported, fmt)
    assert export_catalogue(session, "csv") == before
    assert components_of(session, "9.999101") == numbered(COMPONENTS)


def test_rewriting_a_version_replaces_its_components(session):
    import_catalogue(
        session, pd.DataFrame([record(components=json.dumps(COMPONENTS))]).to_csv(index=False).encode(), "csv"
    )
    shorter = json.dumps(COMPONENTS[:1])
    import_catalogue(session, pd.DataFrame([record(components=shorter)]).to_csv(index=False).encode(), "csv")
    assert components_of(session, "9.999101") == numbered(COMPONENTS[:1])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Tờ khai; Giấy chứng sinh", "not JSON"),
        ('{"name": "Tờ khai"}', "a JSON list of documents"),
        ('[{"name": "Tờ khai", "form": "scan"}]', "document 1, form"),
        ('[{"name": "Tờ khai"}, {"name": "Giấy", "copies": -1}]', "document 2, copies"),
    ],
)
def test_a_bad_components_cell_is_refused_naming_row_and_column(session, cell, expected):
    content = pd.DataFrame([record(), record(code="9.999102", components=cell)]).to_csv(index=False).encode()
    with pytest.raises(InvalidInput) as refused:
        import_catalogue(session, content, "csv")
    [error] = refused.value.errors
    assert (error["row"], error["column"]) == (3, "components")
    assert expected in error["message"]


def test_seed_lists_components_for_at_least_twenty_common_procedures(session):
    from sqlalchemy import func, select

    from procedures.models import ProcedureComponent

    with_components = session.execute(select(func.count(func.distinct(ProcedureComponent.procedure_id)))).scalar_one()
    assert with_components >= 20
    birth = components_of(session, "1.001193")
    assert birth[0]["name"].startswith("Tờ khai đăng ký khai sinh") and birth[1]["name"].startswith("Giấy chứng sinh")
    assert components_of(session, "HN-xay_dung-1")[2]["copies"] == 2  # two sets of drawings
    for code in (
        "1.004222",
        "1.000894",
        "1.000656",
        "HN-dang_ky_kinh_doanh-1",
        "HN-ly_lich_tu_phap-1",
        "HN-giao_thong_gplx-2",
        "2.000815",
        "HN-dat_dai-3",
    ):
        assert components_of(session, code), code


def test_seed_components_say_where_they_come_from():
    with (DATA / "components.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["confidence"] for r in rows} == {"sourced", "illustrative"}
    for row in rows:
        assert row["source"].strip(), row
        if row["confidence"] == "sourced":  # a sourced row names the text it comes from
            assert any(word in row["source"] for word in ("Luật", "Nghị định", "Thông tư")), row
    assert len({r["procedure_code"] for r in rows}) >= 20
