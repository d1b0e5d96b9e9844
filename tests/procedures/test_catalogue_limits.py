"""Catalogue files from outside are read defensively: each limit answers 422 naming it, never 500.

The hostile files are made here: a ZIP bomb (a 1 MB XLSX whose sheet expands to 1 GB), the same
bomb with a lying size, a billion-laughs DTD, a UTF-16 part, corrupt archives, a 10,000-deep JSON.
"""

import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import event, func, select

from kernel.errors import InvalidInput
from procedures.catalogue_io import COLUMNS, ImportLimits, parse_catalogue
from procedures.models import Procedure

API = "/api/v1"
SHEET = "xl/worksheets/sheet1.xml"
GIB = 1 << 30


def record(code: str, **changes) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        code=code,
        name=f"Thủ tục {code}",
        field_code="cu_tru",
        level="commune",
        amount="7",
        unit="working_days",
        steps="Tiếp nhận=@receiving:2;Thẩm định=000.00.03.H26:5",
        effective_from="2025-01-01",
    )
    row.update(changes)
    return row


def workbook_members(rows: list[list]) -> dict[str, bytes]:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP archive of already deflated members: (name, deflated bytes, crc32, declared size)."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size in members:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0))
        out.write(encoded + data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                *(0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset),
            )
            + encoded
        )
    start, directory = out.tell(), central.getvalue()
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0))
    return out.getvalue()


def deflated(data: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def xlsx_with(members: dict[str, bytes]) -> bytes:
    return raw_zip([(name, *deflated(data)) for name, data in members.items()])


@pytest.fixture(scope="module")
def bomb_parts() -> tuple[dict[str, bytes], tuple[bytes, int, int]]:
    """A valid workbook whose sheet holds one cell of 1 GiB of 'A': about 1 MB deflated."""
    members = workbook_members([list(COLUMNS)])
    head = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    head += b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
    tail = b"</t></is></c></row></sheetData></worksheet>"
    block = b"A" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head + block) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every block
    data = first + middle * 1023 + compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(1024):
        crc = zlib.crc32(block, crc)
    return members, (data, zlib.crc32(tail, crc), len(head) + GIB + len(tail))


def bomb(parts, *, declared: int | None = None) -> bytes:
    members, (data, crc, size) = parts
    listed = [(name, *deflated(content)) for name, content in members.items() if name != SHEET]
    return raw_zip([*listed, (SHEET, data, crc, size if declared is None else declared)])


def post(client, name: str, content: bytes):
    return client.post(f"{API}/catalogue/import", files={"file": (name, content, "application/octet-stream")})


def test_the_bomb_is_what_it_claims(bomb_parts):
    content = bomb(bomb_parts)
    assert len(content) < 1_200_000
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.getinfo(SHEET).file_size > GIB


def test_a_1_gb_xlsx_bomb_is_refused_naming_the_limit_without_expanding(client, bomb_parts):
    content = bomb(bomb_parts)
    tracemalloc.start()
    try:
        response = post(client, "bomb.xlsx", content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422, response.text
    assert "MOTCUA_IMPORT_MAX_UNCOMPRESSED_BYTES" in response.json()["detail"]
    assert peak < 64 * 1024 * 1024  # nothing near the expanded gigabyte was held


def test_a_bomb_that_lies_about_its_size_is_cut_and_refused(client, bomb_parts):
    tracemalloc.start()
    try:
        response = post(client, "liar.xlsx", bomb(bomb_parts, declared=50_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 422, response.text
    assert "cannot be read" in response.json()["detail"]
    assert peak < 64 * 1024 * 1024


def test_the_expanded_size_is_also_counted_while_reading():
    members = workbook_members([list(COLUMNS)] + [list(record(f"9.{i:06d}").values()) for i in range(300)])
    content = xlsx_with(members)
    declared = sum(len(data) for data in members.values())
    with pytest.raises(InvalidInput, match="MOTCUA_IMPORT_MAX_UNCOMPRESSED_BYTES"):
        parse_catalogue(content, "xlsx", ImportLimits(max_uncompressed_bytes=declared - 1))
    assert len(parse_catalogue(content, "xlsx", ImportLimits(max_uncompressed_bytes=declared)).versions) == 300


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    + b'<row r="1"><c r="A1" t="inlineStr"><is><t>code</t></is></c></row>'
    + b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


def test_an_xlsx_with_a_dtd_is_refused(client):
    members = workbook_members([list(COLUMNS)])
    response = post(client, "laughs.xlsx", xlsx_with({**members, SHEET: BILLION_LAUGHS}))
    assert response.status_code == 422, response.text
    assert "DTD" in response.json()["detail"] and SHEET in response.json()["detail"]
    utf16 = BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    response = post(client, "laughs16.xlsx", xlsx_with({**members, "xl/sharedStrings.xml": utf16}))
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.json()["detail"]


def test_corrupt_xlsx_files_answer_422_naming_the_problem(client):
    members = workbook_members([list(COLUMNS), list(record("9.999401").values())])
    good = xlsx_with(members)
    cases = {
        "not a zip": (b"code,name\n1,2\n", "not a ZIP archive"),
        "cut short": (good[: len(good) // 2], "cannot be read"),
        "no sheet": (xlsx_with({k: v for k, v in members.items() if k != SHEET}), "no worksheet"),
        "no workbook": (xlsx_with({k: v for k, v in members.items() if k != "xl/workbook.xml"}), "cannot be read"),
        "broken xml": (xlsx_with({**members, SHEET: members[SHEET][:-40]}), "cannot be read"),
        "damaged data": (good.replace(deflated(members[SHEET])[0][10:30], b"\0" * 20), "cannot be read"),
    }
    for case, (content, expected) in cases.items():
        response = post(client, "bad.xlsx", content)
        assert response.status_code == 422, (case, response.text)
        assert expected in response.json()["detail"], (case, response.json())


def test_a_deeply_nested_json_is_refused_naming_the_limit(client):
    for depth in (10_000, 25):
        content = b"[" * depth + b"]" * depth
        response = post(client, "deep.json", content)
        assert response.status_code == 422, response.text
        assert "deeper than 20 levels" in response.json()["detail"]
        assert "MOTCUA_IMPORT_MAX_JSON_DEPTH" in response.json()["detail"]
    nested = {"procedures": [{**{k: v for k, v in record("9.999402").items() if v}, "source": [[[[[[[[[[]]]]]]]]]]}]}
    assert "deeper than" not in post(client, "ok.json", json.dumps(nested).encode()).json()["detail"]


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_more_rows_than_the_limit_are_refused_naming_it(app, client, fmt):
    app.state.settings = app.state.settings.model_copy(update={"import_max_rows": 3})

    def content(rows: list[dict]) -> bytes:
        if fmt == "csv":
            return pd.DataFrame(rows).to_csv(index=False).encode()
        if fmt == "json":
            return json.dumps([{k: v for k, v in r.items() if v} for r in rows]).encode()
        return xlsx_with(workbook_members([list(COLUMNS)] + [list(r.values()) for r in rows]))

    rows = [record(f"9.9995{i:02d}") for i in range(4)]
    response = post(client, f"c.{fmt}", content(rows))
    assert response.status_code == 422, response.text
    assert "more than 3 rows" in response.json()["detail"] and "MOTCUA_IMPORT_MAX_ROWS" in response.json()["detail"]
    accepted = post(client, f"c.{fmt}", content(rows[:3]))
    assert accepted.status_code == 200, accepted.text


def test_error_lists_hold_the_first_200_and_count_the_rest(client, session):
    rows = [record(f"9.{i:06d}", unit="fortnights") for i in range(1254)]
    response = post(client, "c.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    assert response.status_code == 422
    body = response.json()
    assert len(body["errors"]) == 200
    assert [e["row"] for e in body["errors"]] == list(range(2, 202))
    assert body["detail"].startswith("1,254 problem(s) in the file, nothing was imported: row 2, unit:")
    assert "… and 1,234 more" in body["detail"] and "the first 200" in body["detail"]
    assert session.execute(select(func.count()).select_from(Procedure).where(Procedure.code.like("9.0%"))).scalar() == 0


def _statements_of_an_import(app, client, connection, content: bytes, name: str = "c.csv"):
    """Every statement the import sends, with a marker where the request's write transaction begins."""
    log: list[str] = []
    opened = app.state.open_session

    def open_session(write: bool):
        session = opened(write)
        if write:
            event.listen(session, "after_begin", lambda *_: log.append(BEGINS))
            event.listen(session, "after_commit", lambda *_: log.append(ENDS))
            event.listen(session, "after_rollback", lambda *_: log.append(ENDS))
        return session

    def record_statement(_conn, _cursor, statement, *_):
        log.append(" ".join(statement.split()))

    app.state.open_session = open_session
    event.listen(connection, "before_cursor_execute", record_statement)
    try:
        response = post(client, name, content)
    finally:
        event.remove(connection, "before_cursor_execute", record_statement)
        app.state.open_session = opened
    return response, log


BEGINS, ENDS = "-- the write session begins a transaction", "-- the write session ends its transaction"
WRITES = ("INSERT INTO procedure", "INSERT INTO field", "UPDATE procedure", "UPDATE field", "DELETE")


def test_an_import_reads_and_checks_before_its_write_transaction_which_is_a_few_statements(app, client, connection):
    def csv(count: int, start: int) -> bytes:
        rows = [record(f"9.{start + i:06d}", field_code=f"moi_{start}", field_name="Mới") for i in range(count)]
        return pd.DataFrame(rows).to_csv(index=False).encode()

    counts = []
    for count, start in ((5, 100), (400, 200)):
        response, log = _statements_of_an_import(app, client, connection, csv(count, start))
        assert response.status_code == 200, response.text
        begins = len(log) - log[::-1].index(BEGINS) - 1  # the last transaction of the write session
        before, during = log[:begins], log[begins + 1 : log.index(ENDS, begins)]
        assert not [s for s in before if s.startswith(WRITES)]  # nothing written while the file was checked
        reads = ("SELECT field.code FROM field", "SELECT procedure.id")
        checks = [i for i, s in enumerate(before) if s.startswith(reads)]
        assert checks and all(_write_session_idle(before, i) for i in checks)  # checked outside the write transaction
        assert any(s.startswith("INSERT INTO procedure ") for s in during)
        counts.append(len(during))
    assert counts[0] == counts[1]  # 400 rows cost the same statements as 5: no statement per row

    bad = csv(30, 700).replace(b"working_days", b"fortnights", 1)  # one bad row
    response, log = _statements_of_an_import(app, client, connection, bad)
    assert response.status_code == 422
    assert not [s for s in log if s.startswith(WRITES)]
    assert all(_write_session_idle(log, i) for i, s in enumerate(log) if s.startswith("SELECT field.code FROM field"))


def _write_session_idle(log: list[str], position: int) -> bool:
    """Whether the request's write session held no transaction when statement `position` ran."""
    markers = [s for s in log[:position] if s in (BEGINS, ENDS)]
    return not markers or markers[-1] == ENDS


def test_every_error_answer_lists_at_most_200_problems():
    from api.errors import error_response

    body = json.loads(error_response(422, "invalid_input", "bad rows", [{"row": i} for i in range(1434)]).body)
    assert len(body["errors"]) == 200 and body["errors"][-1] == {"row": 199}
    assert body["detail"] == "bad rows (`errors` lists the first 200 … and 1,234 more)"
