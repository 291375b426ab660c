"""Reading the access log: who read or changed a person's data, newest first."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.errors import NotFound
from omnikanal.privacy import repository
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.models import AccessLogEntry


def person_ids(session: Session, profile_id: UUID) -> list[UUID]:
    """Every id the person has had: the live profile and all merged into it, so a
    merged-away id finds what was recorded under the survivor and under each other id."""
    try:
        live = customers_service.live_profile(session, profile_id).id
    except NotFound:  # erased or never known: what was recorded under that id still shows
        return [profile_id]
    return [live, *customers_service.merged_descendants(session, live)]


def access_log(
    session: Session,
    *,
    profile_id: UUID | None = None,
    actor_id: UUID | None = None,
    action: AccessAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> Sequence[AccessLogEntry]:
    return repository.access_log(
        session,
        profile_ids=person_ids(session, profile_id) if profile_id is not None else None,
        actor_id=actor_id,
        action=action.value if action is not None else None,
        since=since,
        until=until,
        before=before,
        limit=limit,
    )
