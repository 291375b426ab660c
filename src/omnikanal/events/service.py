"""Ingestion of Segment-spec messages, the timeline, and moving events when identity changes.

Messages are validated one by one (a bad one never sinks its batch), then stored in bulk:
each message is placed with its person by the identity graph (customers service) and
written once per (source, messageId).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from omnikanal.auth import service as auth_service
from omnikanal.auth.service import SourceActor
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import ANONYMOUS_ID, DEFAULT_RULES, USER_ID
from omnikanal.customers.service import Sighting
from omnikanal.errors import validation_errors
from omnikanal.events import repository
from omnikanal.events.models import Event
from omnikanal.events.schemas import (
    MAX_ID_LENGTH,
    FieldError,
    RejectedMessage,
    SegmentMessage,
    corrected_timestamp,
    describe_skew,
    person_traits,
)
from omnikanal.kit.ids import new_id
from omnikanal.kit.limits import MAX_JSON_DEPTH, json_problem
from omnikanal.kit.time import utcnow

# Segment's limits: 32 KB a message, 500 KB a batch.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024


class EventErrorCode(StrEnum):
    INVALID_MESSAGE = "invalid_message"
    INVALID_BATCH = "invalid_batch"
    UNKNOWN_TYPE = "unknown_type"
    MESSAGE_TOO_LARGE = "message_too_large"
    NO_VALID_MESSAGES = "no_valid_messages"


@dataclass(frozen=True)
class ValidMessage:
    index: int
    message: SegmentMessage
    raw: dict[str, Any]
    # When it happened: the client's timestamp corrected for clock skew (Segment's rule).
    seen_at: datetime


@dataclass(frozen=True)
class IngestJob:
    """One request's valid messages, with who sent them and when they arrived."""

    source: SourceActor
    messages: list[ValidMessage]
    received_at: datetime
    # A batch's own sentAt, for messages that carry none.
    sent_at: datetime | None = None


@dataclass
class IngestOutcome:
    stored: int = 0
    duplicates: int = 0


# -- validation --


def validate(
    raw: Any,
    index: int,
    *,
    small: bool = False,
    path: str = "",
    received_at: datetime | None = None,
    sent_at: datetime | None = None,
) -> ValidMessage | RejectedMessage:
    """One message, checked against Segment's spec and the limits of what stores it;
    never raises. ``small``: the caller knows the message is within the size limit (its
    whole body is). ``path``: where the message is in the request (``batch[3]``), for the
    fields named in a rejection. ``sent_at``: the batch's own sentAt."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    message_id = str(message_id) if isinstance(message_id, str | int) else None

    def reject(code: str, reason: str, errors: list[FieldError]) -> RejectedMessage:
        return RejectedMessage(
            index=index, message_id=message_id, code=code, reason=reason, errors=errors
        )

    if not isinstance(raw, dict):
        return reject(EventErrorCode.INVALID_MESSAGE, "A message is a JSON object.", [])
    # Nesting and NUL characters first: nothing below (not even measuring the message's
    # size, nor the database) copes with them. Checked cheaply, named by json_problem.
    deep = _nests_deeper(raw, MAX_JSON_DEPTH)
    encoded = b"" if deep else orjson.dumps(raw)
    # orjson writes a NUL as \u0000; a literal "\\u0000" only costs the full check.
    if deep or b"\\u0000" in encoded:
        problem = json_problem(raw, path=path)
        if problem is not None:
            field, why = problem
            return reject(EventErrorCode.INVALID_MESSAGE, f"{field} {why}.", [_error(field, why)])
    if not small and len(encoded) > MAX_MESSAGE_BYTES:
        return reject(
            EventErrorCode.MESSAGE_TOO_LARGE,
            f"The message is larger than {MAX_MESSAGE_BYTES} bytes.",
            [],
        )
    try:
        message = SegmentMessage.model_validate(raw)
    except ValidationError as exc:
        errors = [
            _error(_within(path, e["field"]), e["message"]) for e in validation_errors(exc.errors())
        ]
        if any(e.field == _within(path, "type") for e in errors):
            return reject(
                EventErrorCode.UNKNOWN_TYPE,
                f"Unknown message type {raw.get('type')!r}; expected identify, track, page, "
                "screen, alias or group.",
                errors,
            )
        return reject(
            EventErrorCode.INVALID_MESSAGE,
            "Invalid fields: " + ", ".join(sorted({e.field for e in errors})),
            errors,
        )
    # (field, what is wrong with it, the sentence for the rejection's reason)
    problems = [(name, why, why) for name, why in message.missing_fields()]
    problems += [(name, why, f"{name} {why}") for name, why in _identifier_problems(message)]
    effective_sent_at = message.sent_at or sent_at
    seen_at = corrected_timestamp(message.timestamp, effective_sent_at, received_at or utcnow())
    if seen_at is None and message.timestamp and effective_sent_at:
        why = describe_skew(message.timestamp, effective_sent_at)
        problems.append(("timestamp", why, f"timestamp {why}"))
    if problems or seen_at is None:
        return reject(
            EventErrorCode.INVALID_MESSAGE,
            "; ".join(sentence for _, _, sentence in problems),
            [_error(_within(path, name), why) for name, why, _ in problems],
        )
    return ValidMessage(index=index, message=message, raw=raw, seen_at=seen_at)


def _nests_deeper(value: Any, levels: int) -> bool:
    """Whether objects and lists nest more than ``levels`` deep, ``value`` the first level
    (as ``json_problem`` counts). This runs on every message: one level at a time, only
    containers visited (``type() is``: parsed JSON holds exact dicts and lists)."""
    level = [value]
    for _ in range(levels):
        level = [
            child
            for parent in level
            for child in (parent.values() if type(parent) is dict else parent)
            if type(child) is dict or type(child) is list
        ]
        if not level:
            return False
    return True


def _error(field: str, message: str) -> FieldError:
    return FieldError(field=field, message=message)


def _within(path: str, field: str) -> str:
    """A message's field as named in the request: ``batch[3].userId`` in a batch."""
    if not path:
        return field
    return f"{path}.{field}" if field else path


# Identifying traits become identifier rows (customer_identifier.value): too long there,
# even once lower-cased (an email's "İ" becomes two characters), is the message's fault.
_IDENTIFYING_TRAITS = frozenset(DEFAULT_RULES) - {USER_ID, ANONYMOUS_ID}


def _identifier_problems(message: SegmentMessage) -> list[tuple[str, str]]:
    sources = [("context.traits", (message.context or {}).get("traits"))]
    if message.type == "identify":
        sources.append(("traits", message.traits))
    problems: list[tuple[str, str]] = []
    for prefix, traits in sources:
        if not isinstance(traits, dict):
            continue
        for name in _IDENTIFYING_TRAITS.intersection(traits):
            value = traits[name]
            if isinstance(value, str) and len(value.strip().lower()) > MAX_ID_LENGTH:
                problems.append((f"{prefix}.{name}", f"must be at most {MAX_ID_LENGTH} characters"))
    return problems


# -- storing --


def ingest(session: Session, jobs: Sequence[IngestJob]) -> list[IngestOutcome]:
    """Store the jobs' messages, each once, with its person. The caller commits."""
    customers_service.serialize_identity_changes(session)
    outcomes = [IngestOutcome() for _ in jobs]
    fresh = _without_duplicates(session, jobs, outcomes)
    sightings = [_sighting(session, job, valid, message_id) for job, valid, message_id, _ in fresh]
    observation = customers_service.observe(session, sightings)
    repository.repoint(session, observation.merges)
    rows = []
    for (job, valid, message_id, job_index), sighting, placement in zip(
        fresh, sightings, observation.placements, strict=True
    ):
        message = valid.message
        rows.append(
            {
                "id": new_id(),
                "source_id": job.source.source_id,
                "channel": job.source.channel.value,
                "location": job.source.location,
                "type": message.type,
                "name": message.display_name(),
                "message_id": message_id,
                "profile_id": placement.profile_id,
                "anchor_id": placement.anchor_id,
                "user_id": message.user_id or None,
                "anonymous_id": message.anonymous_id or None,
                "timestamp": sighting.seen_at,
                "sent_at": message.sent_at or job.sent_at,
                "received_at": job.received_at,
                "message": valid.raw,
            }
        )
        outcomes[job_index].stored += 1
    repository.insert_events(session, rows)
    return outcomes


def _without_duplicates(
    session: Session, jobs: Sequence[IngestJob], outcomes: list[IngestOutcome]
) -> list[tuple[IngestJob, ValidMessage, str, int]]:
    """Messages not stored before (nor earlier in these jobs), with their message ids."""
    ids = [
        [v.message.message_id or f"generated-{uuid.uuid4()}" for v in job.messages] for job in jobs
    ]
    by_source: dict[UUID, list[str]] = {}
    for job, job_ids in zip(jobs, ids, strict=True):
        by_source.setdefault(job.source.source_id, []).extend(job_ids)
    # Already stored, then seen earlier in this group: one query per source.
    seen = {
        source_id: repository.stored_message_ids(session, source_id, sorted(set(message_ids)))
        for source_id, message_ids in by_source.items()
    }
    fresh: list[tuple[IngestJob, ValidMessage, str, int]] = []
    for job_index, (job, job_ids) in enumerate(zip(jobs, ids, strict=True)):
        source_seen = seen[job.source.source_id]
        for valid, message_id in zip(job.messages, job_ids, strict=True):
            if message_id in source_seen:
                outcomes[job_index].duplicates += 1
                continue
            source_seen.add(message_id)
            fresh.append((job, valid, message_id, job_index))
    return fresh


def _sighting(session: Session, job: IngestJob, valid: ValidMessage, message_id: str) -> Sighting:
    message = valid.message
    traits = message.user_traits()
    return Sighting(
        identifiers=customers_service.identifiers_for(
            session,
            user_id=message.user_id,
            anonymous_id=message.anonymous_id,
            traits=traits,
        ),
        traits=customers_service.clean_traits(session, traits),
        channel=job.source.channel.value,
        seen_at=valid.seen_at,
        message_id=message_id,
        source_id=job.source.source_id,
        previous_id=message.previous_id or None if message.type == "alias" else None,
    )


# -- resolution: how far behind the appends it is --


@dataclass(frozen=True)
class ResolutionLag:
    """Messages acknowledged but not yet placed with their person, and how long the
    oldest has waited. ``messages`` counts positions, so it may include a few that were
    rejected as duplicates after they were numbered."""

    messages: int
    seconds: float


def is_resolved(session: Session, *, position: int) -> bool:
    """Whether every message appended at or below ``position`` is placed with its person."""
    return not repository.unresolved_at_or_below(session, position)


def resolution_lag(session: Session) -> ResolutionLag:
    bounds = repository.inbox_bounds(session)
    if bounds is None:
        return ResolutionLag(messages=0, seconds=0.0)
    lowest, highest, oldest_at = bounds
    waited = max((utcnow() - oldest_at).total_seconds(), 0.0)
    return ResolutionLag(messages=highest - lowest + 1, seconds=waited)


# -- activity the hub itself records (orders, carts) --


def record_activity(
    session: Session,
    *,
    credential_id: UUID,
    channel: str,
    location: str | None,
    profile_id: UUID,
    anchor_id: UUID,
    event: str,
    properties: dict[str, Any],
    message_id: str,
    at: datetime,
) -> None:
    """Put a commerce fact on the person's timeline as the Segment track event it is
    (``Order Completed``, ``Product Added``), so the timeline stays one query."""
    message = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "timestamp": at.isoformat(),
        "properties": properties,
    }
    repository.insert_events(
        session,
        [
            {
                "id": new_id(),
                "source_id": credential_id,
                "channel": channel,
                "location": location,
                "type": "track",
                "name": event,
                "message_id": message_id,
                "profile_id": profile_id,
                "anchor_id": anchor_id,
                "user_id": None,
                "anonymous_id": None,
                "timestamp": at,
                "sent_at": None,
                "received_at": at,
                "message": message,
            }
        ],
    )


# -- the timeline --


@dataclass(frozen=True)
class TimelineEvent:
    event: Event
    source_name: str | None


def timeline(
    session: Session, *, profile_id: UUID, before: tuple[datetime, UUID] | None, limit: int
) -> tuple[UUID, list[TimelineEvent]]:
    """The live profile's events, newest first (a merged-away id answers for the survivor)."""
    profile = customers_service.live_profile(session, profile_id)
    events = repository.timeline(session, profile.id, before=before, limit=limit)
    names = auth_service.source_names(session, {e.source_id for e in events})
    return profile.id, [TimelineEvent(e, names.get(e.source_id)) for e in events]


def user_traits(event: Event) -> dict[str, Any]:
    """The person's traits in a stored message (validated when it was stored)."""
    return person_traits(event.type, event.message.get("context"), event.message.get("traits"))


# -- undoing a merge --


def unmerge(
    session: Session, *, profile_id: UUID, merge_id: UUID | None, actor: str
) -> customers_service.Unmerge:
    """Split a merge back out: identifiers (customers) and the events they placed (here)."""
    result = customers_service.unmerge(
        session, profile_id=profile_id, merge_id=merge_id, actor=actor
    )
    repository.move_by_anchor(
        session,
        from_profile=result.profile_id,
        to_profile=result.restored_profile_id,
        anchor_ids=result.returned_identifier_ids,
    )
    for side in (result.profile_id, result.restored_profile_id):
        history = [
            Sighting(
                identifiers=[],
                traits=customers_service.clean_traits(session, user_traits(e)),
                channel=e.channel,
                seen_at=e.timestamp,
            )
            for e in repository.history(session, side)
        ]
        customers_service.rebuild_projection(session, profile_id=side, history=history)
    return result
