"""The marketer's pages (S12): audiences built from rules, campaigns composed, previewed,
scheduled and sent with their results, the message log, the automated triggers and the
stock alerts. Everything through the marketing domain's services."""

from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth.models import Role
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import FieldRefused, Refusal, refusal, text, values_of, with_notice
from omnikanal.console.pages import render, zone_of
from omnikanal.console.paging import PAGE_SIZE, paged
from omnikanal.console.service import SignedIn
from omnikanal.customers import service as customers_service
from omnikanal.errors import OmnikanalError
from omnikanal.http import DbSession
from omnikanal.kit.pagination import MAX_CURSOR_LENGTH, decode_id_cursor, encode_cursor
from omnikanal.kit.time import utcnow
from omnikanal.marketing import audiences, campaigns, overview, templates
from omnikanal.marketing.models import Audience, Campaign, MessageStatus
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction

router = APIRouter()

Marketer = Annotated[SignedIn, Depends(require_console_roles(Role.MARKETER))]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)]

CHANNELS = {"email": "Email", "sms": "SMS", "push": "Push"}


# -- audiences --

# Conditions a marketer can build, in words.
CONDITIONS = {
    "trait": "Trait",
    "computed_trait": "Order habit",
    "bought_on": "Bought on channel",
    "never_bought_on": "Never bought on channel",
    "viewed": "Viewed SKU",
    "viewed_not_bought": "Viewed SKU without buying",
}
ROWS = 3
SALES_CHANNELS = ("web", "app", "pos")


def _row_fields(i: int) -> tuple[str, str, str]:
    return f"kind_{i}", f"name_{i}", f"value_{i}"


def _condition(kind: str, name: str, value: str, i: int) -> dict[str, Any]:
    """One row of the form as a rule; a refused row names its field."""
    _, name_field, value_field = _row_fields(i)
    if kind in ("trait", "computed_trait"):
        if not name:
            raise FieldRefused(name_field, "Name the trait, e.g. city.")
        if not value:
            return {kind: name, "exists": True}
        values = [v.strip() for v in value.split(",") if v.strip()]
        return {kind: name, "in": values} if len(values) > 1 else {kind: name, "equals": value}
    if kind in ("bought_on", "never_bought_on"):
        channels = [c.strip() for c in (value or name).split(",") if c.strip()]
        unknown = [c for c in channels if c not in SALES_CHANNELS]
        if not channels or unknown:
            raise FieldRefused(value_field, "Give channels among web, app and pos, e.g. web, app.")
        return {kind: channels if len(channels) > 1 else channels[0]}
    if not name:
        raise FieldRefused(name_field, "Give the SKU, e.g. COAT-WOOL-GREY-38.")
    if value and not value.isdigit():
        raise FieldRefused(value_field, "Give how many times as a whole number, e.g. 3.")
    rule: dict[str, Any] = {"viewed": name, "at_least": int(value or 1)}
    if kind == "viewed_not_bought":
        rule["without_buying"] = True
    return rule


def rule_from(typed: dict[str, str]) -> dict[str, Any]:
    conditions = []
    for i in range(ROWS):
        kind_field, name_field, value_field = _row_fields(i)
        kind = typed.get(kind_field, "")
        if not kind:
            continue
        if kind not in CONDITIONS:
            raise FieldRefused(kind_field, "Choose a kind of condition.")
        conditions.append(
            _condition(kind, typed.get(name_field, ""), typed.get(value_field, ""), i)
        )
    if not conditions:
        raise FieldRefused("kind_0", "Add at least one condition.")
    match = "any" if typed.get("match") == "any" else "all"
    return {match: conditions}


def _rule_field(path: str) -> str:
    """rule.all[1].trait → the second row's name field."""
    for i in range(ROWS):
        if path.startswith((f"rule.all[{i}]", f"rule.any[{i}]")):
            return f"name_{i}"
    return "kind_0"


def rule_words(rule: Any) -> str:
    """A rule as a sentence a marketer reads."""
    if not isinstance(rule, dict):
        return str(rule)
    for group, joiner in (("all", " and "), ("any", " or ")):
        if group in rule:
            parts = [rule_words(r) for r in rule[group]]
            return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    for kind in ("trait", "computed_trait"):
        if kind in rule:
            what = f"{'order habit' if kind == 'computed_trait' else 'trait'} {rule[kind]}"
            if "exists" in rule:
                return f"{what} is {'set' if rule['exists'] else 'not set'}"
            if "in" in rule:
                return f"{what} is one of {', '.join(map(str, rule['in']))}"
            return f"{what} is {rule['equals']}"
    if "bought_on" in rule or "never_bought_on" in rule:
        kind = "bought_on" if "bought_on" in rule else "never_bought_on"
        value = rule[kind]
        channels = value if isinstance(value, list) else [value]
        verb = "bought on" if kind == "bought_on" else "never bought on"
        return f"{verb} {' or '.join(channels)}"
    times = rule.get("at_least", 1)
    viewed = f"viewed {rule.get('viewed')} at least {times} time{'s' if times != 1 else ''}"
    return viewed + (" without buying it" if rule.get("without_buying") else "")


def _audiences_page(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    cursor: str | None = None,
    refused: Refusal | None = None,
) -> Response:
    found = overview.audiences_page(session, cursor=cursor, limit=PAGE_SIZE)
    return render(
        request,
        "marketing/audiences.html",
        title="Audiences",
        user=user,
        listing=paged(
            found.items, found.total, found.next_cursor, path="/console/audiences", cursor=cursor
        ),
        rule_words=rule_words,
        conditions=CONDITIONS,
        rows=range(ROWS),
        refused=refused,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/audiences")
def audience_list(
    request: Request, session: DbSession, user: Marketer, cursor: Cursor = None
) -> Response:
    return _audiences_page(request, session, user, cursor=cursor)


def _typed_audience(form: FormData) -> dict[str, str]:
    names = ["name", "match", *[f for i in range(ROWS) for f in _row_fields(i)]]
    return values_of(form, *names)


@router.post("/audiences")
def create_audience(
    request: Request, session: DbSession, user: Marketer, form: CheckedForm
) -> Response:
    typed = _typed_audience(form)
    try:
        if not typed["name"]:
            raise FieldRefused("name", "Give the audience a name.")
        rule = rule_from(typed)
        audience = audiences.create(session, name=typed["name"], rule=rule)
    except OmnikanalError as exc:
        _name_rule_fields(exc)
        return _audiences_page(
            request, session, user, refused=refusal("audience", form, exc, values=typed)
        )
    where = f"/console/audiences/{audience.id}"
    return RedirectResponse(with_notice(where, f"Audience {audience.name} is saved."), 303)


def _name_rule_fields(exc: OmnikanalError) -> None:
    for error in exc.extra.get("errors", []):
        if str(error["field"]).startswith("rule"):
            error["field"] = _rule_field(str(error["field"]))


@dataclass(frozen=True)
class Member:
    profile_id: UUID
    name: str
    city: str


def _member(session: Session, profile_id: UUID) -> Member:
    traits = customers_service.live_profile(session, profile_id).traits or {}
    name = " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
    return Member(profile_id, name or "—", str(traits.get("city") or "—"))


@router.get("/audiences/{audience_id}")
def audience_page(
    audience_id: UUID,
    request: Request,
    session: DbSession,
    user: Marketer,
    cursor: Cursor = None,
) -> Response:
    audience = audiences.get(session, audience_id=audience_id)
    after = decode_id_cursor(cursor) if cursor else None
    found = list(islice(audiences.members(session, audience=audience, after=after), PAGE_SIZE + 1))
    shown = [_member(session, profile_id) for profile_id in found[:PAGE_SIZE]]
    # Each member shown is a read of that person (names on the page).
    for member in shown:
        access.record(
            session, actor=user.actor, action=AccessAction.PROFILE, profile_id=member.profile_id
        )
    total = sum(1 for _ in audiences.members(session, audience=audience))
    next_cursor = encode_cursor(str(found[PAGE_SIZE - 1])) if len(found) > PAGE_SIZE else None
    return render(
        request,
        "marketing/audience.html",
        title=f"Audience {audience.name}",
        user=user,
        audience=audience,
        words=rule_words(audience.rule),
        listing=paged(
            shown, total, next_cursor, path=f"/console/audiences/{audience.id}", cursor=cursor
        ),
        done=request.query_params.get("done"),
    )


# -- campaigns --

CAMPAIGN_FIELDS = ("name", "audience_id", "subject", "body", "link_url")


def _typed_campaign(form: FormData) -> dict[str, str]:
    typed = values_of(form, *CAMPAIGN_FIELDS)
    typed["channels"] = ",".join(str(c) for c in form.getlist("channels") if str(c) in CHANNELS)
    return typed


@dataclass(frozen=True)
class Draft:
    name: str
    audience_id: UUID
    channels: list[str]
    subject: str
    body: str
    link_url: str | None


def _required(typed: dict[str, str], name: str, words: str, longest: int) -> str:
    value = typed.get(name, "")
    if not value:
        raise FieldRefused(name, f"Give the {words}.")
    if len(value) > longest:
        raise FieldRefused(name, f"The {words} is at most {longest} characters.")
    return value


def draft_from(session: Session, typed: dict[str, str]) -> Draft:
    """The compose form as a campaign; a refused field is named in words."""
    name = _required(typed, "name", "campaign's name", 200)
    try:
        audience_id = UUID(typed.get("audience_id", ""))
        audiences.get(session, audience_id=audience_id)
    except (ValueError, OmnikanalError):
        raise FieldRefused("audience_id", "Choose the audience to send to.") from None
    channels = [c for c in typed.get("channels", "").split(",") if c]
    if not channels:
        raise FieldRefused("channels", "Choose at least one channel: email, SMS or push.")
    subject = _required(typed, "subject", "subject (the push title too)", 300)
    body = _required(typed, "body", "message", 5000)
    link = typed.get("link_url", "")
    if link and not link.startswith(("https://", "http://")):
        raise FieldRefused("link_url", "The link starts with https:// (or http://).")
    if len(link) > 2000:
        raise FieldRefused("link_url", "The link is at most 2000 characters.")
    return Draft(name, audience_id, channels, subject, body, link or None)


def _previews(draft: Draft) -> dict[str, templates.Rendered]:
    try:
        return campaigns.preview(
            subject=draft.subject, body=draft.body, link_url=draft.link_url, channels=draft.channels
        )
    except templates.RenderError as exc:
        raise FieldRefused("body", f"The message does not render: {exc}") from exc


def _campaigns_page(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    cursor: str | None = None,
    typed: dict[str, str] | None = None,
    refused: Refusal | None = None,
    previews: dict[str, templates.Rendered] | None = None,
) -> Response:
    found = overview.campaigns_page(session, cursor=cursor, limit=PAGE_SIZE)
    choices = overview.all_audiences(session)
    return render(
        request,
        "marketing/campaigns.html",
        title="Campaigns",
        user=user,
        listing=paged(
            found.items, found.total, found.next_cursor, path="/console/campaigns", cursor=cursor
        ),
        audiences=choices,
        audience_names={a.id: a.name for a in choices},
        audience_choices=[(str(a.id), a.name) for a in choices],
        channels=CHANNELS,
        typed=typed or {},
        refused=refused,
        previews=previews,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/campaigns")
def campaign_list(
    request: Request, session: DbSession, user: Marketer, cursor: Cursor = None
) -> Response:
    return _campaigns_page(request, session, user, cursor=cursor)


@router.post("/campaigns/preview")
def preview_campaign(
    request: Request, session: DbSession, user: Marketer, form: CheckedForm
) -> Response:
    """The compose form again, with the message as each chosen channel shows it."""
    typed = _typed_campaign(form)
    try:
        previews = _previews(draft_from(session, typed))
    except OmnikanalError as exc:
        return _campaigns_page(
            request, session, user, refused=refusal("campaign", form, exc, values=typed)
        )
    return _campaigns_page(request, session, user, typed=typed, previews=previews)


@router.post("/campaigns")
def create_campaign(
    request: Request, session: DbSession, user: Marketer, form: CheckedForm
) -> Response:
    typed = _typed_campaign(form)
    try:
        draft = draft_from(session, typed)
        _previews(draft)
        campaign = campaigns.create(
            session,
            name=draft.name,
            audience_id=draft.audience_id,
            channels=draft.channels,
            subject=draft.subject,
            body=draft.body,
            link_url=draft.link_url,
        )
    except OmnikanalError as exc:
        return _campaigns_page(
            request, session, user, refused=refusal("campaign", form, exc, values=typed)
        )
    where = f"/console/campaigns/{campaign.id}"
    done = f"Campaign {campaign.name} is saved as a draft: check the preview, then send it."
    return RedirectResponse(with_notice(where, done), 303)


def _zone(request: Request) -> ZoneInfo:
    return zone_of(request.app.state.settings.timezone)


def _campaign_page(
    request: Request,
    session: Session,
    user: SignedIn,
    campaign: Campaign,
    *,
    refused: Refusal | None = None,
) -> Response:
    audience: Audience = audiences.get(session, audience_id=campaign.audience_id)
    return render(
        request,
        "marketing/campaign.html",
        title=f"Campaign {campaign.name}",
        user=user,
        campaign=campaign,
        audience=audience,
        words=rule_words(audience.rule),
        channels=CHANNELS,
        previews=campaigns.preview(
            subject=campaign.subject,
            body=campaign.body,
            link_url=campaign.link_url,
            channels=list(campaign.channels),
        ),
        results=campaigns.results(session, campaign_id=campaign.id),
        scheduled_for=campaigns.scheduled_for(session, campaign),
        can_send=campaign.status in (campaigns.DRAFT, campaigns.SCHEDULED),
        zone=request.app.state.settings.timezone,
        refused=refused,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    campaign_id: UUID, request: Request, session: DbSession, user: Marketer
) -> Response:
    return _campaign_page(request, session, user, campaigns.get(session, campaign_id=campaign_id))


@router.get("/campaigns/{campaign_id}/send")
def confirm_send(
    campaign_id: UUID, request: Request, session: DbSession, user: Marketer
) -> Response:
    """The confirmation step: sending cannot be undone."""
    campaign = campaigns.get(session, campaign_id=campaign_id)
    audience = audiences.get(session, audience_id=campaign.audience_id)
    count = sum(1 for _ in audiences.members(session, audience=audience))
    return render(
        request,
        "marketing/campaign_send.html",
        title=f"Send {campaign.name}?",
        user=user,
        campaign=campaign,
        audience=audience,
        people=count,
        channels=CHANNELS,
    )


@router.post("/campaigns/{campaign_id}/send")
def send_campaign(
    campaign_id: UUID, session: DbSession, user: Marketer, form: CheckedForm
) -> Response:
    where = f"/console/campaigns/{campaign_id}"
    campaign = campaigns.send(session, campaign_id=campaign_id)
    done = f"Campaign {campaign.name} is being sent; the results below fill in as it goes."
    return RedirectResponse(with_notice(where, done), 303)


def _local_moment(text_value: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text_value)
    except ValueError:
        raise FieldRefused("send_at", "Give a date and time, e.g. 2026-12-24 09:00.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment <= utcnow():
        raise FieldRefused("send_at", "Choose a time in the future, or send it now.")
    return moment


@router.post("/campaigns/{campaign_id}/schedule")
def schedule_campaign(
    campaign_id: UUID, request: Request, session: DbSession, user: Marketer, form: CheckedForm
) -> Response:
    campaign = campaigns.get(session, campaign_id=campaign_id)
    where = f"/console/campaigns/{campaign_id}"
    try:
        at = _local_moment(text(form, "send_at", required=False), _zone(request))
        campaigns.send(session, campaign_id=campaign_id, at=at)
    except OmnikanalError as exc:
        return _campaign_page(
            request, session, user, campaign, refused=refusal("schedule", form, exc)
        )
    shown = at.astimezone(_zone(request)).strftime("%Y-%m-%d %H:%M %Z")
    return RedirectResponse(with_notice(where, f"Campaign {campaign.name} goes out {shown}."), 303)


# -- the message log, triggers, stock alerts --

STATUS_FILTERS = {
    "": "All",
    MessageStatus.QUEUED: "Queued",
    MessageStatus.SENT: "Sent",
    MessageStatus.CLICKED: "Clicked",
    MessageStatus.FAILED: "Failed",
    MessageStatus.SUPPRESSED: "Suppressed",
}


@router.get("/messages")
def message_log(
    request: Request,
    session: DbSession,
    user: Marketer,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Cursor = None,
) -> Response:
    wanted = status if status in STATUS_FILTERS else ""
    found = overview.messages_page(session, status=wanted or None, cursor=cursor, limit=PAGE_SIZE)
    return render(
        request,
        "marketing/messages.html",
        title="Message log",
        user=user,
        listing=paged(
            found.items,
            found.total,
            found.next_cursor,
            path="/console/messages",
            params={"status": wanted},
            cursor=cursor,
        ),
        filters=STATUS_FILTERS,
        status=wanted,
    )


@router.get("/triggers")
def trigger_list(request: Request, session: DbSession, user: Marketer) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "marketing/triggers.html",
        title="Automated triggers",
        user=user,
        triggers=overview.trigger_summaries(session),
        settings=settings,
    )


ALERT_FILTERS = {"": "All", "waiting": "Waiting", "notified": "Notified"}


@router.get("/stock-alerts")
def stock_alerts(
    request: Request,
    session: DbSession,
    user: Marketer,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Cursor = None,
) -> Response:
    wanted = status if status in ALERT_FILTERS else ""
    found = overview.stock_alerts_page(
        session, status=wanted or None, cursor=cursor, limit=PAGE_SIZE
    )
    return render(
        request,
        "marketing/stock_alerts.html",
        title="Stock alerts",
        user=user,
        listing=paged(
            found.items,
            found.total,
            found.next_cursor,
            path="/console/stock-alerts",
            params={"status": wanted},
            cursor=cursor,
        ),
        names=overview.product_names(session, sorted({a.sku for a in found.items})),
        filters=ALERT_FILTERS,
        status=wanted,
    )
