"""Surveys sent as campaigns: a campaign with ``survey="nps"`` gives each message the
person's signed link, where they answer how likely they are to recommend the retailer
(0-10) and may say why.

One answer per person and survey: the same answer again is the answer already stored
(a link opened twice, a form sent twice); a different one is refused. The answer keeps the
message's channel and the person's favourite store then, so NPS reads by channel, store
and month."""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnikanal.config import Settings
from omnikanal.customers import service as customers_service
from omnikanal.errors import BadRequest, Conflict
from omnikanal.kit.time import utcnow
from omnikanal.marketing import repository, tokens
from omnikanal.marketing.models import SurveyAnswer
from omnikanal.marketing.service import MarketingErrorCode

NPS = "nps"
SURVEYS = (NPS,)
ANSWER = "survey_answer"
# Long enough for a slow reader; an NPS survey older than this says little anyway.
LINK_DAYS = 90
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Link:
    campaign_id: UUID
    profile_id: UUID
    channel: str
    survey: str


def _base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def answer_url(settings: Settings, *, campaign_id: UUID, profile_id: UUID, channel: str) -> str:
    token = tokens.sign(
        settings,
        purpose=ANSWER,
        data={"c": str(campaign_id), "pr": str(profile_id), "ch": channel, "s": NPS},
        expires_at=utcnow() + timedelta(days=LINK_DAYS),
    )
    return f"{_base_url(settings)}/v1/surveys/{token}"


def link(session: Session, *, token: str) -> Link:
    try:
        data = tokens.verify(tokens.settings_of(session), token, purpose=ANSWER, now=utcnow())
        return Link(UUID(data["c"]), UUID(data["pr"]), str(data["ch"]), str(data["s"]))
    except (tokens.InvalidToken, KeyError, ValueError) as exc:
        raise BadRequest(
            MarketingErrorCode.INVALID_LINK, f"This link does not work: {exc}."
        ) from exc


class AlreadyAnswered(Conflict):
    def __init__(self, found: SurveyAnswer) -> None:
        super().__init__(
            MarketingErrorCode.SURVEY_ALREADY_ANSWERED,
            f"This survey was answered already ({found.score}); one answer per person.",
        )
        self.score = found.score


def _conflict(found: SurveyAnswer) -> AlreadyAnswered:
    return AlreadyAnswered(found)


def answer(
    session: Session, *, token: str, score: int, comment: str | None
) -> tuple[SurveyAnswer, bool]:
    """Record the link's person's answer; True when it is new. The person is the one the
    link was sent to as they are now (a merge is followed)."""
    given = link(session, token=token)
    person = customers_service.live_profile(session, given.profile_id)
    comment = (comment or "").strip() or None
    found = repository.survey_answer(session, given.campaign_id, person.id)
    if found is not None:
        if found.score == score and found.comment == comment:
            return found, False
        raise _conflict(found)
    stored = SurveyAnswer(
        campaign_id=given.campaign_id,
        profile_id=person.id,
        survey=given.survey,
        score=score,
        comment=comment,
        channel=given.channel,
        location=(person.computed_traits or {}).get("favourite_store"),
        answered_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(stored)
    except IntegrityError:
        # Two answers at once: the first one in wins, the other is told so.
        raced = repository.survey_answer(session, given.campaign_id, person.id)
        if raced is not None and raced.score == score and raced.comment == comment:
            return raced, False
        raise _conflict(raced) if raced is not None else _conflict(stored) from None
    return stored, True
