"""Index scores per agency and period: the period report by agency through the versioned formulas."""

from sqlmodel import Session

from kernel.errors import InvalidInput
from sla.core.rates import ParScoring, index_scores, period_bounds
from sla.reports import Period, period_report


def agency_scores(session: Session, *, period: str, agency: str | None, par: ParScoring) -> dict:
    try:
        first, last = period_bounds(period)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    report = period_report(session, period=Period(first, last), group_by="agency", agency=agency)
    names = dict(zip(report["group"], report["agency_name"], strict=True))
    rows = index_scores(report, par)
    for row in rows:
        row["agency_code"] = None if row["group"] == "total" else row["group"]
        row["agency_name"] = names.get(row["group"])
    return {"period": period, "from": first.isoformat(), "to": last.isoformat(), "agencies": rows}
