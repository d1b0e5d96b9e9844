"""Proof that generated dossiers are what the engine derives from their events and rows.

`derived_columns` maps a replayed `ClockState` to the stored columns and stage rows exactly as
`dossiers.derive.apply_derivation` writes them; `mismatches` compares it with what a dossier has.
`fact_mismatches` compares a dossier's `index_flags` with what intake computes from its columns,
components and fee lines (`dossiers.intake.index_flags`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from dossiers.derive import derive, stage_rows
from dossiers.derive import derived_columns as service_columns
from dossiers.intake import index_flags
from dossiers.models import Dossier, DossierEvent, Stage
from sla.core import index766
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


def fact_mismatches(
    code: str,
    dossier: Mapping[str, Any],
    result_kind: str | None,
    components: Sequence[Mapping[str, Any]],
    fees: Sequence[Mapping[str, Any]],
) -> list[str]:
    """What differs between a dossier's `index_flags` and what intake computes from its columns (`electronic_result`,
    `vneid_verified`, `population_ref`), its components' flags and its fee lines, for a version whose result is
    `result_kind` (empty: nothing). Only the result kind's bits may stand without a source, where the catalogue
    does not say it (the generator then takes realism.RESULT_KIND_DEFAULT); a history import computes none."""
    stored = dossier["index_flags"]
    expected = index_flags(
        dossier, SimpleNamespace(result_kind=result_kind), components, fees, kept=stored & index766.RESULT_KIND_BITS
    )
    if stored == expected:
        return []
    names = {bit: name for name, bit in vars(index766).items() if name.isupper() and isinstance(bit, int)
             and bit and bit & (bit - 1) == 0}  # fmt: skip
    differ = [names.get(1 << b, str(1 << b)) for b in range(16) if (stored ^ expected) & (1 << b)]
    return [f"{code}: index_flags {stored} but its rows give {expected} (differing: {', '.join(differ)})"]
