"""Export a person's data; erase a person and follow the erasure."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from omnikanal.http import DbSession
from omnikanal.privacy import erasure, service
from omnikanal.privacy.dependencies import Eraser, ExportingStaff, ExportReason, Registry
from omnikanal.privacy.models import PrivacyRequest
from omnikanal.privacy.schemas import PrivacyRequestRead, StepRead
from omnikanal.uow import unit_of_work

router = APIRouter(tags=["privacy"])

ZIP = "application/zip"
EXPORT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One ZIP: a JSON file per part (profile, identifiers, traits, "
        "events, carts, orders, returns, loyalty, conversations, consents, messages, "
        "notifications, merge_log ...) and README.txt saying what each holds.",
        "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
    }
}
ERASE_ANSWER: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The erasure is queued (or already under way): follow it at Location.",
        "headers": {
            "Location": {
                "description": "The request's status, /v1/privacy/requests/{id}.",
                "schema": {"type": "string"},
            }
        },
    }
}


def request_read(found: PrivacyRequest) -> PrivacyRequestRead:
    return PrivacyRequestRead(
        id=found.id,
        kind=found.kind,
        status=found.status,
        profile_id=found.profile_id,
        profile_ids=[UUID(i) for i in found.profile_ids],
        steps=[StepRead.model_validate(step) for step in found.steps],
        error=found.error,
        requested_by=found.requested_by,
        requested_at=found.requested_at,
        started_at=found.started_at,
        finished_at=found.finished_at,
    )


def request_location(request_id: UUID) -> str:
    return f"/v1/privacy/requests/{request_id}"


@router.get(
    "/v1/profiles/{profile_id}/export",
    response_class=Response,
    responses=EXPORT_ANSWER,
    summary="Export a person's data",
)
def export_profile(
    profile_id: UUID,
    session: DbSession,
    actor: ExportingStaff,
    reason: ExportReason,
    registry: Registry,
    request: Request,
) -> Response:
    """Everything the hub holds of the person (GDPR art. 15 and 20), as one ZIP. A
    merged-away id exports the profile it joined. Admins; agents with a `reason`. Each
    export is recorded in the access log with who asked and why."""
    found = service.export(session, profile_id=profile_id, registry=registry)
    # A read's session is read-only and rolled back: the access log is written in a
    # transaction of its own, before the data leaves.
    with unit_of_work(request.app.state.session_factory) as write:
        service.record_export(write, actor=actor, profile_id=found.profile_id, reason=reason)
    return Response(
        content=found.archive,
        media_type=ZIP,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/v1/profiles/{profile_id}/erase",
    status_code=202,
    response_model=PrivacyRequestRead,
    responses=ERASE_ANSWER,
    summary="Erase a person",
)
def erase_profile(
    profile_id: UUID, session: DbSession, actor: Eraser, registry: Registry, response: Response
) -> PrivacyRequestRead:
    """Erase the person (GDPR art. 17) across every domain, as a durable job the worker
    runs. Orders, returns and the loyalty ledger are kept for bookkeeping without the
    person; their addresses go on the marketing suppression list. When done, a
    `profile.erased` event (ids only) goes to webhooks and NATS."""
    found = erasure.request(session, profile_id=profile_id, actor=actor, registry=registry)
    response.headers["Location"] = request_location(found.id)
    return request_read(found)


@router.get("/v1/privacy/requests/{request_id}", response_model=PrivacyRequestRead)
def get_request(request_id: UUID, session: DbSession, _: Eraser) -> PrivacyRequestRead:
    """An erasure's status, step by step."""
    return request_read(erasure.get(session, request_id=request_id))
