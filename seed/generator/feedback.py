"""The synthetic city's ratings and complaints, drawn per chunk from the dossiers just lived, vectorised.

Dissatisfaction follows lateness: a dossier resolved late is rated `dissatisfied` and complained about
about ten times as often as one on time (index766.md: one province had 570 complaints for 597,918
dossiers). Complaints are answered after 1 to 18 working days (so some miss the 15-day clock),
published within 1 to 3 working days, and liked or disliked; their dues come from complaints.clocks on
the receiving agency's calendar, as the register computes them.
"""

from __future__ import annotations

import numpy as np

from complaints.clocks import dues, publish_dues
from complaints.models import CATEGORIES, CHANNELS
from sla.core.batch import NONE
from sla.core.lifecycle import Status

RATED_SHARE = 0.25  # of the dossiers whose result was returned
DISSATISFIED = {False: 0.03, True: 0.35}  # on time or early, late
COMPLAINT_SHARE = {False: 0.0005, True: 0.006}
SOURCES = ("lookup", "kiosk", "paper")
CONTENT = "Phản ánh về việc giải quyết hồ sơ (dữ liệu tổng hợp)"
ANSWER = "Đơn vị đã kiểm tra và trả lời công dân (dữ liệu tổng hợp)"


def _minutes(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[m]").view(np.int64)


def _at(values: np.ndarray) -> np.ndarray:
    return values.view("datetime64[m]")


def draw(dossiers: dict, calendars: dict, rng: np.random.Generator, now: int, next_ids: dict[str, int]) -> dict:
    """Rows of dossier_rating, complaint and complaint_event for the chunk's written dossiers (`dossiers`: the
    writer's columns; instants int64 UTC minutes, NONE for NULL)."""
    late = np.asarray([outcome == "late" for outcome in dossiers["outcome"]])
    finished, received = dossiers["finished_at"], dossiers["received_at"]
    agency = dossiers["receiving_agency_id"]
    return {
        "dossier_rating": _ratings(dossiers, late, finished, rng, now, next_ids["dossier_rating"]),
        **_complaints(dossiers, late, received, agency, calendars, rng, now, next_ids),
    }


def _ratings(dossiers, late, finished, rng, now, first_id) -> dict:
    chosen = (dossiers["status_code"] == Status.RETURNED) & (finished != NONE) & (rng.random(len(late)) < RATED_SHARE)
    rated_at = finished + rng.integers(5, 3 * 1440, len(late))
    chosen &= rated_at <= now
    rows = np.flatnonzero(chosen)
    unhappy = rng.random(len(rows)) < np.where(late[rows], DISSATISFIED[True], DISSATISFIED[False])
    happy_level = np.where(rng.random(len(rows)) < 0.55, "very_satisfied", "satisfied")
    source = np.asarray(SOURCES)[rng.choice(3, size=len(rows), p=(0.4, 0.4, 0.2))]
    return {
        "id": first_id + np.arange(len(rows)),
        "dossier_id": dossiers["id"][rows],
        "agency_id": dossiers["receiving_agency_id"][rows],
        "procedure_id": dossiers["procedure_id"][rows],
        "rating": np.where(unhappy, "dissatisfied", happy_level).tolist(),
        "source": source.tolist(),
        "rated_at": rated_at[rows],
        "recorded_by": [("synthetic-clerk" if s == "paper" else None) for s in source.tolist()],
    }


def _complaints(dossiers, late, received, agency, calendars, rng, now, next_ids) -> dict:
    size = len(late)
    chosen = (received != NONE) & (rng.random(size) < np.where(late, COMPLAINT_SHARE[True], COMPLAINT_SHARE[False]))
    at = np.where(chosen, received + rng.integers(60, 20 * 1440, size), NONE)
    rows = np.flatnonzero(chosen & (at <= now))
    n = len(rows)
    columns = {name: np.full(n, NONE, dtype=np.int64) for name in (
        "received_at", "refuse_due_at", "supplement_due_at", "answer_due_at", "publish_due_at", "answered_at",
        "published_at", "feedback_at",
    )}  # fmt: skip
    columns["received_at"] = at[rows]
    calendar_version = [""] * n
    answer_after = rng.integers(1, 19, n) * 480 - rng.integers(0, 240, n)  # working minutes
    publish_after = rng.integers(1, 4, n) * 480 - rng.integers(0, 240, n)
    for agency_id in np.unique(agency[rows]).tolist():  # one calendar per receiving agency, as the register
        part = np.flatnonzero(agency[rows] == agency_id)
        calendar = calendars[agency_id]
        start = _at(columns["received_at"][part])
        for clock, values in dues(calendar, start).items():
            columns[f"{clock}_due_at"][part] = _minutes(values)
        answered = _minutes(calendar.add_working_minutes(calendar.clock_start(start), answer_after[part]))
        columns["answered_at"][part] = answered
        columns["publish_due_at"][part] = _minutes(publish_dues(calendar, _at(answered)))
        columns["published_at"][part] = _minutes(calendar.add_working_minutes(_at(answered), publish_after[part]))
        for i in part.tolist():
            calendar_version[i] = calendar.version[:32]
    is_answered = columns["answered_at"] <= now
    columns["answered_at"][~is_answered] = NONE
    columns["publish_due_at"][~is_answered] = NONE
    is_published = is_answered & (columns["published_at"] <= now)
    columns["published_at"][~is_published] = NONE
    feedback_at = columns["published_at"] + rng.integers(60, 5 * 1440, n)
    judged = is_published & (feedback_at <= now) & (rng.random(n) < 0.6)
    disliked = rng.random(n) < np.where(late[rows], 0.45, 0.15)
    columns["feedback_at"] = np.where(judged, feedback_at, NONE)
    feedback = [("disliked" if d else "liked") if j else None for j, d in zip(judged, disliked, strict=True)]
    status = np.where(is_published, "published", np.where(is_answered, "answered", "received"))
    columns["next_due_at"] = np.where(
        is_published, NONE, np.where(is_answered, columns["publish_due_at"], columns["answer_due_at"])
    )
    ids = next_ids["complaint"] + np.arange(n)
    complaint = {
        "id": ids,
        "receiving_agency_id": agency[rows],
        "agency_id": agency[rows],
        "dossier_id": dossiers["id"][rows],
        "channel": np.asarray(CHANNELS)[rng.choice(len(CHANNELS), n, p=(0.5, 0.2, 0.1, 0.1, 0.1))].tolist(),
        "category": np.asarray(CATEGORIES)[rng.choice(len(CATEGORIES), n, p=(0.3, 0.4, 0.3))].tolist(),
        "content": [CONTENT] * n,
        "status": status.tolist(),
        **columns,
        "refused_at": np.full(n, NONE, dtype=np.int64),
        "first_supplement_at": np.full(n, NONE, dtype=np.int64),
        "repeated_at": np.full(n, NONE, dtype=np.int64),
        "feedback": feedback,
        "transfer_count": np.zeros(n, dtype=np.int64),
        "event_count": 1 + is_answered + is_published + judged,
        "calendar_version": calendar_version,
    }
    # events: received, answered, published, liked/disliked, in order per complaint
    kinds = [
        ("received", np.ones(n, dtype=bool), complaint["received_at"], None),
        ("answered", is_answered, columns["answered_at"], ANSWER),
        ("published", is_published, columns["published_at"], None),
        ("feedback", judged, columns["feedback_at"], None),
    ]
    parts = []
    for order, (kind, present, when, note) in enumerate(kinds):
        index = np.flatnonzero(present)
        types = [feedback[i] for i in index.tolist()] if kind == "feedback" else [kind] * len(index)
        parts.append((index, np.full(len(index), order), when[index], types, [note] * len(index)))
    owner = np.concatenate([p[0] for p in parts])
    order = np.lexsort((np.concatenate([p[1] for p in parts]), owner))
    types = [t for p in parts for t in p[3]]
    notes = [t for p in parts for t in p[4]]
    event_at = np.concatenate([p[2] for p in parts])[order]
    owner = owner[order]
    seq = np.concatenate([np.arange(1, c + 1) for c in np.bincount(owner, minlength=n)]) if n else owner
    events = {
        "id": next_ids["complaint_event"] + np.arange(len(owner)),
        "complaint_id": ids[owner],
        "seq": seq,
        "type": [types[i] for i in order.tolist()],
        "at": event_at,
        "recorded_at": event_at,
        "actor": ["synthetic-clerk"] * len(owner),
        "note": [notes[i] for i in order.tolist()],
    }
    return {"complaint": complaint, "complaint_event": events}
