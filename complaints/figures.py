"""The complaint figures of Decision 766's satisfaction group (index766.md: 5.2, 5.3 and 5.4's complaint
share), per unit, for the scorecard; and the complaints that cost points.

A complaint counts for the unit handling it (after a transfer, the unit it went to) in the period it
was received; it is judged as things stood at the period's end (acts after it have not happened yet;
an open complaint is late once a clock it still owes has passed).
"""

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select, union
from sqlmodel import Session

from complaints.clocks import CLOCKS, late_clocks
from complaints.models import Complaint
from dossiers.models import Dossier, DossierRating
from dossiers.ratings import DISSATISFIED

FIGURE_KEYS = (
    "complaints", "on_time", "late", "late_refuse", "late_supplement", "late_answer", "late_publish",
    "refused", "answered", "published", "open", "liked", "disliked", "repeated", "satisfactory",
    "dossiers_with_complaint", "dossiers_with_complaint_or_dislike",
)  # fmt: skip
_COLUMNS = (
    "received_at", "refuse_due_at", "supplement_due_at", "answer_due_at", "publish_due_at",
    "refused_at", "first_supplement_at", "answered_at", "published_at", "feedback_at", "repeated_at",
)  # fmt: skip


def _as_of(end: datetime, now: datetime | None) -> datetime:
    """The instant the period is judged at: its last minute, or now for a period still running."""
    return min(end - timedelta(minutes=1), now or datetime.now(UTC))


def _frame(session: Session, agency_ids: Collection[int], start: datetime, end: datetime) -> pd.DataFrame:
    query = select(
        Complaint.id, Complaint.agency_id, Complaint.dossier_id, Complaint.category, Complaint.status,
        Complaint.feedback, *(getattr(Complaint, name) for name in _COLUMNS),
    ).where(
        Complaint.agency_id.in_(list(agency_ids)), Complaint.received_at >= start, Complaint.received_at < end
    )  # fmt: skip
    rows = session.execute(query).all()
    frame = pd.DataFrame(
        rows, columns=["id", "agency_id", "dossier_id", "category", "status", "feedback", *_COLUMNS]
    )
    for name in _COLUMNS:
        frame[name] = pd.to_datetime(frame[name], utc=True).dt.tz_localize(None).astype("datetime64[ns]")
    return frame


def _judged(frame: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """`frame` with a bool column per broken clock, `late`, and what had happened by `as_of`."""
    at = np.datetime64(as_of.astimezone(UTC).replace(tzinfo=None), "m")
    columns = {name: frame[name].to_numpy(dtype="datetime64[m]") for name in _COLUMNS}
    late = late_clocks(columns, at)
    judged = frame.assign(**{f"late_{clock}": late[clock] for clock in CLOCKS}, late=late["late"])

    def by(name: str) -> np.ndarray:
        values = columns[name]
        return ~np.isnat(values) & (values <= at)

    feedback_seen = by("feedback_at")
    return judged.assign(
        refused=by("refused_at"),
        answered=by("answered_at"),
        published=by("published_at"),
        liked=feedback_seen & (frame["feedback"] == "liked").to_numpy(),
        disliked=feedback_seen & (frame["feedback"] == "disliked").to_numpy(),
        repeated=by("repeated_at"),
    )


def complaint_figures(
    session: Session, agency_ids: Collection[int], start: datetime, end: datetime, *, now: datetime | None = None
) -> dict[int, dict[str, int]]:
    """The complaints of each unit received in [start, end), per agency id (every id asked is in the answer;
    a unit without complaints has `complaints` 0, which earns 5.2 and 5.3 their full points).

    Grouped queries, no loop over units. All keys are counts (add them up over a unit and its children):

    - `complaints`: received in the period, handled by the unit (5.2 and 5.3 denominators);
    - `on_time`: every clock kept, as of the period end (5.2 numerator); `late` = complaints − on_time;
      `late_refuse`, `late_supplement`, `late_answer`, `late_publish`: the clock broken (one complaint may
      break several); an open complaint whose answer (or publication) due has passed is late;
    - `refused`, `answered`, `published`, `open` (neither refused nor answered): where they stand;
    - `liked`, `disliked`: the citizen's judgement of the published answer; `repeated`: complained again;
    - `satisfactory`: neither late, disliked nor repeated (5.3's numerator without counting a complaint
      twice; the portal's rule `complaints − disliked − late − repeated` is computable from the keys above);
    - `dossiers_with_complaint`: the unit's dossiers (by receiving agency) named by a complaint received in
      the period; `dossiers_with_complaint_or_dislike`: those, or rated dissatisfied in the period
      (5.4: the share of dossiers with a complaint or a "dislike"; each dossier counted once).
    """
    figures = {agency_id: dict.fromkeys(FIGURE_KEYS, 0) for agency_id in agency_ids}
    frame = _frame(session, agency_ids, start, end)
    if len(frame):
        judged = _judged(frame, _as_of(end, now))
        judged["open"] = ~(judged["refused"] | judged["answered"])
        judged["on_time"] = ~judged["late"]
        judged["satisfactory"] = ~(judged["late"] | judged["disliked"] | judged["repeated"])
        counted = list(FIGURE_KEYS[1:15])  # on_time … satisfactory
        sums = judged.groupby("agency_id")[counted].sum()
        sizes = judged.groupby("agency_id").size()
        for agency_id, row in sums.iterrows():
            figures[int(agency_id)].update({key: int(row[key]) for key in counted}, complaints=int(sizes[agency_id]))
    for agency_id, key, count in _dossier_counts(session, agency_ids, start, end):
        figures[agency_id][key] = count
    return figures


def complained_dossiers(start: datetime, end: datetime):
    """The ids of the dossiers named by a complaint received in [start, end) (a SELECT of `dossier_id`, whoever
    handles the complaint: 5.4 counts them for the dossier's receiving agency)."""
    return select(Complaint.dossier_id.label("dossier_id")).where(
        Complaint.dossier_id.is_not(None), Complaint.received_at >= start, Complaint.received_at < end
    )


def _dissatisfied_dossiers(agency_ids: Collection[int], start: datetime, end: datetime):
    return select(DossierRating.dossier_id.label("dossier_id")).where(
        DossierRating.rating == DISSATISFIED,
        DossierRating.agency_id.in_(list(agency_ids)),
        DossierRating.rated_at >= start,
        DossierRating.rated_at < end,
    )


def dissatisfied_also_complained(session: Session, agency_ids: Collection[int], start: datetime, end: datetime) -> int:
    """How many of the units' dossiers rated dissatisfied in [start, end) were also named by a complaint received in
    it: 5.4 counts such a dossier once (a count for the unit, never which dossiers: a rating is anonymous)."""
    both = _dissatisfied_dossiers(agency_ids, start, end).where(
        DossierRating.dossier_id.in_(complained_dossiers(start, end).scalar_subquery())
    ).subquery()
    query = (
        select(func.count(func.distinct(Dossier.id)))
        .join(both, both.c.dossier_id == Dossier.id)
        .where(Dossier.receiving_agency_id.in_(list(agency_ids)))
    )
    return int(session.execute(query).scalar_one())


def _dossier_counts(session: Session, agency_ids: Collection[int], start: datetime, end: datetime):
    """(agency id, key, count) of the dossiers with a complaint, and with a complaint or a dislike."""
    ids = list(agency_ids)
    complained = complained_dossiers(start, end)
    disliked = _dissatisfied_dossiers(ids, start, end)
    for key, dossiers in (
        ("dossiers_with_complaint", complained.subquery()),
        ("dossiers_with_complaint_or_dislike", union(complained, disliked).subquery()),
    ):
        query = (
            select(Dossier.receiving_agency_id, func.count(func.distinct(Dossier.id)))
            .join(dossiers, dossiers.c.dossier_id == Dossier.id)
            .where(Dossier.receiving_agency_id.in_(ids))
            .group_by(Dossier.receiving_agency_id)
        )
        for agency_id, count in session.execute(query):
            yield agency_id, key, int(count)


def costly_complaints(
    session: Session, agency_ids: Collection[int], start: datetime, end: datetime, *, now: datetime | None = None
) -> list[dict]:
    """The complaints of the period that cost 5.2 or 5.3 points, oldest first: id, agency id, received at,
    category, status and `reasons` (late_refuse, late_supplement, late_answer, late_publish, disliked, repeated).
    No content: the drill-down links to the register, where reading it is audited."""
    frame = _frame(session, agency_ids, start, end)
    if not len(frame):
        return []
    judged = _judged(frame, _as_of(end, now))
    reasons = [f"late_{clock}" for clock in CLOCKS] + ["disliked", "repeated"]
    costly = judged[judged[reasons].any(axis=1)].sort_values(["received_at", "id"])
    return [
        {
            "id": int(row.id),
            "agency_id": int(row.agency_id),
            "received_at": row.received_at.to_pydatetime().replace(tzinfo=UTC),
            "category": row.category,
            "status": row.status,
            "reasons": [reason for reason in reasons if getattr(row, reason)],
        }
        for row in costly.itertuples()
    ]


def add_up(figures: dict[int, dict[str, int]], agency_ids: Collection[int]) -> dict[str, int]:
    """The figures of several agencies (a unit and its children) as one: every key is a count."""
    keys = next(iter(figures.values())).keys() if figures else FIGURE_KEYS
    return {key: sum(figures[agency_id][key] for agency_id in agency_ids) for key in keys}
