"""Campaigns: one message to an audience on chosen channels.

Sending is durable work: ``send`` schedules a timer (``marketing.campaign_send``) and the
worker evaluates the audience and records one message per person and channel (key
``campaign:<id>:<person>:<channel>``, so a second run records nothing new). Each message
is consent-checked (marketing needs an explicit opt-in on that channel), frequency-capped
(``OMNIKANAL_MARKETING_DAILY_CAP`` marketing messages per person, channel and day) and
held back during quiet hours (``OMNIKANAL_QUIET_HOURS`` in ``OMNIKANAL_TIMEZONE``); what is
not sent is logged as ``suppressed`` with the reason.

Attribution: an order placed within ``OMNIKANAL_ATTRIBUTION_WINDOW_DAYS`` after a click on
a message counts as that message's (and its campaign's) conversion.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.errors import Conflict, NotFound
from omnikanal.experiments import service as experiments_service
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.marketing import (
    audiences,
    messages,
    repository,
    surveys,
    templates,
    tokens,
    triggers,
)
from omnikanal.marketing.models import Campaign, Message, MessageStatus, Purpose
from omnikanal.marketing.service import MarketingErrorCode, allowed, family
from omnikanal.outbox.registry import PublishedEvent
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer

SEND = "marketing.campaign_send"
DRAFT = "draft"
SCHEDULED = "scheduled"
MARKETING_KINDS = ("campaign", "abandoned_cart")


def create(
    session: Session,
    *,
    name: str,
    audience_id: UUID,
    channels: list[str],
    subject: str,
    body: str,
    survey: str | None = None,
    link_url: str | None = None,
) -> Campaign:
    """``survey`` ("nps"): each message carries the person's link to answer it."""
    audiences.get(session, audience_id=audience_id)
    campaign = Campaign(
        name=name,
        audience_id=audience_id,
        channels=channels,
        subject=subject,
        body=body,
        survey=survey,
        link_url=link_url or None,
    )
    session.add(campaign)
    session.flush()
    return campaign


def get(session: Session, *, campaign_id: UUID) -> Campaign:
    campaign = repository.get_campaign(session, campaign_id)
    if campaign is None:
        raise NotFound(MarketingErrorCode.CAMPAIGN_NOT_FOUND, f"No campaign {campaign_id}.")
    return campaign


def send(session: Session, *, campaign_id: UUID, at: datetime | None = None) -> Campaign:
    """Send now, or at ``at`` (a scheduled campaign can be moved, or sent now)."""
    campaign = get(session, campaign_id=campaign_id)
    if campaign.status not in (DRAFT, SCHEDULED):
        raise Conflict(
            MarketingErrorCode.CAMPAIGN_ALREADY_SENT,
            f"Campaign {campaign.id} is {campaign.status}.",
        )
    now = utcnow()
    later = at is not None and at > now
    campaign.status = SCHEDULED if later else "sending"
    due = at if later and at is not None else now
    timers_service.schedule(session, kind=SEND, key=str(campaign.id), due_at=due, payload={})
    session.flush()
    return campaign


def scheduled_for(session: Session, campaign: Campaign) -> datetime | None:
    """When a scheduled campaign goes out."""
    if campaign.status != SCHEDULED:
        return None
    timer = timers_service.get(session, kind=SEND, key=str(campaign.id))
    return timer.due_at if timer is not None else None


def quiet_until(settings_quiet: str, zone: str, now: datetime) -> datetime | None:
    """The end of quiet hours when ``now`` is inside them, else None."""
    if not settings_quiet.strip():
        return None
    start_text, _, end_text = settings_quiet.partition("-")
    start, end = int(start_text), int(end_text)
    local = now.astimezone(ZoneInfo(zone))
    hour = local.hour
    inside = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not inside:
        return None
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(now.tzinfo)


def _recipient(session: Session, profile_id: UUID, channel: str) -> str | None:
    if channel == "push":
        return str(profile_id)
    wanted = "email" if channel == "email" else "phone"
    view = customers_service.get_profile(session, profile_id=profile_id)
    found = [i.value for i in view.identifiers if i.type == wanted]
    return found[-1] if found else None


def send_timer(session: Session, timer: Timer) -> None:
    campaign = get(session, campaign_id=UUID(timer.key))
    settings = tokens.settings_of(session)
    audience = audiences.get(session, audience_id=campaign.audience_id)
    now = utcnow()
    hold = quiet_until(settings.quiet_hours, settings.timezone, now)
    for profile_id in list(audiences.members(session, audience=audience)):
        for channel in campaign.channels:
            _one(session, campaign, profile_id, channel, now=now, hold=hold)
    campaign.status = "sent"
    campaign.sent_at = now
    session.flush()


def _one(
    session: Session,
    campaign: Campaign,
    profile_id: UUID,
    channel: str,
    *,
    now: datetime,
    hold: datetime | None,
) -> None:
    settings = tokens.settings_of(session)
    key = f"campaign:{campaign.id}:{profile_id}:{channel}"
    if repository.message_by_key(session, key) is not None:
        return
    # A running experiment on this campaign: the person's variant may change the subject,
    # add an offer, or send on one channel only (the others are skipped for them).
    variant = experiments_service.message_variant(
        session, target=f"campaign:{campaign.id}", profile_id=profile_id, channel=channel
    )
    if variant and variant.get("channel") and variant["channel"] != channel:
        return
    recipient = _recipient(session, profile_id, channel)
    unsubscribe = triggers.unsubscribe_url(settings, profile_id=profile_id, channel=channel)
    message_id = new_id()
    context: dict[str, Any] = {
        "subject": campaign.subject,
        "body": campaign.body,
        "unsubscribe_url": unsubscribe,
        "open_url": triggers.open_url(settings, message_id=message_id),
        "link_url": (
            triggers.click_url(settings, message_id=message_id, target=campaign.link_url)
            if campaign.link_url
            else None
        ),
    }
    if variant:
        context["subject"] = variant.get("subject") or campaign.subject
        if variant.get("offer"):
            context["body"] = f"{campaign.body}\n\n{variant['offer']}"
        context["experiment"] = {"key": variant["experiment"], "variant": variant["key"]}
    if campaign.survey is not None:
        context["survey_url"] = surveys.answer_url(
            settings, campaign_id=campaign.id, profile_id=profile_id, channel=channel
        )
    base: dict[str, Any] = {
        "key": key,
        "kind": "campaign",
        "campaign_id": campaign.id,
        "profile_id": profile_id,
        "channel": channel,
        "recipient": recipient,
        "template": "campaign",
        "context": context,
        "message_id": message_id,
    }
    reason = None
    if not allowed(session, profile_id=profile_id, purpose=Purpose.MARKETING, channel=channel):
        reason = f"no marketing {channel} consent"
    elif recipient is None:
        reason = f"no {'email address' if channel == 'email' else 'phone number'}"
    else:
        _, people = family(session, profile_id)
        recent = repository.count_messages(
            session,
            profile_ids=people,
            channel=channel,
            kinds=MARKETING_KINDS,
            statuses=(
                MessageStatus.QUEUED,
                MessageStatus.SENDING,
                MessageStatus.SENT,
                MessageStatus.CLICKED,
            ),
            since=now - timedelta(days=1),
        )
        if recent >= settings.marketing_daily_cap:
            reason = f"frequency cap: {recent} marketing messages on {channel} in the last day"
    if reason is not None:
        messages.queue(session, **base, status=MessageStatus.SUPPRESSED, reason=reason)
        return
    messages.queue(session, **base, deliver_at=hold)


def order_placed(session: Session, event: PublishedEvent) -> None:
    """An order soon after a click is that message's conversion (last click wins)."""
    data = event.payload
    if not data.get("profile_id"):
        return
    settings = tokens.settings_of(session)
    _, people = family(session, UUID(data["profile_id"]))
    since = event.occurred_at - timedelta(days=settings.attribution_window_days)
    clicked = repository.last_click(session, profile_ids=people, since=since)
    if clicked is None or clicked.converted_order_id is not None:
        return
    clicked.converted_order_id = UUID(data["order_id"])
    clicked.converted_at = event.occurred_at
    session.flush()


def campaign_messages(session: Session, *, campaign_id: UUID) -> list[Message]:
    """The campaign's messages, oldest first."""
    return list(repository.messages_of_campaign(session, campaign_id))


def stats(session: Session, *, campaign_id: UUID) -> dict[str, int]:
    return repository.campaign_counts(session, campaign_id)


@dataclass(frozen=True)
class Results:
    """What became of a campaign's messages."""

    messages: int
    # Waiting to be sent (quiet hours, retries) or being sent now.
    queued: int
    sent: int
    opened: int
    clicked: int
    conversions: int
    opt_outs: int
    # Not sent: no consent, no address, the frequency cap.
    suppressed: int
    failed: int


def results(session: Session, *, campaign_id: UUID) -> Results:
    by_status = repository.campaign_counts(session, campaign_id)
    found = repository.campaign_results(session, campaign_id)

    def count(*statuses: str) -> int:
        return sum(by_status.get(status, 0) for status in statuses)

    return Results(
        messages=count(*MessageStatus.ALL),
        queued=count(MessageStatus.QUEUED, MessageStatus.SENDING),
        sent=count(MessageStatus.SENT, MessageStatus.CLICKED),
        opened=found["opened"],
        clicked=found["clicked"],
        conversions=found["converted"],
        opt_outs=found["opted_out"],
        suppressed=count(MessageStatus.SUPPRESSED),
        failed=count(MessageStatus.FAILED),
    )


# What a preview shows where each person's own link will be.
PREVIEW_LINK = "#"


def preview(
    *, subject: str, body: str, link_url: str | None, channels: list[str]
) -> dict[str, templates.Rendered]:
    """The campaign as each channel will show it, rendered from the same templates as the
    messages themselves; a template that does not render raises ``RenderError``."""
    context: dict[str, Any] = {
        "subject": subject,
        "body": body,
        "unsubscribe_url": PREVIEW_LINK,
        "open_url": None,
        "link_url": link_url or None,
    }
    return {
        channel: templates.render("campaign", channel=channel, context=context)
        for channel in channels
    }
