"""Import benchmark: a 100,000-row catalogue import on SQLite while a desk keeps receiving dossiers.

Run by hand (not a test) from the repository root. See bench/README.md, section "Catalogue import":

    PYTHONPATH=. .venv/bin/python bench/bench_import.py

It creates a fresh SQLite database (a temporary file), loads the seed catalogue, creates an
administrator and a ward clerk, and starts uvicorn with one worker (`bench_intake.server`). Then:

1. a ZIP bomb: an XLSX of about 1 MB whose sheet expands to 1 GiB is posted to
   `POST /api/v1/catalogue/import`: the time to the refusal and the server's peak memory (VmHWM
   from /proc) before and after;
2. the import: a CSV of `--rows` new procedures (two steps each) is posted by one thread while
   another posts intakes (`POST /api/v1/dossiers`) one after another, from a second before the
   import until a second after it: the import's time, and the intakes' latency during it (the
   longest is the longest an intake waited for the write lock).

Any intake answered with other than 201, or an import answered with other than 200 (the bomb:
422), is printed and makes the script exit with status 1.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import struct
import sys
import tempfile
import threading
import time
import uuid
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_intake import server  # noqa: E402  (the one way the benchmarks start uvicorn)

from accounts.service import create_user, issue_token  # noqa: E402
from api.db import make_engine, session_scope, upgrade  # noqa: E402
from procedures.catalogue_io import COLUMNS  # noqa: E402
from seed.loader import load_catalogue  # noqa: E402

API = "/api/v1"
WARD = "000.01.01.H26"
PASSWORD = "bench-password-1"


def catalogue_csv(rows: int) -> bytes:
    frame = pd.DataFrame(
        {
            "code": [f"8.{i:06d}" for i in range(rows)],
            "name": [f"Thủ tục thử nghiệm số {i}" for i in range(rows)],
            "field_code": "cu_tru",
            "level": "commune",
            "amount": "7",
            "unit": "working_days",
            "steps": "Tiếp nhận=@receiving:2;Thẩm định=000.00.03.H26:5",
            "effective_from": "2025-01-01",
        },
        columns=list(COLUMNS),
    ).fillna("")
    return frame.to_csv(index=False).encode()


def bomb_xlsx(gib: int = 1) -> bytes:
    """A valid workbook whose sheet is one cell of `gib` GiB of 'A', deflated to about 1 MB per GiB."""
    buffer = io.BytesIO()
    Workbook().save(buffer)
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(buffer) as archive:
        members = [_deflated(name, archive.read(name)) for name in archive.namelist() if name != sheet]
    head = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
    head += b'<c r="A1" t="inlineStr"><is><t>'
    tail, block = b"</t></is></c></row></sheetData></worksheet>", b"A" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head + block) + compressor.flush(zlib.Z_FULL_FLUSH)
    middle = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # the same bytes every block
    data = first + middle * (1024 * gib - 1) + compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(1024 * gib):
        crc = zlib.crc32(block, crc)
    size = len(head) + (1 << 30) * gib + len(tail)
    return _raw_zip([*members, (sheet, data, zlib.crc32(tail, crc), size)])


def _deflated(name: str, content: bytes) -> tuple[str, bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, compressor.compress(content) + compressor.flush(), zlib.crc32(content), len(content)


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP archive of deflated members (name, data, crc32, size); no ZIP64 needed under 4 GiB."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size in members:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0))
        out.write(encoded + data)
        entry = (0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", *entry) + encoded)
    start, directory = out.tell(), central.getvalue()
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), start, 0))
    return out.getvalue()


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(port: int, token: str, path: str, body: bytes, content_type: str, timeout: float = 900):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    failures = 0
    content = catalogue_csv(args.rows)
    os.environ["MOTCUA_MAX_UPLOAD_BYTES"] = str(len(content) + 1_000_000)
    os.environ["MOTCUA_MAX_REQUEST_BYTES"] = str(len(content) + 2_000_000)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        with session_scope(engine) as session:
            load_catalogue(session)
            create_user(session, username="admin", password=PASSWORD, role="admin", agency_code=None)
            create_user(session, username="clerk", password=PASSWORD, role="clerk", agency_code=WARD)
            session.flush()
            tokens = {
                name: issue_token(session, username=name, password=PASSWORD, lifetime=timedelta(hours=2))
                for name in ("admin", "clerk")
            }
        engine.dispose()
        with server(url, Path(folder) / "uvicorn.log") as target:
            port, pid = target.port, target.pid
            intake = json.dumps({"procedure_code": "1.004222", "agency_code": WARD, "applicant": {"name": "Lê Văn C"}})
            for _ in range(20):  # warm-up: calendars, principals
                post(port, tokens["clerk"], f"{API}/dossiers", intake.encode(), "application/json")

            bomb = bomb_xlsx()
            before = memory_kib(pid)
            started = time.perf_counter()
            status, answer = post(port, tokens["admin"], f"{API}/catalogue/import", *multipart("bomb.xlsx", bomb))
            bomb_seconds = time.perf_counter() - started
            after = memory_kib(pid)
            print(f"ZIP bomb: {len(bomb):,} bytes expanding to 1 GiB: answered {status} in {bomb_seconds:.2f} s; "
                  f"server peak RSS {before['VmHWM'] / 1024:.0f} → {after['VmHWM'] / 1024:.0f} MiB")
            print(f"  {json.loads(answer).get('detail', '')[:160]}")
            failures += status != 422

            latencies: list[tuple[float, float, int]] = []  # (start, seconds, status)
            stop = threading.Event()

            def desk():
                while not stop.is_set():
                    begun = time.perf_counter()
                    code, _ = post(port, tokens["clerk"], f"{API}/dossiers", intake.encode(), "application/json")
                    latencies.append((begun, time.perf_counter() - begun, code))

            clerk = threading.Thread(target=desk)
            clerk.start()
            time.sleep(1)
            body, content_type = multipart("catalogue.csv", content)
            import_start = time.perf_counter()
            status, answer = post(port, tokens["admin"], f"{API}/catalogue/import", body, content_type)
            import_end = time.perf_counter()
            time.sleep(1)
            stop.set()
            clerk.join()
            print(f"import of {args.rows:,} rows ({len(content) / 1e6:.1f} MB CSV): {status} in "
                  f"{import_end - import_start:.1f} s: {answer[:120].decode(errors='replace')}")
            failures += status != 200
            during = [(s, d, c) for s, d, c in latencies if s + d >= import_start and s <= import_end]
            waits = np.array([d for _, d, _ in during])
            refused = [c for _, _, c in latencies if c != 201]
            print(f"intakes during the import: {len(during)}, latency p50 {np.median(waits) * 1000:.0f} ms, "
                  f"p99 {np.percentile(waits, 99) * 1000:.0f} ms, longest {waits.max():.2f} s; "
                  f"answers other than 201: {len(refused)} {sorted(set(refused))}")
            failures += len(refused)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
