"""What an agent needs to continue a conversation without asking again (S3): who the
customer is, the whole transcript across channels, their recent orders with pickups and
returns, the cart they have now, their loyalty standing and earlier conversations.

Read only; every fact comes from its own domain's service.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import carts, orders, returns
from omnikanal.conversations import repository, service
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.customers import service as customers_service
from omnikanal.loyalty import service as loyalty_service
from omnikanal.loyalty.models import LoyaltyMember
from omnikanal.loyalty.service import TierProgress

RECENT_ORDERS = 5
EARLIER_CONVERSATIONS = 10


@dataclass(frozen=True)
class LoyaltyStanding:
    member: LoyaltyMember
    balance: int
    tier: TierProgress


@dataclass(frozen=True)
class OrderWithReturns:
    view: orders.OrderView
    returns: list[returns.ReturnView]


@dataclass(frozen=True)
class Context:
    conversation: Conversation
    transcript: Sequence[ConversationMessage]
    profile: customers_service.ProfileView
    loyalty: LoyaltyStanding | None
    orders: list[OrderWithReturns]
    cart: carts.PricedCart | None
    earlier: Sequence[Conversation]


def context(session: Session, *, conversation_id: UUID) -> Context:
    conversation = service.get(session, conversation_id=conversation_id)
    profile = customers_service.get_profile(session, profile_id=conversation.profile_id)
    live = profile.profile.id
    _, recent = orders.of_person(session, profile_id=live, before=None, limit=RECENT_ORDERS)
    state = carts.person_cart(session, profile_id=live)
    people = [live, *profile.merged_ids]
    return Context(
        conversation=conversation,
        transcript=service.transcript(session, conversation),
        profile=profile,
        loyalty=_loyalty(session, live),
        orders=[
            OrderWithReturns(view=view, returns=returns.of_order(session, order_id=view.order.id))
            for view in orders.views(session, recent)
        ],
        cart=carts.priced(session, state, channel=state.cart.channel) if state else None,
        earlier=[
            other
            for other in repository.of_profiles(session, people, limit=EARLIER_CONVERSATIONS + 1)
            if other.id != conversation.id
        ][:EARLIER_CONVERSATIONS],
    )


def _loyalty(session: Session, live: UUID) -> LoyaltyStanding | None:
    """The membership of the person (it may sit on a profile merged into theirs)."""
    found = loyalty_service.account(session, profile_id=live, before=None, limit=0)
    if found.member is None:
        return None
    return LoyaltyStanding(member=found.member, balance=found.balance, tier=found.tier)
