"""The shipped national calendar overrides (seed/data/calendar_overrides.csv), as the clock reads them."""

import csv
from datetime import date
from importlib import resources

from sla.core.calendar import Override


def national_overrides() -> tuple[Override, ...]:
    """Corrections to the holidays package: swaps it misses, days it holds that are not days off."""
    source = resources.files("seed") / "data" / "calendar_overrides.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Override(date.fromisoformat(row["date"]), row["kind"], row["reason"], row["legal_ref"] or None)
            for row in csv.DictReader(handle)
        )
