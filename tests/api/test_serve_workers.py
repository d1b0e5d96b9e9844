"""`motcua serve --workers N`: several web workers, the job scheduler never inside them (`--scheduler` runs it in a
process of its own beside them; `MOTCUA_SCHEDULER=embedded` is refused with more than one worker)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api import scheduler as scheduler_wiring
from api.cli import cli

runner = CliRunner()


@pytest.fixture
def served(monkeypatch, tmp_path):
    """`uvicorn.run` replaced: what it was called with, and the scheduler setting the web workers would read."""
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path / 'motcua.db'}")  # upgraded before the workers
    calls = []

    def run(*args, **kwargs):
        calls.append({**kwargs, "MOTCUA_SCHEDULER": os.environ.get("MOTCUA_SCHEDULER")})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


@pytest.fixture
def scheduler_processes(monkeypatch):
    """The scheduler's own process replaced: the events of its life."""
    events = []
    monkeypatch.setattr(scheduler_wiring, "start_own_process", lambda: events.append("started") or "process")
    monkeypatch.setattr(scheduler_wiring, "stop_own_process", lambda process: events.append(f"stopped {process}"))
    return events


def test_several_workers_with_the_scheduler_in_its_own_process(monkeypatch, served, scheduler_processes):
    monkeypatch.setenv("MOTCUA_SCHEDULER", "embedded")  # overruled: the web workers run no jobs
    result = runner.invoke(cli, ["serve", "--workers", "3", "--scheduler"])
    assert result.exit_code == 0, result.output
    assert [(call["workers"], call["MOTCUA_SCHEDULER"]) for call in served] == [(3, "off")]
    assert scheduler_processes == ["started", "stopped process"]


def test_the_scheduler_process_is_stopped_when_the_server_fails(monkeypatch, served, scheduler_processes):
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("address in use")))
    result = runner.invoke(cli, ["serve", "--workers", "2", "--scheduler"])
    assert result.exit_code != 0
    assert scheduler_processes == ["started", "stopped process"]


def test_an_embedded_scheduler_is_refused_with_several_workers(monkeypatch, served, scheduler_processes):
    monkeypatch.setenv("MOTCUA_SCHEDULER", "embedded")
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--scheduler" in result.output and "motcua scheduler" in result.output
    assert served == [] and scheduler_processes == []


def test_one_worker_keeps_its_setting_and_starts_no_scheduler_process(monkeypatch, served, scheduler_processes):
    monkeypatch.setenv("MOTCUA_SCHEDULER", "embedded")
    assert runner.invoke(cli, ["serve"]).exit_code == 0
    monkeypatch.setenv("MOTCUA_SCHEDULER", "off")
    assert runner.invoke(cli, ["serve", "--workers", "2"]).exit_code == 0
    assert [(call["workers"], call["MOTCUA_SCHEDULER"]) for call in served] == [(1, "embedded"), (2, "off")]
    assert scheduler_processes == []


# --- the real processes --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> set[int]:
    try:
        return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (IPv4, /proc/net/tcp: state 0A)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def _holds(pid: int, inodes: set[str]) -> bool:
    """Whether process `pid` has one of these sockets open (a web worker accepts on the listening socket)."""
    try:
        links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the processes' sockets from Linux's /proc")
def test_motcua_serve_runs_web_workers_and_one_scheduler_apart(tmp_path):
    """Two web workers answer; the process that leads the jobs (it holds the leader lock, whose file names it) is
    a process of its own, which does not accept connections."""
    database = tmp_path / "motcua.db"
    port = _free_port()
    environment = {**os.environ, "MOTCUA_DATABASE_URL": f"sqlite:///{database}", "MOTCUA_SCHEDULER": "embedded"}
    command = [sys.executable, "-c", "from api.cli import main; main()", "db", "upgrade"]
    subprocess.run(command, cwd=tmp_path, env=environment, check=True, capture_output=True)
    log = (tmp_path / "serve.log").open("w")
    command[-2:] = ["serve", "--port", str(port), "--workers", "2", "--scheduler"]
    server = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=log, stderr=subprocess.STDOUT)
    lock = Path(f"{database}.scheduler.lock")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                healthy = False
            leader = lock.read_text().strip() if lock.exists() else ""
            workers = {pid for pid in _children(server.pid) if _holds(pid, _listening_inodes(port))}
            if healthy and leader and len(workers) == 2:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"motcua serve did not start:\n{(tmp_path / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.3)
        assert int(leader) in _children(server.pid)  # the scheduler: started by `serve`…
        assert int(leader) not in workers  # … apart from the two web workers, which run no jobs
        assert not _holds(int(leader), _listening_inodes(port))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
