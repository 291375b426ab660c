"""The marketing domain's part: consent history, the messages sent (and their ``.eml``
copies in the data folder), back-in-stock alerts, the fixed-list audiences a person is on
and their survey answers. Rule audiences are evaluated on demand, so no membership of
theirs is stored.

Erasure deletes them and puts the person's email addresses and phone numbers on the
suppression list, so no later campaign or reminder reaches them (``suppression.py``)."""

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document
from omnikanal.marketing import delivery, repository, service, suppression
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
from omnikanal.marketing.tokens import settings_of


def _messages(session: Session, person: Person) -> list[Message]:
    addresses = sorted(v.lower() for v in person.values("email", "phone"))
    return list(repository.messages_of(session, sorted(person.profile_ids), addresses))


def export(session: Session, person: Person) -> Mapping[str, Any]:
    ids = sorted(person.profile_ids)
    return {
        "consents": {
            "history": [as_document(c) for c in repository.consents_of(session, ids)],
            "now": [dataclasses.asdict(s) for s in service.consents(session, profile_id=ids[0])[1]],
        },
        "messages": [as_document(m) for m in _messages(session, person)],
        "stock_alerts": [as_document(a) for a in repository.alerts_of(session, ids)],
        "audiences": [
            {"id": str(a.id), "name": a.name, "created_at": a.created_at.isoformat()}
            for a in repository.listed_audiences_of(session, ids)
        ],
        "survey_answers": [as_document(a) for a in repository.survey_answers_of(session, ids)],
    }


def erase(session: Session, person: Person) -> int:
    message_ids = [m.id for m in _messages(session, person)]
    delivery.remove_mail_of(settings_of(session), message_ids)
    suppressed = suppression.suppress(
        session,
        emails=set(person.values("email")),
        phones=set(person.values("phone")),
        reason=suppression.ERASED,
    )
    deleted = repository.delete_person_rows(
        session, profile_ids=sorted(person.profile_ids), message_ids=message_ids
    )
    return deleted + suppressed


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="marketing",
            tables=frozenset(
                model.__tablename__
                for model in (
                    Consent,
                    Message,
                    Audience,
                    AudienceMember,
                    Campaign,
                    StockAlert,
                    Suppression,
                    SurveyAnswer,
                )
            ),
            files={
                "consents": "Your consent per purpose (marketing, transactional, "
                "personalisation) and channel: what holds now, and every change you made "
                "(what, when, and where).",
                "messages": "Every message we sent you or held back (and why): campaigns, "
                "reminders, notices, with what became of each.",
                "stock_alerts": "Products you asked to hear about when back in stock.",
                "audiences": "Lists of people we made for a campaign that you are on.",
                "survey_answers": "Your answers to our surveys (how likely you are to "
                "recommend us, 0-10, and what you wrote).",
            },
            export=export,
            erase=erase,
        )
    )
