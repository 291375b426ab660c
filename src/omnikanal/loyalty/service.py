"""Loyalty rules: earning on every channel, proportional reversal on returns, redemption
anywhere, tiers over a rolling window, FIFO expiry. The ledger is append-only and the
balance is its sum; nothing may take it below zero."""

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import LOYALTY_CARD
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.money import Money
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import repository
from omnikanal.loyalty.models import (
    LedgerReason,
    LoyaltyLedgerEntry,
    LoyaltyMember,
    LoyaltyProgram,
    LoyaltyReward,
)
from omnikanal.uow import DomainEvent, record_event


class LoyaltyErrorCode(StrEnum):
    NOT_A_MEMBER = "not_a_member"
    INSUFFICIENT_POINTS = "insufficient_points"
    UNKNOWN_REWARD = "unknown_reward"
    REWARD_EXISTS = "reward_exists"
    REFERENCE_USED = "redemption_reference_used"
    NO_POINT_VALUE = "no_point_value_for_currency"


DEFAULT_PROGRAM: dict[str, Any] = {
    "name": "Norrsken Club",
    "points_per_unit": {"SEK": 1, "DKK": 1, "NOK": 1, "EUR": 10},
    "point_value_minor": {"SEK": 10, "DKK": 10, "NOK": 10, "EUR": 1},
    "tiers": [
        {"name": "Member", "threshold": 0},
        {"name": "Silver", "threshold": 2000},
        {"name": "Gold", "threshold": 6000},
    ],
    "tier_window_days": 365,
    "points_expire_after_days": 730,
}


@dataclasses.dataclass(frozen=True)
class MemberJoined(DomainEvent):
    type: ClassVar[str] = "loyalty.member_joined"
    profile_id: UUID
    card_number: str
    channel: str | None


@dataclasses.dataclass(frozen=True)
class PointsChanged(DomainEvent):
    type: ClassVar[str] = "loyalty.points_changed"
    profile_id: UUID
    points: int
    reason: str
    reference: str
    balance: int
    channel: str | None


@dataclass(frozen=True)
class TierProgress:
    name: str
    earned_in_window: int
    next_tier: str | None
    points_to_next: int | None


@dataclass(frozen=True)
class Redemption:
    entry: LoyaltyLedgerEntry
    balance: int
    value: Money | None


# -- the program --


def program(session: Session) -> LoyaltyProgram:
    """The stored program, or the default one (stored on first change)."""
    stored = repository.program(session)
    if stored is not None:
        return stored
    return LoyaltyProgram(id=1, updated_at=utcnow(), **DEFAULT_PROGRAM)


def update_program(session: Session, *, rules: dict[str, Any]) -> LoyaltyProgram:
    stored = repository.program(session)
    if stored is None:
        stored = LoyaltyProgram(id=1, **rules)
        session.add(stored)
    else:
        for name, value in rules.items():
            setattr(stored, name, value)
        stored.updated_at = utcnow()
    session.flush()
    return stored


def points_for(rules: LoyaltyProgram, *, amount_minor: int, currency: str) -> int:
    """Whole points for an amount: points per unit × whole units (öre and cents drop)."""
    rate = int(rules.points_per_unit.get(currency, 0))
    return max(amount_minor, 0) * rate // 100


def tier_progress(rules: LoyaltyProgram, earned: int) -> TierProgress:
    tiers = sorted(rules.tiers, key=lambda tier: int(tier["threshold"]))
    current = tiers[0]
    following: dict[str, Any] | None = None
    for tier in tiers:
        if earned >= int(tier["threshold"]):
            current = tier
        elif following is None:
            following = tier
    return TierProgress(
        name=str(current["name"]),
        earned_in_window=earned,
        next_tier=str(following["name"]) if following else None,
        points_to_next=int(following["threshold"]) - earned if following else None,
    )


# -- members --


def _card_number() -> str:
    """16 digits, starting 7, with a Luhn check digit so tills catch mistyped numbers."""
    body = "7" + "".join(secrets.choice("0123456789") for _ in range(14))
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def account_of(session: Session, profile_id: UUID) -> UUID:
    """The profile a person's membership and points are kept under: the member among the
    person's profiles, else their live profile. A membership stays with the profile that
    joined, so it follows a merge (any of the person's ids finds it) and an unmerge (it
    goes back with that profile and its card)."""
    try:
        live = customers_service.live_profile(session, profile_id).id
    except NotFound:
        return profile_id
    found = repository.member_among(
        session, [live, *customers_service.merged_descendants(session, live)]
    )
    return found.profile_id if found is not None else live


def join(session: Session, *, profile_id: UUID, channel: str | None) -> LoyaltyMember:
    """Make the profile a member (once); the card number becomes a profile identifier, so
    a till scanning the card finds the person."""
    view = customers_service.get_profile(session, profile_id=profile_id)
    profile_id = account_of(session, view.profile.id)
    existing = repository.member(session, profile_id)
    if existing is not None:
        return existing
    # A card the person already shows at tills (a plastic card) becomes their club card.
    held = [i.value for i in view.identifiers if i.type == LOYALTY_CARD]
    card = held[0] if held and repository.member_by_card(session, held[0]) is None else None
    member = LoyaltyMember(
        profile_id=profile_id, card_number=card or _card_number(), joined_channel=channel
    )
    session.add(member)
    session.flush()
    if card is None:
        customers_service.attach_identifier(
            session,
            profile_id=profile_id,
            type_=LOYALTY_CARD,
            raw_value=member.card_number,
            channel=channel or "backend",
        )
    record_event(
        session,
        MemberJoined(profile_id=profile_id, card_number=member.card_number, channel=channel),
    )
    return member


def member(session: Session, *, profile_id: UUID) -> LoyaltyMember | None:
    profile_id = account_of(session, profile_id)
    return repository.member(session, profile_id)


def member_by_card(session: Session, *, card_number: str) -> LoyaltyMember | None:
    return repository.member_by_card(session, card_number)


def _require_member(session: Session, profile_id: UUID, *, lock: bool = False) -> LoyaltyMember:
    found = repository.member(session, profile_id, lock=lock)
    if found is None:
        raise NotFound(
            LoyaltyErrorCode.NOT_A_MEMBER, f"Profile {profile_id} is not a loyalty member."
        )
    return found


def balance(session: Session, *, profile_id: UUID) -> int:
    profile_id = account_of(session, profile_id)
    return repository.balance(session, profile_id)


def ledger(
    session: Session, *, profile_id: UUID, before: UUID | None = None, limit: int = 50
) -> Sequence[LoyaltyLedgerEntry]:
    """The member's point changes, newest first (keyset paging on ``before``)."""
    profile_id = account_of(session, profile_id)
    return repository.ledger_page(session, profile_id, before=before, limit=limit)


def tier(session: Session, *, profile_id: UUID) -> TierProgress:
    return _tier_of(session, account_of(session, profile_id))


def _tier_of(session: Session, account_id: UUID) -> TierProgress:
    rules = program(session)
    since = utcnow() - timedelta(days=rules.tier_window_days)
    return tier_progress(rules, repository.earned_since(session, account_id, since))


@dataclass(frozen=True)
class Account:
    member: LoyaltyMember | None
    balance: int
    tier: TierProgress
    ledger: Sequence[LoyaltyLedgerEntry]


def account(session: Session, *, profile_id: UUID, before: UUID | None, limit: int) -> Account:
    """Membership, balance, tier and a page of the ledger (none for ``limit`` 0), the
    person's account found once."""
    account_id = account_of(session, profile_id)
    return Account(
        member=repository.member(session, account_id),
        balance=repository.balance(session, account_id),
        tier=_tier_of(session, account_id),
        ledger=repository.ledger_page(session, account_id, before=before, limit=limit)
        if limit
        else [],
    )


# -- ledger changes --


def _append(
    session: Session,
    *,
    profile_id: UUID,
    points: int,
    reason: str,
    reference: str,
    order_id: str | None = None,
    channel: str | None = None,
    location: str | None = None,
    note: str = "",
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> LoyaltyLedgerEntry:
    entry = LoyaltyLedgerEntry(
        created_at=at or utcnow(),
        profile_id=profile_id,
        points=points,
        reason=reason,
        reference=reference,
        order_id=order_id,
        channel=channel,
        location=location,
        note=note,
        expires_at=expires_at,
    )
    session.add(entry)
    session.flush()
    record_event(
        session,
        PointsChanged(
            profile_id=profile_id,
            points=points,
            reason=reason,
            reference=reference,
            balance=repository.balance(session, profile_id),
            channel=channel,
        ),
    )
    return entry


def earn_for_order(
    session: Session,
    *,
    profile_id: UUID,
    order_id: str,
    amount_minor: int,
    currency: str,
    channel: str | None,
    location: str | None,
    at: datetime | None = None,
) -> LoyaltyLedgerEntry | None:
    """Points for a member's order on any channel; once per order, none for non-members.
    ``at``: when the order was placed, for an order imported as history (the points are
    dated then, and expire counted from then)."""
    profile_id = account_of(session, profile_id)
    if repository.member(session, profile_id) is None:
        return None
    reference = f"order:{order_id}"
    existing = repository.entry(session, profile_id, LedgerReason.EARN, reference)
    if existing is not None:
        return existing
    rules = program(session)
    points = points_for(rules, amount_minor=amount_minor, currency=currency)
    if points <= 0:
        return None
    earned_at = at or utcnow()
    expires_at = (
        earned_at + timedelta(days=rules.points_expire_after_days)
        if rules.points_expire_after_days
        else None
    )
    return _append(
        session,
        profile_id=profile_id,
        points=points,
        reason=LedgerReason.EARN,
        reference=reference,
        order_id=order_id,
        channel=channel,
        location=location,
        expires_at=expires_at,
        at=earned_at,
    )


def reverse_for_return(
    session: Session,
    *,
    profile_id: UUID,
    order_id: str,
    return_id: str,
    refunded_minor: int,
    order_total_minor: int,
    channel: str | None,
    location: str | None,
) -> LoyaltyLedgerEntry | None:
    """Take back the order's points in proportion to what was refunded, wherever returned.

    Never more than the order earned in all, and never below a zero balance (points already
    spent stay spent; the note says what could not be taken back)."""
    profile_id = account_of(session, profile_id)
    earned = repository.entry(session, profile_id, LedgerReason.EARN, f"order:{order_id}")
    reference = f"return:{return_id}"
    if earned is None or order_total_minor <= 0:
        return None
    if repository.entry(session, profile_id, LedgerReason.REVERSE, reference) is not None:
        return None
    _require_member(session, profile_id, lock=True)
    already = repository.reversed_for_order(session, profile_id, order_id)
    due = min(earned.points * refunded_minor // order_total_minor, earned.points - already)
    taken = min(due, repository.balance(session, profile_id))
    if taken <= 0:
        return None
    note = f"{due - taken} points were already spent" if taken < due else ""
    return _append(
        session,
        profile_id=profile_id,
        points=-taken,
        reason=LedgerReason.REVERSE,
        reference=reference,
        order_id=order_id,
        channel=channel,
        location=location,
        note=note,
    )


def redeem(
    session: Session,
    *,
    profile_id: UUID,
    points: int | None = None,
    reward_code: str | None = None,
    reference: str | None = None,
    channel: str | None = None,
    location: str | None = None,
    currency: str | None = None,
) -> Redemption:
    """Spend points as a tender (``points``, valued in ``currency``) or on a reward.

    ``reference`` (a receipt or order id) makes the redemption once-only; without one each
    call is a new redemption, and retries are made safe by the Idempotency-Key."""
    profile_id = account_of(session, profile_id)
    note = ""
    if reward_code is not None:
        found = repository.reward(session, reward_code)
        if found is None or not found.active:
            raise NotFound(LoyaltyErrorCode.UNKNOWN_REWARD, f"No active reward {reward_code!r}.")
        points, note = found.points_cost, f"reward {found.code}: {found.name}"
    if points is None or points <= 0:
        raise RuleViolation(LoyaltyErrorCode.INSUFFICIENT_POINTS, "Redeem a positive amount.")
    _require_member(session, profile_id, lock=True)
    full_reference = f"redemption:{reference or new_id()}"
    if repository.entry(session, profile_id, LedgerReason.REDEEM, full_reference) is not None:
        raise Conflict(
            LoyaltyErrorCode.REFERENCE_USED, f"Redemption {reference!r} was already made."
        )
    available = repository.balance(session, profile_id)
    if points > available:
        raise RuleViolation(
            LoyaltyErrorCode.INSUFFICIENT_POINTS,
            f"The balance is {available} points; {points} were asked for.",
            balance=available,
        )
    value = None
    if reward_code is None and currency is not None:
        value = Money(amount=points * point_value(session, currency=currency), currency=currency)
    entry = _append(
        session,
        profile_id=profile_id,
        points=-points,
        reason=LedgerReason.REDEEM,
        reference=full_reference,
        channel=channel,
        location=location,
        note=note,
    )
    return Redemption(entry=entry, balance=available - points, value=value)


def point_value(session: Session, *, currency: str) -> int:
    """What one point pays, in minor units of ``currency``."""
    per_point = program(session).point_value_minor.get(currency)
    if not per_point:
        raise RuleViolation(LoyaltyErrorCode.NO_POINT_VALUE, f"Points have no value in {currency}.")
    return int(per_point)


def refund_redemption(
    session: Session,
    *,
    profile_id: UUID,
    points: int,
    reference: str,
    channel: str | None,
    location: str | None,
) -> LoyaltyLedgerEntry | None:
    """Points spent as a tender come back when that money is refunded (once per reference)."""
    profile_id = account_of(session, profile_id)
    full_reference = f"refund:{reference}"
    if points <= 0:
        return None
    if repository.entry(session, profile_id, LedgerReason.REFUND_REDEMPTION, full_reference):
        return None
    _require_member(session, profile_id, lock=True)
    return _append(
        session,
        profile_id=profile_id,
        points=points,
        reason=LedgerReason.REFUND_REDEMPTION,
        reference=full_reference,
        channel=channel,
        location=location,
    )


def adjust(
    session: Session, *, profile_id: UUID, points: int, note: str, by: str
) -> LoyaltyLedgerEntry:
    """A manual change by an admin; a removal may not take the balance below zero."""
    profile_id = account_of(session, profile_id)
    _require_member(session, profile_id, lock=True)
    available = repository.balance(session, profile_id)
    if available + points < 0:
        raise RuleViolation(
            LoyaltyErrorCode.INSUFFICIENT_POINTS,
            f"The balance is {available}; removing {-points} would make it negative.",
            balance=available,
        )
    return _append(
        session,
        profile_id=profile_id,
        points=points,
        reason=LedgerReason.ADJUST,
        reference=f"adjustment:{utcnow().isoformat()}:{secrets.token_hex(4)}",
        note=f"{note} (by {by})",
    )


def expire_points(session: Session, *, profile_id: UUID, now: datetime | None = None) -> int:
    """Lapse earned points past their expiry that later spending did not use (FIFO)."""
    profile_id = account_of(session, profile_id)
    now = now or utcnow()
    _require_member(session, profile_id, lock=True)
    lapsed, taken_out = repository.expiry_totals(session, profile_id, now)
    due = min(lapsed - taken_out, repository.balance(session, profile_id))
    if due <= 0:
        return 0
    _append(
        session,
        profile_id=profile_id,
        points=-due,
        reason=LedgerReason.EXPIRE,
        reference=f"expiry:{now.isoformat()}",
    )
    return due


def expire_all(session: Session) -> int:
    return sum(
        expire_points(session, profile_id=profile_id)
        for profile_id in repository.profiles_with_lapsed_points(session, utcnow())
    )


# -- rewards --


def create_reward(session: Session, *, code: str, name: str, points_cost: int) -> LoyaltyReward:
    if repository.reward(session, code) is not None:
        raise Conflict(LoyaltyErrorCode.REWARD_EXISTS, f"A reward {code!r} exists already.")
    reward = LoyaltyReward(code=code, name=name, points_cost=points_cost)
    session.add(reward)
    session.flush()
    return reward
