"""Satisfaction answers for analytics (read-only): each conversation's CSAT score with
its person, channel and time; never the comment."""

from typing import Any, cast

from sqlalchemy import DateTime, Table, select, type_coerce
from sqlalchemy.orm import Session

from omnikanal.conversations.models import Conversation
from omnikanal.db import UuidText

_conversation = cast(Table, Conversation.__table__)


def csat_rows(session: Session) -> list[dict[str, Any]]:
    c = _conversation.c
    query = select(
        UuidText(c.profile_id).label("profile_id"),
        c.last_channel.label("channel"),
        c.csat_score.label("score"),
        type_coerce(c.csat_at, DateTime()).label("at"),
    ).where(c.csat_score.is_not(None))
    return [row._asdict() for row in session.execute(query)]
