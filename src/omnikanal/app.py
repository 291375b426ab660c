"""The app factory: everything is built here from ``Settings``, nothing at import time."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from omnikanal import __version__, health
from omnikanal.analytics.router import router as analytics_router
from omnikanal.auth.dependencies import SourceKeyCache
from omnikanal.auth.permissions import public_route
from omnikanal.auth.router import router as auth_router
from omnikanal.catalog.router import router as catalog_router
from omnikanal.commerce.router import router as commerce_router
from omnikanal.config import Settings
from omnikanal.console import router as console
from omnikanal.console.dependencies import RoleNotAllowed, SignInRequired
from omnikanal.console.headers import NoStoreMiddleware
from omnikanal.conversations.router import router as conversations_router
from omnikanal.customers.router import router as customers_router
from omnikanal.db import make_engine, make_session_factory, request_capacity
from omnikanal.errors import install_error_handlers
from omnikanal.events.resolver import Resolver
from omnikanal.events.router import INGEST_PATHS
from omnikanal.events.router import profiles_router as events_profiles_router
from omnikanal.events.router import router as ingestion_router
from omnikanal.events.writer import IngestWriter
from omnikanal.experiments.router import router as experiments_router
from omnikanal.exports.router import router as exports_router
from omnikanal.http import UnitOfWorkMiddleware, count_statements
from omnikanal.imports.router import IMPORTS_PATH
from omnikanal.imports.router import router as imports_router
from omnikanal.inventory.router import locations_router
from omnikanal.inventory.router import router as inventory_router
from omnikanal.loyalty.router import router as loyalty_router
from omnikanal.marketing.router import router as marketing_router
from omnikanal.notifications.router import router as notifications_router
from omnikanal.openapi import install_openapi
from omnikanal.outbox.registry import HandlerRegistry
from omnikanal.outbox.relay import Reactions, Relay
from omnikanal.outbox.router import router as outbox_router
from omnikanal.privacy.router import router as privacy_router
from omnikanal.recommendations.router import router as recommendations_router
from omnikanal.wiring import build_privacy_registry, build_registry
from omnikanal.worker import Worker

DESCRIPTION = """
One customer, one cart, one price, one stock, one conversation and one history for every
channel: stores and tills, web shop, app, email, chat, phone and social.

**Credentials.** Channels ingest with a source's *write key* as the HTTP Basic user name
(empty password), as Segment's clients do. Staff and back ends use a *secret key* as
`Authorization: Bearer <key>`; its role (admin, agent, store, marketer, analyst) limits
what it may do. People sign in to the console at `/console` with their staff account.

**Errors** are RFC 9457 problem details with a stable `code`. **Retries**: every POST that
creates something honours `Idempotency-Key`.
"""


def create_app(settings: Settings, *, registry: HandlerRegistry | None = None) -> FastAPI:
    registry = registry or build_registry()
    engine = make_engine(settings.resolved_database_url())
    if settings.count_statements:
        count_statements(engine)
    session_factory = make_session_factory(engine, settings=settings, registry=registry)
    read_session_factory = make_session_factory(
        engine, read_only=True, settings=settings, registry=registry
    )
    relay = Relay(session_factory=session_factory, settings=settings, registry=registry)
    # Requests' reactions run after their answer, on a thread of their own.
    reactions = Reactions(relay)
    resolver = Resolver.from_settings(session_factory, settings, after_commit=relay.run_handlers)
    # The writer starts the resolver with its own thread and stops it when closed.
    ingest_writer = IngestWriter(
        session_factory, after_commit=relay.run_handlers, resolver=resolver
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = anyio.Event()
        # Messages acknowledged before a restart are resolved without waiting for new ones.
        resolver.start()
        async with anyio.create_task_group() as tasks:
            if settings.embedded_worker:
                worker = Worker(
                    session_factory=session_factory, settings=settings, registry=registry
                )
                tasks.start_soon(worker.run, stop)
            try:
                yield
            finally:
                stop.set()
        await anyio.to_thread.run_sync(ingest_writer.close)
        await anyio.to_thread.run_sync(reactions.close)
        engine.dispose()

    app = FastAPI(
        title="omnikanal",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.read_session_factory = read_session_factory
    app.state.registry = registry
    app.state.privacy_registry = build_privacy_registry()
    app.state.relay = relay
    app.state.reactions = reactions
    app.state.ingest_writer = ingest_writer
    app.state.resolver = resolver
    app.state.source_keys = SourceKeyCache()
    install_error_handlers(app)
    install_openapi(app)
    app.state.problem_pages = {"/console": console.console_problem_page}
    app.add_exception_handler(SignInRequired, console.sign_in_redirect)
    app.add_exception_handler(RoleNotAllowed, console.role_not_allowed_page)
    app.add_middleware(
        UnitOfWorkMiddleware,
        session_factory=session_factory,
        read_session_factory=read_session_factory,
        max_body_bytes=settings.max_body_bytes,
        after_response=reactions.react,
        own_transaction_paths=INGEST_PATHS,
        max_concurrent=request_capacity(settings.resolved_database_url()),
        upload_paths={IMPORTS_PATH: settings.import_max_upload_bytes},
        statements_header=settings.count_statements,
    )
    # Added last, so outermost: it sees every console answer, the middleware's own too.
    app.add_middleware(NoStoreMiddleware)
    app.include_router(health.router)
    app.include_router(auth_router)
    app.include_router(ingestion_router)
    app.include_router(customers_router)
    app.include_router(catalog_router)
    app.include_router(commerce_router)
    app.include_router(locations_router)
    app.include_router(inventory_router)
    app.include_router(events_profiles_router)
    app.include_router(outbox_router)
    app.include_router(loyalty_router)
    app.include_router(notifications_router)
    app.include_router(conversations_router)
    app.include_router(marketing_router)
    app.include_router(privacy_router)
    app.include_router(exports_router)
    app.include_router(experiments_router)
    app.include_router(imports_router)
    app.include_router(analytics_router)
    app.include_router(recommendations_router)
    app.include_router(console.router)
    static = Mount(
        "/console/static",
        app=StaticFiles(packages=[("omnikanal.console", "static")]),
        name="console-static",
    )
    # Style sheets for the sign-in page too: nothing in them is secret.
    app.router.routes.append(public_route(static))
    return app


def app_from_environment() -> FastAPI:
    """uvicorn's factory for ``serve``: each worker process builds its own app (engine,
    pools, embedded worker) from the environment, which ``serve`` fills from its options."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryStringDropped) for f in access.filters):
        access.addFilter(QueryStringDropped())


class QueryStringDropped(logging.Filter):
    """uvicorn's access log without query strings: look-ups carry people in them
    (``/v1/profiles?email=``), and logs are kept, copied and read more widely than the
    database. The path stays; its ids name no one."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs (client, method, path with query, HTTP version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query:
                record.args = (args[0], args[1], f"{path}?…", *args[3:])
        return True
