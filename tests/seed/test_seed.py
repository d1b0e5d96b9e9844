"""The shipped catalogue: real procedures, rebuilt from the shared reference, loaded idempotently."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from procedures.catalogue_io import COLUMNS, parse_records
from procedures.models import Agency, Procedure, ProcedureComponent, ProcedureStep
from seed import convert_hanoi_csv
from seed.loader import DATA, load_catalogue

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "procedures_hanoi.csv"


def shipped_rows() -> list[dict]:
    with (DATA / "procedures.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_shipped_catalogue_is_valid_and_large_enough():
    records = [{k: (v or None) for k, v in row.items()} for row in shipped_rows()]
    parsed = parse_records(list(enumerate(records, start=2)))
    assert parsed.errors == []
    procedures = [procedure for _, procedure in parsed.versions]
    assert len(procedures) >= 60
    assert len({p.field_code for p in procedures}) >= 8
    chains = [p for p in procedures if p.steps]
    assert len(chains) >= 3
    assert any(any(s.parallel_group for s in p.steps) for p in chains)
    assert {p.confidence.value for p in procedures} <= {"sourced", "partially_sourced"}
    assert all(p.source for p in procedures)


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/data/procedures_hanoi.csv is not beside the repository")
def test_shipped_catalogue_is_the_conversion_of_the_reference(tmp_path):
    target = tmp_path / "procedures.csv"
    convert_hanoi_csv.main(str(REFERENCE), str(target))
    assert target.read_text(encoding="utf-8") == (DATA / "procedures.csv").read_text(encoding="utf-8")
    with REFERENCE.open(encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    assert [r["code"] for r in reference if r["code"]] == [
        r["code"] for r in shipped_rows() if not r["code"].startswith("HN-")
    ]


def test_loading_twice_changes_nothing(session):
    def counts():
        return tuple(
            session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Agency, Procedure, ProcedureStep, ProcedureComponent)
        )

    first = counts()
    load_catalogue(session)
    assert counts() == first
    assert first[1] == len(shipped_rows())


def test_columns_of_the_shipped_file_are_the_documented_ones():
    header = next(csv.reader(io.StringIO((DATA / "procedures.csv").read_text(encoding="utf-8"))))
    assert tuple(header) == COLUMNS
