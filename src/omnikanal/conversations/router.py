"""The unified inbox over HTTP: messages from every channel, the agent's view and actions."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from omnikanal.commerce.router import cart_line_read
from omnikanal.commerce.schemas import ReturnLineRead
from omnikanal.conversations import actions, context, messages, service
from omnikanal.conversations import inbound_email as inbound
from omnikanal.conversations.dependencies import Agent, CsatTaker, MessageSender, ValidConversation
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.conversations.schemas import (
    AssignRequest,
    ContextCart,
    ContextOrder,
    ContextOrderLine,
    ContextReturn,
    ConversationContext,
    ConversationPage,
    ConversationRead,
    ConversationSummary,
    CsatCreate,
    CsatRead,
    CsatReceipt,
    CustomerRead,
    LoyaltyRead,
    MessageCreate,
    MessageRead,
    MessageReceipt,
    NoteCreate,
    ReplyCreate,
    StatusName,
    StatusRequest,
)
from omnikanal.conversations.service import ConversationErrorCode, MessageChannel
from omnikanal.customers.schemas import ChannelSeen, IdentifierRead
from omnikanal.errors import RuleViolation
from omnikanal.events.dependencies import ResolvedThrough
from omnikanal.http import DbSession
from omnikanal.kit.money import Money
from omnikanal.kit.pagination import (
    PageParams,
    decode_time_cursor,
    encode_time_cursor,
    page_params,
)
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


# -- reads --


def _message_read(message: ConversationMessage) -> MessageRead:
    return MessageRead(
        id=message.id,
        kind="note" if message.kind == "note" else "message",
        channel=message.channel,
        direction=message.direction,
        subject=message.subject,
        body=message.body,
        external_id=message.external_id,
        author=message.author,
        sent_at=message.sent_at,
        received_at=message.received_at,
        delivery_status=message.delivery_status,
        delivery_error=message.delivery_error,
        delivered_at=message.delivered_at,
    )


def _csat(conversation: Conversation) -> CsatRead | None:
    if conversation.csat_score is None or conversation.csat_at is None:
        return None
    return CsatRead(
        score=conversation.csat_score, comment=conversation.csat_comment, at=conversation.csat_at
    )


def _summary_fields(conversation: Conversation, names: Mapping[str, str]) -> dict[str, Any]:
    assignee = conversation.assignee
    return {
        "id": conversation.id,
        "status": conversation.status,
        "profile_id": conversation.profile_id,
        "subject": conversation.subject,
        "channels": list(conversation.channels),
        "last_channel": conversation.last_channel,
        "preview": conversation.preview,
        "message_count": conversation.message_count,
        "assignee": assignee,
        # Assigned before staff accounts: the name that was typed.
        "assignee_name": names.get(assignee, assignee) if assignee else None,
        "opened_at": conversation.opened_at,
        "last_activity_at": conversation.last_activity_at,
        "closed_at": conversation.closed_at,
        "csat": _csat(conversation),
        "undelivered_replies": conversation.undelivered_replies,
    }


def _summaries(
    session: Session, conversations: Sequence[Conversation]
) -> list[ConversationSummary]:
    names = service.assignee_names(session, conversations)
    return [ConversationSummary(**_summary_fields(c, names)) for c in conversations]


def _read(
    session: Session, conversation: Conversation, messages: Sequence[ConversationMessage]
) -> ConversationRead:
    names = service.assignee_names(session, [conversation])
    return ConversationRead(
        **_summary_fields(conversation, names), messages=[_message_read(m) for m in messages]
    )


def _full(session: Session, conversation: Conversation) -> ConversationRead:
    return _read(session, conversation, service.transcript(session, conversation))


def _inbox_cursor(value: str | None) -> tuple[datetime, UUID] | None:
    if value is None:
        return None
    return decode_time_cursor(value)


@router.get("", response_model=ConversationPage)
def list_conversations(
    session: DbSession,
    _: Agent,
    page: Annotated[PageParams, Depends(page_params)],
    status: StatusName | None = None,
    assignee: Annotated[
        str | None, Query(max_length=320, description="A staff account's id or email.")
    ] = None,
    profile_id: UUID | None = None,
    undelivered: Annotated[
        bool, Query(description="Only conversations with a reply that could not be delivered.")
    ] = False,
) -> ConversationPage:
    """The inbox: conversations of every channel, newest activity first."""
    found = service.inbox(
        session,
        status=status,
        assignee=assignee,
        profile_id=profile_id,
        before=_inbox_cursor(page.cursor),
        limit=page.limit + 1,
        undelivered=undelivered,
    )
    shown = list(found[: page.limit])
    next_cursor = None
    if len(found) > page.limit:
        last = shown[-1]
        next_cursor = encode_time_cursor(last.last_activity_at, last.id)
    return ConversationPage(items=_summaries(session, shown), next_cursor=next_cursor)


@router.get("/{conversation_id:uuid}", response_model=ConversationRead)
def get_conversation(
    session: DbSession,
    actor: Agent,
    conversation: ValidConversation,
    reason: AccessReason = None,
) -> ConversationRead:
    """The conversation with its whole transcript across channels, oldest first; a
    merged-away id answers with the conversation it joined."""
    access.record(
        session,
        actor=actor,
        action=AccessAction.TRANSCRIPT,
        profile_id=conversation.profile_id,
        conversation_id=conversation.id,
        reason=reason,
    )
    return _full(session, conversation)


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def _customer(found: context.Context) -> CustomerRead:
    profile = found.profile.profile
    traits = profile.traits
    identifiers = found.profile.identifiers
    first_of = {i.type: i.value for i in reversed(identifiers)}
    name = traits.get("name") or " ".join(
        str(traits[part]) for part in ("first_name", "last_name") if traits.get(part)
    )
    loyalty = found.loyalty
    return CustomerRead(
        profile_id=profile.id,
        name=str(name) if name else None,
        email=str(traits.get("email") or first_of.get("email") or "") or None,
        phone=str(traits.get("phone") or first_of.get("phone") or "") or None,
        traits=traits,
        computed_traits=profile.computed_traits,
        identifiers=[IdentifierRead.model_validate(i) for i in identifiers],
        channels=[
            ChannelSeen(channel=name, **seen)
            for name, seen in sorted(profile.channels.items(), key=lambda c: c[1]["first_seen"])
        ],
        first_seen=profile.first_seen,
        last_seen=profile.last_seen,
        loyalty=LoyaltyRead(
            card_number=loyalty.member.card_number,
            balance=loyalty.balance,
            tier=loyalty.tier.name,
            next_tier=loyalty.tier.next_tier,
            points_to_next=loyalty.tier.points_to_next,
        )
        if loyalty
        else None,
    )


def _order(item: context.OrderWithReturns) -> ContextOrder:
    order, currency = item.view.order, item.view.order.currency
    return ContextOrder(
        id=order.id,
        number=order.number,
        status=order.status,
        channel=order.channel,
        location=order.location,
        fulfilment=order.fulfilment,
        pickup_location=order.pickup_location,
        total=_money(order.total, currency),
        lines=[
            ContextOrderLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                returned_quantity=line.returned_quantity,
                line_total=_money(line.line_total, currency),
            )
            for line in item.view.lines
        ],
        returns=[
            ContextReturn(
                id=r.received.id,
                location=r.received.location,
                channel=r.received.channel,
                reason=r.received.reason,
                refund_total=_money(r.received.refund_total, currency),
                lines=[
                    ReturnLineRead(
                        sku=line.sku,
                        quantity=line.quantity,
                        refund=_money(line.refund_amount, currency),
                    )
                    for line in r.lines
                ],
                created_at=r.received.created_at,
            )
            for r in item.returns
        ],
        placed_at=order.placed_at,
        ready_at=order.ready_at,
        arrived_at=order.arrived_at,
        handed_over_at=order.handed_over_at,
        cancelled_at=order.cancelled_at,
    )


def _cart(found: context.Context) -> ContextCart | None:
    if found.cart is None:
        return None
    shown, cart = found.cart, found.cart.state.cart
    currency = cart.currency
    return ContextCart(
        id=cart.id,
        channel=shown.channel,
        currency=currency,
        lines=[cart_line_read(line, currency) for line in shown.lines],
        total=_money(shown.total, currency),
        updated_at=cart.updated_at,
    )


@router.get("/{conversation_id:uuid}/context", response_model=ConversationContext)
def get_context(
    session: DbSession,
    actor: Agent,
    conversation: ValidConversation,
    _resolved: ResolvedThrough,
    reason: AccessReason = None,
) -> ConversationContext:
    """Everything an agent needs to continue without asking again: the customer, the
    whole transcript across channels, recent orders with pickups and returns, the cart,
    loyalty, and earlier conversations."""
    found = context.context(session, conversation_id=conversation.id)
    access.record(
        session,
        actor=actor,
        action=AccessAction.CONVERSATION,
        profile_id=found.profile.profile.id,
        conversation_id=found.conversation.id,
        reason=reason,
    )
    return ConversationContext(
        conversation=_read(session, found.conversation, found.transcript),
        customer=_customer(found),
        orders=[_order(item) for item in found.orders],
        cart=_cart(found),
        earlier_conversations=_summaries(session, found.earlier),
    )


# -- messages from the channels --


@router.post(
    "/messages",
    status_code=201,
    response_model=MessageReceipt,
    responses={200: {"model": MessageReceipt, "description": "Stored before (external_id)."}},
)
def post_message(
    body: MessageCreate, session: DbSession, actor: MessageSender, response: Response
) -> MessageReceipt:
    """A message from chat, email, phone (a call's notes or transcript) or social, placed
    with its person and added to their open conversation (a new one when none is open).
    A repeated ``external_id`` on the same channel answers 200 with the stored message."""
    receipt = messages.receive_message(
        session,
        actor=actor,
        channel=messages.message_channel(actor, body.channel),
        sender=messages.Sender(
            user_id=body.user_id,
            anonymous_id=body.anonymous_id,
            email=body.email,
            phone=body.phone,
            loyalty_card=body.loyalty_card,
            social=dict(body.social),
        ),
        message=messages.IncomingMessage(
            direction=body.direction,
            body=body.body,
            subject=body.subject,
            external_id=body.external_id,
            sent_at=body.sent_at,
            author=body.author,
        ),
    )
    if receipt.duplicate:
        response.status_code = 200
    return _receipt(receipt)


def _receipt(receipt: messages.Receipt) -> MessageReceipt:
    return MessageReceipt(
        conversation_id=receipt.conversation.id,
        conversation_status=receipt.conversation.status,
        profile_id=receipt.profile_id,
        new_conversation=receipt.new_conversation,
        duplicate=receipt.duplicate,
        message=_message_read(receipt.message),
    )


_RAW_MAIL = {"type": "string", "format": "binary"}


@router.post(
    "/inbound-email",
    status_code=201,
    response_model=MessageReceipt,
    responses={
        200: {"model": MessageReceipt, "description": "Stored before (its Message-ID)."},
        422: {
            "description": "Not a mail to file: no sender address or no text "
            "(`errors` names the header)."
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The raw mail (RFC 5322), as a mail provider's inbound route "
            "posts it; or a form with the raw mail in `email` or `body-mime`.",
            "content": {
                "message/rfc822": {"schema": _RAW_MAIL},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"email": _RAW_MAIL, "body-mime": _RAW_MAIL},
                    }
                },
            },
        }
    },
)
async def inbound_email(
    request: Request, session: DbSession, actor: MessageSender, response: Response
) -> MessageReceipt:
    """A customer's email, posted raw by the mail provider with the email channel's key
    (`omnikanal keys create --role channel --channel email`): placed with its person by
    the sender's address and added to their open conversation, so the answer to an
    agent's emailed reply joins the conversation it answers. The same Message-ID again
    answers 200 with the stored message."""
    raw = await _raw_mail(request)
    channel = messages.message_channel(actor, MessageChannel.EMAIL)
    assert channel == MessageChannel.EMAIL
    receipt, answered = await anyio.to_thread.run_sync(
        lambda: inbound.receive(session, actor=actor, raw=raw)
    )
    if receipt.duplicate:
        response.status_code = 200
    return _receipt(receipt).model_copy(update={"answers_conversation_id": answered})


async def _raw_mail(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        return await request.body()
    form = await request.form()
    for field in ("email", "body-mime"):
        value = form.get(field)
        if isinstance(value, str):
            return value.encode()
        if value is not None:
            return await value.read()
    raise RuleViolation(
        ConversationErrorCode.UNREADABLE_EMAIL,
        "Put the raw mail in the form's `email` (or `body-mime`) field.",
        errors=[{"field": "body.email", "message": "the raw mail is required"}],
    )


# -- what agents do --


@router.post("/{conversation_id:uuid}/assign", response_model=ConversationRead)
def assign(
    conversation_id: UUID, body: AssignRequest, session: DbSession, _: Agent
) -> ConversationRead:
    """Give the conversation to a person (a staff account that is an active agent or admin,
    by id or email), or to nobody (null). An unknown person is 422 naming ``body.agent``."""
    conversation = actions.assign(session, conversation_id=conversation_id, agent=body.agent)
    return _full(session, conversation)


@router.post("/{conversation_id:uuid}/status", response_model=ConversationRead)
def set_status(
    conversation_id: UUID, body: StatusRequest, session: DbSession, _: Agent
) -> ConversationRead:
    """open, pending (waiting for the customer) or closed. Closed is final: the customer's
    next message starts a new conversation."""
    conversation = actions.set_status(session, conversation_id=conversation_id, status=body.status)
    return _full(session, conversation)


@router.post("/{conversation_id:uuid}/notes", status_code=201, response_model=ConversationRead)
def add_note(
    conversation_id: UUID, body: NoteCreate, session: DbSession, actor: Agent
) -> ConversationRead:
    """An internal note: shown to agents in the transcript, never sent to the customer."""
    note = actions.add_note(session, actor=actor, conversation_id=conversation_id, body=body.body)
    return _full(session, service.get(session, conversation_id=note.conversation_id))


@router.post("/{conversation_id:uuid}/reply", status_code=201, response_model=ConversationRead)
def reply(
    conversation_id: UUID, body: ReplyCreate, session: DbSession, actor: Agent
) -> ConversationRead:
    """The agent's answer, recorded on the chosen channel (delivery comes with campaigns)."""
    sent = actions.reply(
        session,
        actor=actor,
        conversation_id=conversation_id,
        body=body.body,
        channel=body.channel,
    )
    return _full(session, service.get(session, conversation_id=sent.conversation_id))


@router.post("/{conversation_id:uuid}/csat", status_code=201, response_model=CsatReceipt)
def record_csat(
    conversation_id: UUID, body: CsatCreate, session: DbSession, _: CsatTaker
) -> CsatReceipt:
    """The customer's rating, 1-5, once, after the conversation was closed."""
    conversation = actions.record_csat(
        session, conversation_id=conversation_id, score=body.score, comment=body.comment
    )
    csat = _csat(conversation)
    assert csat is not None
    return CsatReceipt(conversation_id=conversation.id, csat=csat)
