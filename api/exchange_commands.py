"""The `motcua exchange` commands of the history import and the reconciliation (docs/exchange.md)."""

from pathlib import Path
from typing import Annotated

import typer


def register(exchange_cli: typer.Typer, *, engine, calendar_store, fail) -> None:
    """Add `import` and `reconcile` to the `motcua exchange` group (`engine`, `calendar_store`: factories)."""

    @exchange_cli.command("import")
    def exchange_import(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                             help="national records: .jsonl (one a line), .csv or .xlsx")],  # fmt: skip
        skip_bad: Annotated[bool, typer.Option("--skip-bad", help="write the good records, the bad ones to --rejects")]
        = False,  # fmt: skip
        rejects: Annotated[Path | None, typer.Option(help="where --skip-bad writes the bad records (default: "
                                                     "FILE.rejects.jsonl)")] = None,  # fmt: skip
        chunk: Annotated[int, typer.Option(min=100, help="records replayed and written at a time")] = 20_000,
        actor: Annotated[str, typer.Option(help="who imports, for the import's row")] = "cli",
        readers: Annotated[int | None, typer.Option(min=0, help="processes reading the records while this one "
                                                    "writes (JSON lines, PostgreSQL; default: the cores, for a "
                                                    "file of 100 MB or more, unless overloaded)")] = None,  # fmt: skip
    ) -> None:
        """Import a province's history: every record a dossier, its events replayed through the clock in bulk.

        One bad record writes nothing (each bad record is named with its line and field), unless --skip-bad.
        """
        from contextlib import nullcontext

        from tqdm import tqdm

        from api.db import for_writes, session_scope, upgrade
        from exchange.history import ImportRefused, import_history
        from kernel.errors import DomainError

        database = engine()
        upgrade(database)
        store = calendar_store()
        rejects = rejects or file.with_name(file.name + ".rejects.jsonl")
        try:
            with (
                file.open("rb") as stream,
                (rejects.open("wb") if skip_bad else nullcontext()) as rejected,
                tqdm(unit="record", disable=None) as bar,
                session_scope(for_writes(database)) as session,
            ):
                report = import_history(
                    session, stream, file_name=file.name, actor=actor,
                    calendar_for=store.calendar_for(session), skip_bad=skip_bad, rejects=rejected,
                    chunk_size=chunk, progress=bar.update, readers=readers,
                )  # fmt: skip
        except ImportRefused as exc:
            for problem in exc.report.problems:
                typer.echo(str(problem), err=True)
            typer.echo(f"{exc.report.rejected} of {exc.report.records} records are bad: nothing imported", err=True)
            raise typer.Exit(code=1) from None
        except DomainError as exc:
            fail(exc.detail)
        for problem in report.problems:
            typer.echo(f"rejected: {problem}", err=True)
        if report.problems:
            typer.echo(f"{report.rejected} bad records written to {rejects}", err=True)
        for finding in report.first_findings:
            typer.echo(_finding_line(finding))
        if report.findings > len(report.first_findings):
            typer.echo(f"… {report.findings - len(report.first_findings)} more: the import page "
                       f"/exchange/imports/{report.import_id} lists every one")  # fmt: skip
        typer.echo(report.summary())

    @exchange_cli.command("reconcile")
    def exchange_reconcile(
        portal: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the portal's figures (CSV)")
        ],
        period: Annotated[str, typer.Option(help="2026-Q3, 2026-H1, 2026-07 or 2026")],
    ) -> None:
        """The portal's per-unit figures beside ours for the period, each difference explained by its dossiers."""
        from api.db import session_scope, upgrade
        from exchange.reconcile import read_portal, reconcile
        from kernel.errors import DomainError

        database = engine()
        upgrade(database)
        try:
            units = read_portal(portal.read_bytes())
            with session_scope(database) as session:
                result = reconcile(session, period=period, units=units)
        except DomainError as exc:
            for problem in exc.errors or []:
                typer.echo(f"line {problem['line']}, {problem['column']}: {problem['message']}", err=True)
            fail(exc.detail)
        for line in result.lines():
            typer.echo(line)


def _finding_line(finding: dict) -> str:
    from exchange.record import local_text

    parts = [f"line {finding['line']} {finding['code']}"]
    if finding["external_code"] != finding["code"]:
        parts.append(f"(external {finding['external_code']})")
    if finding["working_days_apart"] is not None:
        theirs, ours = local_text(finding["their_appointment_at"]), local_text(finding["our_appointment_at"])
        parts.append(f"appointment theirs {theirs} vs ours {ours} ({finding['working_days_apart']:+d} working days)")
        days = "; ".join(f"{day} {kind} {reason}" for day, kind, reason in finding["explaining_days"] or [])
        parts.append(f"days between: {days or 'none: another allotment, start or supplement rule'}")
    if finding["their_status_code"] != finding["our_status_code"]:
        parts.append(f"status theirs {finding['their_status_code']} vs ours {finding['our_status_code']}")
    return " ".join(parts)
