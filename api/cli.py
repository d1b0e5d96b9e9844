"""The `motcua` command."""

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from api.db import engine_for, for_writes, session_scope, upgrade
from api.exchange_commands import register as register_exchange
from api.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="motcua: one-stop-shop dossiers and working-day deadlines")
db_cli = typer.Typer(no_args_is_help=True, help="Database schema")
seed_cli = typer.Typer(no_args_is_help=True, help="Shipped data")
catalogue_cli = typer.Typer(no_args_is_help=True, help="Procedure catalogue files (CSV, JSON, XLSX)")
cli.add_typer(db_cli, name="db")
cli.add_typer(seed_cli, name="seed")
calendar_cli = typer.Typer(no_args_is_help=True, help="The working calendar")
dossiers_cli = typer.Typer(no_args_is_help=True, help="Dossiers")
users_cli = typer.Typer(no_args_is_help=True, help="Accounts")
cli.add_typer(users_cli, name="users")
nightly_cli = typer.Typer(no_args_is_help=True, help="Nightly jobs: re-derivation, daily snapshots, period freezes")
cli.add_typer(dossiers_cli, name="dossiers")
cli.add_typer(nightly_cli, name="nightly")
cli.add_typer(catalogue_cli, name="catalogue")
cli.add_typer(calendar_cli, name="calendar")
exchange_cli = typer.Typer(no_args_is_help=True, help="The national exchange: records out, history in, reconciliation")
cli.add_typer(exchange_cli, name="exchange")
housekeeping_cli = typer.Typer(no_args_is_help=True, help="Rows that have served their purpose")
cli.add_typer(housekeeping_cli, name="housekeeping")
notify_cli = typer.Typer(no_args_is_help=True, help="Warnings, escalations and messages to citizens")
cli.add_typer(notify_cli, name="notify")


def _engine():
    return engine_for(Settings().database_url)


def _calendar_store():
    from api.calendars import calendar_store

    return calendar_store(Settings())


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code=2)


register_exchange(exchange_cli, engine=_engine, calendar_store=_calendar_store, fail=_fail)


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


@seed_cli.command("generate")
def seed_generate(
    dossiers: Annotated[int, typer.Option(min=0, help="dossiers received over the year (or the months)")] = 100_000,
    year: Annotated[int | None, typer.Option(help="the year they are received in (default 2025)")] = None,
    months: Annotated[
        int | None, typer.Option(min=1, max=60, help="instead of a year: the N months up to --until")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="the generation instant, ISO 8601 (without offset: local time); default now"),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same rows")] = 0,
) -> None:
    """Write a synthetic year (or the months up to now) of dossiers with their events, stages and code
    counters (one transaction); nothing happens after the generation instant."""
    if year is not None and months is not None:
        _fail("give --year or --months, not both")
    try:
        now = _instant(until) if until else None
    except ValueError as exc:
        _fail(f"--until {until!r}: {exc}; give YYYY-MM-DD[THH:MM[+07:00]]")
    year = None if months else year or 2025
    report = _generate_city(dossiers=dossiers, year=year, months=months, seed=seed, now=now)
    typer.echo(report.summary())


def _instant(text: str):
    from datetime import datetime

    from sla.core.calendar import LOCAL_TZ

    instant = datetime.fromisoformat(text)
    return instant if instant.tzinfo else instant.replace(tzinfo=LOCAL_TZ)


def _generate_city(*, dossiers: int, year: int | None, months: int | None, seed: int, now=None):
    """The synthetic city, with a progress bar; a failure ends the command with its reason."""
    from tqdm import tqdm

    from kernel.errors import DomainError
    from seed.generator import GenerationError, generate

    engine = _engine()
    upgrade(engine)
    calendar_for = _calendar_store().calendar_for_engine(engine)  # no transaction may stay open during the load
    try:
        with tqdm(total=dossiers, unit="dossier", disable=None) as bar:
            report = generate(
                engine,
                dossiers=dossiers,
                year=year,
                months=months,
                seed=seed,
                now=now,
                calendar_for=calendar_for,
                progress=bar.update,
            )
    except (ValueError, DomainError, GenerationError) as exc:  # CalendarError is a ValueError
        _fail(getattr(exc, "detail", None) or str(exc))
    for line in report.left_out:
        typer.echo(f"left out: {line}", err=True)
    return report


@catalogue_cli.command("import")
def catalogue_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import a catalogue file; every bad row is reported and nothing is written if there is one."""
    from api.routes.catalogue_admin import import_limits
    from kernel.errors import DomainError
    from procedures.catalogue_io import check_catalogue, format_of, parse_catalogue, write_catalogue

    engine = _engine()
    upgrade(engine)
    try:  # read and check outside the write transaction, then write in a short one (as the API route does)
        parsed = parse_catalogue(file.read_bytes(), format_of(file.name), import_limits(Settings()))
        with session_scope(engine) as session:
            check_catalogue(session, parsed)
        with session_scope(for_writes(engine)) as session:
            counts = write_catalogue(session, parsed)
    except DomainError as exc:
        for problem in exc.errors or []:
            typer.echo(f"row {problem['row']}, {problem['column']}: {problem['message']}", err=True)
        typer.echo(exc.detail if not exc.errors else exc.detail.split(":", 1)[0], err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{counts['procedures']} procedure versions imported from {file}")


@catalogue_cli.command("export")
def catalogue_export(file: Path) -> None:
    """Write the catalogue (every version) to FILE; the format follows its extension."""
    from procedures.catalogue_io import export_catalogue, format_of

    with session_scope(_engine()) as session:
        file.write_bytes(export_catalogue(session, format_of(file.name)))
    typer.echo(f"catalogue written to {file}")


@calendar_cli.command("due")
def calendar_due(
    start: Annotated[str, typer.Argument(help="received at, ISO 8601; without offset: local time")],
    amount: Annotated[float, typer.Argument(help="amount of the unit (ignored for same_day)")],
    unit: Annotated[
        str, typer.Argument(help="working_days, working_hours, calendar_days or same_day")
    ] = "working_days",
    agency: Annotated[str | None, typer.Option(help="agency e-ID code")] = None,
    cutoff: Annotated[str | None, typer.Option(help="HH:MM same-day cut-off")] = None,
) -> None:
    """Print the clock start and the due instant of a dossier received at START."""
    from datetime import datetime, time

    from kernel.errors import DomainError, translated_errors
    from kernel.localtime import LOCAL_TZ, attach_local

    try:
        received = datetime.fromisoformat(start)
        cutoff_time = time.fromisoformat(cutoff) if cutoff else None
    except ValueError as exc:
        _fail(f"{exc}: give START as YYYY-MM-DDTHH:MM[+07:00] and --cutoff as HH:MM")
    received = attach_local(received)
    engine = _engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            calendar = _calendar_store().get(session, agency)
        clock_start, due_at = calendar.due_at(received, None if unit == "same_day" else amount, unit, cutoff_time)
    except (DomainError, *translated_errors()) as exc:
        _fail(str(exc))
    typer.echo(f"received     {received.astimezone(LOCAL_TZ).isoformat()}")
    typer.echo(f"clock start  {clock_start.astimezone(LOCAL_TZ).isoformat()}")
    typer.echo(f"due          {due_at.astimezone(LOCAL_TZ).isoformat()}")


@calendar_cli.command("show")
def calendar_show(
    year: int,
    agency: Annotated[str | None, typer.Option(help="agency e-ID code")] = None,
) -> None:
    """List the weekdays off and working weekend days of YEAR with their reasons."""
    from datetime import date

    from kernel.errors import DomainError, translated_errors

    engine = _engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            calendar = _calendar_store().get(session, agency)
        days = calendar.special_days(year)
        working = calendar.working_days(date(year, 1, 1), date(year, 12, 31))
    except (DomainError, *translated_errors()) as exc:
        _fail(str(exc))
    for info in days:
        mark = "nghỉ   " if info.kind == "off" else "làm bù "
        reference = f"  [{info.legal_ref}]" if info.legal_ref else ""
        typer.echo(
            f"{info.day.isoformat()} {info.day.strftime('%a')}  {mark} {info.reason}  ({info.source}){reference}"
        )
    typer.echo(f"{len(working)} working days in {year}")


@dossiers_cli.command("rebuild")
def dossiers_rebuild(
    agency: Annotated[str | None, typer.Option(help="only dossiers received at this agency (e-ID code)")] = None,
    refreeze: Annotated[bool, typer.Option(help="also re-derive finished dossiers and their outcomes")] = False,
) -> None:
    """Re-derive dossiers from their event logs after a calendar or catalogue change."""
    from sqlalchemy import func, select
    from tqdm import tqdm

    from dossiers.models import Dossier
    from dossiers.rebuild import rebuild
    from kernel.errors import DomainError

    engine = _engine()
    upgrade(engine)
    store = _calendar_store()
    try:
        with session_scope(for_writes(engine)) as session:
            total = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
            with tqdm(total=total, unit="dossier", disable=None) as bar:
                report = rebuild(
                    session,
                    calendar_for=store.calendar_for(session),
                    agency=agency,
                    refreeze=refreeze,
                    progress=bar.update,
                )
    except DomainError as exc:
        _fail(exc.detail)
    typer.echo(
        f"{report.dossiers} dossiers re-derived, {report.due_moved} due dates moved, "
        f"{report.outcome_changed} outcomes changed, {report.skipped_finished} finished dossiers kept as frozen"
    )
    for code, why in report.failed.items():
        typer.echo(f"not re-derived (its columns are kept): {code}: {why}", err=True)


@exchange_cli.command("export")
def exchange_export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="the JSON-lines file to write (one record a line)")],
    since: Annotated[int, typer.Option(min=0, help="the watermark: records of dossiers changed after this change id")]
    = 0,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="records read per transaction")] = 1000,
) -> None:
    """Write the national records (motcua-dvcqg-1) of the dossiers changed after --since to FILE; prints the
    watermark to give as --since next time."""
    from exchange.service import changed_records, stamp_changes

    engine = _engine()
    upgrade(engine)
    store = _calendar_store()
    with session_scope(for_writes(engine)) as session:
        stamp_changes(session)
    written, last = 0, since
    with open(file, "w", encoding="utf-8") as out:
        while True:
            with session_scope(engine) as session:
                page = list(changed_records(session, last, calendar_for=store.calendar_for(session), limit=batch))
            for change_id, record in page:
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                last = change_id
            written += len(page)
            if len(page) < batch:
                break
    typer.echo(f"{written} records written to {file}; next --since {last}")


@exchange_cli.command("sync")
def exchange_sync_once() -> None:
    """Post every changed dossier's record and new steps to the gateway once (MOTCUA_EXCHANGE_URL), as the
    scheduled job does; failures are listed with the gateway's answer."""
    from api.scheduler import exchange_sync
    from sla.jobs import LockBusy

    settings = Settings()
    if not settings.exchange_url:
        _fail("MOTCUA_EXCHANGE_URL is not set: the gateway's base URL (and MOTCUA_EXCHANGE_TOKEN its token)")
    upgrade(_engine())
    try:
        report = exchange_sync(settings)
    except LockBusy as exc:
        _fail(str(exc))
    for code, answer in report.failed.items():
        typer.echo(f"failed: {code}: {answer}", err=True)
    typer.echo(report.summary())
    if report.failed:
        raise typer.Exit(code=1)


@nightly_cli.command("run")
def nightly_run(
    date: Annotated[
        str | None, typer.Option("--date", help="the day to close, YYYY-MM-DD (default: every day not yet closed)")
    ] = None,
    force: Annotated[bool, typer.Option(help="run again what is done: a new revision, the old one kept")] = False,
) -> None:
    """Close a day: re-derive stale open dossiers, snapshot each agency, freeze the periods ending on it."""
    from datetime import date as date_type

    from sla.jobs import LockBusy, run_nightly

    settings = Settings()
    engine = _engine()
    upgrade(engine)
    try:
        day = date_type.fromisoformat(date) if date else None
    except ValueError:
        _fail(f"--date {date!r} is not a date of the form YYYY-MM-DD")
    try:
        results = run_nightly(
            engine,
            calendars=_calendar_store(),
            par=settings.par_scoring,
            day=day,
            force=force,
            catch_up_days=settings.nightly_catch_up_days,
        )
    except LockBusy as exc:
        _fail(str(exc))
    for result in results:
        revision = f" r{result.revision}" if result.revision else ""
        line = f"{result.job:<15} {result.period_key:<10} {result.status}{revision}  {result.rows_written} rows"
        typer.echo(line + (f"  {result.error}" if result.error else ""))
    if not results:
        typer.echo("nothing to run: every day up to yesterday is closed")
    if any(result.status == "failed" for result in results):
        raise typer.Exit(code=1)


@notify_cli.command("evaluate")
def notify_evaluate(
    at: Annotated[
        str | None, typer.Option("--at", help="evaluate as of this instant (ISO, naive = local time); default now")
    ] = None,
) -> None:
    """Run the warning, apology, escalation and supplement-reminder rules once over the open dossiers."""
    from datetime import datetime

    from api.scheduler import notify_links
    from notify.jobs import LockBusy, run_evaluate
    from sla.core.calendar import LOCAL_TZ

    settings = Settings()
    engine = _engine()
    upgrade(engine)
    try:
        now = datetime.fromisoformat(at) if at else None
    except ValueError:
        _fail(f"--at {at!r} is not an instant like 2025-06-02T09:00")
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=LOCAL_TZ)
    try:
        report = run_evaluate(
            for_writes(engine),
            store=_calendar_store(),
            now=now,
            links=notify_links(settings),
            citizen_hours=settings.citizen_window,
        )
    except LockBusy as exc:
        _fail(str(exc))
    fired = ", ".join(f"{kind} {count}" for kind, count in sorted(report.fired.items())) or "nothing fired"
    typer.echo(
        f"{report.open_stages} open stages, {report.open_dossiers} running dossiers, "
        f"{report.waiting_supplement} awaiting a supplement (with consent): {fired}; "
        f"{report.notifications} notifications, {report.citizen_messages} messages to citizens written"
    )


@notify_cli.command("dispatch")
def notify_dispatch() -> None:
    """Send the outbox's due messages once (email over SMTP, SMS and Zalo through their gateways)."""
    from api.scheduler import dispatch_policy, notify_providers
    from notify.jobs import LockBusy, run_dispatch

    settings = Settings()
    engine = _engine()
    upgrade(engine)
    try:
        report = run_dispatch(
            for_writes(engine),
            providers=notify_providers(settings),
            store=_calendar_store(),
            policy=dispatch_policy(settings),
        )
    except (LockBusy, ValueError) as exc:
        _fail(str(exc))
    typer.echo(
        f"{report.sent} sent, {report.failed} failed (to be retried), {report.gave_up} given up, "
        f"{report.held} held for quiet hours, in {report.seconds:.1f} s"
    )


@notify_cli.command("digest")
def notify_digest() -> None:
    """Write today's digest email for every user with an email address and unread notifications."""
    from api.scheduler import notify_links
    from notify.jobs import run_digest

    engine = _engine()
    upgrade(engine)
    written = run_digest(for_writes(engine), store=_calendar_store(), links=notify_links(Settings()))
    typer.echo(f"{written} digest emails written to the outbox")


@users_cli.command("create")
def users_create(
    username: Annotated[
        str | None, typer.Option(help="3-64 of a-z, 0-9, '.', '_', '-' (capitals are read as lower case)")
    ] = None,
    password: Annotated[str | None, typer.Option(help="10 to 200 characters, not containing the username")] = None,
    role: Annotated[str | None, typer.Option(help="admin, manager, clerk, officer or viewer")] = None,
    agency: Annotated[str | None, typer.Option(help="the agency e-ID code of its scope (all but admin)")] = None,
    demo: Annotated[bool, typer.Option(help="create one user per role and print their credentials")] = False,
    full_name: Annotated[
        str | None, typer.Option("--full-name", help="the name forms and timelines show, e.g. 'Lê Thị Thu Trang'")
    ] = None,
) -> None:
    """Create a user (or, with --demo, one per role)."""
    from accounts.service import create_demo_users, create_user
    from kernel.errors import DomainError

    engine = _engine()
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            if demo:
                for name, user_role, scope, secret in create_demo_users(session):
                    shown = secret or "(exists: password unchanged)"
                    typer.echo(f"{name:<8} {user_role:<8} {scope or '(all agencies)':<16} password: {shown}")
                return
            if not (username and password and role):
                _fail("give --username, --password and --role (or --demo)")
            user = create_user(
                session, username=username, password=password, role=role, agency_code=agency, full_name=full_name
            )
    except DomainError as exc:
        _fail(exc.detail)
    typer.echo(f"user {user.username} created ({role}{', ' + agency if agency else ''})")


@users_cli.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Option(help="the user whose password is set")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            confirmation_prompt=True,
            hide_input=True,
            help="10 to 200 characters, not containing the username (asked for if not given)",
        ),
    ],
) -> None:
    """Set a user's password: every token of the user is revoked, its failed sign-ins forgotten."""
    from accounts.service import reset_password
    from accounts.throttle import SignInThrottle
    from kernel.errors import DomainError

    engine = _engine()
    upgrade(engine)
    try:
        with session_scope(for_writes(engine)) as session:
            user = reset_password(session, username, password, throttle=SignInThrottle.from_settings(Settings()))
    except DomainError as exc:
        _fail(exc.detail)
    typer.echo(f"password of {user.username} set; its tokens are revoked")


@cli.command("scheduler")
def scheduler() -> None:
    """Run the job scheduler in this process (leader election: a standby waits while another leads)."""
    import logging

    from api.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    upgrade(_engine())
    run_forever(Settings())


# How `motcua serve` runs uvicorn: no `server` banner, and no proxy headers believed by uvicorn (it trusts
# X-Forwarded-For from 127.0.0.1 by default): MOTCUA_TRUSTED_PROXIES alone decides (api/edge.py).
SERVER = {"server_header": False, "proxy_headers": False}


def demo_city(now=None) -> None:
    """The demo's synthetic city: about MOTCUA_DEMO_DOSSIERS dossiers over the MOTCUA_DEMO_MONTHS months up to
    `now` (default: the present), and their past nights closed; only into a database without dossiers."""
    import time

    from sqlalchemy import func, select

    from dossiers.models import Dossier
    from sla.core.calendar import LOCAL_TZ
    from sla.jobs import DAILY, FREEZE, LockBusy, close_history

    settings = Settings()
    engine = _engine()
    with session_scope(engine) as session:
        present = session.execute(select(func.count()).select_from(Dossier)).scalar_one()
    if present:
        typer.echo(f"demo city: the database already holds {present} dossiers; nothing generated")
        return
    if not settings.demo_dossiers:
        return
    started = time.perf_counter()
    report = _generate_city(
        dossiers=settings.demo_dossiers, year=None, months=settings.demo_months, seed=settings.demo_seed, now=now
    )
    try:
        closed = close_history(
            engine, since=report.first_day, calendars=_calendar_store(), par=settings.par_scoring, now=report.now
        )
    except LockBusy as exc:
        _fail(str(exc))
    done = [result for result in closed if result.status == "done"]
    running = sum(count for status, count in report.statuses.items() if status in _OPEN_STATUSES)
    typer.echo(
        f"demo city: {report.dossiers} dossiers received from {report.first_day:%d/%m/%Y} to "
        f"{report.now.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M} (seed {report.seed}), {running} still open of which "
        f"{report.open_overdue} overdue; {sum(r.job == FREEZE for r in done)} periods frozen and "
        f"{sum(r.job == DAILY for r in done)} daily snapshots; in {time.perf_counter() - started:.1f} s "
        f"(written in {report.seconds:.1f} s)"
    )
    for result in closed:
        if result.status == "failed":
            typer.echo(f"demo city: {result.job} {result.period_key} failed: {result.error}", err=True)


_OPEN_STATUSES = {"submitted", "received", "processing", "waiting_supplement", "waiting_obligation"}


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            help="upgrade the database, load the seed catalogue, create one user per role and, into a database "
            "without dossiers, generate a city of about 30,000 dossiers over the twelve months up to now"
        ),
    ] = False,
    empty: Annotated[bool, typer.Option(help="with --demo: no dossiers generated")] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="web worker processes; with more than one the jobs never run inside them"),
    ] = 1,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler",
            help="run the job scheduler (nightly run, messages, exchange sync) in a process of its own beside the "
            "web workers, as `motcua scheduler` does; the web workers then run no jobs",
        ),
    ] = False,
) -> None:
    """Run the API (OpenAPI at /docs)."""
    import uvicorn

    if empty and not demo:
        _fail("--empty goes with --demo")
    if demo and not scheduler:
        if workers == 1:
            os.environ.setdefault("MOTCUA_SCHEDULER", "embedded")
        elif os.environ.get("MOTCUA_SCHEDULER", "embedded") == "embedded":
            scheduler = True  # the demo's jobs, never inside one of several web workers
    if scheduler:
        os.environ["MOTCUA_SCHEDULER"] = "off"  # read by every web worker's settings
    elif workers > 1 and Settings().scheduler == "embedded":
        _fail(
            "MOTCUA_SCHEDULER=embedded runs the jobs inside the one web worker; with --workers give --scheduler "
            "(the scheduler in a process of its own) or run `motcua scheduler` beside"
        )
    if demo:
        seed_catalogue()
        users_create(demo=True)
        if not empty:
            demo_city()
    from api.logs import uvicorn_log_config
    from api.scheduler import start_own_process, stop_own_process

    if workers > 1 or scheduler:
        upgrade(_engine())  # once, before the processes that would each try it at their start
        _engine().dispose()  # this process serves nothing itself: it keeps no connection
    jobs = start_own_process() if scheduler else None
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=uvicorn_log_config(),
            **SERVER,
        )
    finally:
        if jobs is not None:
            stop_own_process(jobs)


def main() -> None:
    cli()


@housekeeping_cli.command("run")
def housekeeping_run() -> None:
    """Delete superseded outbox rows, stale sign-in counts and sent messages past their retention (the scheduler
    runs this after the nightly run); prints what each table lost."""
    from api.housekeeping import run_housekeeping
    from sla.jobs import LockBusy

    engine = _engine()
    upgrade(engine)
    try:
        done = run_housekeeping(engine, Settings())
    except LockBusy as exc:
        _fail(str(exc))
    typer.echo(f"housekeeping: {done.summary()}")
