"""Property-based fuzzing of the API against its own OpenAPI schema (schemathesis, in process).

Every operation gets a few generated requests, valid and invalid, signed in as the administrator
inside the test's rolled-back transaction, on SQLite and on PostgreSQL. No answer may be a 5xx, and
every answer must be documented: its status code, content type, headers and body schema; invalid
input must be refused with a 4xx.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.settings import Settings
from tests.conftest import WARD, bearer

API = "/api/v1"

# 8 examples per operation: about 30 s per database on a 2-core machine. A deeper run by hand:
# MOTCUA_TEST_FUZZ_EXAMPLES=60 MOTCUA_TEST_FUZZ_DEEP=1 (adds schemathesis's coverage phase: boundary
# values, missing required headers, undeclared methods), about 10 minutes for both databases.
MAX_EXAMPLES = int(os.environ.get("MOTCUA_TEST_FUZZ_EXAMPLES", "8"))
DEEP = os.environ.get("MOTCUA_TEST_FUZZ_DEEP") == "1"

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20251122,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": DEEP},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        # A 422 for schema-valid input is right where the rule is not a JSON-schema one: a code that
        # must exist, a period of at most 10 years, instants inside the calendar's years, end ≥ start.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)

# The document only: the requests go to the test's own app (`app=` below), inside its transaction.
_documented = create_app(Settings(database_url="sqlite://"))
schema = schemathesis.openapi.from_dict(_documented.openapi(), config=CONFIG).exclude(
    # A multipart upload of a catalogue file: random bytes only ever reach "not a CSV/JSON/XLSX
    # file"; the import's validation is tested row by row in tests/procedures/test_catalogue_io.py.
    path="/api/v1/catalogue/import"
)
schema.app = _documented


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, app, tokens):
    case.call_and_validate(app=app, headers=bearer(tokens["admin"]))


# --- what the fuzzer found, one regression test each ------------------------------------------


def test_an_id_beyond_the_integer_range_is_refused_not_a_500(client):
    """SQLite raised OverflowError binding 2**63 (500)."""
    response = client.delete(f"{API}/calendar/overrides/{2**63}")
    assert response.status_code == 422 and response.json()["error"] == "invalid_input"
    assert client.delete(f"{API}/calendar/overrides/{2**31 - 1}").status_code == 404


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/catalogue/export", {"format": "csv"}),
        ("/catalogue/export", {"format": "xlsx"}),
        ("/reports/period", {"from": "2025-01-01", "to": "2025-03-31", "format": "csv"}),
        ("/reports/stages", {"from": "2025-01-01", "to": "2025-03-31", "format": "xlsx"}),
        ("/queues/overdue", {"agency": WARD, "format": "csv"}),
        ("/queues/due-soon", {"agency": WARD, "format": "xlsx"}),
    ],
)
def test_downloads_are_documented_with_their_content_type(client, path, params):
    """The schema said application/json only."""
    response = client.get(API + path, params=params)
    assert response.status_code == 200
    documented = _documented.openapi()["paths"][API + path]["get"]["responses"]["200"]["content"]
    assert response.headers["content-type"].split(";")[0] in documented


def test_printable_forms_document_their_errors_as_json(client):
    """The schema said text/html for every answer of the forms, errors included."""
    for form in ("receipt", "apology"):
        responses = _documented.openapi()["paths"][f"{API}/dossiers/{{code}}/{form}"]["get"]["responses"]
        assert list(responses["200"]["content"]) == ["text/html"]
        assert list(responses["404"]["content"]) == ["application/json"]
        response = client.get(f"{API}/dossiers/nope/{form}")
        assert response.status_code == 404 and response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("trace", "/healthz", "GET, HEAD"),
        ("put", "/procedures", "GET, HEAD, POST"),  # GET and POST live in two routers
        ("options", "/dossiers", "GET, HEAD, POST"),
        ("delete", "/procedures/1.004222", "GET, HEAD, PATCH"),
    ],
)
def test_method_not_allowed_names_every_allowed_method(client, method, path, allowed):
    """The 405 had no Allow header (the error handler dropped it), then only the first route's methods."""
    response = client.request(method.upper(), API + path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/procedures", {"as_of": "20250101"}),  # was read as 1970-08-23 (a Unix timestamp)
        ("/dossiers", {"received_to": "0.5"}),
        ("/reports/period", {"from": "2025", "to": "2025-12-31"}),
        ("/calendar/due", {"start": "1745546400", "amount": 1}),
    ],
)
def test_a_number_is_not_a_date(client, path, params):
    response = client.get(API + path, params=params)
    assert response.status_code == 422
    assert "not a number" in response.json()["detail"]


def test_a_number_is_not_a_date_in_a_body_either(client):
    response = client.post(f"{API}/calendar/overrides", json={"date": 0, "kind": "off", "reason": "Bão"})
    assert response.status_code == 422  # was 201: an override on 1970-01-01


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/reports/stages", {"from": "0001-01-01", "to": "0011-01-01"}),  # OverflowError binding 0000-12-31 UTC
        ("/reports/period", {"from": "9999-01-01", "to": "9999-12-31"}),  # OverflowError: the day after the last
        ("/queues/overdue", {"agency": WARD, "as_of": "0001-01-01"}),
        ("/dossiers", {"received_from": "0001-01-01T00:00"}),
        ("/calendar/due", {"start": "0001-01-01T00:00", "amount": 1}),  # TypeError in the calendar
        ("/calendar/elapsed", {"start": "2025-01-01T00:00", "end": "9999-12-31T23:59:59-12:00"}),
    ],
)
def test_dates_far_out_of_range_are_refused_not_a_500(client, path, params):
    response = client.get(API + path, params=params)
    assert response.status_code == 422, response.text
    assert "out of range" in response.json()["detail"]


def test_a_nul_character_is_refused_not_a_500(client):
    """PostgreSQL refuses NUL in text (psycopg DataError, a 500), SQLite would store it: refused on both."""
    response = client.get(f"{API}/calendar/days", params={"year": 2025, "agency": "\x00"})
    assert response.status_code in (404, 422) and response.json()["error"] in ("not_found", "invalid_input")
    intake = {"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê\x00Văn"}}
    response = client.post(f"{API}/dossiers", json=intake)
    assert response.status_code == 422 and response.json()["detail"].startswith("applicant.name: contains U+0000")


def test_a_national_override_answers_agency_code_null(client):
    """The answer echoed the request's "" where the list says null."""
    response = client.post(
        f"{API}/calendar/overrides", json={"date": "2031-05-05", "kind": "off", "reason": "Bão", "agency_code": ""}
    )
    assert response.status_code == 201
    assert response.json()["agency_code"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/exchange/imports/9223372036854775808",
        "/api/v1/complaints/9223372036854775808",
        "/api/v1/notify/rules/9223372036854775808",
    ],
)
def test_an_id_too_large_for_any_row_is_refused_not_overflowed(client, path):
    """A path id past 32 bits is no row: 422 naming the bound, never the database's overflow (a 500)."""
    response = client.request("DELETE" if "rules" in path else "GET", path)
    assert response.status_code == 422, response.text
    assert "less than or equal to 2147483647" in response.text
