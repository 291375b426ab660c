"""Profiles: read one, look one up by any identifier, see why it merged.

The timeline and unmerge move events, so they live with the events domain
(``events/router.py``) under the same ``/v1/profiles`` prefix.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from omnikanal.customers import duplicates_router, service
from omnikanal.customers.dependencies import ProfileReader
from omnikanal.customers.identity import (
    ANONYMOUS_ID,
    EMAIL,
    EXTERNAL_ID,
    LOYALTY_CARD,
    PHONE,
    USER_ID,
)
from omnikanal.customers.schemas import (
    ChannelSeen,
    IdentifierRead,
    MergeLogRead,
    ProfileList,
    ProfileRead,
)
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.events.dependencies import ResolvedThrough
from omnikanal.http import DbSession
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

# As long as an identifier may be (the column holds 320 characters).
IdentifierQuery = Annotated[str | None, Query(max_length=320)]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])
# First: /v1/profiles/duplicates must not be taken for /v1/profiles/{profile_id}.
router.include_router(duplicates_router.router)


def profile_read(view: service.ProfileView) -> ProfileRead:
    profile = view.profile
    return ProfileRead(
        id=profile.id,
        identifiers=[IdentifierRead.model_validate(i) for i in view.identifiers],
        traits=profile.traits,
        computed_traits=profile.computed_traits,
        channels=[
            ChannelSeen(channel=name, **seen)
            for name, seen in sorted(profile.channels.items(), key=lambda c: c[1]["first_seen"])
        ],
        first_seen=profile.first_seen,
        last_seen=profile.last_seen,
        created_at=profile.created_at,
        merged_ids=view.merged_ids,
    )


@router.get("", response_model=ProfileList)
def find_profiles(
    session: DbSession,
    actor: ProfileReader,
    _resolved: ResolvedThrough,
    reason: AccessReason = None,
    email: Annotated[
        str | None,
        Query(max_length=320, description="Any spelling; compared trimmed and lower-cased."),
    ] = None,
    phone: Annotated[
        str | None, Query(max_length=40, description="Any format; compared as E.164.")
    ] = None,
    user_id: IdentifierQuery = None,
    anonymous_id: IdentifierQuery = None,
    loyalty_card: IdentifierQuery = None,
    external_id: Annotated[
        str | None,
        Query(max_length=300, description="Another system's customer number (imports)."),
    ] = None,
    identifier_type: Annotated[
        str | None, Query(max_length=40, description="Any other type, e.g. instagram.")
    ] = None,
    identifier_value: IdentifierQuery = None,
) -> ProfileList:
    """Look a person up by any identifier; several parameters find each one's profile."""
    asked = [
        (type_, value)
        for type_, value in (
            (EMAIL, email),
            (PHONE, phone),
            (USER_ID, user_id),
            (ANONYMOUS_ID, anonymous_id),
            (LOYALTY_CARD, loyalty_card),
            (EXTERNAL_ID, external_id),
            (identifier_type, identifier_value),
        )
        if type_ is not None and value is not None
    ]
    if not asked:
        raise BadRequest(
            CommonErrorCode.BAD_REQUEST,
            "Give an identifier: email, phone, user_id, anonymous_id, loyalty_card, "
            "external_id, or identifier_type with identifier_value.",
        )
    found: list[UUID] = []
    for type_, value in asked:
        profile_id = service.find_profile_id(session, type_=type_, raw_value=value)
        if profile_id is not None and profile_id not in found:
            found.append(profile_id)
    for profile_id in found:
        access.record(
            session, actor=actor, action=AccessAction.PROFILE, profile_id=profile_id, reason=reason
        )
    return ProfileList(
        items=[profile_read(service.get_profile(session, profile_id=p)) for p in found]
    )


@router.get("/{profile_id}", response_model=ProfileRead)
def get_profile(
    profile_id: UUID,
    session: DbSession,
    actor: ProfileReader,
    _resolved: ResolvedThrough,
    reason: AccessReason = None,
) -> ProfileRead:
    """The unified profile. A merged-away id answers with the profile it joined."""
    view = service.get_profile(session, profile_id=profile_id)
    access.record(
        session, actor=actor, action=AccessAction.PROFILE, profile_id=view.profile.id, reason=reason
    )
    return profile_read(view)


@router.get("/{profile_id}/merges", response_model=list[MergeLogRead])
def merge_log(
    profile_id: UUID,
    session: DbSession,
    actor: ProfileReader,
    _resolved: ResolvedThrough,
    reason: AccessReason = None,
) -> list[MergeLogRead]:
    """Why this profile is what it is: each merge, device move, refusal and unmerge."""
    entries = service.merge_log(session, profile_id=profile_id)
    access.record(
        session,
        actor=actor,
        action=AccessAction.MERGE_LOG,
        profile_id=service.live_profile(session, profile_id).id,
        reason=reason,
    )
    return [MergeLogRead.model_validate(e) for e in entries]
