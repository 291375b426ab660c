"""Every query of the marketing domain."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from omnikanal.db import insert_ignoring_duplicates
from omnikanal.marketing.models import (
    Audience,
    AudienceMember,
    Campaign,
    Consent,
    Message,
    StockAlert,
    Suppression,
    SurveyAnswer,
)


def consents_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Consent]:
    query = (
        select(Consent)
        .where(Consent.profile_id.in_(profile_ids))
        .order_by(Consent.changed_at, Consent.recorded_at)
    )
    return session.scalars(query).all()


def message_by_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.key == key))


def get_message(session: Session, message_id: UUID, *, lock: bool = False) -> Message | None:
    query = select(Message).where(Message.id == message_id)
    if lock:
        # Locked to decide on it: read it as it is now, not as this session last saw it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def messages(
    session: Session,
    *,
    profile_ids: Sequence[UUID] | None,
    status: str | None,
    limit: int,
) -> Sequence[Message]:
    query = select(Message)
    if profile_ids is not None:
        query = query.where(Message.profile_id.in_(profile_ids))
    if status is not None:
        query = query.where(Message.status == status)
    query = query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    return session.scalars(query).all()


def get_audience(session: Session, audience_id: UUID) -> Audience | None:
    return session.get(Audience, audience_id)


def audience_member_ids(session: Session, audience_id: UUID) -> Sequence[UUID]:
    query = select(AudienceMember.profile_id).where(AudienceMember.audience_id == audience_id)
    return session.scalars(query.order_by(AudienceMember.profile_id)).all()


def listed_audiences_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[Audience]:
    """The fixed-list audiences these people are on."""
    query = (
        select(Audience)
        .join(AudienceMember, AudienceMember.audience_id == Audience.id)
        .where(AudienceMember.profile_id.in_(profile_ids))
        .distinct()
        .order_by(Audience.created_at, Audience.id)
    )
    return session.scalars(query).all()


def survey_answer(session: Session, campaign_id: UUID, profile_id: UUID) -> SurveyAnswer | None:
    query = select(SurveyAnswer).where(
        SurveyAnswer.campaign_id == campaign_id, SurveyAnswer.profile_id == profile_id
    )
    return session.scalars(query).one_or_none()


def survey_answers_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[SurveyAnswer]:
    query = select(SurveyAnswer).where(SurveyAnswer.profile_id.in_(profile_ids))
    return session.scalars(query.order_by(SurveyAnswer.answered_at)).all()


def get_campaign(session: Session, campaign_id: UUID) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def count_messages(
    session: Session,
    *,
    profile_ids: Sequence[UUID],
    channel: str,
    kinds: Sequence[str],
    statuses: Sequence[str],
    since: datetime,
) -> int:
    query = select(func.count(Message.id)).where(
        Message.profile_id.in_(profile_ids),
        Message.channel == channel,
        Message.kind.in_(kinds),
        Message.status.in_(statuses),
        Message.created_at >= since,
    )
    return int(session.scalar(query) or 0)


def last_click(session: Session, *, profile_ids: Sequence[UUID], since: datetime) -> Message | None:
    query = (
        select(Message)
        .where(
            Message.profile_id.in_(profile_ids),
            Message.clicked_at.is_not(None),
            Message.clicked_at >= since,
        )
        .order_by(Message.clicked_at.desc())
        .limit(1)
    )
    return session.scalar(query)


def campaign_counts(session: Session, campaign_id: UUID) -> dict[str, int]:
    query = (
        select(Message.status, func.count(Message.id))
        .where(Message.campaign_id == campaign_id)
        .group_by(Message.status)
    )
    counts = {status: int(n) for status, n in session.execute(query)}
    converted = select(func.count(Message.id)).where(
        Message.campaign_id == campaign_id, Message.converted_order_id.is_not(None)
    )
    counts["converted"] = int(session.scalar(converted) or 0)
    return counts


def waiting_alerts(
    session: Session, *, sku: str, profile_ids: Sequence[UUID] | None = None
) -> Sequence[StockAlert]:
    query = select(StockAlert).where(StockAlert.sku == sku, StockAlert.status == "waiting")
    if profile_ids is not None:
        query = query.where(StockAlert.profile_id.in_(profile_ids))
    return session.scalars(query.order_by(StockAlert.created_at).with_for_update()).all()


def stale_message_ids(
    session: Session, *, before: datetime, statuses: Sequence[str], limit: int
) -> Sequence[UUID]:
    """Messages created before ``before``, in one of ``statuses``, still holding bodies."""
    query = (
        select(Message.id)
        .where(
            Message.bodies_removed_at.is_(None),
            Message.created_at < before,
            Message.status.in_(statuses),
        )
        .limit(limit)
    )
    return session.scalars(query).all()


def remove_bodies(session: Session, ids: Sequence[UUID], *, at: datetime) -> None:
    if ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(subject=None, body_text=None, body_html=None, context={}, bodies_removed_at=at)
        )


def is_suppressed(session: Session, digest: str) -> bool:
    return session.scalar(select(Suppression.id).where(Suppression.digest == digest)) is not None


def add_suppressions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    insert_ignoring_duplicates(session, cast(Table, Suppression.__table__), rows, keys=["digest"])


# -- the console's lists: newest first, a page at a time, and how many --

Listed = Audience | Campaign | Message | StockAlert
M = TypeVar("M", Audience, Campaign, Message, StockAlert)


def newest_first(
    session: Session,
    model: type[M],
    *,
    conditions: Sequence[ColumnElement[bool]] = (),
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Sequence[M]:
    """Rows of ``model`` newest first, those older than ``before`` (a cursor's time and id)."""
    query = select(model).where(*conditions)
    if before is not None:
        at, row_id = before
        query = query.where(
            or_(model.created_at < at, and_(model.created_at == at, model.id < row_id))
        )
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit)
    return session.scalars(query).all()


def count_rows(
    session: Session, model: type[Listed], *, conditions: Sequence[ColumnElement[bool]] = ()
) -> int:
    return int(session.scalar(select(func.count(model.id)).where(*conditions)) or 0)


def messages_by_kind(session: Session) -> dict[tuple[str, str], int]:
    """(kind, status) -> how many messages: what each trigger has done."""
    query = select(Message.kind, Message.status, func.count(Message.id)).group_by(
        Message.kind, Message.status
    )
    return {(kind, status): int(n) for kind, status, n in session.execute(query)}


def campaign_results(session: Session, campaign_id: UUID) -> dict[str, int]:
    """Opened, clicked and converted messages of a campaign, and the people who opted out
    of marketing on a message's channel after it was sent to them."""
    mine = Message.campaign_id == campaign_id
    counted = {
        "opened": Message.opened_at.is_not(None),
        "clicked": Message.clicked_at.is_not(None),
        "converted": Message.converted_order_id.is_not(None),
    }
    found = {
        name: int(session.scalar(select(func.count(Message.id)).where(mine, where)) or 0)
        for name, where in counted.items()
    }
    opted_out = (
        select(func.count(func.distinct(Message.id)))
        .join(
            Consent,
            and_(
                Consent.profile_id == Message.profile_id,
                Consent.channel == Message.channel,
                Consent.changed_at >= Message.sent_at,
            ),
        )
        .where(mine, Consent.purpose == "marketing", Consent.granted.is_(False))
    )
    found["opted_out"] = int(session.scalar(opted_out) or 0)
    return found


def messages_of_campaign(session: Session, campaign_id: UUID) -> Sequence[Message]:
    query = select(Message).where(Message.campaign_id == campaign_id)
    return session.scalars(query.order_by(Message.created_at, Message.id)).all()


def audiences_all(session: Session) -> Sequence[Audience]:
    return session.scalars(select(Audience).order_by(Audience.name)).all()


# -- a person's part, for export and erasure (privacy.py) --


def messages_of(
    session: Session, profile_ids: Sequence[UUID], recipients: Sequence[str]
) -> Sequence[Message]:
    """The person's messages: to their profiles, or to one of their addresses."""
    named: ColumnElement[bool] = Message.profile_id.in_(profile_ids)
    if recipients:
        named = or_(named, func.lower(Message.recipient).in_(recipients))
    return session.scalars(select(Message).where(named).order_by(Message.created_at)).all()


def alerts_of(session: Session, profile_ids: Sequence[UUID]) -> Sequence[StockAlert]:
    return session.scalars(
        select(StockAlert)
        .where(StockAlert.profile_id.in_(profile_ids))
        .order_by(StockAlert.created_at)
    ).all()


def delete_person_rows(
    session: Session, *, profile_ids: Sequence[UUID], message_ids: Sequence[UUID]
) -> int:
    deleted = 0
    for statement in (
        delete(Message).where(Message.id.in_(message_ids)),
        delete(Consent).where(Consent.profile_id.in_(profile_ids)),
        delete(StockAlert).where(StockAlert.profile_id.in_(profile_ids)),
        delete(AudienceMember).where(AudienceMember.profile_id.in_(profile_ids)),
        delete(SurveyAnswer).where(SurveyAnswer.profile_id.in_(profile_ids)),
    ):
        deleted += int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
    return deleted
