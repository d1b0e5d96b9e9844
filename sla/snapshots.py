"""Reading what the nightly jobs froze: runs, period snapshots with their revisions, the index feed."""

from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import Session

from kernel.errors import InvalidInput, NotFound
from procedures.models import Agency
from sla.core.rates import period_bounds
from sla.models import JobRun, PeriodSnapshot
from sla.reports import INTEGRITY_COLUMNS

FEED_VERSION = "motcua-index-feed-2"


def recent_runs(session: Session, *, job: str | None = None, limit: int = 50) -> list[dict]:
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    return [run.model_dump() for run in session.execute(query).scalars()]


def _check_period(period: str) -> None:
    try:
        period_bounds(period)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _snapshots(
    session: Session, period: str, scope: str | None, within: Collection[int] | None = None
) -> list[PeriodSnapshot]:
    _check_period(period)
    query = select(PeriodSnapshot).where(PeriodSnapshot.period_key == period)
    if scope:
        query = query.where(PeriodSnapshot.scope == scope)
    if within is not None:
        query = query.where(PeriodSnapshot.agency_id.in_(list(within)))
    rows = list(session.execute(query.order_by(PeriodSnapshot.scope, PeriodSnapshot.revision)).scalars())
    if not rows:
        raise NotFound(
            f"period {period} is not frozen{' for ' + scope if scope else ''}: periods freeze the night after they "
            f"end (or run `motcua nightly run --date <last day of the period>`)"
        )
    return rows


def snapshot_history(
    session: Session, *, period: str, agency: str | None = None, within: Collection[int] | None = None
) -> dict:
    """Every revision of the frozen rows of a period, oldest first per agency; with `within` (a user's scope),
    only the rows of those agencies (not the city total)."""
    rows = _snapshots(session, period, agency, within)
    names = dict(session.execute(select(Agency.code, Agency.name)).all())
    return {
        "period": period,
        "snapshots": [
            {
                "scope": row.scope,
                "agency_name": names.get(row.scope),
                "revision": row.revision,
                "frozen_at": row.frozen_at.isoformat(),
                "first_day": row.first_day.isoformat(),
                "last_day": row.last_day.isoformat(),
                "counts": row.counts,
                "scores": row.scores,
            }
            for row in rows
        ],
    }


def feed(session: Session, *, period: str, within: Collection[int] | None = None) -> dict:
    """The index feed: per agency, the latest revision's scores with formula ids and snapshot time; with
    `within` (a user's scope), only those agencies (not the city total), as `snapshot_history`."""
    latest: dict[str, PeriodSnapshot] = {}
    for row in _snapshots(session, period, None, within):
        latest[row.scope] = row
    names = dict(session.execute(select(Agency.code, Agency.name)).all())
    any_row = next(iter(latest.values()))
    return {
        "feed_version": FEED_VERSION,
        "period": period,
        "from": any_row.first_day.isoformat(),
        "to": any_row.last_day.isoformat(),
        "agencies": [
            {
                "agency_code": None if scope == "total" else scope,
                "agency_name": names.get(scope, "Toàn thành phố" if scope == "total" else None),
                "snapshot_revision": row.revision,
                "snapshot_at": row.frozen_at.isoformat(),
                "scores": {
                    score["formula"]: {k: v for k, v in score.items() if k != "formula"} for score in row.scores
                },
                "counts": {
                    key: row.counts[key]
                    for key in (
                        "total",
                        "resolved",
                        "early",
                        "on_time",
                        "late",
                        "withdrawn",
                        "open_within",
                        "open_overdue",
                    )
                },
                # integrity (docs/event-time.md); None in snapshots frozen before these were counted
                "integrity": {key: row.counts.get(key) for key in INTEGRITY_COLUMNS},
            }
            for scope, row in sorted(latest.items(), key=lambda item: (item[0] == "total", item[0]))
        ],
    }


def feed_rows(document: dict) -> list[dict]:
    """The feed flattened for CSV: one row per agency and formula."""
    return [
        {
            "period": document["period"],
            "agency_code": agency["agency_code"] or "total",
            "agency_name": agency["agency_name"],
            "formula": formula,
            "value": score["value"],
            "unit": score["unit"],
            "max_points": score.get("max_points"),
            "snapshot_revision": agency["snapshot_revision"],
            "snapshot_at": agency["snapshot_at"],
        }
        for agency in document["agencies"]
        for formula, score in agency["scores"].items()
    ]
