from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from omnikanal.auth.dependencies import AdminKey
from omnikanal.events.dependencies import ResolvedThrough
from omnikanal.http import DbSession
from omnikanal.kit.pagination import PageParams, decode_id_cursor, encode_cursor, page_params
from omnikanal.loyalty import repository, service
from omnikanal.loyalty.dependencies import LoyaltyOperator, LoyaltyReader, StaffReader
from omnikanal.loyalty.schemas import (
    AdjustmentCreate,
    JoinRequest,
    LedgerEntryRead,
    LoyaltyAccount,
    MemberRead,
    ProgramRead,
    ProgramUpdate,
    RedemptionCreate,
    RedemptionRead,
    RewardCreate,
    RewardRead,
    TierStatus,
)
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])


@router.get("/program", response_model=ProgramRead)
def get_program(session: DbSession, _: StaffReader) -> ProgramRead:
    return ProgramRead.model_validate(service.program(session))


@router.put("/program", response_model=ProgramRead)
def put_program(body: ProgramUpdate, session: DbSession, _: AdminKey) -> ProgramRead:
    rules = body.model_dump(mode="json")
    return ProgramRead.model_validate(service.update_program(session, rules=rules))


@router.get("/rewards", response_model=list[RewardRead])
def list_rewards(session: DbSession, _: StaffReader) -> list[RewardRead]:
    return [RewardRead.model_validate(r) for r in repository.rewards(session)]


@router.post("/rewards", status_code=201, response_model=RewardRead)
def create_reward(body: RewardCreate, session: DbSession, _: AdminKey) -> RewardRead:
    reward = service.create_reward(
        session, code=body.code, name=body.name, points_cost=body.points_cost
    )
    return RewardRead.model_validate(reward)


@router.get("/{profile_id}", response_model=LoyaltyAccount)
def get_account(
    profile_id: UUID,
    session: DbSession,
    actor: LoyaltyReader,
    _resolved: ResolvedThrough,
    page: Annotated[PageParams, Depends(page_params)],
    reason: AccessReason = None,
) -> LoyaltyAccount:
    """Balance, tier and progress to the next, and the ledger newest first."""
    before = decode_id_cursor(page.cursor) if page.cursor else None
    found = service.account(session, profile_id=profile_id, before=before, limit=page.limit + 1)
    access.record(
        session, actor=actor, action=AccessAction.LOYALTY, profile_id=profile_id, reason=reason
    )
    shown = found.ledger[: page.limit]
    return LoyaltyAccount(
        profile_id=profile_id,
        member=MemberRead.model_validate(found.member) if found.member else None,
        balance=found.balance,
        tier=TierStatus(**found.tier.__dict__),
        ledger=[LedgerEntryRead.model_validate(e) for e in shown],
        next_cursor=encode_cursor(str(shown[-1].id)) if len(found.ledger) > page.limit else None,
    )


@router.post("/{profile_id}/join", response_model=MemberRead)
def join(profile_id: UUID, body: JoinRequest, session: DbSession, _: LoyaltyOperator) -> MemberRead:
    """Enrol the profile (once) and issue its digital card number."""
    return MemberRead.model_validate(
        service.join(session, profile_id=profile_id, channel=body.channel)
    )


@router.post("/{profile_id}/redemptions", status_code=201, response_model=RedemptionRead)
def redeem(
    profile_id: UUID, body: RedemptionCreate, session: DbSession, actor: LoyaltyOperator
) -> RedemptionRead:
    redemption = service.redeem(
        session,
        profile_id=profile_id,
        points=body.points,
        reward_code=body.reward_code,
        reference=body.reference,
        channel=body.channel,
        location=body.location or actor.location,
    )
    return RedemptionRead(
        entry=LedgerEntryRead.model_validate(redemption.entry),
        balance=redemption.balance,
        value=redemption.value,
    )


@router.post("/{profile_id}/adjustments", status_code=201, response_model=LedgerEntryRead)
def adjust(
    profile_id: UUID, body: AdjustmentCreate, session: DbSession, actor: AdminKey
) -> LedgerEntryRead:
    entry = service.adjust(
        session, profile_id=profile_id, points=body.points, note=body.note, by=actor.name
    )
    return LedgerEntryRead.model_validate(entry)
