"""The intake checklist (thành phần hồ sơ) on the desk, the dossier page and form 01, without a browser."""

import pytest

WARD = "000.01.01.H26"
RESIDENCE = "1.004222"
FORM = "Tờ khai thay đổi thông tin cư trú (mẫu CT01)"
HOME = "Giấy tờ chứng minh chỗ ở hợp pháp"


def intake_form(**changes) -> dict:
    return {
        "procedure_code": RESIDENCE,
        "agency_code": WARD,
        "channel": "counter",
        "name": "Hoàng Văn Nam",
        "phone": "0911222333",
        **changes,
    }


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_checklist_comes_with_the_chosen_procedure(client, lang):
    page = client.get("/desk/components", params={"procedure_code": RESIDENCE, "lang": lang}).text
    assert 'id="components"' in page and page.count('type="checkbox" name="component"') == 2
    assert FORM in page and HOME in page
    assert ("Bản chính" if lang == "vi" else "Original") in page
    assert 'name="copies"' in page and 'name="copies_seq" value="2"' in page
    none = client.get("/desk/components", params={"procedure_code": "1.012644", "lang": lang}).text
    assert ("chưa khai báo thành phần" if lang == "vi" else "lists no documents") in none
    assert 'type="checkbox"' not in client.get("/desk/components", params={"procedure_code": "nope"}).text
    # the picker: one match is chosen at once, and its checklist comes along (out of band)
    picker = client.get("/desk/procedures", params={"procedure_q": RESIDENCE, "lang": lang}).text
    assert 'hx-get="/desk/components"' in picker and 'hx-swap-oob="true"' in picker and FORM in picker


@pytest.mark.user("clerk")
def test_intake_with_the_checklist_keeps_and_shows_the_documents(client):
    form = intake_form(component=["2"], copies_seq=["1", "2"], copies=["1", "3"])
    response = client.post("/desk/dossiers", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    code = response.headers["location"].split("/")[-2]
    dossier = client.get(f"/api/v1/dossiers/{code}").json()
    assert [(c["name"], c["form"], c["copies"]) for c in dossier["components"]] == [(HOME, "copy", 3)]
    assert dossier["missing_components"] == [FORM]
    page = client.get(f"/desk/dossiers/{code}").text
    assert 'id="components-received"' in page and HOME in page and "Bản sao" in page
    assert f"Chưa nhận (bắt buộc):</strong> {FORM}" in page
    receipt = client.get(f"/desk/dossiers/{code}/receipt").text
    assert f'<td>{HOME}</td><td>Bản sao</td><td class="num">3</td>' in receipt
    # a blank copies box means the copies the list asks
    blank = intake_form(component=["1"], copies_seq=["1", "2"], copies=["", ""])
    code = client.post("/desk/dossiers", data=blank, follow_redirects=False).headers["location"].split("/")[-2]
    assert client.get(f"/api/v1/dossiers/{code}").json()["components"][0]["copies"] == 1


@pytest.mark.user("clerk")
def test_a_bad_checklist_is_refused_on_the_page_keeping_the_ticks(client):
    total = client.get("/api/v1/dossiers").json()["total"]
    page = client.post(
        "/desk/dossiers", data=intake_form(component=["1", "7"], copies_seq=["1", "2"], copies=["1", "1"])
    )
    assert page.status_code == 422
    assert "giấy tờ không có trong danh mục: số 7" in page.text and f"1. {FORM}" in page.text
    assert 'id="component-1" type="checkbox" name="component" value="1" checked' in page.text
    page = client.post("/desk/dossiers", data=intake_form(component=["1"], copies_seq=["1", "2"], copies=["x", "1"]))
    assert page.status_code == 422 and "không phải số nguyên" in page.text
    assert client.get("/api/v1/dossiers").json()["total"] == total


def test_the_desk_page_shows_the_checklist_of_a_procedure_found_alone(client):
    page = client.get("/desk", params={"procedure_q": RESIDENCE}).text
    assert page.count('type="checkbox" name="component"') == 2 and "hx-swap-oob" not in page
    assert page.count('id="components"') == 1
