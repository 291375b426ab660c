"""Ingestion of Segment-spec messages, the timeline, and moving events when identity changes.

Messages are validated one by one (a bad one never sinks its batch), then appended to the
inbox once per (source, messageId) and acknowledged. The resolver (``resolver.py``) places
them with their people in large batches behind the answers (``resolve``): the identity
graph (customers service) decides, and each is stored once as an event.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from omnikanal.kit.gc_pause import collection_paused
from omnikanal.kit.ids import new_id, new_ids
from omnikanal.kit.limits import MAX_JSON_DEPTH, json_problem
from omnikanal.kit.time import utcnow

logger = logging.getLogger("omnikanal.events")

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
    # The highest inbox position when the group committed (the Omnikanal-Position header).
    position: int = 0


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
    try:
        encoded = orjson.dumps(raw)
    except orjson.JSONEncodeError:  # past orjson's own limit of 254 levels
        encoded, deep = b"", True
    else:
        # No deeper than its containers are many: most messages skip the walk.
        containers = encoded.count(b"{") + encoded.count(b"[")
        deep = containers > MAX_JSON_DEPTH and _nests_deeper(raw, MAX_JSON_DEPTH)
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


# -- appending (the request path) --


def append(session: Session, jobs: Sequence[IngestJob]) -> list[IngestOutcome]:
    """Append the jobs' messages to the inbox, each once per (source, messageId), and
    nothing else: the resolver places them with their people later. Every outcome carries
    the highest inbox position at this point (reading after it is resolved covers the
    original of any duplicate too). The caller commits."""
    outcomes = [IngestOutcome() for _ in jobs]
    rows: list[dict[str, Any]] = []
    job_of: dict[tuple[UUID, str], int] = {}
    for job_index, job in enumerate(jobs):
        for valid in job.messages:
            message_id = valid.message.message_id or f"generated-{uuid.uuid4()}"
            key = (job.source.source_id, message_id)
            if key in job_of:
                outcomes[job_index].duplicates += 1
                continue
            job_of[key] = job_index
            rows.append(_inbox_row(job, valid, message_id))
    # Appended first, then looked up among the resolved: on PostgreSQL a message the
    # resolver is moving to the event store either conflicts here (the append waits for
    # the resolver's commit) or is found there, never neither.
    appended = repository.append_to_inbox(session, rows)
    resolved_before = _stored_already(session, list(appended))
    repository.delete_from_inbox(session, sorted(appended[key] for key in resolved_before))
    for key, job_index in job_of.items():
        if key in appended and key not in resolved_before:
            outcomes[job_index].stored += 1
        else:
            outcomes[job_index].duplicates += 1
    position = repository.highest_position(session) or 0
    for outcome in outcomes:
        outcome.position = position
    return outcomes


def _inbox_row(job: IngestJob, valid: ValidMessage, message_id: str) -> dict[str, Any]:
    return {
        "source_id": job.source.source_id,
        "channel": job.source.channel.value,
        "location": job.source.location,
        "message_id": message_id,
        "seen_at": valid.seen_at,
        "sent_at": valid.message.sent_at or job.sent_at,
        "received_at": job.received_at,
        "message": valid.raw,
    }


def _stored_already(session: Session, keys: Sequence[tuple[UUID, str]]) -> set[tuple[UUID, str]]:
    """Which of these (source, messageId) are in the event store: one query per source."""
    by_source: dict[UUID, list[str]] = {}
    for source_id, message_id in keys:
        by_source.setdefault(source_id, []).append(message_id)
    return {
        (source_id, message_id)
        for source_id, message_ids in by_source.items()
        for message_id in repository.stored_message_ids(session, source_id, sorted(message_ids))
    }


# -- resolving: placing appended messages with their people --


@dataclass(frozen=True)
class Appended:
    """An inbox row rebuilt: a message acknowledged and waiting to be placed."""

    position: int
    source_id: UUID
    channel: str
    location: str | None
    message_id: str
    message: SegmentMessage
    raw: dict[str, Any]
    seen_at: datetime
    sent_at: datetime | None
    received_at: datetime


def resolve(session: Session, *, limit: int) -> int:
    """Place the oldest ``limit`` appended messages with their people, store them as events
    and delete them from the inbox, all in the caller's transaction (a crash repeats the
    batch with no double effect). Returns how many inbox rows it took."""
    # Before reading the inbox: a concurrent resolver's batch is then committed (and gone
    # from the inbox) before this one is chosen.
    customers_service.serialize_identity_changes(session)
    # The batch's many short-lived objects would trigger collections that walk the heap.
    with collection_paused():
        rows = repository.oldest_in_inbox(session, limit)
        if not rows:
            return 0
        place(session, [a for a in map(_rebuild, rows) if a is not None])
        repository.delete_from_inbox(session, [row.position for row in rows])
    return len(rows)


def _rebuild(row: Any) -> Appended | None:
    try:
        message = SegmentMessage.model_validate(row.message)
    except ValidationError:
        # Validated when it arrived; only a changed schema gets here. Left in the inbox it
        # would stop resolution for everyone behind it.
        logger.error("inbox message at position %s no longer validates; dropped", row.position)
        return None
    return Appended(
        position=row.position,
        source_id=row.source_id,
        channel=row.channel,
        location=row.location,
        message_id=row.message_id,
        message=message,
        raw=row.message,
        seen_at=row.seen_at,
        sent_at=row.sent_at,
        received_at=row.received_at,
    )


def place(session: Session, messages: Sequence[Appended]) -> int:
    """Store the messages not stored before, each with its person (identity graph: bulk
    look-ups, merges, device moves, traits); returns how many were stored."""
    stored = _stored_already(session, [(m.source_id, m.message_id) for m in messages])
    fresh: list[Appended] = []
    for appended in messages:
        key = (appended.source_id, appended.message_id)
        if key not in stored:
            stored.add(key)
            fresh.append(appended)
    sightings = [_sighting(session, appended) for appended in fresh]
    observation = customers_service.observe(session, sightings)
    repository.repoint(session, observation.merges)
    rows = [
        {
            "id": new_id(),
            "source_id": appended.source_id,
            "channel": appended.channel,
            "location": appended.location,
            "type": appended.message.type,
            "name": appended.message.display_name(),
            "message_id": appended.message_id,
            "profile_id": placement.profile_id,
            "anchor_id": placement.anchor_id,
            "user_id": appended.message.user_id or None,
            "anonymous_id": appended.message.anonymous_id or None,
            "timestamp": appended.seen_at,
            "sent_at": appended.sent_at,
            "received_at": appended.received_at,
            "message": appended.raw,
        }
        for appended, placement in zip(fresh, observation.placements, strict=True)
    ]
    repository.insert_events(session, rows)
    return len(rows)


def _sighting(session: Session, appended: Appended) -> Sighting:
    message = appended.message
    traits = message.user_traits()
    return Sighting(
        identifiers=customers_service.identifiers_for(
            session,
            user_id=message.user_id,
            anonymous_id=message.anonymous_id,
            traits=traits,
        ),
        traits=customers_service.clean_traits(session, traits),
        channel=appended.channel,
        seen_at=appended.seen_at,
        message_id=appended.message_id,
        source_id=appended.source_id,
        previous_id=message.previous_id or None if message.type == "alias" else None,
    )


# -- the resolver's lease: one resolving process per database --

LEASE_NAME = "resolver"


def take_resolver_lease(session: Session, *, holder: str, seconds: float) -> bool:
    """Take or renew the lease for ``holder`` in this transaction; False while another
    holder's lease runs (or another transaction is renewing it right now)."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    lease = repository.locked_lease(session, LEASE_NAME)
    if lease is None:
        if repository.lease_exists(session, LEASE_NAME):
            return False  # locked by the holder's running batch
        repository.create_lease(session, name=LEASE_NAME, holder=holder, until=until)
        lease = repository.locked_lease(session, LEASE_NAME)
        if lease is None:
            return False
    if lease.holder != holder and lease.locked_until > now:
        return False
    lease.holder = holder
    lease.locked_until = until
    session.flush()
    return True


def release_resolver_lease(session: Session, *, holder: str) -> None:
    """A resolver that stops hands its lease over now rather than letting it lapse."""
    lease = repository.locked_lease(session, LEASE_NAME)
    if lease is not None and lease.holder == holder:
        lease.locked_until = utcnow()
        session.flush()


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


@dataclass(frozen=True)
class Activity:
    """A commerce fact for the person's timeline, as the Segment track event it is."""

    credential_id: UUID
    channel: str
    location: str | None
    profile_id: UUID
    anchor_id: UUID
    event: str
    properties: dict[str, Any]
    message_id: str
    at: datetime


def _activity_row(
    activity: Activity, received_at: datetime, id_: UUID | None = None
) -> dict[str, Any]:
    return {
        "id": id_ or new_id(),
        "source_id": activity.credential_id,
        "channel": activity.channel,
        "location": activity.location,
        "type": "track",
        "name": activity.event,
        "message_id": activity.message_id,
        "profile_id": activity.profile_id,
        "anchor_id": activity.anchor_id,
        "user_id": None,
        "anonymous_id": None,
        "timestamp": activity.at,
        "sent_at": None,
        "received_at": received_at,
        "message": {
            "type": "track",
            "event": activity.event,
            "messageId": activity.message_id,
            "timestamp": activity.at.isoformat(),
            "properties": activity.properties,
        },
    }


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
    activity = Activity(
        credential_id=credential_id,
        channel=channel,
        location=location,
        profile_id=profile_id,
        anchor_id=anchor_id,
        event=event,
        properties=properties,
        message_id=message_id,
        at=at,
    )
    repository.insert_events(session, [_activity_row(activity, at)])


def record_activities(session: Session, activities: Sequence[Activity]) -> None:
    """``record_activity`` for several facts of one request, in one statement."""
    if activities:
        repository.insert_events(session, [_activity_row(a, a.at) for a in activities])


def record_history(session: Session, activities: Sequence[Activity]) -> None:
    """Put many past facts on their people's timelines at their own times (imported
    history), in bulk; one already recorded (same credential and message id) is kept.
    They were received now: ``received_at`` says when the hub learnt of them."""
    now = utcnow()
    ids = new_ids(len(activities))
    rows = [_activity_row(a, now, id_) for a, id_ in zip(activities, ids, strict=True)]
    repository.insert_events(session, rows, stored=True)


def revise_history(session: Session, activities: Sequence[Activity]) -> None:
    """Replace the properties of facts recorded before (an imported order that gained
    lines in a later batch), found by (credential, message id)."""
    revised = {(a.credential_id, a.message_id): a for a in activities}
    for event in repository.events_by_message(session, list(revised)):
        activity = revised[(event.source_id, event.message_id)]
        event.message = {**event.message, "properties": activity.properties}
    session.flush()


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


def timeline_count(session: Session, *, profile_id: UUID, cap: int = 10_000) -> int:
    """How many events ``timeline`` pages through for this (live) profile, up to ``cap``;
    ``cap`` + 1 means more than that."""
    return repository.timeline_count(session, profile_id, cap=cap)


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


def accept_duplicate(
    session: Session, *, suggestion_id: UUID, actor: str
) -> customers_service.AcceptedDuplicate:
    """Accept a duplicate suggestion: the merge (customers) and the merged profile's events,
    which now belong to the profile it joined (here)."""
    result = customers_service.accept_duplicate(session, suggestion_id=suggestion_id, actor=actor)
    repository.repoint(session, [(result.merged_profile_id, result.profile_id)])
    return result


def purge_events(session: Session, *, before: datetime, limit: int) -> int:
    """Retention: delete up to ``limit`` stored events that happened before ``before``.

    The inbox is never purged: each row in it is still to be placed with its person (the
    resolver deletes a row in the transaction that stores its event)."""
    return repository.delete_events_before(session, before=before, limit=limit)


def forget_activity_properties(
    session: Session, *, activities: Sequence[tuple[UUID, str]], properties: Sequence[str]
) -> int:
    """Remove ``properties`` from activities put on the timeline by ``record_activity``,
    found by (credential, message id): the conversations domain's retention removes the
    words of a message from its timeline entry. How many events changed."""
    changed = 0
    for event in repository.events_by_message(session, activities):
        kept = dict(event.message.get("properties") or {})
        if not any(name in kept for name in properties):
            continue
        for name in properties:
            kept.pop(name, None)
        event.message = {**event.message, "properties": kept}
        changed += 1
    session.flush()
    return changed
