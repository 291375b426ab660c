"""The agents' inbox: open conversations, one conversation with its context, and the
agent's actions on it (S3)."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_service
from omnikanal.auth.models import Role
from omnikanal.console import forms
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import Refusal
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.conversations import actions, context
from omnikanal.conversations import service as conversations_service
from omnikanal.conversations.models import ConversationMessage, ConversationStatus
from omnikanal.conversations.service import MessageChannel
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.pagination import decode_time_cursor, encode_time_cursor
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction

router = APIRouter(prefix="/inbox")

Agent = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))]

INBOX_PAGE = 50
STATUSES = ("open", "pending", "closed")
# The inbox's lists: by status, the signed-in agent's, and replies that did not arrive.
FILTERS = {
    "open": "Open",
    "pending": "Pending",
    "closed": "Closed",
    "mine": "Mine",
    "undelivered": "Not delivered",
}


@router.get("")
def inbox(
    request: Request,
    session: DbSession,
    user: Agent,
    status: str = "open",
    cursor: str | None = None,
) -> Response:
    chosen = status if status in FILTERS else "open"
    filters = {
        "status": chosen if chosen in STATUSES else None,
        "assignee": str(user.actor.credential_id) if chosen == "mine" else None,
        "profile_id": None,
        "undelivered": chosen == "undelivered",
    }
    found = conversations_service.inbox(
        session,
        before=decode_time_cursor(cursor) if cursor else None,
        limit=INBOX_PAGE + 1,
        **filters,  # type: ignore[arg-type]
    )
    shown = list(found[:INBOX_PAGE])
    next_cursor = None
    if len(found) > INBOX_PAGE:
        next_cursor = encode_time_cursor(shown[-1].last_activity_at, shown[-1].id)
    return render(
        request,
        "inbox.html",
        title=f"Inbox · {FILTERS[chosen].lower()}",
        user=user,
        status=chosen,
        filters=FILTERS,
        conversations=shown,
        total=conversations_service.inbox_count(session, **filters),  # type: ignore[arg-type]
        first_page=cursor is None,
        next_query=urlencode({"status": chosen, "cursor": next_cursor}) if next_cursor else None,
        names=conversations_service.assignee_names(session, shown),
    )


def _conversation_page(
    request: Request,
    session: Session,
    user: SignedIn,
    conversation_id: UUID,
    *,
    reason: str | None = None,
    refused: Refusal | None = None,
) -> Response:
    found = context.context(session, conversation_id=conversation_id)
    if found.conversation.id != conversation_id:  # merged into another: show that one
        return RedirectResponse(f"/console/inbox/{found.conversation.id}", 303)
    access.record(
        session,
        actor=user.actor,
        action=AccessAction.CONVERSATION,
        profile_id=found.profile.profile.id,
        conversation_id=conversation_id,
        reason=reason,
    )
    stores = {loc.code: loc.name or loc.code for loc in inventory_service.locations(session)}
    traits = found.profile.profile.traits
    name = " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
    return render(
        request,
        "conversation.html",
        title=f"Conversation with {name or 'a customer'}",
        user=user,
        c=found.conversation,
        ctx=found,
        name=name,
        stores=stores,
        channels=[channel.value for channel in MessageChannel],
        closed=found.conversation.status == ConversationStatus.CLOSED,
        names=conversations_service.assignee_names(session, [found.conversation]),
        handlers=staff_service.conversation_handlers(session),
        done=request.query_params.get("done") if refused is None else None,
        refused=refused,
        status_code=422 if refused else 200,
    )


@router.get("/{conversation_id}")
def conversation(
    conversation_id: UUID,
    request: Request,
    session: DbSession,
    user: Agent,
    reason: str | None = None,
) -> Response:
    return _conversation_page(request, session, user, conversation_id, reason=reason)


def _back(conversation_id: UUID, done: str) -> Response:
    query = urlencode({"done": done})
    return RedirectResponse(f"/console/inbox/{conversation_id}?{query}", 303)


WRITE_FIRST = {
    "reply": "Write the reply before sending it.",
    "note": "Write the note before adding it.",
}


@router.post("/{conversation_id}/reply")
def reply(
    conversation_id: UUID, request: Request, session: DbSession, user: Agent, form: CheckedForm
) -> Response:
    sent: list[ConversationMessage] = []

    def send() -> None:
        channel = forms.text(form, "channel", required=False)
        sent.append(
            actions.reply(
                session,
                actor=user.actor,
                conversation_id=conversation_id,
                body=forms.text(form, "body", missing=WRITE_FIRST["reply"]),
                channel=MessageChannel(channel) if channel in set(MessageChannel) else None,
            )
        )

    refused = forms.run(session, send)
    if refused is not None:
        return _conversation_page(
            request,
            session,
            user,
            conversation_id,
            refused=forms.refusal("reply", form, refused),
        )
    channel = sent[0].channel
    return _back(conversation_id, f"Reply queued for delivery by {channel}.")


@router.post("/{conversation_id}/note")
def note(
    conversation_id: UUID, request: Request, session: DbSession, user: Agent, form: CheckedForm
) -> Response:
    refused = forms.run(
        session,
        lambda: actions.add_note(
            session,
            actor=user.actor,
            conversation_id=conversation_id,
            body=forms.text(form, "body", missing=WRITE_FIRST["note"]),
        ),
    )
    if refused is not None:
        return _conversation_page(
            request, session, user, conversation_id, refused=forms.refusal("note", form, refused)
        )
    return _back(conversation_id, "Note added.")


@router.post("/{conversation_id}/assign")
def assign(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    """To the person chosen (an account id), to the signed-in person ("me"), or to nobody."""
    agent = forms.text(form, "agent", required=False)
    if agent == "me":
        agent = str(user.actor.credential_id)
    conversation = actions.assign(session, conversation_id=conversation_id, agent=agent or None)
    names = conversations_service.assignee_names(session, [conversation])
    name = names.get(conversation.assignee or "")
    return _back(conversation_id, f"Assigned to {name}." if name else "Unassigned.")


@router.post("/{conversation_id}/status")
def set_status(
    conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm
) -> Response:
    status = forms.text(form, "status")
    if status not in STATUSES:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"Unknown status {status!r}.")
    actions.set_status(session, conversation_id=conversation_id, status=status)
    return _back(conversation_id, f"Marked {status}.")


@router.post("/{conversation_id}/csat")
def csat(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    score = forms.text(form, "score")
    if score not in {"1", "2", "3", "4", "5"}:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, "The score is a whole number from 1 to 5.")
    actions.record_csat(
        session,
        conversation_id=conversation_id,
        score=int(score),
        comment=forms.text(form, "comment", required=False) or None,
    )
    return _back(conversation_id, "Rating recorded.")
