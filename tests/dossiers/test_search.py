"""Staff search (dossiers/search.py `search`, `GET /api/v1/dossiers`, the desk): each kind of search finds the
right dossiers, within the user's scope, with a capped total and an XLSX export; on PostgreSQL a word or two of
a name go through the name terms' index, a whole name through its key's, and an agency's first page through its
ordered index paths."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import event as sa_event
from sqlalchemy import text

from dossiers import search
from dossiers.names import name_key, name_terms
from tests.conftest import OTHER_WARD, WARD
from tests.dossiers.conftest import API, DEPARTMENT, RELIGION, RESIDENCE


@pytest.fixture(params=["few", "agency by agency"])
def path(request, monkeypatch):
    """Both ways to a page: a few matches sorted off their own index, or the agencies' ordered branches merged."""
    if request.param != "few":
        monkeypatch.setattr(search, "_FEW", 0)
    return request.param


@pytest.fixture
def city(receive, event):
    """Five dossiers: three at the ward (one forwarded to the department), one at the other ward, one at the
    department (a religion procedure)."""
    made = {
        "lan": receive(applicant={"name": "Nguyễn Thị Lan", "id_number": "001190012345", "phone": "0912345678"}),
        "hung": receive(
            received_at="2025-06-03T09:00",
            applicant={"name": "Trần Văn Hùng", "id_number": "001090055555", "phone": "0987000111"},
        ),
        "forwarded": receive(
            received_at="2025-06-04T09:00",
            applicant={"name": "Lê Thị Lan Anh", "id_number": "001190077777", "phone": "0912999888"},
        ),
        "other": receive(
            agency_code=OTHER_WARD,
            received_at="2025-06-05T09:00",
            applicant={"name": "Nguyễn Văn Lân", "id_number": "001190088888", "phone": "0903333444"},
        ),
        "religion": receive(
            procedure_code=RELIGION,
            agency_code=DEPARTMENT,
            received_at="2025-07-01T09:00",
            applicant={"name": "Phạm Minh Đức", "phone": "0971234567"},
        ),
    }
    event(made["forwarded"]["code"], "forwarded", at="2025-06-04T10:00", to_agency=DEPARTMENT)
    return {key: dossier["code"] for key, dossier in made.items()}


def codes(client, **params) -> list[str]:
    response = client.get(API, params=params)
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


def test_every_kind_of_search_finds_its_dossiers(client, city, path):
    assert codes(client, q=city["hung"].lower()) == [city["hung"]]  # exact code, case ignored
    assert codes(client, code=f"  {city['hung'].lower()} ") == [city["hung"]]
    assert codes(client, q=city["hung"][:-1]) == [city["hung"]]  # not a code: then found as a part of one
    assert codes(client, q=city["hung"][:-1] + "9") == []
    assert codes(client, code=city["hung"][:-1]) == []  # `code`: the whole code only
    assert codes(client, q="LAN thi NGUYEN") == [city["lan"]]  # accents, case and word order ignored
    assert codes(client, q="nguyễn lân") == [city["other"], city["lan"]]  # 'lân' folds to 'lan': newest first
    assert codes(client, name="thị lan") == [city["forwarded"], city["lan"]]
    assert codes(client, q="anh") == [city["forwarded"]]  # a whole word of the name ...
    assert codes(client, q="an") == [] and codes(client, q="ung") == []  # ... not a part of one ('Hùng')
    assert codes(client, q="van lan nguyen") == [city["other"]] and codes(client, q="van thi lan") == []
    assert codes(client, q="lê thị lan") == []  # three words or more: a whole name ('Lê Thị Lan Anh' is not)
    assert codes(client, q="Lan Thị Anh Lê") == [city["forwarded"]] and codes(client, q="le anh") == [city["forwarded"]]
    assert codes(client, q="０９１２") == [city["forwarded"], city["lan"]]  # full-width digits, a phone prefix
    assert codes(client, phone="0912 345 678") == [city["lan"]]
    assert codes(client, phone="0912") == [city["forwarded"], city["lan"]]
    assert codes(client, q="001090055555") == [city["hung"]]  # an identity number
    assert codes(client, id_number="00119007") == [city["forwarded"]]
    june = {"received_from": "2025-06-03T00:00", "received_to": "2025-06-05T00:00"}
    assert codes(client, **june) == [city["forwarded"], city["hung"]]
    assert codes(client, **june, status=2) == [city["hung"]]  # the forwarded one is processing (4)
    assert codes(client, procedure="tôn giáo") == [city["religion"]]  # procedure by name
    assert codes(client, procedure=RESIDENCE, agency=OTHER_WARD) == [city["other"]]  # or by code
    assert codes(client, field="cu tru") == [city["other"], city["forwarded"], city["hung"], city["lan"]]
    assert codes(client, field="tin_nguong_ton_giao") == [city["religion"]]
    assert codes(client, procedure="no such procedure") == []


def test_a_search_stays_within_the_scope(client_as, city, path):
    ward = client_as("clerk")
    assert set(codes(ward)) == {city["lan"], city["hung"], city["forwarded"]}
    assert codes(ward, q=city["other"]) == []  # another ward's code is not found, as an unknown one
    assert codes(ward, q="nguyen") == [city["lan"]]
    department = client_as("department-clerk")
    assert codes(department) == [city["religion"], city["forwarded"]]  # received there, or held there
    assert codes(department, q="lan") == [city["forwarded"]]
    assert codes(department, agency=DEPARTMENT, page=2, page_size=1) == [city["forwarded"]]
    refused = department.get(API, params={"agency": WARD})
    assert refused.status_code in (403, 404), refused.text


def test_the_total_is_counted_up_to_a_cap(client, city, path, monkeypatch):
    body = client.get(API, params={"page_size": 2}).json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (5, False, 2)
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 3)
    body = client.get(API, params={"page_size": 2}).json()
    assert (body["total"], body["total_capped"]) == (3, True)  # "more than 3"
    assert client.get(API, params={"page": 3, "page_size": 2}).json()["items"][0]["code"] == city["lan"]
    body = client.get(API, params={"q": "lan"}).json()
    assert (body["total"], body["total_capped"]) == (3, False)
    page = client.get("/desk")
    assert "Hiển thị 5/hơn 3" in page.text  # the desk's page of 20


def test_the_export_lists_the_dossiers_and_is_audited(client, city, path):
    response = client.get(API, params={"q": "lan", "format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Hồ sơ tìm được: 3"
    assert rows[1][:3] == ("Mã hồ sơ", "Thủ tục", "Người nộp")
    assert [(row[0], row[1], row[2]) for row in rows[2:]] == [
        (city["other"], "Đăng ký thường trú", "Nguyễn Văn Lân"),
        (city["forwarded"], "Đăng ký thường trú", "Lê Thị Lan Anh"),
        (city["lan"], "Đăng ký thường trú", "Nguyễn Thị Lan"),
    ]
    assert rows[3][5] == "Đang xử lý" and rows[3][4] == DEPARTMENT
    english = client.get(API, params={"q": "lan", "format": "xlsx", "lang": "en"})
    assert list(load_workbook(io.BytesIO(english.content)).active.iter_rows(values_only=True))[1][0] == "Dossier code"
    trail = client.get("/api/v1/audit", params={"action": "GET /api/v1/dossiers"}).json()
    entries = trail["items"] if isinstance(trail, dict) else trail
    assert len(entries) == 2, entries  # the exports; the JSON searches are not audited
    assert entries[0]["personal_data"] == "masked"
    assert "search export (xlsx) of 3 dossiers: q=lan" in entries[-1]["detail"]
    desk = client.get("/desk", params={"q": "lan"})
    assert 'href="/desk/dossiers.xlsx?q=lan&amp;lang=vi"' in desk.text
    download = client.get("/desk/dossiers.xlsx", params={"q": "lan"})
    assert download.status_code == 200
    assert len(list(load_workbook(io.BytesIO(download.content)).active.iter_rows())) == 5


# --- plans: what keeps a first page fast on a city of millions (bench/bench_search.py) --------------------


@pytest.fixture
def statements(session):
    captured = []
    connection = session.connection()

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    sa_event.listen(connection, "before_cursor_execute", capture)
    yield captured
    sa_event.remove(connection, "before_cursor_execute", capture)


def _plan(session, statement: str, parameters) -> str:
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small: the planner would rightly read it
    cursor.execute("EXPLAIN " + statement, parameters)
    plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


@pytest.fixture
def postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's indexes (the word index is PostgreSQL's)")


def test_name_words_use_the_name_terms_index(postgresql, session, city, statements):
    """A whole-city name search reads one term of the name terms' index (two words: their pair) for its count and
    its page (sorted off the index's few rows), not in every agency's ordered branch."""
    found = search.search(session, q="Nguyễn Lan", within=None)
    assert [item.code for item in found.items] == [city["other"], city["lan"]]
    searches = [s for s in statements if "motcua_name_terms" in s[0] and not s[0].startswith("EXPLAIN")]
    assert len(searches) == 2 and not any("UNION ALL" in s[0] for s in searches), searches
    assert all(s[1]["name_term"] == "lan nguyen" for s in searches)
    for statement in searches:
        assert "ix_dossier_name_terms" in _plan(session, *statement)


def test_many_matches_of_a_name_are_paged_newest_first_checking_each_row(client, city, path, monkeypatch):
    """More matches than the cap: the scope's ordered paths, the words checked on each row, make the page."""
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 1)
    body = client.get(API, params={"q": "LAN", "page_size": 2}).json()
    assert (body["total"], body["total_capped"]) == (1, True)
    assert [item["code"] for item in body["items"]] == [city["other"], city["forwarded"]]
    body = client.get(API, params={"q": "lan nguyen", "page": 2, "page_size": 1}).json()
    assert [item["code"] for item in body["items"]] == [city["lan"]]
    assert codes(client, q="an") == [] and codes(client, q="thi anh") == [city["forwarded"]]


def test_a_common_name_term_is_more_than_the_cap_by_the_planners_estimate(postgresql, session, receive, statements,
                                                                          monkeypatch):
    """A term the planner expects several times the cap is "more than the cap" without counting (its statistics
    count the pair 'anh nguyen' itself); a rarer one is counted."""
    for i in range(40):
        receive(applicant={"name": "Nguyễn Văn Anh" if i % 4 else "Trần Thị Bình", "phone": f"09120000{i:02d}"})
    session.execute(text("ANALYZE dossier"))
    statements.clear()
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 6)  # 30 "anh nguyen" ≥ 2 × 6; 10 "binh tran" < 12
    found = search.search(session, q="anh NGUYỄN", within=None)
    assert (found.total, found.capped, len(found.items)) == (6, True, 20)
    assert not any("count(" in s[0] for s in statements), statements
    statements.clear()
    found = search.search(session, q="Bình Trần", within=None)
    assert (found.total, found.capped) == (6, True)  # ten: counted (seven of them, the cap's one more)
    assert any("count(" in s[0] for s in statements)
    statements.clear()
    found = search.search(session, q="thi", within=None)
    assert any("count(" in s[0] for s in statements)
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 20)
    assert search.search(session, q="binh", within=None)[1:] == (10, False)


def test_many_matches_across_the_city_are_read_newest_first_along_one_index(postgresql, session, city, statements,
                                                                           monkeypatch):
    """More matches than the cap across the city: one ordered path over every dossier (ix_dossier_search_newest),
    which stops after the page, the words checked as positions; and the terms' index counts a scope agency by
    agency."""
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 1)
    monkeypatch.setattr(search, "_FEW", 0)  # as for a city of millions
    found = search.search(session, q="lan", within=None)
    assert [item.code for item in found.items][:2] == [city["other"], city["forwarded"]]
    page = [s for s in statements if "strpos" in s[0] and "ORDER BY" in s[0]]
    plan = _plan(session, *page[0])
    assert "ix_dossier_search_newest" in plan and "strpos" in plan, plan  # (a test table: read whole, sorted)
    statements.clear()
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 10_000)
    ward = session.execute(text("SELECT id FROM agency WHERE code = :c"), {"c": WARD}).scalar_one()
    search.search(session, q="lan", within=[ward])
    counts = [s for s in statements if "count(" in s[0]]
    # one agency a lookup, the agency and the term both in the index; never a list of agencies checked on rows
    assert counts and not any("receiving_agency_id IN" in s[0] or "current_agency_id IN" in s[0] for s in counts)


def test_a_whole_name_reads_one_range_of_the_name_key_index(postgresql, session, city, statements):
    """Three words or more: the dossiers of that name, newest first, straight off the key's ordered index."""
    found = search.search(session, q="NGUYEN lân Văn", within=None)
    assert [item.code for item in found.items] == [city["other"]]
    searches = [s for s in statements if "motcua_name_key" in s[0]]
    assert len(searches) == 2, searches
    for statement in searches:
        assert "ix_dossier_name_key" in _plan(session, *statement)


@pytest.mark.parametrize(
    "search_text",
    ["hn-250602-0001 nguyen van anh 0912345678 001190012345", "x-1 le thi lan anh", "nameless", "a-1 b  a +84912",
     "c-2 o'neil tran"],
)
def test_the_name_key_is_the_same_in_python_and_in_the_database(session, search_text):
    """PostgreSQL's `motcua_name_key` (migration 0023) and SQLite's (dossiers/names.py, api/db.py) agree."""
    in_database = session.execute(text("SELECT motcua_name_key(:t)"), {"t": search_text}).scalar_one()
    assert in_database == name_key(search_text)


@pytest.mark.parametrize(
    "search_text",
    ["hn-250602-0001 nguyen van anh 0912345678 001190012345", "x-1 le thi lan anh", "nameless", "a-1 b  a +84912",
     "c-2 o'neil tran", "d-3 van van thi", "e-4 0912"],
)
def test_the_name_terms_are_the_same_in_python_and_in_the_database(postgresql, session, search_text):
    """PostgreSQL's `motcua_name_terms` (migration 0046) and dossiers/names.py's agree."""
    in_database = session.execute(text("SELECT motcua_name_terms(:t)"), {"t": search_text}).scalar_one()
    assert len(in_database) == len(set(in_database)) and set(in_database) == name_terms(search_text)


def test_an_agency_first_page_reads_its_ordered_index_paths(postgresql, session, city, statements, monkeypatch):
    monkeypatch.setattr(search, "_FEW", 0)  # as for an agency of the city: thousands of dossiers
    scope = [session.execute(text("SELECT id FROM agency WHERE code = :c"), {"c": DEPARTMENT}).scalar_one()]
    found = search.search(session, within=scope)
    assert [item.code for item in found.items] == [city["religion"], city["forwarded"]]
    page = [s for s in statements if "UNION ALL" in s[0]]
    plan = _plan(session, *page[0])
    assert "ix_dossier_report" in plan and "ix_dossier_holder_received" in plan, plan
    assert plan.count("Limit") >= 3, plan  # each branch stops after the page
    assert "Index Scan Backward" in plan or "Index Only Scan Backward" in plan, plan


def test_an_exact_code_is_one_index_lookup(postgresql, session, city, statements):
    found = search.search(session, q=city["hung"].lower(), within=None)
    assert [item.code for item in found.items] == [city["hung"]]
    lookup = [s for s in statements if "lower(dossier.code)" in s[0]]
    catalogue = sum(1 for s in statements if ("agency" in s[0] or "procedure" in s[0]) and "dossier" not in s[0])
    assert len(statements) == 1 + catalogue  # the code, then the agencies' codes and procedures' names to show
    assert "ix_dossier_code_lower" in _plan(session, *lookup[0])


def test_a_number_reads_the_phone_and_identity_indexes(postgresql, session, city, statements):
    search.search(session, q="0912345", within=None)
    count = [s for s in statements if "count(" in s[0]]
    plan = _plan(session, *count[0])
    assert "ix_dossier_applicant_phone" in plan and "ix_dossier_applicant_id_number" in plan, plan
