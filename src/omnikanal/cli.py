"""The command line: serve, worker, status, db upgrade, sources, keys, staff, demo, reports,
retention, privacy, permissions, export, import, duplicates."""

import functools
import os
import signal
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar
from urllib.parse import urlencode

import anyio
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from typer import _click  # the Click that Typer carries, whose types TyperGroup uses
from typer.core import TyperGroup

from omnikanal import demo as demo_data
from omnikanal.auth import service as auth_service
from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Channel, Role
from omnikanal.auth.permissions import matrix_markdown
from omnikanal.config import Settings
from omnikanal.db import is_sqlite, make_engine, make_session_factory
from omnikanal.exports.schemas import Format, Kind
from omnikanal.exports.service import DEFAULT_CHUNK_ROWS, DEFAULT_SETTLE
from omnikanal.imports import commands as import_commands
from omnikanal.uow import unit_of_work
from omnikanal.wiring import build_registry


def _analytics_app() -> typer.Typer:
    from omnikanal.analytics import commands

    return commands.analytics_app


def _experiments_app() -> typer.Typer:
    from omnikanal.experiments import commands

    return commands.experiments_app


@functools.cache  # its commands are registered once, however often the command line is built
def _recommendations_app() -> typer.Typer:
    from omnikanal.recommendations import commands

    commands.register(one_line_errors)
    return commands.recommendations_app


class _Commands(TyperGroup):
    """The command groups, some imported when first used: analytics, experiments and
    recommendations bring DuckDB, NumPy and SciPy (about 1.5 s), which no other command
    needs."""

    imported_on_use: dict[str, Callable[[], typer.Typer]] = {
        "analytics": _analytics_app,
        "experiments": _experiments_app,
        "recommendations": _recommendations_app,
    }

    def list_commands(self, ctx: _click.Context) -> list[str]:
        named = super().list_commands(ctx)
        return [*named, *(name for name in self.imported_on_use if name not in named)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in self.imported_on_use and cmd_name not in self.commands:
            group = typer.main.get_group(self.imported_on_use[cmd_name]())
            group.name = cmd_name
            self.add_command(group)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    help="omnikanal: the omnichannel retail hub.", no_args_is_help=True, cls=_Commands
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
sources_app = typer.Typer(help="Sources: channels that ingest events.", no_args_is_help=True)
keys_app = typer.Typer(help="Secret keys for staff and back ends.", no_args_is_help=True)
reports_app = typer.Typer(help="Reports for owners and analysts.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention: data past its OMNIKANAL_RETENTION_* time.", no_args_is_help=True
)
staff_app = typer.Typer(
    help="Staff accounts: the people who sign in to the console.", no_args_is_help=True
)


privacy_app = typer.Typer(help="A person's data: export.", no_args_is_help=True)
duplicates_app = typer.Typer(
    help="Duplicate customers: suggestions for agents to accept or reject.", no_args_is_help=True
)
app.add_typer(duplicates_app, name="duplicates")
app.add_typer(db_app, name="db")
app.add_typer(reports_app, name="reports")
app.add_typer(retention_app, name="retention")
app.add_typer(sources_app, name="sources")
app.add_typer(keys_app, name="keys")
app.add_typer(staff_app, name="staff")


app.add_typer(privacy_app, name="privacy")
app.add_typer(import_commands.import_app, name="import")

console = Console(soft_wrap=True)
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Operators get a one-line reason and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, typer.BadParameter):
            raise  # a bad option is told as Typer tells it, naming the option
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err.print(f"[red]error:[/red] {reason}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc

    return wrapper


def _settings() -> Settings:
    return Settings()


import_commands.register(one_line_errors)


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Apply every pending migration."""
    from omnikanal import migrate  # Alembic: only the commands that migrate need it

    settings = _settings()
    migrate.upgrade(settings.resolved_database_url())
    console.print(f"database at revision {migrate.head_revision()}")


@sources_app.command("create")
@one_line_errors
def sources_create(
    name: Annotated[str, typer.Option("--name", help="e.g. 'Web shop'")],
    channel: Annotated[Channel, typer.Option("--channel", help="The channel it speaks for.")],
    location: Annotated[
        str | None, typer.Option("--location", help="A store's location code (tills).")
    ] = None,
) -> None:
    """Create a source; prints its write key (shown once) as the last line."""
    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    with unit_of_work(factory) as session:
        source, write_key = auth_service.create_source(
            session, name=name, channel=channel, location=location
        )
        console.print(f"source {source.id} ({source.channel}) created; its write key:")
    print(write_key)  # noqa: T201 - the key alone on the last line, for scripts


@keys_app.command("create")
@one_line_errors
def keys_create(
    role: Annotated[Role, typer.Option("--role", help="What the key may do.")],
    name: Annotated[str, typer.Option("--name")] = "",
    location: Annotated[
        str | None, typer.Option("--location", help="The store of a store key.")
    ] = None,
    channel: Annotated[
        Channel | None,
        typer.Option("--channel", help="The channel a channel key's back end speaks for."),
    ] = None,
) -> None:
    """Create a secret key; prints it (shown once) as the last line."""
    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    with unit_of_work(factory) as session:
        key, secret = auth_service.create_secret_key(
            session, role=role, name=name, location=location, channel=channel
        )
        console.print(f"{key.role} key {key.id} created; the key:")
    print(secret)  # noqa: T201 - the key alone on the last line, for scripts


PASSWORD_ENV = "OMNIKANAL_STAFF_PASSWORD"


def _new_password() -> str:
    """From OMNIKANAL_STAFF_PASSWORD (scripts), else asked twice without echo."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    first: str = typer.prompt("Password (at least 12 characters)", hide_input=True)
    again: str = typer.prompt("The same password again", hide_input=True)
    if first != again:
        raise RuntimeError("the two passwords differ")
    return first


def _store_location(session: Session, role: Role, location: str | None) -> str | None:
    from omnikanal.inventory import service as inventory_service

    if role is not Role.STORE or location is None:
        return location
    stores = {s.code for s in inventory_service.locations(session, kind="store")}
    if location not in stores:
        known = ", ".join(sorted(stores)) or "none yet"
        raise RuntimeError(f"{location} is not a store (stores: {known})")
    return location


@staff_app.command("create")
@one_line_errors
def staff_create(
    email: Annotated[str, typer.Option("--email", help="Their email: they sign in with it.")],
    role: Annotated[Role, typer.Option("--role", help="What they may do (not channel).")],
    location: Annotated[
        str | None, typer.Option("--location", help="The store of store staff.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Their name; default the email's.")] = "",
    invite: Annotated[
        bool, typer.Option("--invite", help="Print an invitation link instead of a password.")
    ] = False,
) -> None:
    """Create a staff account with a password (asked twice, or from OMNIKANAL_STAFF_PASSWORD),
    or with --invite an invitation link (valid 7 days) printed as the last line."""
    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    password = None if invite else _new_password()
    with unit_of_work(factory) as session:
        account, token = staff_accounts.create_account(
            session,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            location=_store_location(session, role, location),
            password=password,
        )
        console.print(f"{account.role} {account.name} <{account.email}> created ({account.id})")
    if token is not None:
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        console.print("their invitation link (shown once, valid 7 days):")
        print(f"{base.rstrip('/')}/console/invitation?{urlencode({'token': token})}")  # noqa: T201


@staff_app.command("list")
@one_line_errors
def staff_list() -> None:
    """Every staff account with its role, store and status."""
    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    table = Table(title="Staff accounts")
    for column in ("name", "email", "role", "store", "status", "last sign-in", "codes"):
        table.add_column(column)
    with factory() as session:
        for account in staff_accounts.accounts(session):
            status = (
                "disabled"
                if account.disabled_at
                else "invited"
                if account.password_hash is None
                else "active"
            )
            table.add_row(
                account.name,
                account.email,
                account.role,
                account.location or "",
                status,
                f"{account.last_sign_in_at:%Y-%m-%d %H:%M}" if account.last_sign_in_at else "never",
                "on" if account.totp_secret else "off",
            )
    console.print(table)


@staff_app.command("disable")
@one_line_errors
def staff_disable(
    email: Annotated[str, typer.Option("--email", help="The person's email.")],
) -> None:
    """Disable a staff account: they are signed out of the console at once."""
    from omnikanal.console import service as console_service

    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    with unit_of_work(factory) as session:
        account = staff_accounts.account_by_email(session, email=email)
        console_service.disable_account(session, account_id=account.id)
        console.print(f"{account.name} <{account.email}> is disabled and signed out")


def _load_demo(settings: Settings) -> None:
    from omnikanal.outbox.relay import Relay

    registry = build_registry()
    factory = make_session_factory(
        make_engine(settings.resolved_database_url()), settings=settings, registry=registry
    )
    relay = Relay(session_factory=factory, settings=settings, registry=registry)
    # The demo's orders earn points, merge carts and record notices as live ones do.
    with unit_of_work(factory, after_commit=relay.run_handlers) as session:
        loaded = demo_data.load(session, history=True)
    console.print("demo retailer loaded" if loaded else "demo retailer already loaded")


def _print_demo_keys(base_url: str) -> None:
    table = Table(title="Demo credentials (for this laptop only)")
    table.add_column("what")
    table.add_column("key")
    for source in demo_data.SOURCES:
        table.add_row(f"write key: {source.name}", source.write_key)
    for key in demo_data.KEYS:
        table.add_row(f"secret key: {key.role.value}", key.secret_key)
    console.print(table)
    console.print("Try:")
    console.print(f"  curl {base_url}/ready", highlight=False)
    event = '{"anonymousId":"laptop-1","event":"Product Viewed","properties":{"sku":"COAT-1"}}'
    console.print(
        f"  curl -u wk_demo_web: -H 'content-type: application/json' {base_url}/v1/track "
        f"-d '{event}'",
        highlight=False,
    )
    console.print(
        "  curl -H 'Authorization: Bearer sk_demo_agent' "
        f"'{base_url}/v1/profiles?email=anna.svensson@example.com'",
        highlight=False,
    )
    console.print(
        f"  curl -H 'Authorization: Bearer sk_demo_admin' {base_url}/v1/sources", highlight=False
    )
    console.print(
        "  curl -H 'Authorization: Bearer sk_demo_app' "
        f"'{base_url}/v1/carts/current?user_id=anna-1001'",
        highlight=False,
    )
    console.print(
        "  curl -H 'Authorization: Bearer sk_demo_store' "
        f"{base_url}/v1/products/COAT-WOOL-GREY-38/availability",
        highlight=False,
    )
    console.print(
        "  curl -H 'Authorization: Bearer sk_demo_analyst' "
        f"{base_url}/v1/experiments/reminder-offer/results",
        highlight=False,
    )
    console.print(
        f"Staff console: {base_url}/console — sign in as one of the demo staff:",
        highlight=False,
    )
    for person in demo_data.STAFF:
        where = f" ({person.location})" if person.location else ""
        console.print(
            f"  {person.role.value:<9} {person.email:<30} {person.password:<24} "
            f"{person.name}{where}",
            highlight=False,
        )


@app.command()
@one_line_errors
def demo() -> None:
    """Load the demo retailer (once) into the database."""
    from omnikanal import migrate

    settings = _settings()
    migrate.upgrade(settings.resolved_database_url())
    _load_demo(settings)
    _print_demo_keys(f"http://{settings.host}:{settings.port}")


# Where the app factory finds what ``serve`` was told: worker processes start afresh
# and read only the environment.
APP_FACTORY = "omnikanal.app:app_from_environment"


@app.command()
@one_line_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo retailer first.")] = False,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the worker in this process.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="API processes sharing the port (for PostgreSQL; each runs the embedded "
            "worker too, unless --no-worker: they lease their work).",
        ),
    ] = 1,
) -> None:
    """Run the API (and the console); migrations are applied first."""
    import uvicorn

    from omnikanal import migrate
    from omnikanal.app import configure_logging

    settings = _settings()
    updates: dict[str, object] = {"embedded_worker": worker and settings.embedded_worker}
    if host:
        updates["host"] = host
    if port:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    configure_logging(settings)
    migrate.upgrade(settings.resolved_database_url())
    base_url = f"http://{settings.host}:{settings.port}"
    if demo:
        _load_demo(settings)
        _print_demo_keys(base_url)
    _export_to_workers(settings)
    processes = f" in {workers} processes" if workers > 1 else ""
    console.print(f"omnikanal listening on {base_url}{processes} (API docs at {base_url}/docs)")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        # uvicorn kills a worker that does not answer its ping within this many seconds
        # (5 by default): on a busy machine a starting or loaded worker misses that, and
        # its connections drop while it is replaced (seen as clients' read errors).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


WORKER_HEALTHCHECK_SECONDS = 60


def _export_to_workers(settings: Settings) -> None:
    os.environ["OMNIKANAL_EMBEDDED_WORKER"] = "true" if settings.embedded_worker else "false"
    os.environ["OMNIKANAL_HOST"] = settings.host
    os.environ["OMNIKANAL_PORT"] = str(settings.port)


def _database_label(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _reachable_engine(url: str) -> Engine:
    """An engine on a database that answers; never creates an SQLite file."""
    database = make_url(url).database
    if is_sqlite(url) and database not in (None, "", ":memory:") and not Path(database).exists():
        raise RuntimeError(f"no database at {database} (run omnikanal db upgrade)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()
        raise RuntimeError(
            f"the database does not answer: {reason[0] if reason else type(exc).__name__}"
        ) from exc
    return engine


@app.command()
@one_line_errors
def status() -> None:
    """The database, its migration revision and how far identity resolution is behind.

    Exits 1 when the database does not answer, 2 when migrations are pending or resolution
    lags past OMNIKANAL_MAX_RESOLUTION_LAG_SECONDS, else 0."""
    from omnikanal import migrate
    from omnikanal.events import service as events_service

    settings = _settings()
    url = settings.resolved_database_url()
    engine = _reachable_engine(url)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    table = Table(title="omnikanal status", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("database", _database_label(url))
    migrated = current == head
    table.add_row(
        "migration revision",
        f"{current}" if migrated else f"[yellow]{current} (the code expects {head})[/yellow]",
    )
    within = False
    if migrated:
        with make_session_factory(engine)() as session:
            lag = events_service.resolution_lag(session)
        bound = settings.max_resolution_lag_seconds
        within = lag.seconds <= bound
        table.add_row("inbox lag", f"{lag.messages} messages, {lag.seconds:.1f} s")
        verdict = "[green]within[/green]" if within else "[red]past[/red]"
        table.add_row("lag bound", f"{verdict} the bound of {bound:g} s")
    engine.dispose()
    console.print(table)
    if not migrated:
        err.print("not ready: migrations are pending (run omnikanal db upgrade)")
    elif not within:
        err.print("not ready: identity resolution lags past its bound")
    if not (migrated and within):
        raise typer.Exit(2)


@app.command("worker")
@one_line_errors
def worker_command() -> None:
    """Run the outbox relay, timers and housekeeping until stopped."""
    from omnikanal.app import configure_logging
    from omnikanal.events.resolver import Resolver
    from omnikanal.worker import Worker

    settings = _settings()
    configure_logging(settings)
    registry = build_registry()
    factory = make_session_factory(
        make_engine(settings.resolved_database_url()), settings=settings, registry=registry
    )
    runner = Worker(session_factory=factory, settings=settings, registry=registry)
    resolver = Resolver.from_settings(factory, settings, after_commit=runner.relay.run_handlers)
    resolver.start()
    console.print("worker running; Ctrl-C or SIGTERM stops it")

    async def main() -> None:
        stop = anyio.Event()

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    stop.set()
                    return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stop_on_signal)
            await runner.run(stop)
            tasks.cancel_scope.cancel()

    try:
        anyio.run(main)
    finally:
        # Its lease goes to a standing-by worker at once instead of lapsing.
        resolver.close()


def _moment(value: str | None, default: datetime, *, option: str) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or time (2026-11-30, 2026-11-30T08:00+01:00)",
            param_hint=option,
        ) from None
    # A date or a zone-less time is UTC here, as --help says; the report prints UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@reports_app.command("price-audit")
@one_line_errors
def price_audit(
    since: Annotated[
        str | None, typer.Option(help="ISO date or time (UTC unless zoned); default 30 days ago.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="ISO date or time; default now.")] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only this channel.")] = None,
    limit: Annotated[int, typer.Option(help="Mismatched lines listed.")] = 50,
) -> None:
    """Order lines where a channel charged other than the price book said at that time."""
    from omnikanal.commerce import audit

    settings = _settings()
    end = _moment(until, datetime.now(UTC), option="--until")
    factory = make_session_factory(make_engine(settings.resolved_database_url()))
    with factory() as session:
        report = audit.price_audit(
            session,
            since=_moment(since, end - timedelta(days=30), option="--since"),
            until=end,
            channel=channel.value if channel else None,
            limit=limit,
        )
    console.print(
        f"{report.lines_checked} order lines from {report.since:%Y-%m-%d %H:%M} to "
        f"{report.until:%Y-%m-%d %H:%M} UTC; {report.mismatched} charged off the price book."
    )
    if not report.rows:
        return
    summary = Table(title="Off the price book, by channel and SKU")
    for column in ("channel", "SKU", "lines", "off the book", "difference (minor units)"):
        summary.add_column(column, justify="right" if column[0] in "lod" else "left")
    for row in report.rows:
        summary.add_row(
            row.channel,
            row.sku,
            str(row.lines),
            str(row.mismatched),
            f"{row.difference:+,} {row.currency}",
        )
    console.print(summary)
    lines = Table(title="The lines, newest first")
    for column in ("placed", "order", "channel", "location", "SKU", "qty", "charged", "book"):
        lines.add_column(column)
    for line in report.mismatches:
        lines.add_row(
            f"{line.placed_at:%Y-%m-%d %H:%M}",
            line.order_number,
            line.channel,
            line.location or "",
            line.sku,
            str(line.quantity),
            f"{line.charged:,} {line.currency}",
            f"{line.book_price:,} {line.currency}",
        )
    console.print(lines)


@privacy_app.command("export")
@one_line_errors
def privacy_export(
    profile: Annotated[str, typer.Option("--profile", help="The profile id.")],
    out: Annotated[Path, typer.Option("--out", help="The ZIP file to write.")],
) -> None:
    """Everything the hub holds of a person, as one ZIP (what GET .../export answers)."""
    from uuid import UUID

    from omnikanal.privacy import service as privacy_service
    from omnikanal.wiring import build_privacy_registry

    settings = _settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()), settings=settings)
    with unit_of_work(factory) as session:
        found = privacy_service.export(
            session,
            profile_id=UUID(profile),
            registry=build_privacy_registry(),
        )
    out.write_bytes(found.archive)
    console.print(f"profile {found.profile_id} exported to {out} ({len(found.archive):,} bytes)")


PERMISSIONS_DOC = Path("docs/permissions.md")


def permission_matrix() -> str:
    """docs/permissions.md from the routes of an app assembled as ``serve`` assembles it
    (on a throwaway database: only the routes are read)."""
    from omnikanal.app import create_app  # the whole app: only this command needs it

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{Path(folder) / 'routes.sqlite3'}",
            data_dir=Path(folder),
            embedded_worker=False,
            nats_url=None,
        )
        served = create_app(settings)
        try:
            return matrix_markdown(served)
        finally:
            served.state.ingest_writer.close()
            served.state.engine.dispose()


@app.command()
@one_line_errors
def permissions(
    out: Annotated[
        Path, typer.Option(help="Where to write the matrix (from the repository's root).")
    ] = PERMISSIONS_DOC,
) -> None:
    """Write the permission matrix (route × role), generated from the code."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(permission_matrix(), encoding="utf-8")
    console.print(f"wrote {out}")


def main() -> None:
    app()


class _RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        # Rich's own speed needs a few samples; a short run shows its overall rate.
        overall = task.completed / task.elapsed if task.elapsed else None
        speed = task.finished_speed or task.speed or overall
        return Text(f"{speed:>10,.0f} rows/s" if speed else f"{'':>10} rows/s")


def _export_progress(progress: Progress, description: str) -> Callable[[int, int | None], None]:
    task = progress.add_task(description, total=None)

    def advance(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    return advance


@app.command("export")
@one_line_errors
def export(
    kinds: Annotated[list[Kind], typer.Argument(help="What to export: events, orders, profiles.")],
    out: Annotated[Path, typer.Option("--out", help="The folder (one per warehouse).")],
    fmt: Annotated[Format, typer.Option("--format")] = Format.PARQUET,
    since: Annotated[
        str | None,
        typer.Option(help="ISO date or time (UTC unless zoned): start here, not at the cursor."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Start again from the beginning (new part files).")
    ] = False,
    gzip: Annotated[bool, typer.Option("--gzip", help="CSV only: .csv.gz files.")] = False,
    settle: Annotated[
        float, typer.Option(help="Seconds a change waits before it is exported.")
    ] = DEFAULT_SETTLE.total_seconds(),
    chunk: Annotated[int, typer.Option(help="Rows read and written at a time.")] = (
        DEFAULT_CHUNK_ROWS
    ),
) -> None:
    """Write what changed since the last export to a warehouse folder, partitioned by date
    (Hive style: <out>/<kind>/date=YYYY-MM-DD/part-<run>.parquet); docs/exports.md."""
    from omnikanal.exports import runner
    from omnikanal.exports.datasets import DATASETS

    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} is a file, not a folder", param_hint="--out")
    if gzip and fmt is not Format.CSV:
        raise typer.BadParameter(
            "is for CSV files (Parquet is compressed already)", param_hint="--gzip"
        )
    starts = _moment(since, datetime.now(UTC), option="--since") if since else None
    settings = _settings()
    engine = _reachable_engine(settings.resolved_database_url())
    factory = make_session_factory(engine, settings=settings)
    reader = make_session_factory(engine, read_only=True, settings=settings)
    reports: list[runner.Report] = []
    try:
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            for kind in dict.fromkeys(kinds):
                reports.append(
                    runner.run(
                        factory,
                        kind=kind,
                        out=out,
                        fmt=fmt,
                        since=starts,
                        full=full,
                        gzip=gzip,
                        settle=timedelta(seconds=settle),
                        chunk_rows=chunk,
                        read_factory=reader,
                        progress=_export_progress(progress, kind.value),
                    )
                )
    finally:
        engine.dispose()
    summary = Table(title=f"Exported to {out.resolve()}")
    for column in ("kind", "files", "rows", "bytes"):
        summary.add_column(column, justify="left" if column == "kind" else "right")
    for report in reports:
        for dataset in DATASETS[report.kind]:
            files = [f for f in report.files if f.dataset == dataset.name]
            summary.add_row(
                dataset.name,
                f"{len(files):,}",
                f"{sum(f.rows for f in files):,}",
                f"{sum(f.bytes for f in files):,}",
            )
    console.print(summary)


@retention_app.command("run")
@one_line_errors
def retention_run() -> None:
    """Delete or blank what is past its retention now, in the worker's small batches (at
    most OMNIKANAL_RETENTION_MAX_ROWS_PER_RUN rows per kind; run again for more)."""
    from omnikanal.privacy import retention

    settings = _settings()
    engine = _reachable_engine(settings.resolved_database_url())
    factory = make_session_factory(engine, settings=settings)
    kinds = retention.kinds(settings)
    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        TextColumn("{task.fields[removed]:>8,} removed  {task.fields[note]}"),
        console=console,
    ) as progress:
        tasks = {
            kind.name: progress.add_task(
                kind.description,
                total=1,
                removed=0,
                note="kept forever" if kind.days == 0 else f"older than {kind.days} days",
            )
            for kind in kinds
        }
        for kind in kinds:
            if kind.days == 0:
                progress.update(tasks[kind.name], completed=1)

        removed = dict.fromkeys(tasks, 0)

        def batch_done(kind: retention.Kind, count: int) -> None:
            task = tasks[kind.name]
            removed[kind.name] += count
            progress.update(task, removed=removed[kind.name])
            if count < settings.retention_batch_size:
                progress.update(task, completed=1)

        with unit_of_work(factory) as session:
            report = retention.run(session, settings, progress=batch_done)
        for task in tasks.values():
            progress.update(task, completed=1)
    engine.dispose()
    console.print(f"{report.total:,} rows and files removed", highlight=False)


@duplicates_app.command("compute")
@one_line_errors
def duplicates_compute(
    threshold: Annotated[
        float,
        typer.Option("--threshold", min=0.0, max=1.0, help="Least match probability suggested."),
    ] = 0.9,
) -> None:
    """Score every live profile against the others (Splink on DuckDB, trained without
    labels) and bring the open suggestions up to date, in one transaction; decided pairs
    are left alone. For any number of profiles (the API computes a limited number)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from omnikanal.customers import service as customers_service

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")

    settings = _settings()
    engine = _reachable_engine(settings.resolved_database_url())
    factory = make_session_factory(engine, settings=settings)
    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int) -> None:
            kind = "reading" if step == "reading profiles" else "linking"
            if kind not in tasks:
                tasks[kind] = progress.add_task(step, total=total or None)
            progress.update(tasks[kind], description=step, completed=done, total=total or None)

        with unit_of_work(factory) as session:
            result = customers_service.recompute_duplicates(
                session, threshold=threshold, progress=report
            )
    engine.dispose()
    console.print(
        f"{result.people:,} people compared: {result.found:,} likely pairs, "
        f"{result.added:,} new suggestions, {result.updated:,} scored again, "
        f"{result.dropped:,} no longer found",
        highlight=False,
    )
