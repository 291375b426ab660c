"""The agents' inbox: open conversations, one conversation with its context, and the
agent's actions on it (S3)."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_service
from omnikanal.auth.models import Role
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.conversations import actions, context
from omnikanal.conversations import service as conversations_service
from omnikanal.conversations.models import ConversationStatus
from omnikanal.conversations.service import MessageChannel
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction

router = APIRouter(prefix="/inbox")

Agent = Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))]

INBOX_PAGE = 50
STATUSES = ("open", "pending", "closed")


@router.get("")
def inbox(request: Request, session: DbSession, user: Agent, status: str = "open") -> Response:
    chosen = status if status in (*STATUSES, "mine") else "open"
    found = conversations_service.inbox(
        session,
        status=None if chosen == "mine" else chosen,
        assignee=str(user.actor.credential_id) if chosen == "mine" else None,
        profile_id=None,
        before=None,
        limit=INBOX_PAGE,
    )
    return render(
        request,
        "inbox.html",
        title=f"Inbox · {chosen}",
        user=user,
        status=chosen,
        statuses=(*STATUSES, "mine"),
        conversations=found,
        names=conversations_service.assignee_names(session, found),
    )


@router.get("/{conversation_id}")
def conversation(
    conversation_id: UUID,
    request: Request,
    session: DbSession,
    user: Agent,
    reason: str | None = None,
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
        done=request.query_params.get("done"),
    )


def _text(form: FormData, field: str, *, required: bool = True) -> str:
    value = form.get(field)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"Fill in the {field} field.")
    return text


def _back(conversation_id: UUID, done: str) -> Response:
    query = urlencode({"done": done})
    return RedirectResponse(f"/console/inbox/{conversation_id}?{query}", 303)


@router.post("/{conversation_id}/reply")
def reply(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    channel = _text(form, "channel", required=False)
    actions.reply(
        session,
        actor=user.actor,
        conversation_id=conversation_id,
        body=_text(form, "body"),
        channel=MessageChannel(channel) if channel in set(MessageChannel) else None,
    )
    return _back(conversation_id, "Reply sent.")


@router.post("/{conversation_id}/note")
def note(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    actions.add_note(
        session, actor=user.actor, conversation_id=conversation_id, body=_text(form, "body")
    )
    return _back(conversation_id, "Note added.")


@router.post("/{conversation_id}/assign")
def assign(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    """To the person chosen (an account id), to the signed-in person ("me"), or to nobody."""
    agent = _text(form, "agent", required=False)
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
    status = _text(form, "status")
    if status not in STATUSES:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"Unknown status {status!r}.")
    actions.set_status(session, conversation_id=conversation_id, status=status)
    return _back(conversation_id, f"Marked {status}.")


@router.post("/{conversation_id}/csat")
def csat(conversation_id: UUID, session: DbSession, user: Agent, form: CheckedForm) -> Response:
    score = _text(form, "score")
    if score not in {"1", "2", "3", "4", "5"}:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, "The score is a whole number from 1 to 5.")
    actions.record_csat(
        session,
        conversation_id=conversation_id,
        score=int(score),
        comment=_text(form, "comment", required=False) or None,
    )
    return _back(conversation_id, "Rating recorded.")
