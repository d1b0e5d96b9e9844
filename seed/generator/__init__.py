"""The synthetic city: a realistic year (or the months up to now) of dossiers over the seed catalogue,
written in bulk.

`generate` draws arrivals (procedure, receiving agency, channel, day and time), lives each dossier
through its events with the batch replay (`sla.core.batch`, grouped by procedure version
and calendar), draws its Decision 766 facts with the components and fee lines they stand on (facts.py),
and writes dossiers, events, stages, components, fee lines, ratings, complaints and the daily code
counters in one transaction. A sample of every chunk is replayed through `dossiers.derive.derive`, and
its `index_flags` recomputed from its rows as intake computes them: both must match exactly.
"""

from __future__ import annotations

import time as timer
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine
from sqlmodel import Session

from dossiers.bulk import INSTANT, TABLES, BulkWriter
from dossiers.models import CHANNEL_CODES, Dossier, DossierEvent, Stage
from kernel.db import analyze
from kernel.localtime import local_minute
from seed.generator import facts as dossier_facts
from seed.generator import feedback
from seed.generator import realism as R
from seed.generator.check import fact_mismatches, mismatches
from seed.generator.city import (
    City,
    day_weights,
    intake_profiles,
    load_city,
    local_days,
    local_midnight_utc,
)
from seed.generator.people import People, search_texts
from seed.generator.scenario import REASONS, GroupInput, StepPlan, simulate
from sla.calendars import CalendarStore
from sla.core.batch import DOSSIER_OUTCOME_NAMES, NONE, STAGE_OUTCOME_NAMES, CalendarOps
from sla.core.calendar import (
    DEFAULT_WORKING_HOURS,
    LOCAL_TZ,
    RESOLVED_OUTCOME_CODES,
    CalendarFor,
)
from sla.core.lifecycle import EVENT_TYPES, STATUS_NAMES, Status

__all__ = ["GenerateReport", "GenerationError", "generate"]

CHANNEL_NAMES = {code: name for name, code in CHANNEL_CODES.items()}
ACTORS = {"submitted": "synthetic-portal", "received": "synthetic-clerk", "refused": "synthetic-clerk",
          "result_returned": "synthetic-clerk"}  # fmt: skip
DEFAULT_ACTOR = "synthetic-officer"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOCAL_OFFSET_MINUTES = 420


class GenerationError(RuntimeError):
    """The generator's own check failed: a generated dossier differs from the replay of its events."""


@dataclass
class GenerateReport:
    year: int | None  # None: a window of months up to `now`
    seed: int
    now: datetime
    first_day: date | None = None
    last_day: date | None = None
    dossiers: int = 0
    events: int = 0
    stages: int = 0
    counters: int = 0
    components: int = 0
    fees: int = 0
    ratings: int = 0
    complaints: int = 0
    checked: int = 0  # dossiers replayed through dossiers.derive.derive (and their flags recomputed) during generation
    chunks: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    event_types: Counter = field(default_factory=Counter)
    open_overdue: int = 0
    left_out: list[str] = field(default_factory=list)

    @property
    def late_share(self) -> float:
        resolved = self.outcomes["early"] + self.outcomes["on_time"] + self.outcomes["late"]
        return self.outcomes["late"] / resolved if resolved else 0.0

    def span(self) -> str:
        if self.year is not None:
            return str(self.year)
        return f"{self.first_day:%d/%m/%Y} to {self.now.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M}"

    def summary(self) -> str:
        statuses = ", ".join(f"{name} {count}" for name, count in sorted(self.statuses.items()))
        return (
            f"{self.dossiers} dossiers, {self.events} events, {self.stages} stages, {self.components} components, "
            f"{self.fees} fee lines, {self.counters} code counters, {self.ratings} ratings, "
            f"{self.complaints} complaints for {self.span()} (seed {self.seed}) in {self.seconds:.1f} s; "
            f"statuses: {statuses}; "
            f"late {self.late_share:.1%} of resolved; {self.open_overdue} open and overdue at "
            f"{local_minute(self.now)}; {self.checked} dossiers re-derived and identical (their 766 facts too)"
        )


def generate(
    engine: Engine,
    *,
    dossiers: int,
    year: int | None = None,
    months: int | None = None,
    seed: int = 0,
    calendar_for: CalendarFor | None = None,
    now: datetime | None = None,
    derived_at: datetime | None = None,
    chunk_size: int = 100_000,
    check_per_chunk: int = 20,
    set_aside_indexes: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> GenerateReport:
    """Write ``dossiers`` dossiers received in ``year``, or in the ``months`` up to ``now``, with their
    events, stages and code counters.

    ``now`` (default: the present; with ``year``, the end of the year if earlier) is the generation
    instant: nothing happens after it, so dossiers still running then stay open. With ``months``,
    the window runs from the same local date ``months`` months before ``now`` up to ``now`` itself:
    today's dossiers are those that arrived before ``now`` (so a few fewer than ``dossiers`` may be
    written), and the recent ones are still running, due soon or overdue. ``calendar_for`` gives the
    working calendar of an agency by code (default: the database's calendars, national overrides
    and the agency's own, with the default working hours). The same seed, catalogue, calendars,
    ``now`` and ``chunk_size`` give the same rows. Everything is written in one transaction.
    ``calendar_for`` is called once per receiving agency before writing starts; it must not keep
    a transaction open (the write locks the dossier tables, and with ``set_aside_indexes`` on
    PostgreSQL the catalogue tables the foreign keys point to).
    ``set_aside_indexes`` drops the secondary indexes (and PostgreSQL's foreign keys, whose per-row
    checks cost ten times the COPY) during the load and rebuilds them at the end; by default when
    the run at least doubles the dossier table and writes 100,000 dossiers or more: seeding an
    idle database. ``progress`` is called with the dossiers of each chunk.
    """
    started = timer.perf_counter()
    if dossiers < 0:
        raise ValueError(f"dossiers must be 0 or more, got {dossiers}")
    if (year is None) == (months is None):
        raise ValueError("give either a year or a number of months up to now")
    if months is not None:
        if not 1 <= months <= 60:
            raise ValueError(f"months must be from 1 to 60, got {months}")
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
        last_day = now.astimezone(LOCAL_TZ).date()  # today too, up to now
        first_day = last_day - relativedelta(months=months)
        stream = first_day.toordinal()  # the random streams' key: fixed by `now`
    else:
        year_end = datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)
        now = min(now or datetime.now(UTC), year_end).astimezone(UTC)
        now = now.replace(second=0, microsecond=0)
        first_day = date(year, 1, 1)
        last_day = (now.astimezone(LOCAL_TZ) - timedelta(minutes=1)).date()
        if now < year_end:
            last_day -= timedelta(days=1)  # a year still running: whole days before today
        if last_day < first_day:
            raise ValueError(
                f"{year} has no whole day before {now.astimezone(LOCAL_TZ):%d/%m/%Y}: nothing to generate"
            )
        stream = year
    now_minutes = int((now - _EPOCH) // timedelta(minutes=1))
    # when the columns were derived: the present (a later catalogue or calendar change re-derives them)
    # (rounded up: never before a catalogue change made just before the generation)
    derived_minutes = -(-((derived_at or datetime.now(UTC)).astimezone(UTC) - _EPOCH) // timedelta(minutes=1))
    report = GenerateReport(year=year, seed=seed, now=now, first_day=first_day, last_day=last_day)

    with Session(engine) as session:
        if calendar_for is None:
            store = CalendarStore(
                first_year=first_day.year, last_year=last_day.year + 2, working_hours=DEFAULT_WORKING_HOURS
            )
            calendar_for = store.calendar_for(session)  # read once per agency, below
        city = load_city(session, calendar_for, first_day, last_day)
    report.left_out = city.left_out
    if not city.versions:
        raise ValueError("the catalogue has no procedure to generate dossiers for; run `motcua seed catalogue`")

    setup = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, 0])))
    profiles = intake_profiles(city, setup)
    days = local_days(first_day, last_day)
    day_counts = _day_counts(city, profiles, days, dossiers, setup)  # (class, online) -> counts per day
    chunks = _chunks(sum(day_counts.values()), chunk_size)
    ops = [CalendarOps(calendar) for calendar in city.class_calendars]
    people = People()

    with engine.execution_options(sqlite_immediate=True).begin() as connection:
        writer = BulkWriter(connection)
        writer.lock()
        next_ids = {
            table: writer.next_id(table)
            for table in ("dossier", "dossier_event", "stage", "dossier_component", "dossier_fee", "dossier_rating",
                          "complaint", "complaint_event")
        }
        if set_aside_indexes is None:
            set_aside_indexes = dossiers >= max(100_000, next_ids["dossier"] - 1)
        restore = writer.set_aside_indexes() if set_aside_indexes else []
        counters = writer.existing_counters(first_day, last_day)
        written_counters: dict[tuple[int, date], int] = {}
        for number, (begin, end) in enumerate(chunks, start=1):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, number])))
            rows_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, number, 1])))
            chunk = _Chunk(city, profiles, ops, people, rng, rows_rng, now_minutes, derived_minutes)
            chunk.arrivals(days[begin:end], {key: counts[begin:end] for key, counts in day_counts.items()})
            if not chunk.size:
                continue
            chunk.live()
            chunk.number(next_ids, counters, written_counters)
            report.checked += chunk.check(check_per_chunk, seed, number)
            written = chunk.write(writer, next_ids)
            report.dossiers += written["dossier"]
            report.events += written["dossier_event"]
            report.stages += written["stage"]
            report.components += written["dossier_component"]
            report.fees += written["dossier_fee"]
            report.ratings += written["dossier_rating"]
            report.complaints += written["complaint"]
            chunk.tally(report, now_minutes)
            for table in next_ids:
                next_ids[table] += written[table]
            report.chunks += 1
            if progress:
                progress(chunk.size)
        report.counters = writer.counters((a, d, s) for (a, d), s in sorted(written_counters.items()))
        writer.restore_indexes(restore)
        writer.finish()
    with engine.connect() as connection:  # after the commit: the statistics of the rows just written
        analyze(connection, (*TABLES, "dossier_code_counter"))
        connection.commit()
    report.seconds = timer.perf_counter() - started
    return report


def _day_counts(
    city: City, profiles, days: np.ndarray, total: int, rng: np.random.Generator
) -> dict[tuple[int, bool], np.ndarray]:
    """How many dossiers arrive per day, per (calendar class, online): the day model of each."""
    keys = sorted({(int(c), bool(o)) for c, o in zip(profiles.calendar_class, profiles.online, strict=True)})
    shares = [profiles.probability[(profiles.calendar_class == c) & (profiles.online == o)].sum() for c, o in keys]
    totals = rng.multinomial(total, np.asarray(shares) / sum(shares))
    counts = {}
    for (calendar_class, online), count in zip(keys, totals.tolist(), strict=True):
        weights = day_weights(city.class_calendars[calendar_class], days, online)
        counts[(calendar_class, online)] = rng.multinomial(count, weights / weights.sum())
    return counts


def _chunks(per_day: np.ndarray, chunk_size: int) -> list[tuple[int, int]]:
    """Runs of whole days holding at most ``chunk_size`` dossiers (a busier day is a chunk alone)."""
    chunks, begin, size = [], 0, 0
    for day, count in enumerate(per_day.tolist()):
        if size and size + count > chunk_size:
            chunks.append((begin, day))
            begin, size = day, 0
        size += count
    chunks.append((begin, len(per_day)))
    return chunks


def _minutes_to_datetime(minutes: int) -> datetime | None:
    minutes = int(minutes)
    return None if minutes == NONE else _EPOCH + timedelta(minutes=minutes)


class _Chunk:
    """The dossiers arriving on a run of days: drawn, lived, numbered, checked and written together."""

    def __init__(self, city, profiles, ops, people, rng, rows_rng, now: int, derived_at: int) -> None:
        self.city, self.profiles, self.ops, self.people, self.rng, self.now = city, profiles, ops, people, rng, now
        self.rows_rng = rows_rng  # the components and fee lines the facts stand on (the other draws stay as they were)
        self.derived_at = derived_at
        self.size = 0
        self.sample: list[int] = []  # the rows whose dossiers `check` replayed

    # -- arrivals --------------------------------------------------------------------------------

    def arrivals(self, days: np.ndarray, counts: dict[tuple[int, bool], np.ndarray]) -> None:
        rng, profiles = self.rng, self.profiles
        picked, intake = [], []
        for (calendar_class, online), per_day in sorted(counts.items()):
            total = int(per_day.sum())
            if not total:
                continue
            choices = np.flatnonzero((profiles.calendar_class == calendar_class) & (profiles.online == online))
            p = profiles.probability[choices]
            picked.append(rng.choice(choices, size=total, p=p / p.sum()))
            midnight = np.repeat(local_midnight_utc(days), per_day)
            if online:
                hours = np.asarray(R.ONLINE_HOURS)
                hour = rng.choice(24, size=total, p=hours / hours.sum())
                intake.append(midnight + hour * 60 + rng.integers(0, 60, total))
            else:
                ops = self.ops[calendar_class]
                opening = ops.clock_start(midnight)
                position = 1 + (rng.beta(*R.COUNTER_MINUTE_BETA, total) * (ops.minutes_per_day - 2)).astype(np.int64)
                intake.append(ops.shift(opening, position))
        if not picked:
            return
        profile = np.concatenate(picked)
        self.intake_at = np.concatenate(intake)
        arrived = self.intake_at < self.now  # today's, in a window up to now: only those arrived by then
        if not arrived.all():
            profile, self.intake_at = profile[arrived], self.intake_at[arrived]
            if not profile.size:
                return
        self.code_index = profiles.code_index[profile]
        self.agency = profiles.agency[profile]
        self.channel = profiles.channel[profile]
        self.calendar_class = profiles.calendar_class[profile]
        self.size = len(profile)
        self.local_day = (self.intake_at + _LOCAL_OFFSET_MINUTES) // 1440  # days since the epoch
        self.version = np.zeros(self.size, dtype=np.int64)
        self.versions = {}
        for code_index in np.unique(self.code_index).tolist():
            rows = np.flatnonzero(self.code_index == code_index)
            versions = self.city.versions[profiles.code[code_index]]
            starts = np.asarray([np.datetime64(v.effective_from, "D").view(np.int64) for v in versions])
            chosen = np.searchsorted(starts, self.local_day[rows], side="right") - 1
            for version in versions:
                self.versions[version.id] = version
            self.version[rows] = np.asarray([v.id for v in versions])[chosen]

    # -- lives -----------------------------------------------------------------------------------

    def live(self) -> None:
        city = self.city
        self.groups = []
        keys = np.unique(np.stack([self.calendar_class, self.version], axis=1), axis=0)
        for calendar_class, version_id in keys.tolist():
            rows = np.flatnonzero((self.calendar_class == calendar_class) & (self.version == version_id))
            version = self.versions[version_id]
            receiving = self.agency[rows]
            steps = sorted(version.rule.steps, key=lambda s: s.seq)
            roles = dict(zip((s.seq for s in version.rule.steps), version.step_roles, strict=True))
            plans = []
            for index, step in enumerate(steps):
                role, agency_id = roles[step.seq]
                if agency_id is not None:
                    agency = np.full(len(rows), agency_id, dtype=np.int32)
                elif role == "commune_police":
                    agency = np.asarray([city.police[a] for a in receiving.tolist()], dtype=np.int32)
                else:
                    agency = receiving
                plans.append(StepPlan(index, step, agency))
            group = GroupInput(
                rule=version.rule,
                steps=plans,
                field_code=version.field_code,
                level=version.level,
                has_fee=version.has_fee,
                receiving=receiving,
                channel=self.channel[rows],
                intake_at=self.intake_at[rows],
            )
            self.groups.append((rows, version, simulate(self.ops[calendar_class], group, self.rng, self.now)))

    # -- ids and codes ---------------------------------------------------------------------------

    def number(self, next_ids: dict[str, int], counters: dict, written_counters: dict) -> None:
        """Ids in arrival order; codes `<agency>-<YYMMDD>-<NNNN>` continuing each agency's day."""
        order = np.lexsort((np.arange(self.size), self.intake_at))
        self.id_of = np.empty(self.size, dtype=np.int64)
        self.id_of[order] = next_ids["dossier"] + np.arange(self.size)
        by_day = np.lexsort((self.intake_at, self.local_day, self.agency))
        agency, day = self.agency[by_day], self.local_day[by_day]
        starts = np.flatnonzero(np.r_[True, (agency[1:] != agency[:-1]) | (day[1:] != day[:-1])])
        run = np.repeat(starts, np.diff(np.r_[starts, self.size]))
        sequence = np.arange(self.size) - run + 1
        offsets = np.zeros(self.size, dtype=np.int64)
        for start, end in zip(starts.tolist(), np.r_[starts[1:], self.size].tolist(), strict=True):
            key = (int(agency[start]), _EPOCH.date() + timedelta(days=int(day[start])))
            offsets[start:end] = counters.get(key, 0)
            written_counters[key] = counters.get(key, 0) + (end - start)
        self.sequence = np.empty(self.size, dtype=np.int64)
        self.sequence[by_day] = sequence + offsets
        dates = (self.local_day.astype("datetime64[D]")).astype(object)
        codes = self.city.agency_codes
        self.codes = [
            f"{codes[a]}-{d:%y%m%d}-{s:04d}"
            for a, d, s in zip(self.agency.tolist(), dates.tolist(), self.sequence.tolist(), strict=True)
        ]

    # -- proof -----------------------------------------------------------------------------------

    def check(self, count: int, seed: int, number: int) -> int:
        """Replay a sample through `dossiers.derive.derive`; raise on any difference (its facts: `write`)."""
        if count <= 0:
            return 0
        picker = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, number, 7])))
        sample = set(picker.choice(self.size, size=min(count, self.size), replace=False).tolist())
        self.sample = sorted(sample)
        checked = 0
        for rows, version, out in self.groups:
            local = [i for i, row in enumerate(rows.tolist()) if row in sample]
            for i in local:
                dossier, events, stages = self._objects(rows, version, out, i)
                calendar = self.city.calendars[int(self.agency[rows[i]])]
                problems = mismatches(
                    dossier, events, stages, calendar, rule=version.rule, codes=self.city.agency_codes
                )
                if problems:
                    raise GenerationError("; ".join(problems))
                checked += 1
        return checked

    def _objects(self, rows, version, out, i):
        """Dossier, events and stages of group row ``i`` as model objects (not added to any session)."""
        row = rows[i]
        columns = self._dossier_columns(rows, version, out, np.asarray([i]))
        dossier = Dossier(
            **{
                name: (
                    _minutes_to_datetime(value[0])
                    if name in _INSTANT_COLUMNS
                    else _optional(value[0])
                    if name == "resolution_working_minutes"
                    else _scalar(value[0])
                )
                for name, value in columns.items()
            }
        )
        ev = out.events
        sel = np.flatnonzero(ev["row"] == i)
        events = [
            DossierEvent(
                dossier_id=int(self.id_of[row]),
                seq=seq,
                type=EVENT_TYPES[ev["type"][k]],
                at=_minutes_to_datetime(int(ev["at"][k])),
                agency_id=_optional(ev["agency"][k]),
                from_agency_id=_optional(ev["source"][k]),
                to_agency_id=_optional(ev["target"][k]),
                new_due_at=_minutes_to_datetime(int(ev["new_due"][k])),
                reason=REASONS[ev["reason"][k]] if ev["reason"][k] >= 0 else None,
            )
            for seq, k in enumerate(sel.tolist(), start=1)
        ]
        stage_columns = self._stage_columns(rows, out, np.asarray([i]))
        stages = [
            Stage(
                **{
                    name: (_minutes_to_datetime(int(v[k])) if name in _STAGE_INSTANTS else _scalar(v[k]))
                    for name, v in stage_columns.items()
                    if name != "id"
                }
            )
            for k in range(len(stage_columns["seq"]))
        ]
        for stage in stages:
            if stage.agency_id is not None and stage.agency_id < 0:
                stage.agency_id = None
            if stage.step_seq is not None and stage.step_seq < 0:
                stage.step_seq = None
            if stage.allotment_minutes is not None and stage.allotment_minutes < 0:
                stage.allotment_minutes = None
        return dossier, events, stages

    # -- rows ------------------------------------------------------------------------------------

    def _dossier_columns(self, rows, version, out, local) -> dict:
        clock, result = out.clock, out.result
        chunk_rows = rows[local]
        event_count = np.bincount(out.events["row"], minlength=len(rows))[local]
        agencies = self.agency[chunk_rows]
        return {
            "id": self.id_of[chunk_rows],
            "procedure_id": np.full(len(local), version.id),
            "receiving_agency_id": agencies,
            "current_agency_id": result.holder[local],
            "channel": [CHANNEL_NAMES[c] for c in self.channel[chunk_rows].tolist()],
            "submitted_at": out.submitted_at[local],
            "received_at": out.received_at[local],
            "clock_start_at": clock.clock_start[local],
            "status_code": clock.status[local].astype(np.int64),
            "status": [STATUS_NAMES[Status(s)] for s in clock.status[local].tolist()],
            "original_due_at": clock.original_due[local],
            "rescheduled_due_at": clock.rescheduled_due[local],
            "due_at": result.due[local],
            "finished_at": clock.finished[local],
            "outcome": [DOSSIER_OUTCOME_NAMES[o] for o in result.outcome[local].tolist()],
            "supplement_count": clock.supplement_count[local].astype(np.int64),
            "paused_minutes": clock.paused_minutes[local],
            "clock_stopped_since": clock.stopped_since[local],
            "resolution_working_minutes": self._resolution_minutes(clock, result, local, agencies),
            "event_count": event_count,
            "calendar_version": [self.city.calendars[a].version[:32] for a in agencies.tolist()],
            "code": [self.codes[r] for r in chunk_rows.tolist()],
        }

    def _resolution_minutes(self, clock, result, local, agencies) -> np.ndarray:
        """Working minutes from clock start to resolution less the pauses, as the replay stores them (-1: NULL)."""
        minutes = np.full(len(local), -1, dtype=np.int64)
        resolved = np.isin(result.outcome[local], RESOLVED_OUTCOME_CODES)
        for agency in np.unique(agencies[resolved]).tolist():
            rows = resolved & (agencies == agency)
            start, end = clock.clock_start[local][rows], clock.finished[local][rows]
            worked = self.city.calendars[agency].working_minutes(start.view("datetime64[m]"), end.view("datetime64[m]"))
            minutes[rows] = np.maximum(worked - clock.paused_minutes[local][rows], 0)
        return minutes

    def _stage_columns(self, rows, out, local) -> dict:
        clock, result = out.clock, out.result
        slots = clock.st_started.shape[1]
        present = np.arange(slots)[None, :] < clock.stage_count[local][:, None]
        r, s = np.nonzero(present)
        g = local[r]
        steps = np.asarray([-1 if seq is None else seq for seq in out.stage_step_seqs])
        return {
            "id": np.zeros(len(r), dtype=np.int64),
            "dossier_id": self.id_of[rows[g]],
            "seq": s + 1,
            "agency_id": clock.st_agency[g, s],
            "name": [out.stage_names[k] for k in s.tolist()],
            "step_seq": steps[s],
            "started_at": clock.st_started[g, s],
            "allotment_minutes": clock.st_allotment[g, s],
            "due_at": clock.st_due[g, s],
            "ended_at": clock.st_ended[g, s],
            "outcome": [STAGE_OUTCOME_NAMES[o] for o in result.stage_outcome[g, s].tolist()],
            "overrun_minutes": result.stage_overrun[g, s],
            "excluded": result.stage_excluded[g, s],
        }

    def write(self, writer: BulkWriter, next_ids: dict[str, int]) -> dict[str, int]:
        n_all = self.size
        dossier_parts, event_parts, stage_parts = [], [], []
        for rows, version, out in self.groups:
            local = np.arange(len(rows))
            columns = self._dossier_columns(rows, version, out, local)
            columns["procedure_code"] = [version.code] * len(rows)
            dossier_parts.append(columns)
            stage_parts.append(self._stage_columns(rows, out, local))
            ev = out.events
            event_parts.append(
                {
                    "dossier_id": self.id_of[rows[ev["row"]]],
                    "type": ev["type"],
                    "at": ev["at"],
                    "agency_id": ev["agency"],
                    "from_agency_id": ev["source"],
                    "to_agency_id": ev["target"],
                    "reason": ev["reason"],
                    "new_due_at": ev["new_due"],
                }
            )
        dossiers = _concat(dossier_parts)
        order = np.argsort(dossiers["id"], kind="stable")
        dossiers = _take(dossiers, order)
        people = self.people.draw(self.rng, n_all, self._address_places(dossiers["receiving_agency_id"]))
        dossiers["applicant_name"] = people["name"]
        dossiers["applicant_id_number"] = people["id_number"]
        dossiers["applicant_phone"] = people["phone"]
        dossiers["applicant_address"] = people["address"]
        dossiers["search_text"] = search_texts(dossiers["code"], people["name"], people["phone"], people["id_number"])
        dossiers["derived_at"] = np.full(n_all, self.derived_at)
        facts = dossier_facts.draw(dossiers, self.versions, self.rng, self.rows_rng, self.now)
        dossiers.update(facts.columns)
        self._check_facts(dossiers, facts)
        self.written_dossiers = dossiers
        self.written_event_types = None

        events = _concat(event_parts)
        order = np.argsort(events["dossier_id"], kind="stable")  # each dossier's events stay in time order
        events = _take(events, order)
        starts = np.flatnonzero(np.r_[True, events["dossier_id"][1:] != events["dossier_id"][:-1]])
        n_events = len(events["dossier_id"])
        events["seq"] = np.arange(n_events) - np.repeat(starts, np.diff(np.r_[starts, n_events])) + 1
        types = [EVENT_TYPES[t] for t in events["type"].tolist()]
        events["type"] = types
        self.written_event_types = Counter(types)
        events["actor"] = [ACTORS.get(t, DEFAULT_ACTOR) for t in types]
        events["reason"] = [REASONS[r] if r >= 0 else None for r in events["reason"].tolist()]
        events["recorded_at"] = events["at"]
        events["id"] = next_ids["dossier_event"] + np.arange(n_events)

        stages = _concat(stage_parts)
        stages = _take(stages, np.lexsort((stages["seq"], stages["dossier_id"])))
        stages["id"] = next_ids["stage"] + np.arange(len(stages["seq"]))

        for table, rows in (("dossier_component", facts.components), ("dossier_fee", facts.fees)):
            rows["id"] = next_ids[table] + np.arange(len(rows["dossier_id"]))

        written = {
            "dossier": writer.write("dossier", dossiers),
            "dossier_event": writer.write("dossier_event", events),
            "stage": writer.write("stage", stages),
            "dossier_component": writer.write("dossier_component", facts.components),
            "dossier_fee": writer.write("dossier_fee", facts.fees),
        }
        for table, columns in feedback.draw(dossiers, self.city.calendars, self.rng, self.now, next_ids).items():
            written[table] = writer.write(table, columns) if len(columns["id"]) else 0
        return written

    def _check_facts(self, dossiers: dict, facts: dossier_facts.Facts) -> None:
        """The sample's `index_flags` recomputed from its columns, components and fee lines as intake does
        (`check.fact_mismatches`); raise on any difference."""
        if not self.sample:
            return
        ids = self.id_of[np.asarray(self.sample)]
        places = np.searchsorted(dossiers["id"], ids)
        parts, fees = facts.components, facts.fees
        problems = []
        for dossier_id, place in zip(ids.tolist(), places.tolist(), strict=True):
            columns = {name: _value(dossiers[name][place]) for name in dossier_facts.FACT_COLUMNS}
            version = self.versions[int(dossiers["procedure_id"][place])]
            problems += fact_mismatches(
                dossiers["code"][place], columns, version.result_kind,
                _rows(parts, dossier_id, dossier_facts.COMPONENT_COLUMNS),
                _rows(fees, dossier_id, dossier_facts.FEE_COLUMNS),
            )  # fmt: skip
        if problems:
            raise GenerationError("; ".join(problems))

    def _address_places(self, receiving: np.ndarray) -> list[str]:
        names = self.city.agency_names
        communes = self.city.communes
        home = self.rng.choice(communes, size=len(receiving))
        place = np.where(np.isin(receiving, communes), receiving, home)
        return [names[a] for a in place.tolist()]

    def tally(self, report: GenerateReport, now: int) -> None:
        d = self.written_dossiers
        report.statuses.update(d["status"])
        report.outcomes.update(o for o in d["outcome"] if o)
        report.channels.update(d["channel"])
        report.event_types.update(self.written_event_types)
        due = d["due_at"]
        is_open = (d["finished_at"] == NONE) & (d["clock_start_at"] != NONE)
        report.open_overdue += int(
            (is_open & ((due + _LOCAL_OFFSET_MINUTES) // 1440 < (now + _LOCAL_OFFSET_MINUTES) // 1440)).sum()
        )


_INSTANT_COLUMNS = {name for name, kind in TABLES["dossier"] if kind == INSTANT}
_STAGE_INSTANTS = {"started_at", "due_at", "ended_at"}


def _scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _value(value):
    """A column's value as a model holds it: an int8 flag (-1 unrecorded) as a bool or None, an instant (int64 UTC
    minutes) as itself (only compared with NONE), text as text."""
    if isinstance(value, np.int8):
        return None if value < 0 else bool(value)
    return _scalar(value)


def _rows(columns: dict, dossier_id: int, names: tuple[str, ...]) -> list[dict]:
    """The rows of one dossier in a table's columns sorted by dossier_id."""
    ids = columns["dossier_id"]
    begin, end = np.searchsorted(ids, dossier_id), np.searchsorted(ids, dossier_id, side="right")
    rows = [{name: _value(columns[name][i]) for name in names} for i in range(begin, end)]
    for row in rows:
        if "paid_at" in row:
            row["paid_at"] = _minutes_to_datetime(row["paid_at"])
    return rows


def _optional(value) -> int | None:
    value = int(value)
    return None if value < 0 else value


def _concat(parts: list[dict]) -> dict:
    out = {}
    for name in parts[0]:
        values = [part[name] for part in parts]
        if isinstance(values[0], list):
            out[name] = [v for part in values for v in part]
        else:
            out[name] = np.concatenate(values)
    return out


def _take(columns: dict, order: np.ndarray) -> dict:
    out = {}
    for name, values in columns.items():
        if isinstance(values, list):
            out[name] = [values[i] for i in order.tolist()]
        else:
            out[name] = values[order]
    return out
