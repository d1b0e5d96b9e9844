"""The shipped catalogue: real procedures, rebuilt from the shared reference, loaded idempotently."""

import csv
import io
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from procedures.catalogue_io import COLUMNS, parse_records
from procedures.models import Agency, Procedure, ProcedureComponent, ProcedureStep
from seed import convert_hanoi_csv
from seed.calendar import national_overrides
from seed.loader import DATA, load_catalogue
from sla.core.calendar import WorkingCalendar

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


FACTS = convert_hanoi_csv.FACT_COLUMNS  # what seed/data/procedure_facts.csv gives every procedure


def publication_lead_and_lag(calendar: WorkingCalendar, row: dict) -> tuple[int, int]:
    """Working days from the decision to the day before its legal basis takes effect (1.1: at least 5), and from
    the decision to the day it was made public (1.2: at most 5), counted as index766.md words the rules."""
    decided, effective, published = (
        date.fromisoformat(row[c]) for c in ("decision_date", "legal_basis_effective_date", "published_on")
    )

    def after(first: date, last: date) -> int:
        return len(calendar.working_days(first + timedelta(days=1), last)) if last > first else 0

    return after(decided, effective - timedelta(days=1)), after(decided, published)


def test_every_shipped_version_has_its_decision_766_facts_and_says_where_they_come_from():
    calendar = WorkingCalendar(first_year=2015, last_year=2035, overrides=national_overrides())
    rows = shipped_rows()
    for row in rows:
        assert all(row[column] for column in FACTS), (row["code"], [c for c in FACTS if not row[c]])
        assert row["decision_date"] <= row["published_on"] and row["decision_date"][:4] in ("2024", "2025")
        assert "illustrative" in row["source"].split(" | ")[-1], row["code"]  # what the stored texts did not give
        lines, fee = json.loads(row["fee_lines"]), row["fee"]
        if fee == "0":
            assert lines == [], row["code"]  # free: no fee line (the catalogue's "no fee")
        elif fee.isdigit():
            assert [line["amount_vnd"] for line in lines] == [int(fee)], row["code"]
        elif fee:
            assert any(line["amount_vnd"] > 0 for line in lines), row["code"]
    kinds = Counter(row["result_kind"] for row in rows)
    assert kinds["paper"] > kinds["electronic"] > 0
    # a realistic spread, so that 1.1 and 1.2 are neither always won nor always lost
    lead, lag = zip(*(publication_lead_and_lag(calendar, row) for row in rows), strict=True)
    assert 0.4 < sum(days >= 5 for days in lead) / len(rows) < 0.9
    assert 0.1 < sum(days > 5 for days in lag) / len(rows) < 0.3
