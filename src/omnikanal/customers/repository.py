"""Every query of the customers domain. The ingestion path uses Core statements in bulk."""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from omnikanal.customers.identity import IdentifierKey
from omnikanal.customers.models import (
    DuplicateSuggestion,
    Identifier,
    MergeAction,
    MergeLogEntry,
    Profile,
)
from omnikanal.db import UuidText, execute_stored, one_of

identifier_table = cast(Table, Identifier.__table__)
profile_table = cast(Table, Profile.__table__)

# Bound parameters per statement stay well below SQLite's and PostgreSQL's limits.
CHUNK = 1000

# Any fixed number: the key of the transaction lock that serializes identity changes.
IDENTITY_LOCK_KEY = 7_304_112_015
# And of the one that keeps two duplicate computations from writing the same pairs.
SUGGESTIONS_LOCK_KEY = 7_304_112_016


def lock_identity_graph(session: Session) -> None:
    """Identity changes happen one transaction at a time (PostgreSQL; SQLite writers are
    serialized already): two concurrent batches never both create the same person."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IDENTITY_LOCK_KEY})


def share_identity_graph(session: Session) -> None:
    """The identity lock in shared mode (PostgreSQL): for a change that reads nothing of
    the graph (a new person with one new identifier). Many may hold it at once; a batch
    that decides on what it reads (``lock_identity_graph``) waits for them, and they
    for it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": IDENTITY_LOCK_KEY}
        )


def insert_identifier_if_new(session: Session, row: dict[str, Any]) -> bool:
    """Insert one identifier unless its (type, value) exists (made meanwhile by another
    transaction, whose commit PostgreSQL waits for); False then."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert_into(identifier_table)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["type", "value"])
        .returning(identifier_table.c.id)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an insert, made or not.
    return session.execute(statement).first() is not None


def lock_suggestions(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SUGGESTIONS_LOCK_KEY})


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def owners(
    session: Session, keys: Sequence[IdentifierKey]
) -> list[tuple[IdentifierKey, UUID, UUID]]:
    """(identifier, its profile, its row id) for those of ``keys`` that are known."""
    found: list[tuple[IdentifierKey, UUID, UUID]] = []
    by_type: dict[str, list[str]] = {}
    for key in set(keys):
        by_type.setdefault(key.type, []).append(key.value)
    # One query per type: ``type = ? AND value IN (...)`` walks the unique index directly.
    c = identifier_table.c  # the table's columns: rows, not ORM loading
    for type_, values in sorted(by_type.items()):
        query = select(c.value, c.profile_id, c.id).where(c.type == type_, one_of(c.value, values))
        found += [(IdentifierKey(type_, v), p, i) for v, p, i in session.execute(query)]
    return found


def identifiers_of_types(
    session: Session, profile_ids: Sequence[UUID], types: Sequence[str]
) -> list[tuple[UUID, IdentifierKey]]:
    found: list[tuple[UUID, IdentifierKey]] = []
    for chunk in _chunks(sorted(set(profile_ids))):
        query = select(Identifier.profile_id, Identifier.type, Identifier.value).where(
            Identifier.profile_id.in_(chunk), Identifier.type.in_(types)
        )
        found += [(p, IdentifierKey(t, v)) for p, t, v in session.execute(query)]
    return found


def identifier_ids_by_profile(
    session: Session, profile_ids: Sequence[UUID]
) -> dict[UUID, set[UUID]]:
    found: dict[UUID, set[UUID]] = {}
    for chunk in _chunks(sorted(set(profile_ids))):
        query = select(Identifier.profile_id, Identifier.id).where(Identifier.profile_id.in_(chunk))
        for profile_id, identifier_id in session.execute(query):
            found.setdefault(profile_id, set()).add(identifier_id)
    return found


def identifiers(session: Session, profile_id: UUID) -> Sequence[Identifier]:
    query = (
        select(Identifier)
        .where(Identifier.profile_id == profile_id)
        .order_by(Identifier.type, Identifier.added_at)
    )
    return session.scalars(query).all()


def find_by_identifier(session: Session, key: IdentifierKey) -> UUID | None:
    return session.scalar(
        select(Identifier.profile_id).where(
            Identifier.type == key.type, Identifier.value == key.value
        )
    )


def insert_profiles(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(profile_table), rows)


def insert_identifiers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(identifier_table), rows)


def move_identifiers(session: Session, moves: Sequence[tuple[IdentifierKey, UUID]]) -> None:
    if not moves:
        return
    statement = (
        update(identifier_table)
        .where(
            identifier_table.c.type == bindparam("b_type"),
            identifier_table.c.value == bindparam("b_value"),
        )
        .values(profile_id=bindparam("b_profile"))
    )
    session.execute(
        statement,
        [{"b_type": k.type, "b_value": k.value, "b_profile": p} for k, p in moves],
    )


def repoint_identifiers(session: Session, merges: Sequence[tuple[UUID, UUID]]) -> None:
    """Each (from, to) in order: chained merges in one batch end on the last profile."""
    if merges:
        statement = (
            update(identifier_table)
            .where(identifier_table.c.profile_id == bindparam("b_from"))
            .values(profile_id=bindparam("b_to"))
        )
        session.execute(statement, [{"b_from": a, "b_to": b} for a, b in merges])


def return_identifiers(
    session: Session, *, identifier_ids: Sequence[UUID], from_profile: UUID, to_profile: UUID
) -> list[UUID]:
    """Give identifiers back to a restored profile, those the survivor still holds."""
    returned: list[UUID] = []
    for chunk in _chunks(list(identifier_ids)):
        held = list(
            session.scalars(
                select(Identifier.id).where(
                    Identifier.id.in_(chunk), Identifier.profile_id == from_profile
                )
            )
        )
        if held:
            session.execute(
                update(identifier_table)
                .where(identifier_table.c.id.in_(held))
                .values(profile_id=to_profile)
            )
        returned += held
    return returned


def projection_rows(session: Session, profile_ids: Sequence[UUID]) -> list[Sequence[Any]]:
    """(id, traits, trait_times, channels, first_seen, last_seen) of each profile: only
    what a projection holds, as rows (no mapping built per row)."""
    c = profile_table.c
    columns = (c.id, c.traits, c.trait_times, c.channels, c.first_seen, c.last_seen)
    found: list[Sequence[Any]] = []
    for chunk in _chunks(sorted(set(profile_ids))):
        found.extend(session.execute(select(*columns).where(c.id.in_(chunk))))
    return found


def update_projections(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write traits, channels and first/last seen of many profiles at once."""
    if not rows:
        return
    statement = (
        update(profile_table)
        .where(profile_table.c.id == bindparam("b_id"))
        .values(
            traits=bindparam("traits"),
            trait_times=bindparam("trait_times"),
            channels=bindparam("channels"),
            first_seen=bindparam("first_seen"),
            last_seen=bindparam("last_seen"),
        )
    )
    execute_stored(session, statement, [{**row, "b_id": row["id"]} for row in rows])


def set_computed_traits(session: Session, profile_id: UUID, traits: dict[str, Any]) -> None:
    session.execute(
        update(profile_table).where(profile_table.c.id == profile_id).values(computed_traits=traits)
    )


def computed_traits_of(session: Session, profile_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    c = profile_table.c
    found: dict[UUID, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(profile_ids))):
        query = select(c.id, c.computed_traits).where(c.id.in_(chunk))
        found.update({profile_id: traits or {} for profile_id, traits in session.execute(query)})
    return found


def set_many_computed_traits(session: Session, traits: dict[UUID, dict[str, Any]]) -> None:
    if traits:
        statement = (
            update(profile_table)
            .where(profile_table.c.id == bindparam("b_id"))
            .values(computed_traits=bindparam("b_traits"))
        )
        rows = [{"b_id": p, "b_traits": t} for p, t in sorted(traits.items())]
        execute_stored(session, statement, rows)


def merge_parents(session: Session, profile_ids: Sequence[UUID]) -> dict[UUID, UUID | None]:
    """Each profile's ``merged_into`` (None for a live one); missing profiles left out."""
    c = profile_table.c
    found: dict[UUID, UUID | None] = {}
    for chunk in _chunks(sorted(set(profile_ids))):
        query = select(c.id, c.merged_into).where(c.id.in_(chunk))
        # Not dict(result): a result has keys(), so dict() would read it as a mapping.
        for profile_id, parent in session.execute(query):
            found[profile_id] = parent
    return found


def merged_child_pairs(session: Session, profile_ids: Sequence[UUID]) -> list[tuple[UUID, UUID]]:
    """(child, parent) for every profile merged directly into one of these."""
    c = profile_table.c
    found: list[tuple[UUID, UUID]] = []
    for chunk in _chunks(sorted(set(profile_ids))):
        query = select(c.id, c.merged_into).where(c.merged_into.in_(chunk))
        found.extend((child, parent) for child, parent in session.execute(query))
    return found


def set_merged_into(session: Session, links: Sequence[tuple[UUID, UUID | None]]) -> None:
    if links:
        statement = (
            update(profile_table)
            .where(profile_table.c.id == bindparam("b_id"))
            .values(merged_into=bindparam("b_into"))
        )
        session.execute(statement, [{"b_id": p, "b_into": into} for p, into in links])


def get_profile(session: Session, profile_id: UUID) -> Profile | None:
    return session.get(Profile, profile_id)


def profile_and_children(session: Session, profile_id: UUID) -> list[tuple[UUID, UUID | None]]:
    """(id, merged_into) of the profile and of those merged straight into it."""
    query = select(Profile.id, Profile.merged_into).where(
        or_(Profile.id == profile_id, Profile.merged_into == profile_id)
    )
    return [(found, parent) for found, parent in session.execute(query)]


def owner_and_children(session: Session, key: IdentifierKey) -> list[tuple[UUID, UUID | None]]:
    """(id, merged_into) of the profile holding the identifier and of those merged straight
    into it, in one statement; empty when nobody holds it."""
    owner = (
        select(Identifier.profile_id)
        .where(Identifier.type == key.type, Identifier.value == key.value)
        .scalar_subquery()
    )
    query = select(Profile.id, Profile.merged_into).where(
        or_(Profile.id == owner, Profile.merged_into == owner)
    )
    return [(found, parent) for found, parent in session.execute(query)]


def merged_children(session: Session, profile_ids: Sequence[UUID]) -> list[UUID]:
    return list(session.scalars(select(Profile.id).where(Profile.merged_into.in_(profile_ids))))


def add_log_entries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(cast(Table, MergeLogEntry.__table__)), rows)


def log_for(session: Session, profile_ids: Sequence[UUID], limit: int) -> Sequence[MergeLogEntry]:
    query = (
        select(MergeLogEntry)
        .where(
            or_(
                MergeLogEntry.profile_id.in_(profile_ids),
                MergeLogEntry.other_profile_id.in_(profile_ids),
            )
        )
        .order_by(MergeLogEntry.created_at.desc(), MergeLogEntry.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def open_merge(
    session: Session, *, survivors: Sequence[UUID], merge_id: UUID | None
) -> MergeLogEntry | None:
    """A merge into one of ``survivors`` not yet undone: the given one, or the latest."""
    query = select(MergeLogEntry).where(
        MergeLogEntry.action == MergeAction.MERGED,
        MergeLogEntry.profile_id.in_(survivors),
        MergeLogEntry.unmerged_at.is_(None),
    )
    if merge_id is not None:
        query = query.where(MergeLogEntry.id == merge_id)
    return session.scalar(query.order_by(MergeLogEntry.created_at.desc()).limit(1))


def live_profile_ids(session: Session, *, after: UUID | None, limit: int) -> list[UUID]:
    query = select(Profile.id).where(Profile.merged_into.is_(None))
    if after is not None:
        query = query.where(Profile.id > after)
    return list(session.scalars(query.order_by(Profile.id).limit(limit)))


# -- duplicate suggestions --


def live_people(
    session: Session, *, after: UUID | None, limit: int
) -> list[tuple[UUID, dict[str, Any]]]:
    """(id, traits) of live profiles in id order, a page at a time."""
    query = select(Profile.id, Profile.traits).where(Profile.merged_into.is_(None))
    if after is not None:
        query = query.where(Profile.id > after)
    return [(p, t or {}) for p, t in session.execute(query.order_by(Profile.id).limit(limit))]


def count_live_profiles(session: Session) -> int:
    return session.scalar(select(func.count()).where(Profile.merged_into.is_(None))) or 0


def all_suggestions(session: Session) -> Sequence[DuplicateSuggestion]:
    return session.scalars(select(DuplicateSuggestion)).all()


def add_suggestions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(list(rows)):
        session.execute(insert(cast(Table, DuplicateSuggestion.__table__)), list(chunk))


def delete_suggestions(session: Session, ids: Sequence[UUID]) -> None:
    for chunk in _chunks(sorted(ids)):
        session.execute(delete(DuplicateSuggestion).where(DuplicateSuggestion.id.in_(chunk)))


def get_suggestion(session: Session, suggestion_id: UUID) -> DuplicateSuggestion | None:
    return session.get(DuplicateSuggestion, suggestion_id)


def suggestions_page(
    session: Session,
    *,
    status: str,
    min_probability: float,
    after: tuple[float, UUID] | None,
    limit: int,
) -> Sequence[DuplicateSuggestion]:
    """Most probable first; open pairs only while both profiles are still live (a pair
    merged since, by an identifier or another suggestion, is not shown)."""
    suggestion = DuplicateSuggestion
    query = select(suggestion).where(
        suggestion.status == status, suggestion.probability >= min_probability
    )
    if status == "open":
        left, right = aliased(Profile), aliased(Profile)
        query = query.join(
            left, and_(left.id == suggestion.profile_id, left.merged_into.is_(None))
        ).join(right, and_(right.id == suggestion.other_profile_id, right.merged_into.is_(None)))
    if after is not None:
        probability, last_id = after
        query = query.where(
            or_(
                suggestion.probability < probability,
                and_(suggestion.probability == probability, suggestion.id > last_id),
            )
        )
    query = query.order_by(suggestion.probability.desc(), suggestion.id).limit(limit)
    return session.scalars(query).all()


def suggestions_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[DuplicateSuggestion]:
    return session.scalars(
        select(DuplicateSuggestion)
        .where(
            or_(
                DuplicateSuggestion.profile_id.in_(profile_ids),
                DuplicateSuggestion.other_profile_id.in_(profile_ids),
            )
        )
        .order_by(DuplicateSuggestion.computed_at, DuplicateSuggestion.id)
    ).all()


# -- a person's part, for export and erasure (privacy.py) --


def surviving_profile(session: Session, profile_id: UUID) -> Profile | None:
    """The profile, or the one it was merged into (following the chain); None if unknown."""
    profile = get_profile(session, profile_id)
    seen: set[UUID] = set()
    while profile is not None and profile.merged_into is not None and profile.id not in seen:
        seen.add(profile.id)
        profile = get_profile(session, profile.merged_into)
    return profile


def profiles(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Profile]:
    return session.scalars(
        select(Profile).where(Profile.id.in_(profile_ids)).order_by(Profile.created_at)
    ).all()


def identifiers_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Identifier]:
    return session.scalars(
        select(Identifier)
        .where(Identifier.profile_id.in_(profile_ids))
        .order_by(Identifier.added_at, Identifier.id)
    ).all()


def delete_people(session: Session, profile_ids: Sequence[UUID]) -> int:
    """Every row that names these profiles: duplicate suggestions, the merge log,
    identifiers, then profiles."""
    deleted = 0
    for statement in (
        delete(DuplicateSuggestion).where(
            or_(
                DuplicateSuggestion.profile_id.in_(profile_ids),
                DuplicateSuggestion.other_profile_id.in_(profile_ids),
            )
        ),
        delete(MergeLogEntry).where(
            or_(
                MergeLogEntry.profile_id.in_(profile_ids),
                MergeLogEntry.other_profile_id.in_(profile_ids),
            )
        ),
        delete(Identifier).where(Identifier.profile_id.in_(profile_ids)),
        delete(Profile).where(Profile.id.in_(profile_ids)),
    ):
        deleted += session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
    return deleted


# -- the warehouse export (exports domain), streamed in chunks --

# When a profile last changed as far as the export can tell: the later of its last
# activity and its creation (a profile imported today with last year's activity is new).
profile_changed_at = case(
    (Profile.last_seen > Profile.created_at, Profile.last_seen), else_=Profile.created_at
)


# Typed loosely: rows are read by name.
EXPORTED_PROFILE_COLUMNS: tuple[Any, ...] = (
    Profile.id,
    Profile.merged_into,
    Profile.created_at,
    Profile.first_seen,
    Profile.last_seen,
    Profile.traits,
    Profile.computed_traits,
    Profile.channels,
)
EXPORTED_IDENTIFIER_COLUMNS: tuple[Any, ...] = (
    Identifier.profile_id,
    Identifier.type,
    Identifier.value,
)


def _changed_profiles(
    changed_after: datetime | None, changed_until: datetime
) -> list[ColumnElement[bool]]:
    conditions = [profile_changed_at <= changed_until]
    if changed_after is not None:
        conditions.append(profile_changed_at > changed_after)
    return conditions


def stream_changed_profiles(
    session: Session, *, changed_after: datetime | None, changed_until: datetime, chunk: int
) -> Iterator[Sequence[Row[Any]]]:
    query = (
        select(*EXPORTED_PROFILE_COLUMNS)
        .where(*_changed_profiles(changed_after, changed_until))
        .order_by(profile_changed_at, Profile.id)
        .execution_options(yield_per=chunk)
    )
    yield from session.execute(query).partitions()


def count_changed_profiles(
    session: Session, *, changed_after: datetime | None, changed_until: datetime
) -> int:
    query = select(func.count()).select_from(profile_table)
    return session.scalar(query.where(*_changed_profiles(changed_after, changed_until))) or 0


def identifier_rows(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Row[Any]]:
    return session.execute(
        select(*EXPORTED_IDENTIFIER_COLUMNS)
        .where(Identifier.profile_id.in_(profile_ids))
        .order_by(Identifier.profile_id, Identifier.added_at, Identifier.id)
    ).all()


def merge_links(session: Session) -> Sequence[Row[str, str]]:
    """(profile id, the profile it was merged into) for every merged-away profile, as
    text: the analytics engine follows the chains itself."""
    c = profile_table.c
    query = select(
        UuidText(c.id).label("profile_id"), UuidText(c.merged_into).label("merged_into")
    ).where(c.merged_into.is_not(None))
    return session.execute(query).all()
