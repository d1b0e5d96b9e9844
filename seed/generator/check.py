"""Proof that generated dossiers are what the engine derives from their events.

`derived_columns` maps a replayed `ClockState` to the stored columns and stage rows exactly as
`dossiers.derive.apply_derivation` writes them; `mismatches` compares it with what a dossier has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dossiers.derive import derive, stage_rows
from dossiers.derive import derived_columns as service_columns
from dossiers.models import Dossier, DossierEvent, Stage
from sla.core.calendar import WorkingCalendar
from sla.core.replay import ProcedureRule

DOSSIER_COLUMNS = (
    "status_code", "status", "clock_start_at", "original_due_at", "rescheduled_due_at", "due_at", "finished_at",
    "outcome", "supplement_count", "paused_minutes", "clock_stopped_since", "resolution_working_minutes",
    "current_agency_id",
    "event_count", "calendar_version",
)  # fmt: skip
STAGE_COLUMNS = (
    "seq", "agency_id", "name", "step_seq", "started_at", "allotment_minutes", "due_at", "ended_at", "outcome",
    "overrun_minutes", "excluded",
)  # fmt: skip


def derived_columns(
    dossier: Dossier,
    events: Sequence[DossierEvent],
    calendar: WorkingCalendar,
    *,
    rule: ProcedureRule,
    codes: dict[int, str],
) -> tuple[dict[str, Any], list[tuple]]:
    """The columns and stage rows the engine derives from ``events``."""
    derivation = derive(None, dossier, events, calendar, rule=rule, codes=codes)  # no session: rule and codes given
    columns = {name: value for name, value in service_columns(derivation, calendar).items() if name != "derived_at"}
    columns["event_count"] = len(events)
    stages = [tuple(row[name] for name in STAGE_COLUMNS) for row in stage_rows(dossier.id, derivation)]
    return columns, stages


def stored_columns(dossier: Dossier, stages: Sequence[Stage]) -> tuple[dict[str, Any], list[tuple]]:
    return (
        {name: getattr(dossier, name) for name in DOSSIER_COLUMNS},
        [tuple(getattr(stage, name) for name in STAGE_COLUMNS) for stage in sorted(stages, key=lambda s: s.seq)],
    )


def mismatches(
    dossier: Dossier,
    events: Sequence[DossierEvent],
    stages: Sequence[Stage],
    calendar: WorkingCalendar,
    *,
    rule: ProcedureRule,
    codes: dict[int, str],
) -> list[str]:
    """What differs between a dossier's stored columns/stages and the replay of its events (empty: none)."""
    expected, expected_stages = derived_columns(dossier, events, calendar, rule=rule, codes=codes)
    stored, stored_stages = stored_columns(dossier, stages)
    problems = [
        f"{dossier.code}: {name} is {stored[name]!r}, the replay gives {expected[name]!r}"
        for name in DOSSIER_COLUMNS
        if stored[name] != expected[name]
    ]
    if stored_stages != expected_stages:
        problems.append(f"{dossier.code}: stages are {stored_stages!r}, the replay gives {expected_stages!r}")
    return problems
