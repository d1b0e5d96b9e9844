"""What was received at intake (thành phần hồ sơ): checked against the version's list, kept, shown, printed."""

from sqlalchemy import func, select

from dossiers.models import Dossier, DossierComponent
from tests.dossiers.conftest import API

FORM = "Tờ khai thay đổi thông tin cư trú (mẫu CT01)"
HOME = "Giấy tờ chứng minh chỗ ở hợp pháp"
NO_FLAGS = {"digitised": None, "reused": None, "from_citizen_store": None, "from_national_db": None}


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_intake_keeps_what_was_received_and_reports_what_is_missing(client, receive):
    dossier = receive(components=[{"seq": 1}])
    assert dossier["components"] == [
        {"seq": 1, "component_seq": 1, "name": FORM, "form": "original", "copies": 1, **NO_FLAGS}
    ]
    assert dossier["missing_components"] == [HOME]
    shown = client.get(f"{API}/{dossier['code']}").json()
    assert shown["components"] == dossier["components"] and shown["missing_components"] == [HOME]


def test_components_by_name_with_their_form_and_copies_in_the_list_order(client, receive):
    dossier = receive(
        components=[
            {"name": "giay to chung minh CHO O hop phap", "form": "certified_copy", "copies": 2},
            {"name": FORM},
        ]
    )
    assert [(c["component_seq"], c["name"], c["form"], c["copies"]) for c in dossier["components"]] == [
        (1, FORM, "original", 1),
        (2, HOME, "certified_copy", 2),
    ]
    assert dossier["missing_components"] == []
    # an event later: the answer still shows them
    after = client.post(f"{API}/{dossier['code']}/events", json={"type": "resolved", "result": "xong"}).json()
    assert after["components"] == dossier["components"]


def test_without_a_checklist_every_required_component_is_reported_missing(receive):
    dossier = receive()
    assert dossier["components"] == [] and dossier["missing_components"] == [FORM, HOME]


def test_an_unknown_component_is_refused_naming_it_and_the_accepted_ones(client, receive, session):
    before = count(session, Dossier), count(session, DossierComponent)
    refused = receive(components=[{"seq": 1}, {"name": "Sổ hộ khẩu"}], expect=422)
    assert "'Sổ hộ khẩu'" in refused["detail"]
    assert f"1. {FORM}" in refused["detail"] and f"2. {HOME}" in refused["detail"]
    assert "number 9" in receive(components=[{"seq": 9}], expect=422)["detail"]
    assert "given twice" in receive(components=[{"seq": 1}, {"name": FORM}], expect=422)["detail"]
    # a seq and a name that disagree are not guessed at
    assert "unknown component" in receive(components=[{"seq": 1, "name": HOME}], expect=422)["detail"]
    assert "seq or its name" in receive(components=[{"copies": 2}], expect=422)["detail"]
    assert (count(session, Dossier), count(session, DossierComponent)) == before


def test_a_procedure_without_a_list_accepts_none(receive):
    refused = receive(procedure_code="1.012644", agency_code="000.00.03.H26", components=[{"name": "Đơn"}], expect=422)
    assert "lists no components" in refused["detail"]
    assert receive(procedure_code="1.012644", agency_code="000.00.03.H26", components=[])["missing_components"] == []


def test_form_01_lists_the_documents_received_with_form_and_copies(client, receive):
    code = receive(components=[{"seq": 1, "copies": 2}])["code"]
    page = client.get(f"{API}/{code}/receipt").text
    assert 'id="documents"' in page
    assert f"<td>{FORM}</td><td>Bản chính</td><td class=\"num\">2</td>" in page
    assert f"Chưa nhận: {HOME}." in page
