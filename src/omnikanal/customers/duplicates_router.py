"""Duplicate customers: the suggestions an agent decides on (``/v1/profiles/duplicates``).

Included in the profiles router before ``/v1/profiles/{profile_id}``, so that
``duplicates`` is never read as a profile id. Accepting moves events, so it lives with the
events domain (``events/router.py``), as the unmerge does.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from omnikanal.auth.dependencies import AdminKey
from omnikanal.customers import service
from omnikanal.customers.dependencies import ProfileEditor
from omnikanal.customers.models import SuggestionStatus
from omnikanal.customers.schemas import (
    DuplicatePerson,
    DuplicatesComputed,
    DuplicateSuggestionPage,
    DuplicateSuggestionRead,
)
from omnikanal.customers.suggestions import PersonSummary, SuggestionView
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.http import DbSession
from omnikanal.kit.pagination import PageParams, decode_cursor_parts, encode_cursor, page_params
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

router = APIRouter(prefix="/duplicates", tags=["duplicates"])

Status = Annotated[
    str,
    Query(pattern="^(open|accepted|rejected)$", description="open, accepted or rejected."),
]


def _person(found: PersonSummary) -> DuplicatePerson:
    return DuplicatePerson(
        id=found.id, name=found.name, email=found.email, phone=found.phone, city=found.city
    )


def suggestion_read(view: SuggestionView) -> DuplicateSuggestionRead:
    s = view.suggestion
    return DuplicateSuggestionRead(
        id=s.id,
        profile=_person(view.profile),
        other_profile=_person(view.other),
        probability=s.probability,
        match_weight=s.weight,
        agreed=s.agreed,
        status=s.status,
        decided_by=s.decided_by,
        decided_at=s.decided_at,
        merge_id=s.merge_id,
        computed_at=s.computed_at,
    )


def _after(cursor: str | None) -> tuple[float, UUID] | None:
    if cursor is None:
        return None
    probability, last_id = decode_cursor_parts(cursor, 2)
    try:
        return float(probability), UUID(last_id)
    except ValueError as exc:
        raise BadRequest(CommonErrorCode.INVALID_CURSOR, "The cursor is not valid.") from exc


@router.get("", response_model=DuplicateSuggestionPage)
def list_duplicates(
    session: DbSession,
    actor: ProfileEditor,
    page: Annotated[PageParams, Depends(page_params)],
    status: Status = SuggestionStatus.OPEN,
    min_probability: Annotated[float, Query(ge=0, le=1)] = 0.0,
    reason: AccessReason = None,
) -> DuplicateSuggestionPage:
    """Pairs of profiles that are probably one person, most probable first, with both
    people's names, email, phone and city and the fields that agreed. Each person shown is
    recorded in the access log."""
    views = service.list_duplicates(
        session,
        status=status,
        min_probability=min_probability,
        after=_after(page.cursor),
        limit=page.limit + 1,
    )
    shown = views[: page.limit]
    for view in shown:
        for person in (view.profile, view.other):
            access.record(
                session,
                actor=actor,
                action=AccessAction.DUPLICATES,
                profile_id=person.id,
                reason=reason,
            )
    next_cursor = None
    if len(views) > page.limit:
        last = shown[-1].suggestion
        next_cursor = encode_cursor(repr(last.probability), str(last.id))
    return DuplicateSuggestionPage(
        items=[suggestion_read(v) for v in shown], next_cursor=next_cursor
    )


@router.post("/{suggestion_id}/reject", response_model=DuplicateSuggestionRead)
def reject(
    suggestion_id: UUID, session: DbSession, actor: ProfileEditor
) -> DuplicateSuggestionRead:
    """Not one person: remembered, the pair is never suggested again."""
    rejected = service.reject_duplicate(
        session, suggestion_id=suggestion_id, actor=f"{actor.role.value} key {actor.name}"
    )
    access.record(
        session,
        actor=actor,
        action=AccessAction.DUPLICATE_DECISION,
        profile_id=rejected.profile_id,
    )
    return suggestion_read(service.suggestion_view(session, rejected))


@router.post("/compute", response_model=DuplicatesComputed)
def compute(request: Request, session: DbSession, actor: AdminKey) -> DuplicatesComputed:
    """Compute the suggestions now, in this request (synchronously), for up to
    ``OMNIKANAL_DUPLICATES_SYNC_LIMIT`` live profiles (default 20,000); a larger hub runs
    ``omnikanal duplicates compute`` instead. Decided pairs are left as they are."""
    result = service.recompute_duplicates(
        session, most_people=request.app.state.settings.duplicates_sync_limit
    )
    return DuplicatesComputed(
        people=result.people,
        found=result.found,
        added=result.added,
        updated=result.updated,
        dropped=result.dropped,
    )
