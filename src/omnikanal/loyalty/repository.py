from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnikanal.loyalty.models import (
    LedgerReason,
    LoyaltyLedgerEntry,
    LoyaltyMember,
    LoyaltyProgram,
    LoyaltyReward,
)


def program(session: Session) -> LoyaltyProgram | None:
    return session.get(LoyaltyProgram, 1)


def member(session: Session, profile_id: UUID, *, lock: bool = False) -> LoyaltyMember | None:
    query = select(LoyaltyMember).where(LoyaltyMember.profile_id == profile_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def member_among(session: Session, profile_ids: Sequence[UUID]) -> LoyaltyMember | None:
    query = (
        select(LoyaltyMember)
        .where(LoyaltyMember.profile_id.in_(profile_ids))
        .order_by(LoyaltyMember.joined_at, LoyaltyMember.id)
        .limit(1)
    )
    return session.scalar(query)


def member_by_card(session: Session, card_number: str) -> LoyaltyMember | None:
    return session.scalar(select(LoyaltyMember).where(LoyaltyMember.card_number == card_number))


def balance(session: Session, profile_id: UUID) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.profile_id == profile_id
        )
    )
    return int(total or 0)


def earned_since(session: Session, profile_id: UUID, since: datetime) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.profile_id == profile_id,
            LoyaltyLedgerEntry.reason.in_([LedgerReason.EARN, LedgerReason.REVERSE]),
            LoyaltyLedgerEntry.created_at >= since,
        )
    )
    return int(total or 0)


def entry(
    session: Session, profile_id: UUID, reason: str, reference: str
) -> LoyaltyLedgerEntry | None:
    return session.scalar(
        select(LoyaltyLedgerEntry).where(
            LoyaltyLedgerEntry.profile_id == profile_id,
            LoyaltyLedgerEntry.reason == reason,
            LoyaltyLedgerEntry.reference == reference,
        )
    )


def reversed_for_order(session: Session, profile_id: UUID, order_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.profile_id == profile_id,
            LoyaltyLedgerEntry.reason == LedgerReason.REVERSE,
            LoyaltyLedgerEntry.order_id == order_id,
        )
    )
    return -int(total or 0)


def ledger_page(
    session: Session, profile_id: UUID, *, before: UUID | None, limit: int
) -> Sequence[LoyaltyLedgerEntry]:
    query = (
        select(LoyaltyLedgerEntry)
        .where(LoyaltyLedgerEntry.profile_id == profile_id)
        .order_by(LoyaltyLedgerEntry.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(LoyaltyLedgerEntry.id < before)
    return session.scalars(query).all()


def expiry_totals(session: Session, profile_id: UUID, now: datetime) -> tuple[int, int]:
    """(earned points whose expiry has passed, all points ever taken out)."""
    lapsed = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.profile_id == profile_id,
            LoyaltyLedgerEntry.points > 0,
            LoyaltyLedgerEntry.expires_at.is_not(None),
            LoyaltyLedgerEntry.expires_at <= now,
        )
    )
    taken = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLedgerEntry.points), 0)).where(
            LoyaltyLedgerEntry.profile_id == profile_id, LoyaltyLedgerEntry.points < 0
        )
    )
    return int(lapsed or 0), -int(taken or 0)


def profiles_with_lapsed_points(session: Session, now: datetime) -> Sequence[UUID]:
    return session.scalars(
        select(LoyaltyLedgerEntry.profile_id)
        .where(LoyaltyLedgerEntry.expires_at.is_not(None), LoyaltyLedgerEntry.expires_at <= now)
        .distinct()
    ).all()


def rewards(session: Session) -> Sequence[LoyaltyReward]:
    return session.scalars(select(LoyaltyReward).order_by(LoyaltyReward.points_cost)).all()


def reward(session: Session, code: str) -> LoyaltyReward | None:
    return session.scalar(select(LoyaltyReward).where(LoyaltyReward.code == code))


# -- a person's part, for export and erasure (privacy.py) --


def members_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[LoyaltyMember]:
    return session.scalars(
        select(LoyaltyMember).where(LoyaltyMember.profile_id.in_(profile_ids))
    ).all()


def ledger_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[LoyaltyLedgerEntry]:
    return session.scalars(
        select(LoyaltyLedgerEntry)
        .where(LoyaltyLedgerEntry.profile_id.in_(profile_ids))
        .order_by(LoyaltyLedgerEntry.created_at, LoyaltyLedgerEntry.id)
    ).all()
