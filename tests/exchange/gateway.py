"""A national gateway double on loopback: a small FastAPI app served by uvicorn in a thread on a free port.

It checks every record and step against the documented schema (docs/exchange-record.schema.json), keeps
one record per MaHoSo and one step per step key (MaHoSo, ThoiDiemXuLy, PhongBanXuLy, NoiDungXuLy), as
docs/exchange.md says the gateway does, and can be told to fail, to time out, or to hold records already
(so that "create" answers "exists").
"""

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import jsonschema_rs
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "exchange-record.schema.json").read_text())
TOKEN = "gateway-test-token"


def _validator(part: dict):
    return jsonschema_rs.validator_for({"$defs": SCHEMA["$defs"], **part})


RECORD = _validator({k: v for k, v in SCHEMA.items() if k != "$defs"})
PROGRESS = _validator(SCHEMA["$defs"]["progress"])


class Gateway:
    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.steps: dict[str, dict[tuple, dict]] = {}
        self.calls: Counter = Counter()  # path → requests
        self.invalid: list[str] = []  # every schema violation seen (a test expects none)
        self.failures: list[tuple[int, str]] = []  # (status, body) of the next requests to fail, in order
        self.slow: int = 0  # the next requests answered after `delay` seconds
        self.delay = 1.0
        self.lock = threading.Lock()
        self.app = self._app()

    # -- what a test tells it --------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500, body: str = "Lỗi hệ thống, vui lòng thử lại") -> None:
        self.failures += [(status, body)] * count

    def time_out_next(self, count: int = 1, delay: float = 1.0) -> None:
        self.slow, self.delay = count, delay

    def received_per_unit(self, first: str, last: str) -> Counter:
        """Dossiers it holds per DonViXuLy, received (NgayTiepNhan) within [first, last] (yyyyMMdd), refused aside."""
        return Counter(
            r["DonViXuLy"]
            for r in self.records.values()
            if r["NgayTiepNhan"] and first <= r["NgayTiepNhan"][:8] <= last and r["TrangThaiHoSo"] != 3
        )

    # -- the services ----------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def controls(request: Request, call_next):
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"status": "error", "message": "token không hợp lệ"}, status_code=401)
            with self.lock:
                self.calls[request.url.path] += 1
                failure = self.failures.pop(0) if self.failures else None
                slow = self.slow > 0
                self.slow -= 1 if slow else 0
            if slow:
                await asyncio.sleep(self.delay)  # the client gives up first
            if failure:
                return JSONResponse({"status": "error", "message": failure[1]}, status_code=failure[0])
            return await call_next(request)

        @app.post("/DongBoHoSoMC/create")
        async def create(request: Request):
            record = await request.json()
            if problem := self._invalid(RECORD, record):
                return problem
            with self.lock:
                if record["MaHoSo"] in self.records:
                    return JSONResponse({"status": "exists", "message": "Hồ sơ đã tồn tại"}, status_code=409)
                self.records[record["MaHoSo"]] = record
            return {"status": "created"}

        @app.post("/DongBoHoSoMC/update")
        async def update(request: Request):
            record = await request.json()
            if problem := self._invalid(RECORD, record):
                return problem
            with self.lock:
                if record["MaHoSo"] not in self.records:
                    return JSONResponse({"status": "not_found", "message": "Không có hồ sơ"}, status_code=404)
                self.records[record["MaHoSo"]] = record
            return {"status": "updated"}

        @app.post("/CapNhatTienDoHoSoMC")
        async def progress(request: Request):
            body = await request.json()
            if problem := self._invalid(PROGRESS, body):
                return problem
            code = body["MaHoSo"]
            with self.lock:
                if code not in self.records:
                    return JSONResponse({"status": "not_found", "message": "Không có hồ sơ"}, status_code=404)
                for step in body["QuaTrinhXuLy"]:
                    if step["MaHoSo"] != code:
                        return JSONResponse({"status": "error", "message": "MaHoSo khác"}, status_code=422)
                    key = (code, step["ThoiDiemXuLy"], step["PhongBanXuLy"], step["NoiDungXuLy"])
                    self.steps.setdefault(code, {})[key] = step
            return {"status": "ok"}

        return app

    def _invalid(self, validator, body) -> JSONResponse | None:
        errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]
        if not errors:
            return None
        with self.lock:
            self.invalid += errors
        return JSONResponse({"status": "invalid", "message": "; ".join(errors)[:1000]}, status_code=422)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """The double served on loopback for the block: `url`, `gateway`."""

    def __init__(self) -> None:
        self.gateway = Gateway()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.gateway.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway double did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
