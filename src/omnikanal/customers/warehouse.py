"""Profiles for the warehouse export (the exports domain writes the files).

Each export takes the profiles created or active since the last one (the later of
``created_at`` and ``last_seen``: ``changed_at``), with their identifiers and traits, so
the warehouse keeps the latest copy of each ``profile_id``. Merged-away profiles are
exported too, with the profile they joined in ``merged_into``, so older events' profile
ids can be followed.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row
from sqlalchemy.orm import Session

from omnikanal.customers import repository


def _profile(row: Row[Any], identifiers: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "profile_id": str(row.id),
        "merged_into": str(row.merged_into) if row.merged_into else None,
        "created_at": row.created_at,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "changed_at": max(row.created_at, row.last_seen or row.created_at),
        "identifiers": identifiers,
        "traits": row.traits or {},
        "computed_traits": row.computed_traits or {},
        "channels": row.channels or {},
    }


def rows_for_export(
    session: Session, *, changed_after: datetime | None, changed_until: datetime, chunk: int
) -> Iterator[list[dict[str, Any]]]:
    """Profiles changed in (changed_after, changed_until], oldest first, in chunks."""
    for rows in repository.stream_changed_profiles(
        session, changed_after=changed_after, changed_until=changed_until, chunk=chunk
    ):
        found: dict[UUID, list[dict[str, str]]] = defaultdict(list)
        ids = [row.id for row in rows]
        for start in range(0, len(ids), repository.CHUNK):
            for item in repository.identifier_rows(session, ids[start : start + repository.CHUNK]):
                found[item.profile_id].append({"type": item.type, "value": item.value})
        yield [_profile(row, found.get(row.id, [])) for row in rows]


def count_for_export(
    session: Session, *, changed_after: datetime | None, changed_until: datetime
) -> int:
    return repository.count_changed_profiles(
        session, changed_after=changed_after, changed_until=changed_until
    )


def merge_links(session: Session) -> list[dict[str, str]]:
    """Every merged-away profile with the one it joined (read-only, for analytics): so
    the events and orders of a merged person count once, under the surviving profile."""
    return [row._asdict() for row in repository.merge_links(session)]
