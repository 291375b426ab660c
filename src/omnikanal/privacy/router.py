"""Export a person's data; erase a person and follow the erasure; the access log."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from omnikanal.auth.dependencies import AdminKey
from omnikanal.http import DbSession
from omnikanal.kit.limits import Moment
from omnikanal.kit.pagination import (
    PageParams,
    page_params,
)
from omnikanal.privacy import erasure, service
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import Eraser, ExportingStaff, ExportReason, Registry
from omnikanal.privacy.models import AccessLogEntry, PrivacyRequest
from omnikanal.privacy.schemas import (
    AccessActorRead,
    AccessLogEntryRead,
    AccessLogPage,
    PrivacyRequestRead,
    StepRead,
)

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
) -> Response:
    """Everything the hub holds of the person (GDPR art. 15 and 20), as one ZIP. A
    merged-away id exports the profile it joined. Admins; agents with a `reason`. Each
    export is recorded in the access log with who asked and why."""
    found = service.export(session, profile_id=profile_id, registry=registry)
    # Written by the edge before the archive leaves (a read's session only reads).
    service.record_export(session, actor=actor, profile_id=found.profile_id, reason=reason)
    return zip_response(found)


def zip_response(found: service.Export) -> Response:
    """The archive as a download no cache keeps (the API's and the console's)."""
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


def entry_read(entry: AccessLogEntry) -> AccessLogEntryRead:
    return AccessLogEntryRead(
        at=entry.at,
        actor=AccessActorRead(
            kind=entry.actor_kind, id=entry.actor_id, name=entry.actor_name, role=entry.actor_role
        ),
        action=AccessAction(entry.action),
        profile_id=entry.profile_id,
        conversation_id=entry.conversation_id,
        reason=entry.reason,
    )


@router.get("/v1/audit-log", response_model=AccessLogPage)
def audit_log(
    session: DbSession,
    _: AdminKey,
    page: Annotated[PageParams, Depends(page_params)],
    profile_id: Annotated[
        UUID | None, Query(description="A person; any id they had (merged-away ids too).")
    ] = None,
    actor_id: Annotated[
        UUID | None, Query(description="The secret key or staff account that acted.")
    ] = None,
    action: AccessAction | None = None,
    since: Annotated[Moment | None, Query(description="A zoned date-time, included.")] = None,
    until: Annotated[Moment | None, Query(description="A zoned date-time, not included.")] = None,
) -> AccessLogPage:
    """Who read or changed a person's data, when, what and why: newest first."""
    shown, next_cursor = service.access_log(
        session,
        profile_id=profile_id,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
        cursor=page.cursor,
        limit=page.limit,
    )
    return AccessLogPage(items=[entry_read(e) for e in shown], next_cursor=next_cursor)
