"""One parser of typed dates (kernel.schemas.parse_day_first): dd/mm/yyyy HH:mm, dd/mm/yyyy and ISO,
day first whatever the browser's locale; the API's IsoDateTime/IsoDate read the same and name the forms."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from kernel.localtime import LOCAL_TZ
from kernel.schemas import DateFormatError, IsoDate, IsoDateTime, parse_day_first
from tests.conftest import BACKDATE_REASON

API = "/api/v1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02/12/2026 09:30", datetime(2026, 12, 2, 9, 30)),
        ("2/12/2026 9:30", datetime(2026, 12, 2, 9, 30)),
        (" 02/12/2026  09h30 ", datetime(2026, 12, 2, 9, 30)),
        ("02/12/2026", datetime(2026, 12, 2)),
        ("2026-12-02T09:30", datetime(2026, 12, 2, 9, 30)),
        ("2026-12-02 09:30", datetime(2026, 12, 2, 9, 30)),
        ("2026-12-02T09:30+07:00", datetime(2026, 12, 2, 9, 30, tzinfo=timezone(timedelta(hours=7)))),
        ("2026-12-02T02:30Z", datetime(2026, 12, 2, 2, 30, tzinfo=UTC)),
    ],
)
def test_day_first_and_iso_are_read(text, expected):
    assert parse_day_first(text) == expected


def test_a_date_alone():
    assert parse_day_first("02/12/2026", date_only=True) == date(2026, 12, 2)
    assert parse_day_first("2026-12-02", date_only=True) == date(2026, 12, 2)
    with pytest.raises(DateFormatError):
        parse_day_first("02/12/2026 09:30", date_only=True)


@pytest.mark.parametrize(
    "text", ["31/02/2026", "12/31/2026", "02/12/26", "hôm qua", "20261202", "", "02/12/2026 25:00"]
)
def test_unreadable_dates_name_the_accepted_forms_in_both_languages(text):
    with pytest.raises(DateFormatError) as raised:
        parse_day_first(text)
    vietnamese, english = raised.value.message("vi"), raised.value.message("en")
    assert "không phải ngày giờ hợp lệ" in vietnamese and "dd/mm/yyyy HH:mm" in vietnamese and "ví dụ" in vietnamese
    assert "is not a date and time" in english and "dd/mm/yyyy HH:mm" in english and "ISO 8601" in english
    assert str(raised.value) == english


def test_years_out_of_range_are_refused_with_the_range():
    with pytest.raises(DateFormatError) as raised:
        parse_day_first("01/01/1800")
    assert "1900–2200" in raised.value.message("vi") and "năm" in raised.value.message("vi")


def test_api_types_read_day_first_and_name_the_forms():
    # an instant without an offset is local time, made aware at the edge (kernel.localtime.attach_local)
    assert TypeAdapter(IsoDateTime).validate_python("02/12/2026 09:30") == datetime(2026, 12, 2, 9, 30, tzinfo=LOCAL_TZ)
    assert TypeAdapter(IsoDate).validate_python("02/12/2026") == date(2026, 12, 2)
    for adapter, value in ((TypeAdapter(IsoDateTime), "next tuesday"), (TypeAdapter(IsoDate), "31/02/2026")):
        with pytest.raises(ValidationError) as raised:
            adapter.validate_python(value)
        assert "dd/mm/yyyy" in str(raised.value) and "ISO 8601" in str(raised.value)


def test_api_stores_a_day_first_instant_as_2_december(client):
    body = {
        "procedure_code": "1.004222",
        "agency_code": "000.01.01.H26",
        "received_at": "02/12/2025 09:30",
        "backdate_reason": BACKDATE_REASON,
        "applicant": {"name": "Trần Văn Bình"},
    }
    response = client.post(f"{API}/dossiers", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["received_at"] == "2025-12-02T09:30:00+07:00"


def test_api_refusal_names_the_accepted_forms(client):
    body = {"procedure_code": "1.004222", "agency_code": "000.01.01.H26", "applicant": {"name": "Trần Văn Bình"}}
    response = client.post(f"{API}/dossiers", json={**body, "received_at": "31/02/2025 09:30"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert "dd/mm/yyyy HH:mm" in response.json()["detail"] and "ISO 8601" in response.json()["detail"]
    assert client.get(f"{API}/dossiers", params={"received_from": "yesterday"}).json()["detail"].count("dd/mm/yyyy")
