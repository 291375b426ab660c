"""Liveness and readiness, for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from omnikanal import migrate
from omnikanal.auth.permissions import Public
from omnikanal.errors import problem_response
from omnikanal.events import service as events_service

# Load balancers and orchestrators ask without a key.
router = APIRouter(tags=["health"], dependencies=[Public])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def resolution(lag: events_service.ResolutionLag) -> dict[str, int | float]:
    return {"lagging_messages": lag.messages, "lag_seconds": round(lag.seconds, 3)}


@router.get("/ready", response_model=None)
def ready(request: Request) -> dict[str, object] | Response:
    """The database answers, its schema is at the newest migration, ingestion runs, and
    identity resolution is within OMNIKANAL_MAX_RESOLUTION_LAG_SECONDS of it."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except SQLAlchemyError as exc:
        return problem_response(
            status=503,
            code="database_unavailable",
            title="Not ready",
            detail=f"The database does not answer: {type(exc).__name__}.",
            request=request,
        )
    writer = getattr(request.app.state, "ingest_writer", None)
    if writer is not None and not writer.alive:
        # Its thread died (the next ingest starts a new one) or the app is shutting down.
        return problem_response(
            status=503,
            code="ingest_writer_down",
            title="Not ready",
            detail="The ingest writer is not running: events cannot be stored right now.",
            request=request,
        )
    head = migrate.head_revision()
    if current != head:
        return problem_response(
            status=503,
            code="migrations_pending",
            title="Not ready",
            detail=f"The database is at revision {current}, the code expects {head}.",
            request=request,
        )
    with request.app.state.read_session_factory() as session:
        lag = events_service.resolution_lag(session)
    bound = request.app.state.settings.max_resolution_lag_seconds
    if lag.seconds > bound:
        # Reads given a position would time out, and the backlog only grows: take this
        # process out of rotation until the resolver catches up.
        return problem_response(
            status=503,
            code="resolution_lagging",
            title="Not ready",
            detail=f"Identity resolution is {lag.seconds:.0f} s behind ({lag.messages} "
            f"messages waiting); the bound is {bound:g} s.",
            request=request,
            resolution=resolution(lag),
        )
    return {
        "status": "ready",
        "database": "ok",
        "revision": str(head),
        "resolution": resolution(lag),
    }
