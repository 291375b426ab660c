"""Every query of the events domain."""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from omnikanal.db import (
    JsonText,
    UuidText,
    execute_stored,
    ignoring_duplicates,
    insert_ignoring_duplicates,
)
from omnikanal.events.models import Event, InboxMessage, ResolverLease

event_table = cast(Table, Event.__table__)
inbox_table = cast(Table, InboxMessage.__table__)
CHUNK = 1000
# An event's natural key: a source's message is stored once.
EVENT_KEYS = ("source_id", "message_id")


def stored_message_ids(session: Session, source_id: UUID, message_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(message_ids), CHUNK):
        chunk = message_ids[start : start + CHUNK]
        query = select(Event.message_id).where(
            Event.source_id == source_id, Event.message_id.in_(chunk)
        )
        found.update(session.scalars(query))
    return found


def insert_events(
    session: Session, rows: Sequence[dict[str, Any]], *, stored: bool = False
) -> None:
    """``stored``: rows that give every column (their ids too), converted per column."""
    if stored:
        statement = ignoring_duplicates(session, event_table, keys=EVENT_KEYS)
        execute_stored(session, statement, rows)
    else:
        insert_ignoring_duplicates(session, event_table, rows, keys=EVENT_KEYS)


def repoint(session: Session, merges: Sequence[tuple[UUID, UUID]]) -> None:
    """Events of merged-away profiles now belong to the profile each joined, in order."""
    if merges:
        statement = (
            update(event_table)
            .where(event_table.c.profile_id == bindparam("b_from"))
            .values(profile_id=bindparam("b_to"))
        )
        session.execute(statement, [{"b_from": a, "b_to": b} for a, b in merges])


def move_by_anchor(
    session: Session, *, from_profile: UUID, to_profile: UUID, anchor_ids: Sequence[UUID]
) -> None:
    for start in range(0, len(anchor_ids), CHUNK):
        session.execute(
            update(event_table)
            .where(
                event_table.c.profile_id == from_profile,
                event_table.c.anchor_id.in_(anchor_ids[start : start + CHUNK]),
            )
            .values(profile_id=to_profile)
        )


def timeline(
    session: Session, profile_id: UUID, *, before: tuple[datetime, UUID] | None, limit: int
) -> Sequence[Event]:
    query = select(Event).where(Event.profile_id == profile_id)
    if before is not None:
        moment, event_id = before
        query = query.where(
            or_(Event.timestamp < moment, and_(Event.timestamp == moment, Event.id < event_id))
        )
    query = query.order_by(Event.timestamp.desc(), Event.id.desc()).limit(limit)
    return session.scalars(query).all()


def timeline_count(session: Session, profile_id: UUID, *, cap: int) -> int:
    """How many events the profile's timeline holds, counted up to ``cap`` + 1 (a long
    history is not read to the end to say "more than")."""
    capped = select(Event.id).where(Event.profile_id == profile_id).limit(cap + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def history(session: Session, profile_id: UUID) -> Sequence[Event]:
    query = select(Event).where(Event.profile_id == profile_id).order_by(Event.timestamp)
    return session.scalars(query).all()


# -- the inbox: appended, not yet resolved --


def unresolved_at_or_below(session: Session, position: int) -> bool:
    """Whether any message at or below ``position`` still waits for the resolver."""
    query = select(InboxMessage.position).where(InboxMessage.position <= position).limit(1)
    return session.scalar(query) is not None


def inbox_bounds(session: Session) -> tuple[int, int, datetime] | None:
    """(lowest position, highest position, when the oldest arrived), or None when empty.

    Two look-ups on the primary key: cheap however long the inbox is."""
    oldest = session.execute(
        select(InboxMessage.position, InboxMessage.received_at)
        .order_by(InboxMessage.position)
        .limit(1)
    ).first()
    if oldest is None:
        return None
    newest = session.scalar(
        select(InboxMessage.position).order_by(InboxMessage.position.desc()).limit(1)
    )
    return oldest.position, int(newest or oldest.position), oldest.received_at


def append_to_inbox(
    session: Session, rows: Sequence[dict[str, Any]]
) -> dict[tuple[UUID, str], int]:
    """Append the rows not appended before; {(source, messageId): position} of those that
    were (a concurrent append of the same message waits for the other to commit)."""
    inserted = insert_ignoring_duplicates(
        session,
        inbox_table,
        rows,
        keys=("source_id", "message_id"),
        returning=("source_id", "message_id", "position"),
    )
    return {(row.source_id, row.message_id): row.position for row in inserted}


def delete_from_inbox(session: Session, positions: Sequence[int]) -> None:
    """Delete exactly these rows (never a range: a lower position may commit later)."""
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        session.execute(delete(inbox_table).where(inbox_table.c.position.in_(chunk)))


def highest_position(session: Session) -> int | None:
    highest = session.scalar(select(func.max(inbox_table.c.position)))
    return None if highest is None else int(highest)


def oldest_in_inbox(session: Session, limit: int) -> Sequence[Row[Any]]:
    query = select(inbox_table).order_by(inbox_table.c.position).limit(limit)
    return session.execute(query).all()


# -- the resolver's lease --


def locked_lease(session: Session, name: str) -> ResolverLease | None:
    """The lease row, locked for this transaction; None when it is missing or another
    transaction holds its lock (PostgreSQL; SQLite writers are serialized already)."""
    query = select(ResolverLease).where(ResolverLease.name == name)
    return session.scalar(query.with_for_update(skip_locked=True))


def lease_exists(session: Session, name: str) -> bool:
    query = select(ResolverLease.name).where(ResolverLease.name == name)
    return session.scalar(query) is not None


def create_lease(session: Session, *, name: str, holder: str, until: datetime) -> None:
    insert_ignoring_duplicates(
        session,
        cast(Table, ResolverLease.__table__),
        [{"name": name, "holder": holder, "locked_until": until}],
        keys=("name",),
    )


def delete_events_before(session: Session, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` events that happened before ``before``; how many went."""
    ids = list(session.scalars(select(Event.id).where(Event.timestamp < before).limit(limit)))
    if ids:
        session.execute(delete(event_table).where(event_table.c.id.in_(ids)))
    return len(ids)


def events_by_message(session: Session, keys: Sequence[tuple[UUID, str]]) -> Sequence[Event]:
    """The events stored under these (source, messageId) pairs."""
    if not keys:
        return []
    query = select(Event).where(tuple_(Event.source_id, Event.message_id).in_(list(keys)))
    return session.scalars(query).all()


# -- a person's part, for export and erasure (privacy.py) --


def events_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Event]:
    return session.scalars(
        select(Event).where(Event.profile_id.in_(profile_ids)).order_by(Event.timestamp)
    ).all()


def delete_events_of(session: Session, profile_ids: Sequence[UUID]) -> int:
    result = session.execute(delete(Event).where(Event.profile_id.in_(profile_ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def inbox_rows_containing(
    session: Session, condition: ColumnElement[bool]
) -> list[tuple[int, dict[str, Any]]]:
    rows = session.execute(select(InboxMessage.position, InboxMessage.message).where(condition))
    return [(position, message) for position, message in rows]


def delete_inbox_rows(session: Session, positions: Sequence[int]) -> int:
    if not positions:
        return 0
    result = session.execute(delete(InboxMessage).where(InboxMessage.position.in_(positions)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# -- the warehouse export (exports domain), streamed in chunks --

# Read as the export writes them: ids and JSON members as text, made by the database
# (a Python UUID or dict per value costs more than the rest of the export together); times
# as the driver gives them (UTC; Arrow reads a naive one as UTC).
EXPORTED_EVENT_COLUMNS: tuple[Any, ...] = (
    UuidText(Event.id).label("event_id"),
    Event.message_id,
    UuidText(Event.source_id).label("source_id"),
    Event.channel,
    Event.location,
    Event.type,
    Event.name,
    UuidText(Event.profile_id).label("profile_id"),
    Event.user_id,
    Event.anonymous_id,
    type_coerce(Event.timestamp, DateTime()).label("timestamp"),
    type_coerce(Event.sent_at, DateTime()).label("sent_at"),
    type_coerce(Event.received_at, DateTime()).label("received_at"),
    JsonText(Event.message, "properties").label("properties"),
    # Segment puts a track call's user traits in its context.
    func.coalesce(
        JsonText(Event.message, "traits"), JsonText(Event.message, "context", "traits")
    ).label("traits"),
    JsonText(Event.message, "context").label("context"),
)


def _exported_events(
    from_id: UUID | None, before: UUID, received_since: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [Event.id < before]
    if from_id is not None:
        conditions.append(Event.id >= from_id)
    if received_since is not None:
        conditions.append(Event.received_at >= received_since)
    return conditions


def stream_events(
    session: Session,
    *,
    from_id: UUID | None,
    before: UUID,
    received_since: datetime | None,
    chunk: int,
) -> Iterator[Sequence[Row[Any]]]:
    """Events in id order (the order they were stored in), ``chunk`` rows at a time from
    one server-side cursor: a whole table is never held in memory."""
    query = (
        select(*EXPORTED_EVENT_COLUMNS)
        .where(*_exported_events(from_id, before, received_since))
        .order_by(Event.id)
    )
    # Core, not the ORM: these are plain columns, and ORM row loading doubled the cost.
    # The option is the statement's: set on the connection it would stay there, and the
    # session's later statements (writes too) would run through server-side cursors.
    yield from session.connection().execute(query.execution_options(yield_per=chunk)).partitions()


def count_events(
    session: Session, *, from_id: UUID | None, before: UUID, received_since: datetime | None
) -> int:
    query = select(func.count()).where(*_exported_events(from_id, before, received_since))
    return session.scalar(query.select_from(event_table)) or 0


def stream_product_events(
    session: Session, *, names: Sequence[str], chunk: int
) -> Iterator[Sequence[Row[str, str | None, datetime, str]]]:
    """The events of these names (``Product Viewed`` ...) with the SKU they name, as
    (profile_id text, name, timestamp, sku as JSON text), in storage order, ``chunk`` rows
    at a time from one server-side cursor."""
    query = (
        select(
            UuidText(Event.profile_id).label("profile_id"),
            Event.name,
            type_coerce(Event.timestamp, DateTime()).label("timestamp"),
            JsonText(Event.message, "properties", "sku").label("sku"),
        )
        .where(Event.name.in_(sorted(set(names))))
        .order_by(Event.id)
    )
    yield from session.connection().execute(query.execution_options(yield_per=chunk)).partitions()
