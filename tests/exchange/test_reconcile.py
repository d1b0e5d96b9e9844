"""Reconcile (exchange/reconcile.py): the portal's per-unit figures beside ours, each difference explained by the
dossiers behind it; one planted difference of each kind."""

import io
from datetime import UTC, datetime

import orjson
import pytest

from dossiers import events, intake, reading
from dossiers.schemas import ApplicantIn, DossierCreate, EventCreate
from exchange.history import import_history
from exchange.reconcile import Figures, PortalUnit, read_portal, reconcile
from kernel.errors import InvalidInput
from sla.calendars import CalendarStore
from sla.core.calendar import DEFAULT_WORKING_HOURS
from tests.exchange.test_history import RESIDENCE, WARD, residence_record

NOW = datetime(2025, 12, 20, 9, tzinfo=UTC)
HEADER = "departmentCode,departmentName,level,totalReceived,totalOnTime,totalLate,totalWithinDue,totalOverdue,ratio,score,maxScore\n"  # noqa: E501


@pytest.fixture
def calendar_for(session):
    store = CalendarStore(first_year=2024, last_year=2026, working_hours=DEFAULT_WORKING_HOURS)
    return lambda code: store.get(session, code)


@pytest.fixture
def planted(session, calendar_for):
    """Q2 2025 at the ward: one dossier behind each kind of difference, and one that agrees."""
    late_here = {**residence_record("R-A", appointment="20250509090000"), "TrangThaiHoSo": 9,
                 "NgayKetThucXuLy": "20250509083000"}  # fmt: skip
    moved_on = residence_record("R-B", received="20250602090000")
    agrees = residence_record("R-E", received="20250603090000")
    stream = io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in (late_here, moved_on, agrees)))
    report = import_history(session, stream, file_name="q2.jsonl", actor="admin", calendar_for=calendar_for, now=NOW)
    assert report.written == 3 and report.findings == 1  # R-A: their appointment is a day later

    def code_of(external: str) -> str:
        return next(f["code"] for f in report.first_findings if f["external_code"] == external) if external == "R-A" \
            else reading.get_dossier(session, f"{WARD}-250602-0001").code  # fmt: skip

    resolved_here = EventCreate(type="resolved", at="2025-06-05T10:00:00")
    events.record(session, code=f"{WARD}-250602-0001", data=resolved_here, actor="officer",
                         calendar_for=calendar_for, now=NOW, rules=intake.HISTORY)  # fmt: skip
    applicant = ApplicantIn(name="Lê Văn Nam")
    never_sent = intake.receive(session, data=DossierCreate(procedure_code=RESIDENCE, agency_code=WARD,
                                received_at="2025-06-10T09:00:00", applicant=applicant), actor="clerk",
                                calendar_for=calendar_for, now=NOW, rules=intake.HISTORY).dossier.code  # fmt: skip
    online = intake.receive(session, data=DossierCreate(procedure_code=RESIDENCE, agency_code=WARD,
                            received_at="2025-06-30T20:00:00", status="submitted", channel="online",
                            applicant=applicant), actor="portal", calendar_for=calendar_for, now=NOW,
                            rules=intake.HISTORY).dossier.code  # fmt: skip
    events.record(session, code=online, data=EventCreate(type="received", at="2025-07-01T08:10:00"),
                         actor="clerk", calendar_for=calendar_for, now=NOW, rules=intake.HISTORY)  # fmt: skip
    return {"appointment_differs": code_of("R-A"), "status_differs": f"{WARD}-250602-0001",
            "not_synced": never_sent, "received_in_another_period": online}  # fmt: skip


EXPECTED_MOVES = {  # ours − the portal's, per kind
    "appointment_differs": {"received": 0, "on_time": -1, "late": 1, "within_due": 0, "overdue": 1},
    "status_differs": {"received": 0, "on_time": 1, "late": 0, "within_due": 0, "overdue": -1},
    "not_synced": {"received": 1, "on_time": 0, "late": 0, "within_due": 0, "overdue": 1},
    "received_in_another_period": {"received": -1, "on_time": -1, "late": 0, "within_due": -1, "overdue": 0},
}


def test_each_planted_difference_is_explained_by_its_dossier(session, planted):
    probe = reconcile(session, period="2025-Q2", units=[PortalUnit(WARD, None, None, Figures(0, 0, 0, 0, 0), 2)])
    ours = probe.units[0].ours
    # R-A late, R-B early, R-E and the never-sent one open past their due
    assert (ours.received, ours.on_time, ours.late, ours.within_due, ours.overdue) == (4, 1, 1, 0, 3)
    assert ours.score == pytest.approx(5.0)
    portal = {name: getattr(ours, name) - sum(moves[name] for moves in EXPECTED_MOVES.values())
              for name in ("received", "on_time", "late", "within_due", "overdue")}  # fmt: skip
    ratio = portal["on_time"] / portal["received"]
    csv = HEADER + (f"{WARD},Phường Phúc Xá,COMMUNE,{portal['received']},{portal['on_time']},{portal['late']},"
                    f"{portal['within_due']},{portal['overdue']},{100 * ratio:.2f},{20 * ratio:.2f},20\n")  # fmt: skip
    result = reconcile(session, period="2025-Q2", units=read_portal(csv.encode()))
    [unit] = result.units
    assert unit.portal.received == 4 and not unit.agrees
    assert {e.kind: e.codes for e in unit.explanations} == {kind: [code] for kind, code in planted.items()}
    assert {e.kind: e.moves for e in unit.explanations} == EXPECTED_MOVES
    assert unit.unexplained == dict.fromkeys(("received", "on_time", "late", "within_due", "overdue"), 0)
    text = "\n".join(result.lines())
    assert planted["not_synced"] in text and "not_synced: 1 dossiers" in text


def test_the_portals_file_is_checked_cell_by_cell(session):
    with pytest.raises(InvalidInput) as bad:
        read_portal((HEADER + "H44.07,Sở Tư pháp,PROVINCE,161,156,,,6,96.89,19.38,20\nH44.08,,,1x,0,,,0,,,\n").encode())
    assert [(p["line"], p["column"]) for p in bad.value.errors] == [(2, "totalReceived"), (3, "totalReceived")]
    with pytest.raises(InvalidInput, match="totalOverdue"):
        read_portal(b"departmentCode,totalReceived,totalOnTime\nH44,1,1\n")
    [unit] = read_portal((HEADER + "H44.07,Sở Tư pháp,PROVINCE,161,156,,,5,96.89,19.38,20\n").encode())
    figures = unit.figures
    assert (figures.received, figures.on_time, figures.overdue, figures.score) == (161, 156, 5, 19.38)
    result = reconcile(session, period="2025-Q2", units=[unit])
    assert result.units[0].known is False and "not one of our agencies" in result.lines()[1]
