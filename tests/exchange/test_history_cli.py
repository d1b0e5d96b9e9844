"""`motcua exchange import` and `motcua exchange reconcile` on a SQLite file."""

import json

import orjson
import pytest
from typer.testing import CliRunner

from api.cli import cli
from tests.exchange.test_history import religion_record, residence_record
from tests.exchange.test_reconcile import HEADER

runner = CliRunner()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    return tmp_path


def test_a_bad_record_writes_nothing_and_skip_bad_writes_the_good_and_a_rejects_file(folder):
    bad = residence_record("CLI-2")
    bad["NgayTiepNhan"] = "20250231090000"
    history = folder / "lich-su.jsonl"
    history.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in (religion_record("CLI-1"), bad,
                                                                    residence_record("CLI-3"))))  # fmt: skip
    refused = runner.invoke(cli, ["exchange", "import", str(history)])
    assert refused.exit_code == 1
    assert "line 2 (CLI-2), NgayTiepNhan: '20250231090000' is not a real date" in refused.output
    assert "1 of 3 records are bad: nothing imported" in refused.output
    done = runner.invoke(cli, ["exchange", "import", str(history), "--skip-bad"])
    assert done.exit_code == 0, done.output
    assert "2 of 3 records imported (import 1), 1 rejected" in done.output
    [rejected] = [json.loads(line) for line in (folder / "lich-su.jsonl.rejects.jsonl").read_text().splitlines()]
    assert rejected["line"] == 2 and rejected["problems"][0]["field"] == "NgayTiepNhan"
    portal = folder / "cong.csv"
    portal.write_text(HEADER + "000.01.01.H26,Phường,COMMUNE,1,1,,,0,100,20,20\n", encoding="utf-8")
    reconciled = runner.invoke(cli, ["exchange", "reconcile", "--period", "2025-Q2", str(portal)])
    assert reconciled.exit_code == 0, reconciled.output
    assert "000.01.01.H26" in reconciled.output and "received 1/1 (+0)" in reconciled.output
