"""Marketing: what every use case shares (error codes, domain events) and consent.

The use cases live beside this file: ``messages.py`` (the message log and delivery),
``triggers.py`` (the abandoned-cart reminder and the cart-restore link), ``audiences.py``
(rules over traits and behaviour) and ``campaigns.py``.

Consent is kept per purpose (transactional, marketing, personalisation) and channel
(email, sms, push, social) as an append-only history with the source and time of each
change. Consent sent in ``identify`` traits is read at send time, not copied:
``traits.consents = {"marketing": {"email": true}}`` or
``traits.marketing_email_opt_in = true``; whichever change is latest (the trait's event
time or the recorded change) holds. Transactional messages need no consent unless the
person opted out; marketing needs an explicit opt-in.
Personalisation (recommendations from the person's own history) needs an opt-in on any
channel, and the latest word on any channel holds (``personalisation_allowed``).
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.kit.time import utcnow
from omnikanal.marketing import delivery, repository, tokens
from omnikanal.marketing.models import Consent, ConsentChannel, MessageStatus, Purpose
from omnikanal.uow import DomainEvent, record_event


class MarketingErrorCode(StrEnum):
    INVALID_LINK = "invalid_link"
    AUDIENCE_NOT_FOUND = "audience_not_found"
    UNKNOWN_RULE_FIELD = "unknown_rule_field"
    INVALID_RULE = "invalid_rule"
    MESSAGE_NOT_FOUND = "message_not_found"
    CAMPAIGN_NOT_FOUND = "campaign_not_found"
    CAMPAIGN_ALREADY_SENT = "campaign_already_sent"
    SURVEY_ALREADY_ANSWERED = "survey_already_answered"


@dataclasses.dataclass(frozen=True)
class ConsentChanged(DomainEvent):
    type: ClassVar[str] = "consent.changed"
    profile_id: UUID
    purpose: str
    channel: str
    granted: bool
    source: str
    changed_at: str


@dataclasses.dataclass(frozen=True)
class MessageSent(DomainEvent):
    type: ClassVar[str] = "marketing.message_sent"
    message_id: UUID
    kind: str
    profile_id: UUID
    channel: str


@dataclasses.dataclass(frozen=True)
class MessageFailed(DomainEvent):
    type: ClassVar[str] = "marketing.message_failed"
    message_id: UUID
    kind: str
    profile_id: UUID
    channel: str
    reason: str


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    channel: str
    granted: bool
    # False when nobody said anything: the default for the purpose applies.
    explicit: bool
    source: str | None
    changed_at: datetime | None


def _family(session: Session, profile_id: UUID) -> tuple[UUID, list[UUID]]:
    live = customers_service.live_profile(session, profile_id).id
    return live, [live, *customers_service.merged_descendants(session, live)]


def record_consent(
    session: Session,
    *,
    profile_id: UUID,
    purpose: str,
    channel: str,
    granted: bool,
    source: str,
    at: datetime,
) -> Consent:
    live = customers_service.live_profile(session, profile_id).id
    row = Consent(
        profile_id=live,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source,
        changed_at=at,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        ConsentChanged(
            profile_id=live,
            purpose=purpose,
            channel=channel,
            granted=granted,
            source=source,
            changed_at=at.isoformat(),
        ),
    )
    return row


def _from_traits(traits: dict[str, Any], times: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(purpose, channel) -> (granted, stamp) from identify traits."""
    found: dict[tuple[str, str], Any] = {}
    nested = traits.get("consents")
    if isinstance(nested, dict):
        stamp = str(times.get("consents", ""))
        for purpose, channels in nested.items():
            if purpose in Purpose.ALL and isinstance(channels, dict):
                for channel, granted in channels.items():
                    if channel in ConsentChannel.ALL and isinstance(granted, bool):
                        found[(purpose, channel)] = (granted, stamp)
    for purpose in Purpose.ALL:
        for channel in ConsentChannel.ALL:
            name = f"{purpose}_{channel}_opt_in"
            value = traits.get(name)
            if isinstance(value, bool):
                stamp = str(times.get(name, ""))
                kept = found.get((purpose, channel))
                if kept is None or kept[1] <= stamp:
                    found[(purpose, channel)] = (value, stamp)
    return found


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def consents(session: Session, *, profile_id: UUID) -> tuple[UUID, list[ConsentState]]:
    """Every purpose and channel with what holds now, and who said so when."""
    live, family = _family(session, profile_id)
    latest: dict[tuple[str, str], ConsentState] = {}
    for row in repository.consents_of(session, family):
        latest[(row.purpose, row.channel)] = ConsentState(
            row.purpose, row.channel, row.granted, True, row.source, row.changed_at
        )
    profile = customers_service.live_profile(session, live)
    for (purpose, channel), (granted, stamp) in _from_traits(
        profile.traits or {}, profile.trait_times or {}
    ).items():
        kept = latest.get((purpose, channel))
        if kept is None or kept.changed_at is None or _stamp(kept.changed_at) <= stamp:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
            latest[(purpose, channel)] = ConsentState(
                purpose, channel, granted, True, "identify", at
            )
    states = []
    for purpose in Purpose.ALL:
        for channel in ConsentChannel.ALL:
            state = latest.get((purpose, channel))
            if state is None:
                state = ConsentState(
                    purpose, channel, purpose == Purpose.TRANSACTIONAL, False, None, None
                )
            states.append(state)
    return live, states


def allowed(session: Session, *, profile_id: UUID, purpose: str, channel: str) -> bool:
    """May this person be sent a message of ``purpose`` on ``channel`` now?"""
    _, states = consents(session, profile_id=profile_id)
    return any(s.granted for s in states if s.purpose == purpose and s.channel == channel)


def personalisation_allowed(session: Session, *, profile_id: UUID) -> bool:
    """May recommendations be made from this person's own history? Personalisation is
    not a channel's: the latest explicit word on any channel holds; nobody said: no."""
    live, family = _family(session, profile_id)
    profile = customers_service.live_profile(session, live)
    return personalisation_allowed_of(
        session, family=family, traits=profile.traits or {}, trait_times=profile.trait_times or {}
    )


def personalisation_allowed_of(
    session: Session,
    *,
    family: Sequence[UUID],
    traits: dict[str, Any],
    trait_times: dict[str, Any],
) -> bool:
    """``personalisation_allowed`` for a person whose family (live profile first) and
    live profile's traits the caller holds already: one query (a recommendation asks
    on every request)."""
    said: list[tuple[str, bool]] = [
        (_stamp(row.changed_at), row.granted)
        for row in repository.consents_of(session, family)
        if row.purpose == Purpose.PERSONALISATION
    ]
    said += [
        (stamp, granted)
        for (purpose, _), (granted, stamp) in _from_traits(traits, trait_times).items()
        if purpose == Purpose.PERSONALISATION
    ]
    if not said:
        return False
    # The latest word; at one moment a yes and a no, the no.
    return max(said, key=lambda s: (s[0], not s[1]))[1]


def family(session: Session, profile_id: UUID) -> tuple[UUID, list[UUID]]:
    return _family(session, profile_id)


# -- retention --

# Messages past these are done with: nothing will render or send them again.
FINISHED = (
    MessageStatus.SENT,
    MessageStatus.CLICKED,
    MessageStatus.FAILED,
    MessageStatus.SUPPRESSED,
)


def purge_message_bodies(session: Session, *, before: datetime, limit: int) -> int:
    """Retention: remove the subject, bodies and rendering context of up to ``limit``
    finished messages created before ``before``; the log keeps who, which channel, which
    template, what became of it and when. How many."""
    ids = repository.stale_message_ids(session, before=before, statuses=FINISHED, limit=limit)
    repository.remove_bodies(session, ids, at=utcnow())
    return len(ids)


def purge_mail_files(session: Session, *, before: datetime, limit: int) -> int:
    """Retention: delete up to ``limit`` .eml files (mail written to the data folder when
    no SMTP server is set) of messages created before ``before``."""
    return delivery.remove_mail_before(tokens.settings_of(session), before=before, limit=limit)


# -- consent from another system (imports) --


@dataclass(frozen=True)
class ConsentGiven:
    """What another system says a person chose for a purpose on a channel."""

    profile_id: UUID
    purpose: str
    channel: str
    granted: bool


def import_consents(
    session: Session, consents: Sequence[ConsentGiven], *, source: str, at: datetime
) -> set[UUID]:
    """Record each consent that differs from the person's latest recorded change (so the
    same file imported twice records nothing new); the profiles whose consent changed."""
    if not consents:
        return set()
    latest: dict[tuple[UUID, str, str], bool] = {}
    for row in repository.consents_of(session, sorted({c.profile_id for c in consents})):
        latest[(row.profile_id, row.purpose, row.channel)] = row.granted
    changed: set[UUID] = set()
    for given in consents:
        key = (given.profile_id, given.purpose, given.channel)
        if latest.get(key) == given.granted:
            continue
        latest[key] = given.granted
        changed.add(given.profile_id)
        session.add(
            Consent(
                profile_id=given.profile_id,
                purpose=given.purpose,
                channel=given.channel,
                granted=given.granted,
                source=source,
                changed_at=at,
            )
        )
        record_event(
            session,
            ConsentChanged(
                profile_id=given.profile_id,
                purpose=given.purpose,
                channel=given.channel,
                granted=given.granted,
                source=source,
                changed_at=at.isoformat(),
            ),
        )
    session.flush()
    return changed
