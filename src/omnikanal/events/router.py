"""Segment-compatible ingestion (write keys), and the timeline and unmerge (secret keys).

The ingestion paths commit through the group-commit writer, not the request's unit of
work (``INGEST_PATHS`` tells the middleware); the answer is sent after that commit, with
the position to read after (``Omnikanal-Position``) once the resolver has placed it.
"""

import asyncio
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError

from omnikanal.auth.dependencies import SourceKey
from omnikanal.auth.service import SourceActor
from omnikanal.customers import service as customers_service
from omnikanal.customers.dependencies import ProfileEditor, ProfileReader
from omnikanal.customers.duplicates_router import suggestion_read
from omnikanal.customers.router import profile_read
from omnikanal.customers.schemas import DuplicateSuggestionRead, ProfileRead
from omnikanal.errors import BadRequest, CommonErrorCode, PayloadTooLarge, validation_errors
from omnikanal.events import service
from omnikanal.events.dependencies import POSITION_HEADER, ResolvedThrough
from omnikanal.events.schemas import (
    MESSAGE_TYPES,
    ClientTime,
    IngestResponse,
    RejectedMessage,
    SegmentMessage,
    TimelineEntry,
    TimelinePage,
)
from omnikanal.events.service import EventErrorCode, IngestJob, ValidMessage
from omnikanal.events.writer import IngestWriter
from omnikanal.http import DbSession
from omnikanal.kit.pagination import (
    PageParams,
    decode_time_cursor,
    encode_time_cursor,
    page_params,
)
from omnikanal.kit.time import utcnow
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

router = APIRouter(prefix="/v1", tags=["ingestion"])
profiles_router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

INGEST_PATHS = frozenset({f"/v1/{t}" for t in MESSAGE_TYPES} | {"/v1/batch"})

_MESSAGE_SCHEMA = SegmentMessage.model_json_schema(by_alias=True)
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE_SCHEMA},
        "sentAt": {"type": "string", "format": "date-time"},
    },
}


def _body(schema: dict[str, Any], limit: int) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
            "description": f"At most {limit // 1024} KB (after gzip decompression).",
        }
    }


def _problem(exc: BadRequest | PayloadTooLarge) -> BadRequest | PayloadTooLarge:
    # Segment's clients read `message` from error bodies.
    exc.extra.setdefault("message", exc.detail)
    return exc


async def _read_json(request: Request, limit: int) -> Any:
    body = await request.body()
    if len(body) > limit:
        raise _problem(
            PayloadTooLarge(
                EventErrorCode.MESSAGE_TOO_LARGE
                if limit == service.MAX_MESSAGE_BYTES
                else CommonErrorCode.PAYLOAD_TOO_LARGE,
                f"The body is {len(body)} bytes; at most {limit} are accepted here.",
            )
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _problem(
            BadRequest(CommonErrorCode.MALFORMED_JSON, f"The body is not valid JSON: {exc}.")
        ) from exc


async def _store(
    request: Request,
    response: Response,
    source: SourceActor,
    valid: list[ValidMessage],
    rejected: list[RejectedMessage],
    *,
    single: bool,
    sent_at: datetime | None,
    received_at: datetime,
) -> IngestResponse:
    if not valid:
        # A lone message's own reason; for a batch, the list of reasons.
        code, reason = (
            (rejected[0].code, rejected[0].reason)
            if single
            else (EventErrorCode.NO_VALID_MESSAGES, "No message in the batch is valid.")
        )
        raise _problem(
            BadRequest(
                code,
                reason,
                rejected=[r.model_dump() for r in rejected],
                errors=[e.model_dump() for r in rejected for e in r.errors],
            )
        )
    writer: IngestWriter = request.app.state.ingest_writer
    job = IngestJob(source=source, messages=valid, received_at=received_at, sent_at=sent_at)
    outcome = await asyncio.wrap_future(writer.submit(job))
    response.headers[POSITION_HEADER] = str(outcome.position)
    return IngestResponse(
        received=len(valid) + len(rejected),
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        rejected=rejected,
    )


async def _single(
    request: Request, response: Response, source: SourceActor, type_: str
) -> IngestResponse:
    received_at = utcnow()
    raw = await _read_json(request, service.MAX_MESSAGE_BYTES)
    if not isinstance(raw, dict):
        raise _problem(BadRequest(EventErrorCode.INVALID_MESSAGE, "The body is a JSON object."))
    raw.setdefault("type", type_)
    if raw["type"] != type_:
        raise _problem(
            BadRequest(
                EventErrorCode.UNKNOWN_TYPE,
                f"This path takes {type_} messages, not {raw['type']!r}.",
                errors=[{"field": "type", "message": f"must be {type_!r}"}],
            )
        )
    checked = service.validate(raw, 0, received_at=received_at)
    valid = [checked] if isinstance(checked, ValidMessage) else []
    rejected = [checked] if isinstance(checked, RejectedMessage) else []
    return await _store(
        request,
        response,
        source,
        valid,
        rejected,
        single=True,
        sent_at=None,
        received_at=received_at,
    )


def _single_schema(type_: str) -> dict[str, Any]:
    """The message schema of one path: its own ``type`` only, which may be left out."""
    properties = {**_MESSAGE_SCHEMA["properties"], "type": {"const": type_, "type": "string"}}
    required = [name for name in _MESSAGE_SCHEMA.get("required", []) if name != "type"]
    return {**_MESSAGE_SCHEMA, "properties": properties, "required": required}


def _single_endpoint(type_: str) -> None:
    async def endpoint(request: Request, response: Response, source: SourceKey) -> IngestResponse:
        return await _single(request, response, source, type_)

    endpoint.__name__ = type_
    router.add_api_route(
        f"/{type_}",
        endpoint,
        methods=["POST"],
        response_model=IngestResponse,
        summary=f"Ingest one {type_} message (Segment HTTP Tracking API)",
        openapi_extra=_body(_single_schema(type_), service.MAX_MESSAGE_BYTES),
    )


for _type in MESSAGE_TYPES:
    _single_endpoint(_type)


@router.post(
    "/batch",
    response_model=IngestResponse,
    summary="Ingest a batch of messages (what Segment's and RudderStack's clients send)",
    openapi_extra=_body(_BATCH_SCHEMA, service.MAX_BATCH_BYTES),
)
async def batch(request: Request, response: Response, source: SourceKey) -> IngestResponse:
    """Valid messages are stored even when others are not; `rejected` says which and why."""
    received_at = utcnow()
    raw = await _read_json(request, service.MAX_BATCH_BYTES)
    if not isinstance(raw, dict) or not isinstance(raw.get("batch"), list):
        raise _problem(
            BadRequest(
                EventErrorCode.INVALID_BATCH,
                "The body is an object with a `batch` list of messages.",
                errors=[{"field": "batch", "message": "must be a list of messages"}],
            )
        )
    if not raw["batch"]:
        raise _problem(BadRequest(EventErrorCode.INVALID_BATCH, "The batch is empty."))
    sent_at = _batch_sent_at(raw.get("sentAt"))
    valid: list[ValidMessage] = []
    rejected: list[RejectedMessage] = []
    small = len(await request.body()) <= service.MAX_MESSAGE_BYTES
    for index, item in enumerate(raw["batch"]):
        checked = service.validate(
            item,
            index,
            small=small,
            path=f"batch[{index}]",
            received_at=received_at,
            sent_at=sent_at,
        )
        (valid if isinstance(checked, ValidMessage) else rejected).append(checked)  # type: ignore[arg-type]
    return await _store(
        request,
        response,
        source,
        valid,
        rejected,
        single=False,
        sent_at=sent_at,
        received_at=received_at,
    )


class _BatchEnvelope(BaseModel):
    sent_at: ClientTime | None = Field(default=None, alias="sentAt")


def _batch_sent_at(value: Any) -> datetime | None:
    """The batch's sentAt, which corrects the clock skew of every message without its own:
    one that is not a time in the accepted range would misplace them all, so the batch is
    refused whole (absent or null, the messages are taken as stamped)."""
    try:
        return _BatchEnvelope.model_validate({"sentAt": value}).sent_at
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise _problem(
            BadRequest(
                EventErrorCode.INVALID_BATCH,
                f"The batch's sentAt {errors[0]['message']}.",
                errors=[{"field": e["field"], "message": e["message"]} for e in errors],
            )
        ) from exc


# -- the timeline and unmerge (they move events, which this domain owns) --


def _cursor(value: str | None) -> tuple[datetime, UUID] | None:
    if value is None:
        return None
    return decode_time_cursor(value)


@profiles_router.get("/{profile_id}/timeline", response_model=TimelinePage)
def timeline(
    profile_id: UUID,
    session: DbSession,
    actor: ProfileReader,
    _resolved: ResolvedThrough,
    page: Annotated[PageParams, Depends(page_params)],
    reason: AccessReason = None,
) -> TimelinePage:
    """Everything the person did on every channel, newest first, each with its channel."""
    live_id, entries = service.timeline(
        session, profile_id=profile_id, before=_cursor(page.cursor), limit=page.limit + 1
    )
    access.record(
        session, actor=actor, action=AccessAction.TIMELINE, profile_id=live_id, reason=reason
    )
    shown = entries[: page.limit]
    items = [
        TimelineEntry(
            id=e.event.id,
            type=e.event.type,
            name=e.event.name,
            channel=e.event.channel,
            source=e.source_name,
            location=e.event.location,
            timestamp=e.event.timestamp,
            received_at=e.event.received_at,
            message_id=e.event.message_id,
            properties=e.event.message.get("properties") or {},
            traits=service.user_traits(e.event),
        )
        for e in shown
    ]
    next_cursor = None
    if len(entries) > page.limit:
        last = shown[-1].event
        next_cursor = encode_time_cursor(last.timestamp, last.id)
    return TimelinePage(profile_id=live_id, items=items, next_cursor=next_cursor)


class UnmergeRequest(BaseModel):
    merge_id: UUID | None = Field(
        default=None, description="The merge to undo (from the merge log); default the latest."
    )


class UnmergeResult(BaseModel):
    merge_id: UUID
    profile: ProfileRead
    restored_profile: ProfileRead


@profiles_router.post("/{profile_id}/unmerge", response_model=UnmergeResult)
def unmerge(
    profile_id: UUID, session: DbSession, actor: ProfileEditor, body: UnmergeRequest | None = None
) -> UnmergeResult:
    """Split a merge back out: the merged profile returns with its identifiers and events."""
    result = service.unmerge(
        session,
        profile_id=profile_id,
        merge_id=body.merge_id if body else None,
        actor=f"{actor.role.value} key {actor.name}",
    )
    access.record(session, actor=actor, action=AccessAction.UNMERGE, profile_id=result.profile_id)
    return UnmergeResult(
        merge_id=result.merge_id,
        profile=profile_read(customers_service.get_profile(session, profile_id=result.profile_id)),
        restored_profile=profile_read(
            customers_service.get_profile(session, profile_id=result.restored_profile_id)
        ),
    )


class AcceptedDuplicateRead(BaseModel):
    suggestion: DuplicateSuggestionRead
    merge_id: UUID = Field(description="The merge in the merge log; undo it with /unmerge.")
    profile: ProfileRead = Field(description="The profile that stayed, now the one person.")


@profiles_router.post("/duplicates/{suggestion_id}/accept", response_model=AcceptedDuplicateRead)
def accept_duplicate(
    suggestion_id: UUID, session: DbSession, actor: ProfileEditor
) -> AcceptedDuplicateRead:
    """One person after all: the two profiles merge (rule ``probabilistic`` in the merge
    log, with the probability; undone like any merge by ``POST /v1/profiles/{id}/unmerge``),
    and the merged profile's events join the profile that stayed."""
    result = service.accept_duplicate(
        session, suggestion_id=suggestion_id, actor=f"{actor.role.value} key {actor.name}"
    )
    access.record(
        session,
        actor=actor,
        action=AccessAction.DUPLICATE_DECISION,
        profile_id=result.profile_id,
    )
    return AcceptedDuplicateRead(
        suggestion=suggestion_read(
            customers_service.get_duplicate(session, suggestion_id=suggestion_id)
        ),
        merge_id=result.merge_id,
        profile=profile_read(customers_service.get_profile(session, profile_id=result.profile_id)),
    )
