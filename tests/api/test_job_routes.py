"""Job runs, snapshots and the index feed over HTTP; the nightly command."""

import csv
import io
from datetime import date

from typer.testing import CliRunner

from api.cli import cli
from sla import jobs
from sla.core.rates import ParScoring
from sla.models import JobRun
from sla.reports import Period

API = "/api/v1"
WARD = "000.01.01.H26"


def freeze(session, revision: int = 1) -> None:
    run = JobRun(job=jobs.FREEZE, period_key="2025-06", revision=revision, status="done")
    session.add(run)
    session.flush()
    jobs.freeze_period(
        session, run, period_key="2025-06", period=Period(date(2025, 6, 1), date(2025, 6, 30)), par=ParScoring()
    )


def test_feed_and_snapshots(client, session):
    client.post(f"{API}/dossiers", json={"procedure_code": "1.004222", "agency_code": WARD, "backdate_reason": "x",
                                         "received_at": "2025-06-02T09:00", "applicant": {"name": "A"}})  # fmt: skip
    freeze(session)
    freeze(session, revision=2)
    feed = client.get(f"{API}/index/feed", params={"period": "2025-06"}).json()
    assert feed["feed_version"] == "motcua-index-feed-2" and (feed["from"], feed["to"]) == ("2025-06-01", "2025-06-30")
    ward = next(a for a in feed["agencies"] if a["agency_code"] == WARD)
    assert ward["snapshot_revision"] == 2 and ward["snapshot_at"]
    assert set(ward["scores"]) == {"on-time-rate-v1", "strict-on-time-rate-v1", "766-progress-v1", "par-on-time-v1"}
    assert ward["scores"]["766-progress-v1"]["max_points"] == 20.0
    assert ward["integrity"] == {"events_recorded_late": 0, "apologies_late": 0}  # the intake was recorded today
    assert feed["agencies"][-1]["agency_code"] is None  # the city total comes last
    text = client.get(f"{API}/index/feed", params={"period": "2025-06", "format": "csv"}).content.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["formula"] for row in table if row["agency_code"] == WARD} == set(ward["scores"])
    history = client.get(f"{API}/index/snapshots", params={"period": "2025-06", "agency": WARD}).json()
    assert [s["revision"] for s in history["snapshots"]] == [1, 2]
    runs = client.get(f"{API}/jobs").json()
    assert [(r["job"], r["revision"]) for r in runs][:2] == [("freeze_period", 2), ("freeze_period", 1)]


def test_unfrozen_period_and_bad_period(client):
    missing = client.get(f"{API}/index/feed", params={"period": "2019-01"})
    assert missing.status_code == 404 and "not frozen" in missing.json()["detail"]
    assert client.get(f"{API}/index/snapshots", params={"period": "June"}).status_code == 422


def test_nightly_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path / 'nightly.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    first = runner.invoke(cli, ["nightly", "run", "--date", "2025-03-31"])
    assert first.exit_code == 0, first.output
    assert "freeze_period   2025-Q1    done r1" in first.output
    again = runner.invoke(cli, ["nightly", "run", "--date", "2025-03-31"])
    assert again.output.count("skipped") == 4
    forced = runner.invoke(cli, ["nightly", "run", "--date", "2025-03-31", "--force"])
    assert "freeze_period   2025-03    done r2" in forced.output
    bad = runner.invoke(cli, ["nightly", "run", "--date", "31/03/2025"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
