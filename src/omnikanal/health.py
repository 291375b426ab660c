"""Liveness and readiness, for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from omnikanal import migrate
from omnikanal.errors import problem_response

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(request: Request) -> dict[str, str] | Response:
    """The database answers, its schema is at the newest migration, and ingestion runs."""
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
    return {"status": "ready", "database": "ok", "revision": str(head)}
