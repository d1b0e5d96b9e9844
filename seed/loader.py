"""Load the shipped Hanoi catalogue (agencies, fields, procedures with their components) into a database;
safe to repeat."""

import csv
from collections import Counter
from importlib import resources

from sqlmodel import Session

from kernel.db import analyze
from procedures.catalogue_io import check_catalogue, parse_records, read_records, write_catalogue
from procedures.schemas import AgencyIn
from procedures.service import upsert_agencies
from seed.calendar import national_overrides
from sla.calendars import OverrideCreate, upsert_overrides

DATA = resources.files("seed") / "data"


def read_agencies() -> list[AgencyIn]:
    with (DATA / "agencies.csv").open(encoding="utf-8", newline="") as handle:
        return [AgencyIn.model_validate({k: v for k, v in row.items() if v != ""}) for row in csv.DictReader(handle)]


def read_calendar_overrides() -> list[OverrideCreate]:
    return [
        OverrideCreate(date=o.day, kind=o.kind, reason=o.reason, legal_ref=o.legal_ref) for o in national_overrides()
    ]


def read_components() -> dict[str, list[dict]]:
    """The component lists of seed/data/components.csv by procedure code, each with its provenance."""
    found: dict[str, list[dict]] = {}
    with (DATA / "components.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            found.setdefault(row["procedure_code"], []).append(row)
    return found


def _provenance(rows: list[dict]) -> str:
    """What the procedure's `source` says of its components: how many are sourced, from which texts."""
    counts = Counter(row["confidence"] for row in rows)
    texts = sorted({row["source"].split(" (")[0] for row in rows if row["confidence"] == "sourced"})
    kinds = ", ".join(f"{counts[kind]} {kind}" for kind in ("sourced", "illustrative") if counts[kind])
    return f"components (seed/data/components.csv): {kinds}" + (f" from {'; '.join(texts)}" if texts else "")


def catalogue_records() -> list[tuple[int, dict]]:
    """The rows of seed/data/procedures.csv, joined with their components from seed/data/components.csv."""
    records = read_records((DATA / "procedures.csv").read_bytes(), "csv")
    components = read_components()
    for _, record in records:
        rows = components.get(record["code"])
        if rows:
            record["components"] = [
                {"name": r["name"], "form": r["form"], "copies": int(r["copies"]), "required": r["required"] == "true"}
                for r in rows
            ]
            record["source"] = " | ".join(filter(None, (record.get("source"), _provenance(rows))))
    return records


def load_catalogue(session: Session) -> dict:
    agencies = upsert_agencies(session, read_agencies())
    parsed = parse_records(catalogue_records())
    check_catalogue(session, parsed)
    counts = write_catalogue(session, parsed)
    overrides = upsert_overrides(session, read_calendar_overrides())
    analyze(session.connection(), ("agency", "calendar_override", "calendar_change"))
    return {"agencies": agencies, **counts, "calendar overrides": overrides}
