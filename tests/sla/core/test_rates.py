from datetime import date

import pandas as pd
import pytest

from sla.core.rates import COUNT_COLUMNS, ParScoring, add_rates, months_between, period_bounds, year_earlier


def counts(**values) -> pd.DataFrame:
    return pd.DataFrame([{column: values.get(column, 0) for column in COUNT_COLUMNS}])


def test_rates_follow_the_domain_formulas():
    row = add_rates(
        counts(total=10, resolved=6, early=3, on_time=2, late=1, withdrawn=1, open_within=2, open_overdue=1)
    )
    assert row.loc[0, "on_time_rate"] == pytest.approx(5 / 6)
    assert row.loc[0, "strict_on_time_rate"] == pytest.approx(1 - 2 / 10)
    assert row.loc[0, "progress_score_766"] == pytest.approx(20 * 8 / 10)


def test_rates_are_none_not_zero_on_empty_denominators():
    row = add_rates(counts()).loc[0]
    assert row["on_time_rate"] is None and row["strict_on_time_rate"] is None and row["progress_score_766"] is None


def test_par_scoring_proportional_and_bands():
    assert ParScoring(max_points=2).score(0.9) == pytest.approx(1.8)
    bands = ParScoring.parse(1.0, "0.9:0.5,0.98:1,0.95:0.75")
    assert [bands.score(rate) for rate in (0.99, 0.98, 0.96, 0.9, 0.5)] == [1, 1, 0.75, 0.5, 0.0]
    assert bands.score(None) is None
    with pytest.raises(ValueError, match="rate-floor:points"):
        ParScoring.parse(1.0, "high:1")


@pytest.mark.parametrize(
    "period, bounds",
    [
        ("2025", (date(2025, 1, 1), date(2025, 12, 31))),
        ("2025-Q1", (date(2025, 1, 1), date(2025, 3, 31))),
        ("2024-Q4", (date(2024, 10, 1), date(2024, 12, 31))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2025-H1", (date(2025, 1, 1), date(2025, 6, 30))),
        ("2025-h2", (date(2025, 7, 1), date(2025, 12, 31))),
    ],
)
def test_period_bounds(period, bounds):
    assert period_bounds(period) == bounds


def test_bad_period_names_the_accepted_forms():
    with pytest.raises(ValueError, match="YYYY, YYYY-Hn, YYYY-Qn or YYYY-MM"):
        period_bounds("Q1-2025")


@pytest.mark.parametrize(
    "first, last, earlier",
    [
        (date(2025, 3, 1), date(2025, 3, 31), (date(2024, 3, 1), date(2024, 3, 31))),
        (date(2025, 2, 1), date(2025, 2, 28), (date(2024, 2, 1), date(2024, 2, 29))),  # a whole month stays whole
        (date(2024, 2, 29), date(2024, 3, 10), (date(2023, 2, 28), date(2023, 3, 10))),
        (date(2025, 1, 1), date(2025, 6, 30), (date(2024, 1, 1), date(2024, 6, 30))),
    ],
)
def test_year_earlier(first, last, earlier):
    assert year_earlier(first, last) == earlier


def test_months_between_clips_to_the_period():
    assert months_between(date(2025, 1, 15), date(2025, 3, 10)) == [
        (date(2025, 1, 15), date(2025, 1, 31)),
        (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 3, 1), date(2025, 3, 10)),
    ]
