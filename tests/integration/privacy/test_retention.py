"""Retention: what is past its time goes in small batches, what is not stays, 0 keeps all.

Old data is made as a client makes it (events sent with an old timestamp) or made now and
then dated back in the database, as if the time had passed."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from omnikanal.auth.models import Channel, Role
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.customers.models import Profile
from omnikanal.events.models import Event, InboxMessage
from omnikanal.marketing import messages
from omnikanal.marketing.models import Message
from omnikanal.notifications import service as notifications_service
from omnikanal.notifications.models import Notification
from omnikanal.privacy import retention
from omnikanal.uow import unit_of_work
from omnikanal.wiring import build_registry
from omnikanal.worker import Worker
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.integration.events.test_inbox import append

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=1000)
LATELY = NOW - timedelta(days=10)


def no_pause(seconds: float) -> None:
    pass


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


def purge(factory: sessionmaker[Session], settings: Settings, **kwargs: Any) -> retention.Report:
    with unit_of_work(factory) as session:
        return retention.run(session, settings, pause=no_pause, **kwargs)


def count(factory: sessionmaker[Session], model: type, *where: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# -- what the tests keep --


def track(client: TestClient, write_key: str, message_id: str, at: datetime) -> None:
    body = {
        "anonymousId": f"device-{message_id}",
        "event": "Product Viewed",
        "messageId": message_id,
        "timestamp": at.isoformat(),
    }
    response = client.post("/v1/track", json=body, headers=basic(write_key))
    assert response.status_code == 200, response.text


def event_ids(factory: sessionmaker[Session]) -> set[str]:
    """What the channels sent (not the conversations' entries on the timeline)."""
    with factory() as session:
        found = session.scalars(select(Event.message_id))
        return {m for m in found if not m.startswith("conversation-message-")}


def timeline_quotes(factory: sessionmaker[Session]) -> list[str]:
    """The words of conversation messages quoted on the timeline."""
    with factory() as session:
        found = session.scalars(select(Event).where(Event.name == "Message Received"))
        return [str(e.message["properties"].get("excerpt")) for e in found]


def conversation(client: TestClient, chat_key: str, *, email: str) -> UUID:
    response = client.post(
        "/v1/conversations/messages",
        json={"email": email, "body": f"Hello, this is {email}", "subject": "My parcel"},
        headers=bearer(chat_key),
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["conversation_id"])


def age_conversation(factory: sessionmaker[Session], conversation_id: UUID) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_activity_at=LONG_AGO, opened_at=LONG_AGO)
        )


def sent_email(factory: sessionmaker[Session], *, created_at: datetime) -> UUID:
    """A campaign email sent (into the data folder's mail/*.eml) when ``created_at``."""
    with unit_of_work(factory) as session:
        profile = Profile()
        session.add(profile)
        session.flush()
        message, _ = messages.queue(
            session,
            key=f"test:{profile.id}",
            kind="campaign",
            profile_id=profile.id,
            channel="email",
            recipient="bo@example.com",
            template="campaign",
            context={"subject": "Autumn, Bo", "body": "Coats are in.", "unsubscribe_url": None},
        )
        message.created_at = created_at
        session.flush()
        messages.deliver(session, message_id=message.id)
        return message.id


def notice(factory: sessionmaker[Session], reference: str, *, created_at: datetime) -> UUID:
    with unit_of_work(factory) as session:
        recorded = notifications_service.record(
            session,
            kind="order_ready_for_pickup",
            reference=reference,
            profile_id=None,
            channel="email",
            recipient="bo@example.com",
            subject="Your order is ready",
            body="Bo, your coat waits at Avenyn.",
            suppressed="test",
        )
        recorded.created_at = created_at
        return recorded.id


def mail_files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.data_dir) / "mail").glob("*.eml"))


# -- the tests --


def test_what_is_past_its_time_goes_and_the_rest_stays(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    track(client, write_key, "old", LONG_AGO)
    track(client, write_key, "recent", LATELY)
    chat = create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT)
    old_talk = conversation(client, chat, email="anna@example.com")
    new_talk = conversation(client, chat, email="bo@example.com")
    age_conversation(session_factory, old_talk)
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Conversation).where(Conversation.id == old_talk).values(csat_comment="Anna")
        )
    old_mail = sent_email(session_factory, created_at=LONG_AGO)
    new_mail = sent_email(session_factory, created_at=LATELY)
    assert len(mail_files(settings)) == 2
    old_notice = notice(session_factory, "order-1", created_at=LONG_AGO)
    new_notice = notice(session_factory, "order-2", created_at=LATELY)
    # Acknowledged long ago and not yet placed with its person: the inbox is never purged.
    append(session_factory, 1, age=timedelta(days=1000))

    assert len(timeline_quotes(session_factory)) == 2

    report = purge(session_factory, settings)

    # The conversation's entry on the timeline stays, without the customer's words.
    assert sorted(timeline_quotes(session_factory)) == ["Hello, this is bo@example.com", "None"]
    assert event_ids(session_factory) >= {"recent"}
    assert "old" not in event_ids(session_factory)
    assert count(session_factory, InboxMessage) == 1
    assert report.removed["events"] >= 1
    with session_factory() as session:
        kept = session.get(Conversation, old_talk)
        assert kept is not None
        assert (kept.status, kept.channels, kept.message_count) == ("open", ["chat"], 1)
        assert (kept.preview, kept.subject, kept.csat_comment) == ("", None, None)
        assert kept.messages_removed_at is not None
        intact = session.get(Conversation, new_talk)
        assert intact is not None
        assert "bo@example.com" in intact.preview
        sent = session.get(Message, old_mail)
        assert sent is not None
        assert (sent.status, sent.recipient, sent.template) == (
            "sent",
            "bo@example.com",
            "campaign",
        )
        assert (sent.subject, sent.body_text, sent.body_html, sent.context) == (
            None,
            None,
            None,
            {},
        )
        recent = session.get(Message, new_mail)
        assert recent is not None
        assert "Coats are in." in (recent.body_text or "")
        old = session.get(Notification, old_notice)
        new = session.get(Notification, new_notice)
        assert old is not None
        assert new is not None
        assert (old.body, old.subject) == ("", "Your order is ready")
        assert new.body == "Bo, your coat waits at Avenyn."
    assert (
        count(session_factory, ConversationMessage, ConversationMessage.conversation_id == old_talk)
        == 0
    )
    assert (
        count(session_factory, ConversationMessage, ConversationMessage.conversation_id == new_talk)
        == 1
    )
    assert [f.name.endswith(f"{new_mail}.eml") for f in mail_files(settings)] == [True]
    assert report.removed == {
        "events": 1,
        "conversation_messages": 2,  # its one message, then the conversation itself
        "message_bodies": 1,
        "mail_files": 1,
        "notification_bodies": 1,
    }

    # The transcript of the purged conversation answers, with nothing in it.
    agent = bearer(create_secret_key(session_factory, role=Role.AGENT))
    transcript = client.get(f"/v1/conversations/{old_talk}", headers=agent)
    assert transcript.status_code == 200, transcript.text
    # A second run finds nothing left to do.
    assert purge(session_factory, settings).total == 0


def test_batches_keep_their_size_and_a_run_stops_at_its_cap(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    for number in range(7):
        track(client, write_key, f"old-{number}", LONG_AGO)
    track(client, write_key, "recent", LATELY)
    pauses: list[float] = []
    small = with_settings(
        settings,
        retention_batch_size=2,
        retention_max_rows_per_run=5,
        retention_batch_pause_seconds=0.25,
    )
    with unit_of_work(session_factory) as session:
        report = retention.run(session, small, pause=pauses.append)
    assert report.batches["events"] == [2, 2, 1]
    assert pauses == [0.25, 0.25]  # between full batches, none after the last
    assert len(event_ids(session_factory)) == 3
    report = purge(session_factory, small)
    assert report.batches["events"] == [2]
    assert event_ids(session_factory) == {"recent"}


def test_each_batch_is_committed_on_its_own(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    for number in range(4):
        track(client, write_key, f"old-{number}", LONG_AGO)
    seen: list[int] = []

    def look(kind: retention.Kind, removed: int) -> None:
        # Another connection sees each batch as soon as it is reported.
        if kind.name == "events":
            seen.append(len(event_ids(session_factory)))

    purge(session_factory, with_settings(settings, retention_batch_size=2), progress=look)
    assert seen == [2, 0, 0]


def test_zero_keeps_everything(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    track(client, write_key, "old", LONG_AGO)
    chat = create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT)
    age_conversation(session_factory, conversation(client, chat, email="anna@example.com"))
    sent_email(session_factory, created_at=LONG_AGO)
    notice(session_factory, "order-1", created_at=LONG_AGO)
    forever = with_settings(
        settings,
        retention_event_days=0,
        retention_conversation_days=0,
        retention_message_days=0,
        retention_notification_days=0,
    )
    report = purge(session_factory, forever)
    assert report.total == 0
    assert sorted(report.kept) == sorted(kind.name for kind in retention.kinds(forever))
    assert event_ids(session_factory) == {"old"}
    assert count(session_factory, ConversationMessage) == 1
    assert count(session_factory, Message, Message.body_text.is_not(None)) == 1
    assert count(session_factory, Notification, Notification.body != "") == 1
    assert len(mail_files(settings)) == 1


@pytest.mark.parametrize("days", [1, 2000])
def test_the_cut_off_follows_the_setting(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings, days: int
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    track(client, write_key, "old", LONG_AGO)
    purge(session_factory, with_settings(settings, retention_event_days=days))
    assert event_ids(session_factory) == (set() if days < 1000 else {"old"})


def test_the_worker_runs_retention(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    assert "privacy.retention" in build_registry().periodic_jobs()
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    track(client, write_key, "old", LONG_AGO)
    track(client, write_key, "recent", LATELY)
    worker = Worker(session_factory=session_factory, settings=settings, registry=app.state.registry)
    assert worker.run_periodic(0.0) >= 1
    assert event_ids(session_factory) == {"recent"}


def test_the_command_runs_retention_once_and_shows_what_went(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    database_url: str,
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="Web")
    track(client, write_key, "old", LONG_AGO)
    track(client, write_key, "recent", LATELY)
    env = {
        "OMNIKANAL_DATABASE_URL": database_url,
        "OMNIKANAL_DATA_DIR": str(settings.data_dir),
        "OMNIKANAL_RETENTION_NOTIFICATION_DAYS": "0",
    }
    result = CliRunner().invoke(cli, ["retention", "run"], env=env)
    assert result.exit_code == 0, result.output
    assert "raw events" in result.output
    assert "kept forever" in result.output  # the notification bodies
    assert "1 rows and files removed" in result.output
    assert event_ids(session_factory) == {"recent"}
