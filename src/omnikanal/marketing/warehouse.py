"""Survey answers for analytics (read-only): each NPS answer's score with its person, the
message's channel, the store and the time; never the comment."""

from typing import Any, cast

from sqlalchemy import DateTime, Table, select, type_coerce
from sqlalchemy.orm import Session

from omnikanal.db import UuidText
from omnikanal.marketing.models import SurveyAnswer

_answer = cast(Table, SurveyAnswer.__table__)


def nps_rows(session: Session) -> list[dict[str, Any]]:
    a = _answer.c
    query = select(
        UuidText(a.profile_id).label("profile_id"),
        a.channel.label("channel"),
        a.location.label("location"),
        a.score.label("score"),
        type_coerce(a.answered_at, DateTime()).label("at"),
    ).where(a.survey == "nps")
    return [row._asdict() for row in session.execute(query)]
