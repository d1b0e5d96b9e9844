"""Load the shipped Hanoi catalogue (agencies, fields, procedures) into a database; safe to repeat."""

import csv
from importlib import resources

from sqlmodel import Session

from procedures.catalogue_io import import_catalogue
from procedures.db import analyze
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


def load_catalogue(session: Session) -> dict:
    agencies = upsert_agencies(session, read_agencies())
    counts = import_catalogue(session, (DATA / "procedures.csv").read_bytes(), "csv")
    overrides = upsert_overrides(session, read_calendar_overrides())
    analyze(session.connection(), ("agency", "calendar_override", "calendar_change"))
    return {"agencies": agencies, **counts, "calendar overrides": overrides}
