"""Consent, the message log and the links in messages over HTTP."""

import base64
from collections.abc import Callable
from itertools import islice
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from omnikanal.auth.permissions import Public
from omnikanal.commerce.router import cart_read
from omnikanal.commerce.schemas import CartRead
from omnikanal.errors import OmnikanalError
from omnikanal.events.dependencies import ResolvedThrough
from omnikanal.http import DbSession
from omnikanal.kit.time import utcnow
from omnikanal.marketing import (
    audiences,
    campaigns,
    lifecycle,
    messages,
    service,
    surveys,
    templates,
    triggers,
)
from omnikanal.marketing.dependencies import (
    CartRestorer,
    ConsentReader,
    ConsentWriter,
    Marketer,
    MessageReader,
)
from omnikanal.marketing.models import Campaign, MessageStatus
from omnikanal.marketing.schemas import (
    AudienceCount,
    AudienceCreate,
    AudienceMembers,
    AudienceRead,
    CampaignCreate,
    CampaignRead,
    ConsentList,
    ConsentRead,
    ConsentUpdate,
    MessageList,
    MessageRead,
    StockAlertCreate,
    StockAlertRead,
    SurveyAnswerCreate,
    SurveyAnswerRead,
    Unsubscribed,
)
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason
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
def get_consents(
    profile_id: UUID,
    session: DbSession,
    actor: ConsentReader,
    _resolved: ResolvedThrough,
    reason: AccessReason = None,
) -> ConsentList:
    """What the person agreed to per purpose and channel, with who said so and when;
    consent in ``identify`` traits counts when it is the latest word."""
    found = _consent_list(session, profile_id)
    access.record(
        session,
        actor=actor,
        action=AccessAction.CONSENTS,
        profile_id=found.profile_id,
        reason=reason,
    )
    return found


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
    found = _consent_list(session, profile_id)
    # A preference centre (the channel's back end) changes it for the person; staff are logged.
    access.record(
        session, actor=actor, action=AccessAction.CONSENT_CHANGE, profile_id=found.profile_id
    )
    return found


@router.get("/marketing/messages", response_model=MessageList)
def message_log(
    session: DbSession,
    actor: MessageReader,
    profile_id: UUID | None = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(MessageStatus.ALL) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    reason: AccessReason = None,
) -> MessageList:
    """The message log, newest first: queued, sent, failed (with the reason), clicked."""
    found = messages.log(session, profile_id=profile_id, status=status, limit=limit)
    access.record(
        session, actor=actor, action=AccessAction.MESSAGES, profile_id=profile_id, reason=reason
    )
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
        return cart_read(session, state, actor)


PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


# Links in messages: the token says who, no key (the reader's mail client or browser).
@router.get("/marketing/open/{token}", include_in_schema=False, dependencies=[Public])
def opened(token: str, request: Request) -> Response:
    """The one-pixel image in HTML email: the message was opened (where images load)."""
    with unit_of_work(request.app.state.session_factory) as session:
        triggers.opened(session, token=token)
    return Response(content=PIXEL, media_type="image/gif", headers={"cache-control": "no-store"})


@router.get("/marketing/click/{token}", include_in_schema=False, dependencies=[Public])
def clicked(token: str, request: Request) -> Response:
    """A message's link: the click is counted, then the reader goes on where it leads."""
    with unit_of_work(request.app.state.session_factory) as session:
        target = triggers.clicked(session, token=token)
    return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})


# What an opt-out stops, said on its page.
OPTED_OUT_OF = {
    "email": ("marketing email", "email"),
    "sms": ("marketing text messages", "text message"),
    "push": ("marketing notifications", "app notification"),
    "social": ("marketing messages on social media", "social media"),
}
UNSUBSCRIBE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "A page for people; JSON on request."},
    # A bad or expired link, or a person no longer known: a page for people too.
    400: {"content": {"text/html": {}}, "description": "The link is not valid."},
    404: {"content": {"text/html": {}}, "description": "The link's person is not known."},
}
# The link carries the token: no cache keeps the page, no page it leads to learns it.
PAGE_HEADERS = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _opt_out_page(
    state: str, *, channel: str = "", reason: str = "", status: int = 200
) -> Response:
    what, what_by = OPTED_OUT_OF.get(channel, ("marketing messages", channel))
    html = templates.page("unsubscribe", state=state, what=what, what_by=what_by, reason=reason)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _opt_out_answer(request: Request, answer: Callable[[], triggers.OptOut], done: str) -> Any:
    """The opt-out as JSON for API clients, else as a page (a bad link as a page too)."""
    if _wants_json(request):
        link = answer()
        return Unsubscribed(
            profile_id=link.profile_id,
            purpose=link.purpose,
            channel=link.channel,
            granted=link.granted,
        )
    try:
        link = answer()
    except OmnikanalError as exc:
        return _opt_out_page("invalid", reason=exc.detail, status=exc.status)
    # The page offers the button only while the opt-out is still to be done.
    state = "already" if done == "confirm" and not link.granted else done
    return _opt_out_page(state, channel=link.channel)


@router.get(
    "/unsubscribe/{token}",
    response_model=Unsubscribed,
    responses=UNSUBSCRIBE_ANSWERS,
    dependencies=[Public],
)
def unsubscribe_page(token: str, request: Request, session: DbSession) -> Any:
    """The opt-out link in every marketing message: a page saying what will stop, with one
    button that POSTs here. Opening it changes nothing (mail scanners open every link).
    No key needed, the token says who; ``Accept: application/json`` answers whether
    the opt-out holds (``granted`` false) instead."""
    return _opt_out_answer(
        request, lambda: triggers.unsubscribe_link(session, token=token), "confirm"
    )


@router.post(
    "/unsubscribe/{token}",
    response_model=Unsubscribed,
    responses=UNSUBSCRIBE_ANSWERS,
    dependencies=[Public],
)
def unsubscribe(token: str, request: Request, session: DbSession) -> Any:
    """The opt-out: from the link's page, or a mail reader's one-click unsubscribe
    (RFC 8058: ``List-Unsubscribe=One-Click`` as the form body). Doing it twice is fine."""
    return _opt_out_answer(request, lambda: triggers.unsubscribe(session, token=token), "done")


# -- surveys (NPS): the signed link in a survey campaign's messages --

SURVEY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The same answer was given before; it stands."},
    400: {"description": "The link is not valid (tampered, of another kind, or expired)."},
    409: {"description": "Another answer was given before: one answer per person."},
}


def _survey_page(state: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.page("survey", state=state, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


@router.get(
    "/surveys/{token}",
    response_class=HTMLResponse,
    # A bad or expired link is a page for people too.
    responses={400: {"content": {"text/html": {}}, "description": "The link is not valid."}},
    dependencies=[Public],
)
def survey_page(token: str, request: Request, session: DbSession) -> HTMLResponse:
    """The survey's page: 0-10 and a comment, sent with one button. Opening it records
    nothing (mail scanners open every link)."""
    try:
        surveys.link(session, token=token)
    except OmnikanalError as exc:
        return _survey_page("invalid", reason=exc.detail, status=exc.status)
    return _survey_page("ask", action=f"{request.url.path}/form")


@router.post(
    "/surveys/{token}",
    response_model=SurveyAnswerRead,
    status_code=201,
    responses=SURVEY_ANSWERS,
    dependencies=[Public],
)
def answer_survey(
    token: str, body: SurveyAnswerCreate, session: DbSession, response: Response
) -> SurveyAnswerRead:
    """Answer the survey the link is for (no key: the signed link says who and which).
    The same answer again answers 200 with the stored one; another answer is 409."""
    stored, created = surveys.answer(session, token=token, score=body.score, comment=body.comment)
    if not created:
        response.status_code = 200
    return SurveyAnswerRead.model_validate(stored)


@router.post(
    "/surveys/{token}/form",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[Public],
)
def answer_survey_form(
    token: str,
    session: DbSession,
    score: Annotated[int, Form(ge=0, le=10)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """The survey page's form: the answer, then a thank-you page."""
    try:
        stored, _ = surveys.answer(session, token=token, score=score, comment=comment)
    except surveys.AlreadyAnswered as exc:
        return _survey_page("already", score=exc.score, status=exc.status)
    except OmnikanalError as exc:
        return _survey_page("invalid", reason=exc.detail, status=exc.status)
    return _survey_page("done", score=stored.score)


# -- audiences and campaigns --


@router.post("/audiences", response_model=AudienceRead, status_code=201)
def create_audience(body: AudienceCreate, session: DbSession, _: Marketer) -> AudienceRead:
    """A named rule; an unknown rule field answers 422 naming it."""
    return AudienceRead.model_validate(audiences.create(session, name=body.name, rule=body.rule))


@router.get("/audiences/{audience_id}", response_model=AudienceRead)
def get_audience(audience_id: UUID, session: DbSession, _: Marketer) -> AudienceRead:
    return AudienceRead.model_validate(audiences.get(session, audience_id=audience_id))


@router.get("/audiences/{audience_id}/count", response_model=AudienceCount)
def count_audience(audience_id: UUID, session: DbSession, _: Marketer) -> AudienceCount:
    """Evaluated now, over every person."""
    audience = audiences.get(session, audience_id=audience_id)
    count = sum(1 for _ in audiences.members(session, audience=audience))
    return AudienceCount(audience_id=audience.id, count=count)


@router.get("/audiences/{audience_id}/members", response_model=AudienceMembers)
def audience_members(
    audience_id: UUID,
    session: DbSession,
    _: Marketer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> AudienceMembers:
    audience = audiences.get(session, audience_id=audience_id)
    found = list(islice(audiences.members(session, audience=audience), limit))
    return AudienceMembers(audience_id=audience.id, profile_ids=found)


def _campaign_read(session: DbSession, campaign: Campaign) -> CampaignRead:
    read = CampaignRead.model_validate(campaign)
    read.messages = campaigns.stats(session, campaign_id=campaign.id)
    return read


@router.post("/campaigns", response_model=CampaignRead, status_code=201)
def create_campaign(body: CampaignCreate, session: DbSession, _: Marketer) -> CampaignRead:
    campaign = campaigns.create(
        session,
        name=body.name,
        audience_id=body.audience_id,
        channels=list(body.channels),
        subject=body.subject,
        body=body.body,
        survey=body.survey,
        link_url=str(body.link_url) if body.link_url else None,
    )
    return _campaign_read(session, campaign)


@router.post("/campaigns/{campaign_id}/send", response_model=CampaignRead, status_code=202)
def send_campaign(campaign_id: UUID, session: DbSession, _: Marketer) -> CampaignRead:
    """The worker evaluates the audience and records and delivers the messages."""
    return _campaign_read(session, campaigns.send(session, campaign_id=campaign_id))


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead)
def get_campaign(campaign_id: UUID, session: DbSession, _: MessageReader) -> CampaignRead:
    """The campaign with its messages by status and its conversions."""
    return _campaign_read(session, campaigns.get(session, campaign_id=campaign_id))


@router.post("/marketing/stock-alerts", response_model=StockAlertRead, status_code=201)
def ask_for_stock_alert(
    body: StockAlertCreate, session: DbSession, _: CartRestorer
) -> StockAlertRead:
    """ "Tell me when it is back": one email when the SKU is available anywhere again."""
    alert = lifecycle.ask_for_stock_alert(session, profile_id=body.profile_id, sku=body.sku)
    return StockAlertRead.model_validate(alert)
