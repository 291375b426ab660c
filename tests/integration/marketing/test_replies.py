"""Agents' replies reach the customer on their channel (S3): an email reply goes out over
SMTP threaded under the customer's mail, their emailed answer joins the same conversation;
a phone reply goes as SMS through the signed webhook; a reply with nowhere to go fails with
the reason and the inbox shows it."""

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from omnikanal.config import Settings
from tests.factories import basic, bearer, create_secret_key
from tests.integration.commerce.conftest import Shop
from tests.integration.marketing.conftest import MailSink, run_later
from tests.integration.marketing.test_delivery import provider as provider  # the fixture

Headers = dict[str, str]


@pytest.fixture
def email_inbox(session_factory: sessionmaker[Session]) -> str:
    return create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.EMAIL)


def customer_mail(
    *,
    body: str,
    message_id: str,
    subject: str = "Button on my coat",
    dated: bool = True,
    **headers: str,
) -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = "Anna Svensson <anna.svensson@example.com>"
    mail["To"] = "Shop <shop@example.com>"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    # Mail dates are to the second: a mail written the second after a reply would sort
    # before it; without a Date the hub's own time stands.
    if dated:
        mail["Date"] = formatdate(usegmt=True)
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


def post_mail(shop: Shop, key: str, raw: bytes) -> Any:
    return shop.client.post(
        "/v1/conversations/inbound-email",
        content=raw,
        headers={**basic(key), "content-type": "message/rfc822"},
    )


def transcript(shop: Shop, conversation_id: str) -> list[dict[str, Any]]:
    found = shop.ok(shop.client.get(f"/v1/conversations/{conversation_id}", headers=shop.agent))
    return list(found["messages"])


def test_an_email_reply_reaches_the_customer_threaded_and_their_answer_joins(
    shop: Shop, app: FastAPI, mail: MailSink, email_inbox: str
) -> None:
    first = post_mail(
        shop,
        email_inbox,
        customer_mail(body="A button came off my coat.", message_id="<q1@mail.example.com>"),
    )
    receipt = shop.ok(first, 201)
    conversation = receipt["conversation_id"]
    assert receipt["message"]["body"] == "A button came off my coat."

    reply = shop.client.post(
        f"/v1/conversations/{conversation}/reply",
        json={"body": "Bring it to any store: we sew it on."},
        headers=shop.agent,
    )
    sent = shop.ok(reply, 201)["messages"][-1]
    assert sent["channel"] == "email"
    assert sent["delivery_status"] == "queued"
    run_later(app)

    assert len(mail.received) == 1
    out = mail.received[0]
    assert out["To"] == "anna.svensson@example.com"
    assert out["Subject"] == "Re: Button on my coat"
    assert out["In-Reply-To"] == "<q1@mail.example.com>"
    assert out["References"] == "<q1@mail.example.com>"
    assert out["Message-ID"] == sent["external_id"]
    assert "we sew it on" in str(out.get_body(preferencelist=("plain",)) or "")
    delivered = transcript(shop, conversation)[-1]
    assert delivered["delivery_status"] == "sent"
    assert delivered["delivered_at"] is not None

    answer = customer_mail(
        body="Thanks! I'll come Saturday.\n\nOn Mon, Shop wrote:\n> Bring it to any store",
        message_id="<q2@mail.example.com>",
        subject="Re: Button on my coat",
        dated=False,
        In_Reply_To=out["Message-ID"],
        References=f"<q1@mail.example.com> {out['Message-ID']}",
    )
    joined = shop.ok(post_mail(shop, email_inbox, answer), 201)
    assert joined["conversation_id"] == conversation
    assert joined["answers_conversation_id"] == conversation
    assert joined["new_conversation"] is False
    # Only the new text: the quoted reply is already in the transcript.
    assert joined["message"]["body"] == "Thanks! I'll come Saturday."
    # The provider posting the same mail again stores it once.
    again = shop.ok(post_mail(shop, email_inbox, answer), 200)
    assert again["duplicate"] is True
    assert [m["direction"] for m in transcript(shop, conversation)] == [
        "inbound",
        "outbound",
        "inbound",
    ]

    # The next reply threads under the customer's latest mail, naming the whole thread.
    shop.ok(
        shop.client.post(
            f"/v1/conversations/{conversation}/reply",
            json={"body": "See you then."},
            headers=shop.agent,
        ),
        201,
    )
    run_later(app)
    second = mail.received[1]
    assert second["In-Reply-To"] == "<q2@mail.example.com>"
    assert second["References"].split() == [
        "<q1@mail.example.com>",
        out["Message-ID"],
        "<q2@mail.example.com>",
    ]


def test_a_refused_reply_shows_failed_with_the_reason_in_the_inbox(
    shop: Shop, app: FastAPI, mail: MailSink, email_inbox: str
) -> None:
    receipt = shop.ok(
        post_mail(shop, email_inbox, customer_mail(body="Hello?", message_id="<r1@x.example>")),
        201,
    )
    conversation = receipt["conversation_id"]
    mail.refuse = True
    shop.client.post(
        f"/v1/conversations/{conversation}/reply", json={"body": "Hi!"}, headers=shop.agent
    )
    run_later(app)
    failed = transcript(shop, conversation)[-1]
    assert failed["delivery_status"] == "failed"
    assert "550" in failed["delivery_error"]
    inbox = shop.ok(
        shop.client.get("/v1/conversations", params={"undelivered": True}, headers=shop.agent)
    )
    assert [c["id"] for c in inbox["items"]] == [conversation]
    assert inbox["items"][0]["undelivered_replies"] == 1

    mail.refuse = False
    shop.client.post(
        f"/v1/conversations/{conversation}/reply", json={"body": "Hi again!"}, headers=shop.agent
    )
    run_later(app)
    inbox = shop.ok(
        shop.client.get("/v1/conversations", params={"undelivered": True}, headers=shop.agent)
    )
    assert inbox["items"] == []


def test_a_phone_reply_goes_as_sms_and_one_without_a_number_fails_at_once(
    shop: Shop,
    app: FastAPI,
    settings: Settings,
    session_factory: sessionmaker[Session],
    provider: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, calls = provider
    settings.sms_webhook_url = url
    phone = bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.PHONE))
    chat = bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT))
    called = shop.ok(
        shop.client.post(
            "/v1/conversations/messages",
            json={"body": "Call about my order", "phone": "070-111 22 33"},
            headers=phone,
        ),
        201,
    )
    shop.client.post(
        f"/v1/conversations/{called['conversation_id']}/reply",
        json={"body": "Your order left today."},
        headers=shop.agent,
    )
    run_later(app)
    assert len(calls) == 1
    headers, body = calls[0]
    assert b'"to":"+46701112233"' in body
    assert b"Your order left today." in body
    assert "webhook-signature" in headers
    assert transcript(shop, called["conversation_id"])[-1]["delivery_status"] == "sent"

    # A chat visitor with no phone: an SMS reply has nowhere to go.
    chatted = shop.ok(
        shop.client.post(
            "/v1/conversations/messages",
            json={"body": "Hi", "anonymous_id": "visitor-88"},
            headers=chat,
        ),
        201,
    )
    shop.client.post(
        f"/v1/conversations/{chatted['conversation_id']}/reply",
        json={"body": "Hello!", "channel": "phone"},
        headers=shop.agent,
    )
    last = transcript(shop, chatted["conversation_id"])[-1]
    assert last["delivery_status"] == "failed"
    assert last["delivery_error"] == "no phone number: the customer gave none"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"Subject: no sender\r\n\r\nHello", "body.From"),
        (b"From: anna@example.com\r\nSubject: empty\r\n\r\n", "body.body"),
        (b"\xff\xfe\x00garbage", "body.From"),
    ],
)
def test_an_unreadable_mail_is_refused_naming_the_header(
    shop: Shop, email_inbox: str, raw: bytes, field: str
) -> None:
    refused = post_mail(shop, email_inbox, raw)
    assert refused.status_code in (400, 422), refused.text
    if refused.status_code == 422:
        assert refused.json()["errors"][0]["field"] == field


def test_only_the_email_channel_posts_mail(shop: Shop, session_factory: Any) -> None:
    chat = create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT)
    raw = customer_mail(body="Hi", message_id="<c1@x.example>")
    assert post_mail(shop, chat, raw).status_code == 403
    assert shop.client.post("/v1/conversations/inbound-email", content=raw).status_code == 401
