"""Rates and index scores: versioned formulas over period-report counts (domain.md §5).

Every result names the formula that made it, so a published figure can be reproduced later.
Counts come in as pandas columns; a rate whose denominator is zero is missing (None), not zero.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

ON_TIME_RATE = "on-time-rate-v1"
STRICT_ON_TIME_RATE = "strict-on-time-rate-v1"
PROGRESS_766 = "766-progress-v1"
PAR_ON_TIME = "par-on-time-v1"
PROGRESS_766_MAX_POINTS = 20.0

FORMULAS = {
    ON_TIME_RATE: "(early + on_time) / resolved",
    STRICT_ON_TIME_RATE: "1 - (late + open_overdue) / total, total = carried_over + received_new",
    PROGRESS_766: "20 × (early + on_time + withdrawn + open_within) / total  (Decision 766/QĐ-TTg)",
    PAR_ON_TIME: "PAR Index criterion from on-time-rate-v1: proportional (max × rate) or bands, as configured",
}

COUNT_COLUMNS = (
    "carried_over",
    "received_new",
    "received_counter",
    "received_online",
    "received_post",
    "total",
    "resolved",
    "early",
    "on_time",
    "late",
    "withdrawn",
    "open",
    "open_within",
    "open_overdue",
)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    values = numerator.astype("float64") / denominator.replace(0, np.nan).astype("float64")
    return values.astype(object).where(denominator != 0, None)


def add_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """The report's rates beside its counts: fractions in [0, 1] (the 766 score in points), None on 0/0."""
    rates = counts.copy()
    rates["on_time_rate"] = _ratio(counts["early"] + counts["on_time"], counts["resolved"])
    strict_miss = _ratio(counts["late"] + counts["open_overdue"], counts["total"])
    rates["strict_on_time_rate"] = strict_miss.map(lambda miss: None if miss is None else 1.0 - miss)
    progress = _ratio(
        counts["early"] + counts["on_time"] + counts["withdrawn"] + counts["open_within"], counts["total"]
    )
    rates["progress_score_766"] = progress.map(lambda share: None if share is None else PROGRESS_766_MAX_POINTS * share)
    return rates


@dataclass(frozen=True)
class ParScoring:
    """How the PAR criterion turns an on-time rate into points: proportional, or bands (rate floor → points)."""

    max_points: float = 1.0
    bands: tuple[tuple[float, float], ...] = ()

    @classmethod
    def parse(cls, max_points: float, bands: str | None) -> "ParScoring":
        """`bands` as "0.98:1,0.95:0.75,0.9:0.5": at or above a floor, its points; below every floor, 0."""
        if not bands:
            return cls(max_points=max_points)
        parsed = []
        for part in bands.split(","):
            match = re.fullmatch(r"\s*([01](?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", part)
            if not match:
                raise ValueError(f"PAR band {part!r} is not of the form 'rate-floor:points', e.g. 0.95:0.75")
            parsed.append((float(match[1]), float(match[2])))
        return cls(max_points=max_points, bands=tuple(sorted(parsed, reverse=True)))

    @property
    def description(self) -> str:
        if not self.bands:
            return f"proportional, {self.max_points:g} points at a rate of 1"
        return "bands " + ", ".join(f"≥{floor:g}: {points:g}" for floor, points in self.bands)

    def score(self, rate: float | None) -> float | None:
        if rate is None:
            return None
        if not self.bands:
            return self.max_points * rate
        return next((points for floor, points in self.bands if rate >= floor), 0.0)


def period_bounds(period: str) -> tuple[date, date]:
    """`2025` → the year, `2025-H1` → the half, `2025-Q1` → the quarter, `2025-03` → the month: first and last day."""
    match = re.fullmatch(r"(\d{4})(?:-(Q[1-4]|H[12]|0[1-9]|1[0-2]))?", period.strip().upper())
    if not match:
        raise ValueError(
            f"period {period!r} is not of the form YYYY, YYYY-Hn, YYYY-Qn or YYYY-MM"
            " (e.g. 2025, 2025-H1, 2025-Q1, 2025-03)"
        )
    year, part = int(match[1]), match[2]
    if part is None:
        return date(year, 1, 1), date(year, 12, 31)
    if part.startswith(("Q", "H")):
        months = 3 if part[0] == "Q" else 6
        first_month = months * (int(part[1]) - 1) + 1
        return date(year, first_month, 1), _month_end(year, first_month + months - 1)
    return date(year, int(part), 1), _month_end(year, int(part))


def year_earlier(first: date, last: date) -> tuple[date, date]:
    """The same days a year before (29 February → 28 February); a whole month stays a whole month."""

    def back(day: date, *, month_end: bool) -> date:
        if month_end and day == _month_end(day.year, day.month):
            return _month_end(day.year - 1, day.month)
        return day.replace(year=day.year - 1, day=min(day.day, _month_end(day.year - 1, day.month).day))

    return back(first, month_end=False), back(last, month_end=True)


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def months_between(first: date, last: date) -> list[tuple[date, date]]:
    """The calendar months overlapping [first, last], each clipped to it."""
    months = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        end = _month_end(cursor.year, cursor.month)
        months.append((max(cursor, first), min(end, last)))
        cursor = end + timedelta(days=1)
    return months


def index_scores(report: pd.DataFrame, par: ParScoring) -> list[dict]:
    """The formula results of each report row, each naming its formula, inputs alongside."""
    results = []
    for row in report.to_dict("records"):
        results.append(
            {
                "group": row["group"],
                "scores": [
                    {"formula": ON_TIME_RATE, "value": row["on_time_rate"], "unit": "fraction"},
                    {"formula": STRICT_ON_TIME_RATE, "value": row["strict_on_time_rate"], "unit": "fraction"},
                    {
                        "formula": PROGRESS_766,
                        "value": row["progress_score_766"],
                        "unit": "points",
                        "max_points": PROGRESS_766_MAX_POINTS,
                    },
                    {
                        "formula": PAR_ON_TIME,
                        "value": par.score(row["on_time_rate"]),
                        "unit": "points",
                        "max_points": par.max_points,
                        "scoring": par.description,
                    },
                ],
                "inputs": {column: row[column] for column in COUNT_COLUMNS},
            }
        )
    return results
