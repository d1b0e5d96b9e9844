"""The dossier page shows the facts Decision 766 counts: fees and how they were paid, the received
documents' flags, the electronic result, VNeID and the population reference (without a browser)."""

import pytest

API = "/api/v1"
WARD = "000.01.01.H26"
RESIDENCE = "1.004222"
HOME = "Giấy tờ chứng minh chỗ ở hợp pháp"


@pytest.fixture
def dossier(client) -> str:
    body = {
        "procedure_code": RESIDENCE,
        "agency_code": WARD,
        "channel": "online",
        "applicant": {"name": "Hoàng Văn Nam", "phone": "0911222333"},
        "vneid_verified": True,
        "population_ref": "DC-001190012345",
        "components": [
            {"seq": 1, "digitised": True, "from_citizen_store": True},
            {"seq": 2, "digitised": False, "reused": True, "from_national_db": True},
        ],
        "fees": [
            {"name": "Lệ phí đăng ký cư trú", "amount_vnd": 20000, "payment_channel": "dvcqg",
             "paid_at": "2026-01-05T09:10"},
            {"name": "Phí sao lục", "amount_vnd": 1500000},
        ],
    }  # fmt: skip
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    code = response.json()["code"]
    resolved = client.post(f"{API}/dossiers/{code}/events", json={"type": "resolved", "electronic_result": True})
    assert resolved.status_code == 201, resolved.text
    return code


def between(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "vi",
            {
                "yes": "Có", "no": "Không", "paid_through": "Cổng Dịch vụ công quốc gia", "unpaid": "Chưa nộp",
                "amounts": ("20.000", "1.500.000"), "instant": "05/01/2026 09:10",
                "labels": ("Phí, lệ phí", "Hình thức nộp", "Thời điểm nộp", "Số hóa", "Tái sử dụng", "Kho cá nhân",
                           "Lấy từ kho dữ liệu cá nhân của công dân", "CSDL quốc gia", "Kết quả điện tử",
                           "Xác thực qua VNeID", "Mã tham chiếu CSDL quốc gia về dân cư"),
            },
        ),
        (
            "en",
            {
                "yes": "Yes", "no": "No", "paid_through": "National Public Service Portal", "unpaid": "Not paid",
                "amounts": ("20,000", "1,500,000"), "instant": "05/01/2026 09:10",
                "labels": ("Fees and charges", "Paid through", "Paid at", "Digitised", "Reused", "Citizen&#39;s store",
                           "Taken from the citizen&#39;s data store", "National DB", "Electronic result",
                           "Verified with VNeID", "National population database reference"),
            },
        ),
    ],
)  # fmt: skip
def test_the_dossier_page_shows_fees_flags_and_facts(client, dossier, lang, words):
    response = client.get(f"/desk/dossiers/{dossier}", params={"lang": lang})
    assert response.status_code == 200
    page = response.text
    for label in words["labels"]:
        assert label in page, label
    fees = between(page, 'id="fees"', "</table>")
    paid, unpaid = fees.split("<tbody>")[1].split("</tr>")[:2]
    assert "Lệ phí đăng ký cư trú" in paid and words["amounts"][0] in paid
    assert words["paid_through"] in paid and words["instant"] in paid
    assert "Phí sao lục" in unpaid and words["amounts"][1] in unpaid and words["unpaid"] in unpaid
    components = between(page, 'id="components-received"', "</table>")
    first, second = components.split("<tbody>")[1].split("</tr>")[:2]
    yes, no = words["yes"], words["no"]

    def flags(row: str) -> list[str]:
        cells = row.split('<td class="')[1:]
        return [cell.split(">", 1)[1].split("<")[0] for cell in cells if not cell.startswith("num")]

    assert flags(first) == [yes, "—", yes, "—"]
    assert HOME in second and flags(second) == [no, yes, "—", yes]
    assert f'id="vneid-verified">{yes}<' in page
    assert f'id="electronic-result">{yes}<' in page
    assert 'id="population-ref"><code>DC-001190012345</code>' in page


def test_a_dossier_without_those_facts_shows_none_of_them(client):
    body = {"procedure_code": "1.012644", "agency_code": WARD, "applicant": {"name": "A"}}
    code = client.post(f"{API}/dossiers", json=body).json()["code"]
    page = client.get(f"/desk/dossiers/{code}").text
    assert 'id="fees"' not in page and 'id="vneid-verified"' not in page
    assert 'id="electronic-result"' not in page and 'id="population-ref"' not in page
