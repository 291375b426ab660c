"""Reads of a person's data by store staff, for analytics (read-only): a lookup at a store
is an in-store touch (showrooming). Who read, and why, stay here: only the person, the
staff credential (its store is the auth domain's to say) and when."""

from typing import Any

from sqlalchemy.orm import Session

from omnikanal.privacy import repository

STORE_ROLE = "store"


def store_lookups(session: Session) -> list[dict[str, Any]]:
    return [
        {"profile_id": str(row.profile_id), "at": row.at, "credential_id": row.actor_id}
        for row in repository.reads_by_role(session, role=STORE_ROLE)
    ]
