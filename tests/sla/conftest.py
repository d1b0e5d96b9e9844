"""The scorecard tests' hand-counted unit, on both databases (tests/sla/test_scorecard*.py).

A department of its own (000.00.99.H26) owns three procedure versions and receives five dossiers in
2025-Q3 (plus one refused at intake, left out). Every figure below is counted by hand from the rules
of index766.md (the split and thresholds of seed/data/index766_formulas.csv):

procedures (in force all quarter)
  P1 T.000001  5 working days, online full, result paper, fee lines [50,000], components, legal basis;
               decision 01/07 (Tue), legal basis in effect 15/07 (9 working days between: ≥ 5, on time),
               made public 03/07 (2 working days after: ≤ 5, on time)
  P2 T.000002  5 working days, online none, result electronic, no fee ([]), no components, legal basis;
               decision 01/08 (Fri), in effect 05/08 (1 working day between: late), public 15/08 (10: late)
  P3 T.000003  online partial, result paper, fee "100000" but no fee lines, components, no legal basis,
               no decision facts
dossiers
  d1 P1 counter 07/07, resolved 09/07 (early); component digitised + reused; fee paid cash; population ref;
     electronic_result false
  d2 P1 online 08/07, VNeID verified; two supplement requests, resolved within due; component digitised +
     from the citizen's store; fee paid dvcqg; electronic_result true
  d3 P1 online 10/07, VNeID not verified; resolved 20/08 (late); component not digitised
  d4 P2 counter 29/09, open within due at 30/09 (due 06/10)
  d5 P1 counter 01/07, withdrawn 02/07
"""

import pytest

from procedures.schemas import AgencyIn
from procedures.service import upsert_agencies
from sla import scorecard
from tests.conftest import BACKDATE_REASON

API = "/api/v1"
UNIT = "000.00.99.H26"
PERIOD = "2025-Q3"


def _procedure(code: str, **extra) -> dict:
    return {
        "code": code,
        "name": f"Thủ tục thử {code}",
        "field_code": "tu_phap",
        "level": "department",
        "agency_code": UNIT,
        "processing_time": {"amount": 5, "unit": "working_days"},
        "effective_from": "2024-01-01",
        **extra,
    }


@pytest.fixture
def unit(client, session):
    upsert_agencies(
        session, [AgencyIn(code=UNIT, name="Sở Thử nghiệm", parent_code="000.00.00.H26", level="department")]
    )
    session.commit()
    fields = client.get(f"{API}/fields").json()
    field = fields[0]["code"]
    procedures = [
        _procedure(
            "T.000001", field_code=field, online_level="full", result_kind="paper", fee="50000",
            fee_lines=[{"name": "Lệ phí", "amount_vnd": 50000}], components=[{"name": "Tờ khai"}],
            legal_basis="Nghị định 1/2025/NĐ-CP", decision_number="1/QĐ-UBND", decision_date="2025-07-01",
            legal_basis_effective_date="2025-07-15", published_on="2025-07-03",
        ),
        _procedure(
            "T.000002", field_code=field, online_level="none", result_kind="electronic", fee_lines=[],
            legal_basis="Thông tư 2/2025/TT-BTP", decision_date="2025-08-01",
            legal_basis_effective_date="2025-08-05", published_on="2025-08-15",
        ),
        _procedure(
            "T.000003", field_code=field, online_level="partial", result_kind="paper", fee="100000",
            components=[{"name": "Đơn"}],
        ),
    ]  # fmt: skip
    for body in procedures:
        response = client.post(f"{API}/procedures", json=body)
        assert response.status_code == 201, response.text

    def receive(procedure, received_at, channel="counter", expect=201, **extra):
        body = {
            "procedure_code": procedure,
            "agency_code": UNIT,
            "channel": channel,
            "received_at": received_at,
            "backdate_reason": BACKDATE_REASON,
            "applicant": {"name": "Trần Văn Bình"},
            **extra,
        }
        response = client.post(f"{API}/dossiers", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def event(code, type, at, expect=201, **extra):
        body = {"type": type, "at": at, "backdate_reason": BACKDATE_REASON, **extra}
        response = client.post(f"{API}/dossiers/{code}/events", json=body)
        assert response.status_code == expect, response.text
        return response.json()

    d1 = receive(
        "T.000001", "2025-07-07T09:00", components=[{"seq": 1, "digitised": True, "reused": True}],
        fees=[{"name": "Lệ phí", "amount_vnd": 50000, "payment_channel": "cash", "paid_at": "2025-07-07T09:10"}],
        population_ref="DC-001190012345",
    )["code"]  # fmt: skip
    event(d1, "resolved", "2025-07-09T10:00", result="Giấy phép", electronic_result=False)
    d2 = receive(
        "T.000001", "2025-07-08T09:00", channel="online", vneid_verified=True,
        components=[{"seq": 1, "digitised": True, "from_citizen_store": True}],
        fees=[{"name": "Lệ phí", "amount_vnd": 50000, "payment_channel": "dvcqg", "paid_at": "2025-07-08T08:55"}],
    )["code"]  # fmt: skip
    event(d2, "supplement_requested", "2025-07-08T10:00", reason="Thiếu bản sao")
    event(d2, "supplement_received", "2025-07-09T09:00")
    event(d2, "supplement_requested", "2025-07-09T10:00", reason="Thiếu chữ ký")
    event(d2, "supplement_received", "2025-07-10T09:00")
    event(d2, "resolved", "2025-07-11T09:00", result="Giấy phép", electronic_result=True)
    d3 = receive(
        "T.000001", "2025-07-10T09:00", channel="online", vneid_verified=False,
        components=[{"seq": 1, "digitised": False}],
    )["code"]  # fmt: skip
    event(d3, "resolved", "2025-08-20T09:00", result="Giấy phép")
    d4 = receive("T.000002", "2025-09-29T09:00")["code"]
    d5 = receive("T.000001", "2025-07-01T09:00")["code"]
    event(d5, "withdrawn", "2025-07-02T09:00", reason="Người nộp rút")
    receive("T.000001", "2025-07-15T09:00", status="refused", reason="Không thuộc thẩm quyền")
    return {"d1": d1, "d2": d2, "d3": d3, "d4": d4, "d5": d5}


@pytest.fixture
def figures():
    """Complaints and ratings as the other packages will give them (registered, then unregistered)."""
    given = {}

    def register(complaints, ratings):
        given["complaints"], given["ratings"] = complaints, ratings
        scorecard.register_figures("complaints", lambda session, ids, start, end: given["complaints"])
        scorecard.register_figures("ratings", lambda session, ids, start, end: given["ratings"])

    yield register
    for kind, source in scorecard.DEFAULT_SOURCES.items():
        scorecard.register_figures(kind, source)


@pytest.fixture
def no_registers():
    """As a system without the complaints register and the ratings (their indicators: missing data)."""
    scorecard.register_figures("complaints", None)
    scorecard.register_figures("ratings", None)
    yield
    for kind, source in scorecard.DEFAULT_SOURCES.items():
        scorecard.register_figures(kind, source)


def card(client, **params):
    response = client.get(f"{API}/index/scorecard", params={"period": PERIOD, "agency": UNIT, **params})
    assert response.status_code == 200, response.text
    return response.json()


def by_id(answer) -> dict:
    return {line["id"]: line for line in answer["indicators"]}
