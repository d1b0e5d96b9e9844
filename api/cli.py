"""The `motcua` command."""

from pathlib import Path
from typing import Annotated

import typer

from api.db import engine_for, session_scope, upgrade
from api.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="motcua: one-stop-shop dossiers and working-day deadlines")
db_cli = typer.Typer(no_args_is_help=True, help="Database schema")
seed_cli = typer.Typer(no_args_is_help=True, help="Shipped data")
catalogue_cli = typer.Typer(no_args_is_help=True, help="Procedure catalogue files (CSV, JSON, XLSX)")
cli.add_typer(db_cli, name="db")
cli.add_typer(seed_cli, name="seed")
cli.add_typer(catalogue_cli, name="catalogue")


def _engine():
    return engine_for(Settings().database_url)


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations to the configured database."""
    upgrade(_engine(), revision)
    typer.echo(f"database upgraded to {revision}")


@seed_cli.command("catalogue")
def seed_catalogue() -> None:
    """Load the shipped Hanoi agencies, fields and procedures (idempotent)."""
    from seed.loader import load_catalogue

    engine = _engine()
    upgrade(engine)
    with session_scope(engine) as session:
        counts = load_catalogue(session)
    typer.echo(", ".join(f"{value} {name}" for name, value in counts.items()) + " loaded")


@catalogue_cli.command("import")
def catalogue_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import a catalogue file; every bad row is reported and nothing is written if there is one."""
    from procedures.catalogue_io import format_of, import_catalogue
    from procedures.errors import DomainError

    engine = _engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            counts = import_catalogue(session, file.read_bytes(), format_of(file.name))
    except DomainError as exc:
        for problem in exc.errors or []:
            typer.echo(f"row {problem['row']}, {problem['column']}: {problem['message']}", err=True)
        typer.echo(exc.detail if not exc.errors else f"{len(exc.errors)} problem(s); nothing was imported", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{counts['procedures']} procedure versions imported from {file}")


@catalogue_cli.command("export")
def catalogue_export(file: Path) -> None:
    """Write the catalogue (every version) to FILE; the format follows its extension."""
    from procedures.catalogue_io import export_catalogue, format_of

    with session_scope(_engine()) as session:
        file.write_bytes(export_catalogue(session, format_of(file.name)))
    typer.echo(f"catalogue written to {file}")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[bool, typer.Option(help="upgrade the database and load the seed catalogue first")] = False,
) -> None:
    """Run the API (OpenAPI at /docs)."""
    import uvicorn

    if demo:
        seed_catalogue()
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port)


def main() -> None:
    cli()
