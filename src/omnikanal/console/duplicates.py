"""Possible duplicates: people no identifier joins who are probably one, side by side, for
an agent to merge (after a confirmation) or to keep apart (remembered) (S1, S15)."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Role
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.customers import service as customers_service
from omnikanal.events import service as events_service
from omnikanal.http import DbSession
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction

router = APIRouter(prefix="/duplicates")

Agent = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))]

SHOWN = 50
# Which summary line each compared field speaks for, to highlight what agreed.
SUMMARY_FIELDS = {
    "name": ("first_name", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
    "city": ("city", "postcode", "street"),
}


def _actor(user: SignedIn) -> str:
    return f"staff account {user.actor.credential_id} ({user.actor.name}, console)"[:200]


def _highlights(agreed: dict[str, str]) -> dict[str, str]:
    """Summary line -> how it agreed (exact wins over fuzzy)."""
    found: dict[str, str] = {}
    for line, fields in SUMMARY_FIELDS.items():
        ways = {agreed[f] for f in fields if f in agreed}
        if ways:
            found[line] = "exact" if "exact" in ways else "fuzzy"
    return found


def _record(
    session: DbSession, user: SignedIn, views: list[customers_service.SuggestionView]
) -> None:
    # Each pair shows two people: each is a read of that person.
    for view in views:
        for person in (view.profile, view.other):
            access.record(
                session, actor=user.actor, action=AccessAction.DUPLICATES, profile_id=person.id
            )


@router.get("")
def duplicates(request: Request, session: DbSession, user: Agent) -> Response:
    views = customers_service.list_duplicates(session, limit=SHOWN)
    _record(session, user, views)
    return render(
        request,
        "duplicates.html",
        title="Possible duplicates",
        user=user,
        views=views,
        highlights={v.suggestion.id: _highlights(v.suggestion.agreed) for v in views},
        done=request.query_params.get("done"),
    )


@router.get("/{suggestion_id}/accept")
def confirm_accept(
    suggestion_id: UUID, request: Request, session: DbSession, user: Agent
) -> Response:
    """The confirmation step: the two people, and what merging them does."""
    view = customers_service.get_duplicate(session, suggestion_id=suggestion_id)
    _record(session, user, [view])
    return render(
        request,
        "duplicate_accept.html",
        title="Merge these two?",
        user=user,
        view=view,
        highlights=_highlights(view.suggestion.agreed),
    )


@router.post("/{suggestion_id}/accept")
def accept(suggestion_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    result = events_service.accept_duplicate(
        session, suggestion_id=suggestion_id, actor=_actor(user)
    )
    access.record(
        session,
        actor=user.actor,
        action=AccessAction.DUPLICATE_DECISION,
        profile_id=result.profile_id,
    )
    done = f"Merged: profile {result.merged_profile_id} is now part of {result.profile_id}."
    return RedirectResponse(f"/console/duplicates?{urlencode({'done': done})}", 303)


@router.post("/{suggestion_id}/reject")
def reject(suggestion_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    rejected = customers_service.reject_duplicate(
        session, suggestion_id=suggestion_id, actor=_actor(user)
    )
    access.record(
        session,
        actor=user.actor,
        action=AccessAction.DUPLICATE_DECISION,
        profile_id=rejected.profile_id,
    )
    done = "Kept apart: these two will not be suggested again."
    return RedirectResponse(f"/console/duplicates?{urlencode({'done': done})}", 303)
