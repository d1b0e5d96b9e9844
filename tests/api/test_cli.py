"""The `motcua` command on a SQLite file."""

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import cli
from procedures.catalogue_io import COLUMNS

runner = CliRunner()


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTCUA_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_seed_export_and_import_round_trip(database):
    seeded = runner.invoke(cli, ["seed", "catalogue"])
    assert seeded.exit_code == 0, seeded.output
    assert "74 procedures" in seeded.output
    exported = database / "catalogue.xlsx"
    assert runner.invoke(cli, ["catalogue", "export", str(exported)]).exit_code == 0
    frame = pd.read_excel(exported, dtype=str)
    assert len(frame) == 74 and tuple(frame.columns) == COLUMNS
    imported = runner.invoke(cli, ["catalogue", "import", str(exported)])
    assert imported.exit_code == 0, imported.output
    assert "74 procedure versions imported" in imported.output


def test_import_with_a_bad_row_names_it_and_writes_nothing(database):
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    rows = [
        dict(
            dict.fromkeys(COLUMNS, ""),
            code="9.000001",
            name="A",
            field_code="f",
            field_name="F",
            level="commune",
            amount="3",
            unit="working_days",
            effective_from="2025-07-01",
        ),
        dict(
            dict.fromkeys(COLUMNS, ""),
            code="9.000002",
            name="B",
            field_code="f",
            field_name="F",
            level="commune",
            amount="3",
            unit="weeks",
            effective_from="2025-07-01",
        ),
    ]
    bad = database / "bad.xlsx"
    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=list(COLUMNS)).to_excel(buffer, index=False)
    bad.write_bytes(buffer.getvalue())
    result = runner.invoke(cli, ["catalogue", "import", str(bad)])
    assert result.exit_code == 1
    assert "row 3, unit" in result.output
    exported = database / "after.csv"
    assert runner.invoke(cli, ["catalogue", "export", str(exported)]).exit_code == 0
    assert pd.read_csv(exported).empty


def test_calendar_due_and_show(database):
    due = runner.invoke(cli, ["calendar", "due", "2025-04-25T09:00", "3", "working_days"])
    assert due.exit_code == 0, due.output
    assert "due          2025-04-29T09:00:00+07:00" in due.output
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    shown = runner.invoke(cli, ["calendar", "show", "2026"])
    assert shown.exit_code == 0
    assert "2026-01-10 Sat  làm bù" in shown.output and "(override)" in shown.output
    assert "250 working days in 2026" in shown.output
    bad = runner.invoke(cli, ["calendar", "due", "2025-04-25T09:00", "3", "fortnights"])
    assert bad.exit_code == 2 and "working_days" in bad.output


def test_dossiers_rebuild_reports_what_it_did(database):
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    result = runner.invoke(cli, ["dossiers", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "0 dossiers re-derived, 0 due dates moved" in result.output


def test_seed_generate_writes_a_consistent_city(database):
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    generated = runner.invoke(cli, ["seed", "generate", "--dossiers", "400", "--year", "2025", "--seed", "3"])
    assert generated.exit_code == 0, generated.output
    assert "400" in generated.output
    rebuilt = runner.invoke(cli, ["dossiers", "rebuild", "--refreeze"])
    assert "0 due dates moved, 0 outcomes changed" in rebuilt.output


def test_seed_generate_over_the_months_up_to_a_given_instant(database):
    assert runner.invoke(cli, ["seed", "catalogue"]).exit_code == 0
    args = ["seed", "generate", "--dossiers", "300", "--months", "3", "--until", "2026-05-20T09:30", "--seed", "3"]
    generated = runner.invoke(cli, args)
    assert generated.exit_code == 0, generated.output
    assert "for 20/02/2026 to 20/05/2026 09:30 (seed 3)" in generated.output
    both = runner.invoke(cli, ["seed", "generate", "--year", "2025", "--months", "3"])
    assert both.exit_code == 2 and "give --year or --months, not both" in both.output
    bad = runner.invoke(cli, ["seed", "generate", "--months", "3", "--until", "20/05/2026"])
    assert bad.exit_code == 2 and "give YYYY-MM-DD" in bad.output


def test_users_reset_password_sets_it_and_revokes_the_tokens(database):
    from datetime import timedelta

    from sqlalchemy import func, select
    from sqlmodel import Session

    from accounts.models import AccessToken
    from accounts.service import issue_token
    from api.db import make_engine

    created = runner.invoke(
        cli, ["users", "create", "--username", "Keeper", "--password", "first phrase 1"] + ["--role", "admin"]
    )
    assert created.exit_code == 0 and "user keeper created" in created.output, created.output
    engine = make_engine(f"sqlite:///{database / 'cli.db'}")
    with Session(engine) as session:
        assert issue_token(session, username="keeper", password="first phrase 1", lifetime=timedelta(hours=1))
        session.commit()
    refused = runner.invoke(cli, ["users", "reset-password", "--username", "keeper", "--password", "keeper 2026 x"])
    assert refused.exit_code == 2 and "must not be or contain the username" in refused.output
    reset = runner.invoke(cli, ["users", "reset-password", "--username", "KEEPER"], input="second phrase 2\n" * 2)
    assert reset.exit_code == 0 and "password of keeper set" in reset.output, reset.output
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(AccessToken)).scalar_one() == 0
        assert issue_token(session, username="keeper", password="first phrase 1", lifetime=timedelta(hours=1)) is None
        assert issue_token(session, username="keeper", password="second phrase 2", lifetime=timedelta(hours=1))
    engine.dispose()
    unknown = runner.invoke(cli, ["users", "reset-password", "--username", "nobody", "--password", "x" * 12])
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output


def test_users_create_with_a_full_name_and_demo_names(database):
    from sqlalchemy import select
    from sqlmodel import Session

    from accounts.models import User
    from api.db import make_engine

    created = runner.invoke(
        cli,
        ["users", "create", "--username", "thu.trang", "--password", "a long phrase 1", "--role", "admin"]
        + ["--full-name", "Lê Thị Thu Trang"],
    )
    assert created.exit_code == 0, created.output
    load = runner.invoke(cli, ["seed", "catalogue"])
    assert load.exit_code == 0, load.output
    demo = runner.invoke(cli, ["users", "create", "--demo"])
    assert demo.exit_code == 0, demo.output
    with Session(make_engine(f"sqlite:///{database / 'cli.db'}")) as session:
        names = dict(session.execute(select(User.username, User.full_name)).all())
    assert names["thu.trang"] == "Lê Thị Thu Trang"
    assert names["clerk"] == "Lê Thị Thu Trang" and all(names[u] for u in ("admin", "manager", "officer", "viewer"))
