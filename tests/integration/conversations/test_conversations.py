"""The unified inbox: one open conversation per person across channels, what agents do
with it, who may see it, and what is refused. Through HTTP, on both databases."""

import base64
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Role
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.customers.models import Identifier, Profile
from omnikanal.events.models import Event
from omnikanal.outbox.models import DeliveryStatus, OutboxDelivery, OutboxEvent
from omnikanal.uow import unit_of_work
from tests.factories import create_staff_account
from tests.integration.conversations.conftest import Desk


def start(desk: Desk, **fields: Any) -> Any:
    """A new customer writes in the chat; the receipt of their message."""
    fields.setdefault("anonymous_id", f"widget-{uuid.uuid4().hex[:8]}")
    return desk.ok(desk.message(desk.chat, "Where is my parcel?", **fields), 201)


def close(desk: Desk, conversation_id: str) -> Any:
    return desk.ok(
        desk.post(f"/v1/conversations/{conversation_id}/status", {"status": "closed"}, desk.agent)
    )


def event_types(desk: Desk) -> list[str]:
    with desk.shop.factory() as session:
        return list(session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))


def handled_after_commit(desk: Desk, handler: str) -> None:
    deadline = time.monotonic() + 10
    query = select(OutboxDelivery.status).where(OutboxDelivery.target == handler)
    while time.monotonic() < deadline:
        with desk.shop.factory() as session:
            if DeliveryStatus.DELIVERED in session.scalars(query).all():
                return
        time.sleep(0.02)
    pytest.fail(f"{handler} did not run")


def test_a_closed_conversation_is_not_reopened(desk: Desk) -> None:
    first = start(desk, email="bo@example.com")
    again = desk.ok(desk.message(desk.email, "Still nothing.", email="BO@example.com"), 201)
    assert again["conversation_id"] == first["conversation_id"]

    closed = close(desk, first["conversation_id"])
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    # Closed is final for agents too...
    reopen = desk.post(
        f"/v1/conversations/{first['conversation_id']}/status", {"status": "open"}, desk.agent
    )
    assert reopen.status_code == 409
    assert reopen.json()["code"] == "conversation_closed"
    late_reply = desk.post(
        f"/v1/conversations/{first['conversation_id']}/reply", {"body": "Sorry!"}, desk.agent
    )
    assert late_reply.status_code == 409
    # ...and the customer's next message, on any channel, starts a new conversation.
    later = desk.ok(desk.message(desk.email, "A new question.", email="bo@example.com"), 201)
    assert later["new_conversation"] is True
    assert later["conversation_id"] != first["conversation_id"]
    assert later["profile_id"] == first["profile_id"]
    context = desk.ok(desk.get(f"/v1/conversations/{later['conversation_id']}/context", desk.agent))
    assert [c["id"] for c in context["earlier_conversations"]] == [first["conversation_id"]]
    assert context["earlier_conversations"][0]["status"] == "closed"
    assert "conversation.opened" in event_types(desk)


def test_a_pending_conversation_continues_and_opens_when_the_customer_writes(desk: Desk) -> None:
    first = start(desk, social={"instagram": "@Anna.Style"})
    cid = first["conversation_id"]
    desk.ok(desk.post(f"/v1/conversations/{cid}/status", {"status": "pending"}, desk.agent))
    answer = desk.ok(
        desk.message(desk.social, "Any news?", social={"instagram": "anna.style"}), 201
    )
    assert answer["conversation_id"] == cid
    assert answer["conversation_status"] == "open"
    assert answer["profile_id"] == first["profile_id"]
    shown = desk.ok(desk.get(f"/v1/conversations/{cid}", desk.agent))
    assert shown["channels"] == ["chat", "social"]
    assert [m["channel"] for m in shown["messages"]] == ["chat", "social"]


def test_csat_is_taken_once_and_only_after_closing(desk: Desk) -> None:
    cid = start(desk)["conversation_id"]
    early = desk.post(f"/v1/conversations/{cid}/csat", {"score": 5}, desk.chat)
    assert early.status_code == 409
    assert early.json()["code"] == "conversation_not_closed"
    close(desk, cid)
    out_of_range = desk.post(f"/v1/conversations/{cid}/csat", {"score": 6}, desk.chat)
    assert out_of_range.status_code == 422
    rated = desk.ok(
        desk.post(
            f"/v1/conversations/{cid}/csat", {"score": 4, "comment": "Quick help."}, desk.chat
        ),
        201,
    )
    assert rated["csat"]["score"] == 4
    assert "messages" not in rated  # the chat back end does not read the transcript
    twice = desk.post(f"/v1/conversations/{cid}/csat", {"score": 1}, desk.agent)
    assert twice.status_code == 409
    assert twice.json()["code"] == "csat_already_recorded"
    shown = desk.ok(desk.get(f"/v1/conversations/{cid}", desk.agent))
    assert shown["csat"]["score"] == 4
    assert shown["csat"]["comment"] == "Quick help."
    assert "conversation.csat_recorded" in event_types(desk)


def test_notes_are_internal(desk: Desk) -> None:
    first = start(desk)
    cid, profile_id = first["conversation_id"], first["profile_id"]
    note = "Customer was rude last time; offer the 10% voucher only if asked."
    noted = desk.ok(desk.post(f"/v1/conversations/{cid}/notes", {"body": note}, desk.agent), 201)
    assert noted["messages"][-1]["kind"] == "note"
    assert noted["messages"][-1]["channel"] is None
    assert noted["messages"][-1]["direction"] is None
    assert noted["messages"][-1]["author"] == "test agent"
    # Not a message to the customer: neither counted, previewed nor on the timeline.
    assert noted["message_count"] == 1
    assert noted["preview"] == "Where is my parcel?"
    desk.ok(desk.post(f"/v1/conversations/{cid}/reply", {"body": "On its way!"}, desk.agent), 201)
    timeline = desk.ok(desk.get(f"/v1/profiles/{profile_id}/timeline", desk.agent))
    names = [e["name"] for e in timeline["items"]]
    assert names.count("Message Sent") == 1
    assert all(note not in str(e["properties"]) for e in timeline["items"])
    assert "voucher" not in str(desk.get(f"/v1/profiles/{profile_id}", desk.agent).json())
    # A wrap-up note after closing is fine.
    close(desk, cid)
    desk.ok(desk.post(f"/v1/conversations/{cid}/notes", {"body": "Solved."}, desk.agent), 201)


def test_a_message_without_an_identifier_is_refused_and_nothing_is_written(desk: Desk) -> None:
    before = {
        model: desk.count(model)
        for model in (Conversation, ConversationMessage, Profile, Identifier, Event, OutboxEvent)
    }
    for fields in ({}, {"phone": "12"}, {"email": "not-an-email"}):
        refused = desk.message(desk.phone, "Hello, it is me again.", **fields)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "identifier_required"
        assert refused.json()["errors"]
    assert refused.json()["errors"] == [{"field": "email", "message": "not a usable identifier"}]
    after = {model: desk.count(model) for model in before}
    assert after == before


def test_unknown_conversation_is_404(desk: Desk) -> None:
    missing = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/v1/conversations/{missing}", None),
        ("GET", f"/v1/conversations/{missing}/context", None),
        ("POST", f"/v1/conversations/{missing}/assign", {"agent": "Eva"}),
        ("POST", f"/v1/conversations/{missing}/status", {"status": "closed"}),
        ("POST", f"/v1/conversations/{missing}/notes", {"body": "x"}),
        ("POST", f"/v1/conversations/{missing}/reply", {"body": "x"}),
        ("POST", f"/v1/conversations/{missing}/csat", {"score": 3}),
    ):
        response = desk.shop.client.request(method, path, json=body, headers=desk.agent)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "conversation_not_found"
        assert response.headers["content-type"] == "application/problem+json"


def test_who_may_post_and_who_may_read(desk: Desk) -> None:
    shop = desk.shop
    cid = start(desk)["conversation_id"]
    # Store staff see their pickups and profiles, not transcripts; channel back ends post
    # but do not read; analysts neither.
    for headers in (shop.gbg, desk.chat, shop.web, shop.analyst):
        for path in (f"/v1/conversations/{cid}/context", f"/v1/conversations/{cid}"):
            response = desk.get(path, headers)
            assert response.status_code == 403, (path, response.text)
            assert response.json()["code"] == "role_not_allowed"
    assert desk.get("/v1/conversations", shop.gbg).status_code == 403
    assert desk.get(f"/v1/conversations/{cid}/context", shop.admin).status_code == 200
    # Write keys only ingest.
    by_write_key = desk.message(desk.chat_events, anonymous_id="w-1")
    assert by_write_key.status_code == 403
    assert by_write_key.json()["code"] == "wrong_key_kind"
    assert desk.message({}, anonymous_id="w-1").status_code == 401
    # A channel back end posts for its own channel only.
    wrong_channel = desk.message(desk.chat, anonymous_id="w-1", channel="phone")
    assert wrong_channel.status_code == 403
    assert wrong_channel.json()["code"] == "not_your_channel"
    not_messaging = desk.message(shop.web, anonymous_id="w-1")
    assert not_messaging.status_code == 403
    assert not_messaging.json()["code"] == "not_your_channel"
    assert desk.message(shop.gbg, anonymous_id="w-1").status_code == 403
    # Agents say which channel a message came on.
    unsaid = desk.message(desk.agent, anonymous_id="w-1")
    assert unsaid.status_code == 422
    assert unsaid.json()["code"] == "channel_required"
    logged = desk.ok(
        desk.message(
            desk.agent,
            "Sent the return label by email.",
            channel="email",
            direction="outbound",
            email="cia@example.com",
        ),
        201,
    )
    assert logged["message"]["author"] == "test agent"
    assert logged["message"]["direction"] == "outbound"
    # Only agents act on conversations.
    for path, body in (
        ("assign", {"agent": "Eva"}),
        ("status", {"status": "closed"}),
        ("notes", {"body": "x"}),
        ("reply", {"body": "x"}),
    ):
        assert desk.post(f"/v1/conversations/{cid}/{path}", body, desk.chat).status_code == 403
    assert desk.post(f"/v1/conversations/{cid}/csat", {"score": 3}, shop.gbg).status_code == 403


def test_malformed_and_oversized_messages(desk: Desk) -> None:
    malformed = desk.shop.client.post(
        "/v1/conversations/messages",
        content=b'{"body": "hi", "anonymous_id": ',
        headers={**desk.chat, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json"
    huge = desk.message(desk.chat, "å" * 11_000, anonymous_id="w-2")  # 22,000 bytes
    assert huge.status_code == 422
    assert huge.json()["code"] == "validation_failed"
    assert [e["field"] for e in huge.json()["errors"]] == ["body.body"]
    empty = desk.message(desk.chat, "   ", anonymous_id="w-2")
    assert empty.status_code == 422
    naive = desk.message(desk.chat, anonymous_id="w-2", sent_at="2026-11-23T10:00:00")
    assert naive.status_code == 422
    network = desk.message(desk.social, social={"myspace": "anna"})
    assert network.status_code == 422
    assert network.json()["errors"][0]["field"] == "body.social"
    assert desk.count(ConversationMessage) == 0
    # Just under the limit is fine.
    desk.ok(desk.message(desk.chat, "a" * 20 * 1024, anonymous_id="w-2"), 201)


def test_the_same_external_id_is_stored_once(desk: Desk) -> None:
    first = desk.ok(
        desk.message(desk.email, "Parcel damaged.", email="dan@example.com", external_id="<m1@x>"),
        201,
    )
    repeat = desk.message(
        desk.email, "Parcel damaged.", email="dan@example.com", external_id="<m1@x>"
    )
    assert repeat.status_code == 200
    assert repeat.json()["duplicate"] is True
    assert repeat.json()["message"]["id"] == first["message"]["id"]
    assert repeat.json()["conversation_id"] == first["conversation_id"]
    # Another channel's message with the same id is another message.
    desk.ok(desk.message(desk.chat, "Hi", email="dan@example.com", external_id="<m1@x>"), 201)
    shown = desk.ok(desk.get(f"/v1/conversations/{first['conversation_id']}", desk.agent))
    assert [(m["channel"], m["external_id"]) for m in shown["messages"]] == [
        ("email", "<m1@x>"),
        ("chat", "<m1@x>"),
    ]
    assert event_types(desk).count("conversation.message_received") == 2


def test_an_idempotency_key_replays_the_first_answer(desk: Desk) -> None:
    headers = {**desk.phone, "Idempotency-Key": "call-2026-11-23-0042"}
    body = {"phone": "+46 70 765 43 21", "body": "Asked about opening hours."}
    first = desk.post("/v1/conversations/messages", body, headers)
    second = desk.post("/v1/conversations/messages", body, headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert desk.count(ConversationMessage) == 1


def test_the_inbox_filters_and_pages_newest_activity_first(
    desk: Desk, session_factory: sessionmaker[Session]
) -> None:
    eva = create_staff_account(session_factory, role=Role.AGENT, name="Eva Ström")
    ids = [start(desk)["conversation_id"] for _ in range(3)]
    desk.ok(desk.post(f"/v1/conversations/{ids[0]}/assign", {"agent": str(eva.id)}, desk.agent))
    close(desk, ids[1])
    everything = desk.ok(desk.get("/v1/conversations", desk.agent))
    assert [c["id"] for c in everything["items"]] == [ids[1], ids[0], ids[2]]
    assert [
        c["id"] for c in desk.ok(desk.get("/v1/conversations", desk.agent, status="open"))["items"]
    ] == [ids[0], ids[2]]
    for named_by in (str(eva.id), eva.email.upper()):
        evas = desk.ok(desk.get("/v1/conversations", desk.agent, assignee=named_by))
        assert [(c["id"], c["assignee"], c["assignee_name"]) for c in evas["items"]] == [
            (ids[0], str(eva.id), "Eva Ström")
        ]
    page = desk.ok(desk.get("/v1/conversations", desk.agent, limit=2))
    rest = desk.ok(desk.get("/v1/conversations", desk.agent, limit=2, cursor=page["next_cursor"]))
    assert [c["id"] for c in page["items"] + rest["items"]] == [ids[1], ids[0], ids[2]]
    assert rest["next_cursor"] is None
    bad = desk.get("/v1/conversations", desk.agent, cursor="bm9wZQ")
    assert bad.status_code == 400
    zoneless = base64.urlsafe_b64encode(f"2026-11-30T10:00:00|{ids[0]}".encode()).decode()
    bad = desk.get("/v1/conversations", desk.agent, cursor=zoneless)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")
    unassigned = desk.ok(
        desk.post(f"/v1/conversations/{ids[0]}/assign", {"agent": None}, desk.agent)
    )
    assert unassigned["assignee"] is None
    assert unassigned["assignee_name"] is None


def test_a_conversation_is_assigned_to_a_person_who_handles_conversations(
    desk: Desk, session_factory: sessionmaker[Session]
) -> None:
    maja = create_staff_account(session_factory, role=Role.AGENT, name="Maja Lind")
    admin = create_staff_account(session_factory, role=Role.ADMIN, name="Ingrid Berg")
    store = create_staff_account(session_factory, role=Role.STORE, location="gbg-avenyn")
    gone = create_staff_account(session_factory, role=Role.AGENT)
    with unit_of_work(session_factory) as session:
        staff_accounts.disable(session, account_id=gone.id)
    conversation = start(desk)["conversation_id"]
    path = f"/v1/conversations/{conversation}/assign"
    by_email = desk.ok(desk.post(path, {"agent": f" {maja.email.upper()} "}, desk.agent))
    assert (by_email["assignee"], by_email["assignee_name"]) == (str(maja.id), "Maja Lind")
    shown = desk.ok(desk.get(f"/v1/conversations/{conversation}", desk.agent))
    assert (shown["assignee"], shown["assignee_name"]) == (str(maja.id), "Maja Lind")
    by_id = desk.ok(desk.post(path, {"agent": str(admin.id)}, desk.agent))
    assert by_id["assignee_name"] == "Ingrid Berg"
    for who in ("Eva", "nobody@staff.example", str(uuid.uuid4()), str(store.id), gone.email):
        refused = desk.post(path, {"agent": who}, desk.agent)
        assert refused.status_code == 422, who
        problem = refused.json()
        assert problem["code"] == "unknown_assignee"
        assert [e["field"] for e in problem["errors"]] == ["body.agent"]
    still = desk.ok(desk.get(f"/v1/conversations/{conversation}", desk.agent))
    assert still["assignee"] == str(admin.id)


@pytest.mark.parametrize("by", ["message", "identify"])
def test_when_two_profiles_turn_out_to_be_one_person_so_do_their_conversations(
    desk: Desk, by: str
) -> None:
    # An anonymous chat, then a call from a number nobody knew: two people, as far as we know.
    chat = start(desk, anonymous_id="widget-eve")
    call = desk.ok(desk.message(desk.phone, "Calling about my chat.", phone="0709876543"), 201)
    assert call["conversation_id"] != chat["conversation_id"]
    if by == "message":
        # The chat widget learns her number: the message links both.
        linked = desk.ok(
            desk.message(
                desk.chat,
                "My number is 070-987 65 43",
                anonymous_id="widget-eve",
                phone="0709876543",
            ),
            201,
        )
        assert linked["conversation_id"] == call["conversation_id"]
    else:
        # She identifies on the web site; the identity graph merges her profiles.
        desk.ok(
            desk.post(
                "/v1/identify",
                {"anonymousId": "widget-eve", "traits": {"phone": "+46709876543"}},
                desk.shop.web_events,
            )
        )
        # Ingestion answers once its transaction is committed; the handlers follow.
        handled_after_commit(desk, "conversations.merge_conversations")
    survivor = desk.ok(desk.get(f"/v1/conversations/{call['conversation_id']}", desk.agent))
    assert survivor["status"] == "open"
    assert survivor["channels"] == ["phone", "chat"]
    assert [m["body"] for m in survivor["messages"]][:2] == [
        "Where is my parcel?",
        "Calling about my chat.",
    ]
    # The chat's id answers with the conversation it joined; the inbox shows one.
    joined = desk.ok(desk.get(f"/v1/conversations/{chat['conversation_id']}", desk.agent))
    assert joined["id"] == call["conversation_id"]
    inbox = desk.ok(desk.get("/v1/conversations", desk.agent, profile_id=chat["profile_id"]))
    assert [c["id"] for c in inbox["items"]] == [call["conversation_id"]]
    assert "conversation.merged" in event_types(desk)


def test_messages_at_once_on_every_channel_make_one_conversation(desk: Desk) -> None:
    """A customer who writes on chat, email and social and calls, all at once, still has one
    open conversation; a repeated external id sent twice at once is stored once."""
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def send(headers: dict[str, str], external_id: str | None) -> None:
        response = desk.message(
            headers, "Is my order on its way?", email="fia@example.com", external_id=external_id
        )
        with lock:
            results.append((response.status_code, response.json().get("conversation_id", "")))

    senders = [(desk.chat, None), (desk.email, "<same@x>"), (desk.email, "<same@x>")]
    senders += [(desk.phone, None), (desk.social, None)] * 2
    threads = [threading.Thread(target=send, args=sender) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] + [201] * 6
    assert len({conversation_id for _, conversation_id in results}) == 1
    assert desk.count(Conversation) == 1
    assert desk.count(ConversationMessage) == 6
