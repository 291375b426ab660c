"""The access log over HTTP, for admins."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from omnikanal.auth.dependencies import AdminKey
from omnikanal.http import DbSession
from omnikanal.kit.limits import Moment
from omnikanal.kit.pagination import (
    PageParams,
    decode_time_cursor,
    encode_time_cursor,
    page_params,
)
from omnikanal.privacy import service
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.models import AccessLogEntry
from omnikanal.privacy.schemas import AccessActorRead, AccessLogEntryRead, AccessLogPage

router = APIRouter(prefix="/v1", tags=["privacy"])


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


@router.get("/audit-log", response_model=AccessLogPage)
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
    found = service.access_log(
        session,
        profile_id=profile_id,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
        before=decode_time_cursor(page.cursor) if page.cursor else None,
        limit=page.limit + 1,
    )
    shown = list(found[: page.limit])
    next_cursor = None
    if len(found) > page.limit:
        next_cursor = encode_time_cursor(shown[-1].at, shown[-1].id)
    return AccessLogPage(items=[entry_read(e) for e in shown], next_cursor=next_cursor)
