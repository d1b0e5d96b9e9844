"""Citizens' ratings of their dossiers (đánh giá mức độ hài lòng) and their counts.

After the result is returned (status 10) the citizen rates the dossier once: one of three levels,
optionally with the 11-index form (index766.md; the indices are data, `INDICES`). Three doors: the
public lookup (code + last 4 phone digits, as the lookup identifies a dossier), the kiosk at the desk
(the same identification, no sign-in) and a clerk typing in a paper form. The rating is anonymous to
the staff: they read it only as counts per unit, procedure and period (`summary`, `rating_figures`),
never per dossier or per citizen.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dossiers.lookup import CODE_MAX_LENGTH, RATED_AFTER_STATUS, find
from dossiers.models import RATING_LEVELS, Dossier, DossierRating
from kernel.errors import Conflict, InvalidInput
from procedures.models import Procedure
from procedures.schemas import Input
from procedures.service import agency_tree

Level = Literal[RATING_LEVELS]  # type: ignore[valid-type]
DISSATISFIED = "dissatisfied"


@dataclass(frozen=True)
class RatingIndex:
    """One index of the longer form: its number, its question, the points its answers give (best first)."""

    number: int
    key: str
    vi: str
    en: str
    points: tuple[int, ...] = (2, 1, 0)


# The 11-index form some provinces use (SIPAS-style; index766.md): 1–9 scored 2/1/0, 10–11 the
# convenience and the overall judgement, scored the same way (2 good, 1 fair, 0 poor).
INDICES: tuple[RatingIndex, ...] = (
    RatingIndex(1, "total_time", "Tổng thời gian giải quyết so với quy định", "Total time against the statutory time"),
    RatingIndex(2, "agency_time", "Thời gian giải quyết tại từng cơ quan", "Time taken at each agency"),
    RatingIndex(3, "contacts", "Số lần phải liên hệ để hoàn thiện hồ sơ", "Contacts needed to complete the dossier"),
    RatingIndex(4, "bodies", "Số cơ quan phải liên hệ", "Bodies contacted"),
    RatingIndex(5, "desk", "Tiếp nhận, hướng dẫn tại Bộ phận Một cửa", "Reception and guidance at the desk"),
    RatingIndex(6, "publicity", "Công khai thủ tục hành chính", "Publicity of the procedure"),
    RatingIndex(7, "staff_attitude", "Thái độ của công chức", "Attitude of the civil servants"),
    RatingIndex(8, "complaint_handling", "Tiếp nhận, xử lý phản ánh, kiến nghị", "Handling of complaints"),
    RatingIndex(9, "online_service", "Dịch vụ công trực tuyến", "Online service"),
    RatingIndex(10, "convenience", "Mức độ thuận tiện", "Convenience"),
    RatingIndex(11, "overall", "Mức độ hài lòng chung", "Overall satisfaction"),
)
INDEX_BY_NUMBER = {str(index.number): index for index in INDICES}
POINT_WORDS = {2: ("Tốt", "Good"), 1: ("Bình thường", "Fair"), 0: ("Không tốt", "Poor")}


def _check_indices(value: dict[str, int] | None) -> dict[str, int] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("indices, when given, name at least one index (1 to 11) with its points")
    checked = {}
    for number, points in value.items():
        index = INDEX_BY_NUMBER.get(str(number).strip())
        if index is None:
            raise ValueError(f"unknown index {number!r}: the form has indices 1 to {len(INDICES)}")
        if isinstance(points, bool) or points not in index.points:
            accepted = ", ".join(str(p) for p in index.points)
            raise ValueError(f"index {index.number} ({index.key}) takes {accepted} points, not {points!r}")
        checked[str(index.number)] = points
    return dict(sorted(checked.items(), key=lambda item: int(item[0])))


class RatingIn(Input):
    """A rating as a clerk types in the paper form."""

    model_config = ConfigDict(extra="forbid")

    rating: Level = Field(description="very_satisfied, satisfied or dissatisfied")
    indices: dict[str, int] | None = Field(
        default=None,
        description='the 11-index form, optional: {"1": 2, "2": 1, …}, index number → points (2, 1 or 0)',
    )

    _indices = field_validator("indices")(classmethod(lambda cls, value: _check_indices(value)))


class PublicRatingIn(RatingIn):
    """A citizen's rating through the public lookup: the dossier named as the lookup names it."""

    code: Annotated[str, StringConstraints(max_length=CODE_MAX_LENGTH)] = Field(description="the code on the receipt")
    phone_last4: Annotated[str, StringConstraints(max_length=4)] = Field(
        description="last 4 digits of the applicant's phone"
    )


class RatingAccepted(BaseModel):
    """The answer to a rating: what was recorded, without naming anyone."""

    code: str
    rating: str
    indices: dict[str, int] | None
    source: str
    rated_at: datetime


def _rate(session: Session, dossier: Dossier, data: RatingIn, *, source: str, now: datetime, actor: str | None):
    if dossier.status_code != RATED_AFTER_STATUS:
        raise InvalidInput(
            f"dossier {dossier.code} can be rated once its result has been returned; it is {dossier.status} now",
            message_id="rating_too_early",
            code=dossier.code,
        )
    given = "this dossier has been rated already: a dossier is rated once"
    if session.execute(select(DossierRating.id).where(DossierRating.dossier_id == dossier.id)).first():
        raise Conflict(given, message_id="rating_given")
    points = sum(data.indices.values()) if data.indices else None
    most = sum(max(INDEX_BY_NUMBER[n].points) for n in data.indices) if data.indices else None
    rating = DossierRating(
        dossier_id=dossier.id,
        agency_id=dossier.receiving_agency_id,
        procedure_id=dossier.procedure_id,
        rating=data.rating,
        indices=data.indices,
        index_points=points,
        index_max_points=most,
        source=source,
        rated_at=now,
        recorded_by=actor,
    )
    try:
        with session.begin_nested():  # two ratings racing: the unique dossier_id keeps one
            session.add(rating)
    except IntegrityError:
        raise Conflict(given, message_id="rating_given") from None
    return RatingAccepted(
        code=dossier.code, rating=rating.rating, indices=rating.indices, source=source, rated_at=rating.rated_at
    )


def rate_public(
    session: Session, *, code: str, phone_last4: str, data: RatingIn, source: Literal["lookup", "kiosk"], now: datetime
) -> RatingAccepted:
    """The citizen's own rating (the lookup or the kiosk): the dossier found as the lookup finds it (the same
    404 for an unknown code and wrong digits), 422 before the return, 409 for a second rating."""
    dossier = find(session, code=code, phone_last4=phone_last4)
    return _rate(session, dossier, data, source=source, now=now, actor=None)


def record_paper(session: Session, *, dossier: Dossier, data: RatingIn, actor: str, now: datetime) -> RatingAccepted:
    """A paper form typed in at the desk by `actor` (the route checks the role and scope)."""
    return _rate(session, dossier, data, source="paper", now=now, actor=actor)


# --- the counts ----------------------------------------------------------------------------------

_COUNTS = (
    func.count().label("ratings"),
    *(func.sum(case((DossierRating.rating == level, 1), else_=0)).label(level) for level in RATING_LEVELS),
    func.count(DossierRating.index_points).label("indexed"),
    func.coalesce(func.sum(DossierRating.index_points), 0).label("index_points"),
    func.coalesce(func.sum(DossierRating.index_max_points), 0).label("index_max_points"),
)
FIGURE_KEYS = ("ratings", *RATING_LEVELS, "indexed", "index_points", "index_max_points")


def _period(query, agency_ids: Collection[int], start: datetime, end: datetime):
    return query.where(
        DossierRating.agency_id.in_(list(agency_ids)), DossierRating.rated_at >= start, DossierRating.rated_at < end
    )


def rating_figures(
    session: Session, agency_ids: Collection[int], start: datetime, end: datetime
) -> dict[int, dict[str, int]]:
    """The ratings each unit's dossiers got in [start, end), per agency id, in one grouped query.

    Every id asked is in the answer (all zeros when its dossiers got no rating). A rating belongs to the
    dossier's receiving agency and counts in the period it was given. Keys, all counts (add them up over a
    unit and its children: each rating belongs to one agency):

    - `ratings`: ratings given; `very_satisfied`, `satisfied`, `dissatisfied`: of them, per level
      (5.4 takes `dissatisfied` as the dossiers with a "dislike"; complaints.figures adds the complaints);
    - `indexed`: ratings with the 11-index form; `index_points` / `index_max_points`: the points they
      gave and the most they could have given (the form's score = index_points / index_max_points).
    """
    figures = {agency_id: dict.fromkeys(FIGURE_KEYS, 0) for agency_id in agency_ids}
    query = _period(select(DossierRating.agency_id, *_COUNTS), agency_ids, start, end).group_by(DossierRating.agency_id)
    for row in session.execute(query).mappings():
        figures[row["agency_id"]] = {key: int(row[key]) for key in FIGURE_KEYS}
    return figures


def dissatisfied_counts(
    session: Session, agency_ids: Collection[int], start: datetime, end: datetime
) -> list[dict]:
    """The dissatisfied ratings that cost 5.4 points, counted per unit and procedure (never listed per dossier:
    a rating is anonymous to the staff), most first."""
    query = (
        _period(
            select(DossierRating.agency_id, Procedure.code, Procedure.name, func.count().label("dissatisfied")),
            agency_ids,
            start,
            end,
        )
        .join(Procedure, Procedure.id == DossierRating.procedure_id)
        .where(DossierRating.rating == DISSATISFIED)
        .group_by(DossierRating.agency_id, Procedure.code, Procedure.name)
        .order_by(func.count().desc(), Procedure.code)
    )
    return [
        {"agency_id": row.agency_id, "procedure_code": row.code, "procedure_name": row.name, "dissatisfied": row[3]}
        for row in session.execute(query)
    ]


class RatingRow(BaseModel):
    """The ratings of one unit and procedure in a period: counts only."""

    agency_code: str
    agency_name: str
    procedure_code: str
    procedure_name: str
    ratings: int
    very_satisfied: int
    satisfied: int
    dissatisfied: int
    satisfied_rate: float | None = Field(description="(very_satisfied + satisfied) / ratings")
    indexed: int
    index_rate: float | None = Field(description="the 11-index form's points / the most they could be")
    index_averages: dict[str, float] = Field(
        default_factory=dict, description="each index's mean points over the forms that answered it"
    )


def summary(session: Session, agency_ids: Collection[int], start: datetime, end: datetime) -> list[RatingRow]:
    """Counts per unit and procedure of the ratings given in [start, end), most rated first (the staff's view)."""
    query = (
        _period(select(DossierRating.agency_id, DossierRating.procedure_id, *_COUNTS), agency_ids, start, end)
        .group_by(DossierRating.agency_id, DossierRating.procedure_id)
        .order_by(func.count().desc(), DossierRating.agency_id, DossierRating.procedure_id)
    )
    rows = session.execute(query).mappings().all()
    if not rows:
        return []
    wanted = {row["procedure_id"] for row in rows}
    procedures = {
        row.id: (row.code, row.name)
        for row in session.execute(select(Procedure.id, Procedure.code, Procedure.name).where(Procedure.id.in_(wanted)))
    }
    averages = _index_averages(session, agency_ids, start, end)
    tree = agency_tree(session)
    out = []
    for row in rows:
        code, name = procedures[row["procedure_id"]]
        satisfied = row["very_satisfied"] + row["satisfied"]
        out.append(
            RatingRow(
                agency_code=tree.by_id[row["agency_id"]].code,
                agency_name=tree.by_id[row["agency_id"]].name,
                procedure_code=code,
                procedure_name=name,
                ratings=row["ratings"],
                very_satisfied=row["very_satisfied"],
                satisfied=row["satisfied"],
                dissatisfied=row["dissatisfied"],
                satisfied_rate=satisfied / row["ratings"] if row["ratings"] else None,
                indexed=row["indexed"],
                index_rate=row["index_points"] / row["index_max_points"] if row["index_max_points"] else None,
                index_averages=averages.get((row["agency_id"], row["procedure_id"]), {}),
            )
        )
    return out


def _index_averages(session: Session, agency_ids, start, end) -> dict[tuple[int, int], dict[str, float]]:
    """Each index's mean points per unit and procedure, over the forms (pandas over the JSON column)."""
    query = _period(
        select(DossierRating.agency_id, DossierRating.procedure_id, DossierRating.indices), agency_ids, start, end
    ).where(DossierRating.index_points.is_not(None))
    rows = session.execute(query).all()
    if not rows:
        return {}
    frame = pd.DataFrame(
        [{"agency_id": a, "procedure_id": p, **(indices or {})} for a, p, indices in rows],
        columns=["agency_id", "procedure_id", *INDEX_BY_NUMBER],
    )
    means = frame.groupby(["agency_id", "procedure_id"])[list(INDEX_BY_NUMBER)].mean()
    return {
        key: {number: round(float(value), 2) for number, value in row.items() if pd.notna(value)}
        for key, row in means.iterrows()
    }
