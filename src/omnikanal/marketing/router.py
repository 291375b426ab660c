"""Consent, the message log and the links in messages over HTTP."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from omnikanal.commerce.router import _cart_read
from omnikanal.commerce.schemas import CartRead
from omnikanal.http import DbSession
from omnikanal.kit.time import utcnow
from omnikanal.marketing import messages, service, triggers
from omnikanal.marketing.dependencies import (
    CartRestorer,
    ConsentReader,
    ConsentWriter,
    MessageReader,
)
from omnikanal.marketing.models import MessageStatus
from omnikanal.marketing.schemas import (
    ConsentList,
    ConsentRead,
    ConsentUpdate,
    MessageList,
    MessageRead,
    Unsubscribed,
)
from omnikanal.uow import unit_of_work

router = APIRouter(prefix="/v1", tags=["marketing"])


def _consent_list(session: DbSession, profile_id: UUID) -> ConsentList:
    live, states = service.consents(session, profile_id=profile_id)
    return ConsentList(
        profile_id=live,
        consents=[
            ConsentRead(
                purpose=s.purpose,
                channel=s.channel,
                granted=s.granted,
                explicit=s.explicit,
                source=s.source,
                changed_at=s.changed_at,
            )
            for s in states
        ],
    )


@router.get("/profiles/{profile_id}/consents", response_model=ConsentList)
def get_consents(profile_id: UUID, session: DbSession, _: ConsentReader) -> ConsentList:
    """What the person agreed to per purpose and channel, with who said so and when;
    consent in ``identify`` traits counts when it is the latest word."""
    return _consent_list(session, profile_id)


@router.put("/profiles/{profile_id}/consents", response_model=ConsentList)
def put_consents(
    profile_id: UUID, body: ConsentUpdate, session: DbSession, actor: ConsentWriter
) -> ConsentList:
    """Record consent changes (each kept with its source and time)."""
    source = body.source or (actor.channel.value if actor.channel else actor.role.value)
    now = utcnow()
    for change in body.consents:
        service.record_consent(
            session,
            profile_id=profile_id,
            purpose=change.purpose,
            channel=change.channel,
            granted=change.granted,
            source=source,
            at=change.changed_at or now,
        )
    return _consent_list(session, profile_id)


@router.get("/marketing/messages", response_model=MessageList)
def message_log(
    session: DbSession,
    _: MessageReader,
    profile_id: UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(MessageStatus.ALL) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessageList:
    """The message log, newest first: queued, sent, failed (with the reason), clicked."""
    found = messages.log(session, profile_id=profile_id, status=status, limit=limit)
    return MessageList(items=[MessageRead.model_validate(m) for m in found])


@router.get("/carts/restore/{token}", response_model=CartRead, tags=["carts"])
def restore_cart(
    token: str,
    request: Request,
    actor: CartRestorer,
    anonymous_id: Annotated[str | None, Query(max_length=200)] = None,
) -> CartRead:
    """A reminder's link opened on a device: the device joins the person and sees the same
    cart. An expired or altered link answers 400 ``invalid_link``."""
    # A GET runs on a read-only session; the click and the device are written here.
    with unit_of_work(
        request.app.state.session_factory, after_commit=request.app.state.relay.run_handlers
    ) as session:
        state = triggers.restore(session, token=token, anonymous_id=anonymous_id, actor=actor)
        return _cart_read(session, state, actor)


@router.get("/unsubscribe/{token}", response_model=Unsubscribed)
def unsubscribe(token: str, request: Request) -> Unsubscribed:
    """The opt-out link in every marketing message: no key needed, the token says who."""
    with unit_of_work(
        request.app.state.session_factory, after_commit=request.app.state.relay.run_handlers
    ) as session:
        profile_id, purpose, channel = triggers.unsubscribe(session, token=token)
    return Unsubscribed(profile_id=profile_id, purpose=purpose, channel=channel)
