"""S3, no repeating yourself: a customer explains an order problem in chat, leaves, and
phones support; the agent who answers already sees the chat, the order and the cart.
Through HTTP, on both databases."""

from tests.integration.commerce.conftest import CARD, COAT, GBG, SCARF
from tests.integration.conversations.conftest import Desk

ANNA_PHONE = "+46701234567"


def test_the_agent_who_answers_the_phone_sees_the_chat_the_order_and_the_cart(
    desk: Desk,
) -> None:
    shop = desk.shop
    # Anna is known by her email and phone: she signed in on the web shop on her laptop.
    desk.ok(
        desk.post(
            "/v1/identify",
            {
                "userId": "u-anna",
                "anonymousId": "laptop-anna",
                "traits": {
                    "email": "anna@example.com",
                    "phone": ANNA_PHONE,
                    "name": "Anna Svensson",
                },
            },
            shop.web_events,
        )
    )
    found = desk.ok(desk.get("/v1/profiles", shop.agent, email="anna@example.com"))
    profile_id = found["items"][0]["id"]
    desk.ok(desk.post(f"/v1/loyalty/{profile_id}/join", {"channel": "web"}, shop.agent))

    # She buys a coat for pickup in Göteborg; the store has it ready.
    cart = desk.ok(
        desk.post(
            "/v1/carts",
            {"currency": "SEK", "anonymous_id": "laptop-anna", "items": [{"sku": COAT}]},
            shop.web,
        ),
        201,
    )
    order = desk.ok(
        desk.post(
            f"/v1/carts/{cart['id']}/checkout",
            {
                "fulfilment": {"type": "click_and_collect", "location": GBG},
                "tenders": CARD,
                "email": "anna@example.com",
            },
            shop.web,
        ),
        201,
    )
    assert order["profile_id"] == profile_id
    desk.ok(desk.post(f"/v1/orders/{order['id']}/ready", {}, shop.gbg))
    # A scarf waits in her new cart.
    desk.ok(
        desk.post(
            "/v1/carts",
            {"currency": "SEK", "anonymous_id": "laptop-anna", "items": [{"sku": SCARF}]},
            shop.web,
        ),
        201,
    )

    # She asks in the web shop's chat (the widget knows her laptop's anonymous id)...
    chat_text = (
        f"Hi! Order {order['number']} says it is ready in Göteborg, but I am away until "
        "Friday. Can my husband collect it?"
    )
    chatted = desk.ok(
        desk.message(
            desk.chat,
            chat_text,
            anonymous_id="laptop-anna",
            subject=f"Pickup of {order['number']}",
            external_id="chat-msg-1001",
        ),
        201,
    )
    assert chatted["profile_id"] == profile_id
    assert chatted["new_conversation"] is True
    assert chatted["message"]["channel"] == "chat"
    conversation_id = chatted["conversation_id"]
    # ...leaves, and phones support from the number on her profile, spelled her way.
    call_notes = "Caller asks whether her husband can collect the coat on Friday."
    called = desk.ok(desk.message(desk.phone, call_notes, phone="070-123 45 67"), 201)
    assert called["profile_id"] == profile_id
    assert called["new_conversation"] is False
    assert called["conversation_id"] == conversation_id

    # The agent who takes the call sees everything at once.
    context = desk.ok(desk.get(f"/v1/conversations/{conversation_id}/context", desk.agent))
    conversation = context["conversation"]
    assert conversation["id"] == conversation_id
    assert conversation["status"] == "open"
    assert conversation["channels"] == ["chat", "phone"]
    assert conversation["subject"] == f"Pickup of {order['number']}"
    assert [(m["channel"], m["direction"], m["body"]) for m in conversation["messages"]] == [
        ("chat", "inbound", chat_text),
        ("phone", "inbound", call_notes),
    ]
    customer = context["customer"]
    assert customer["profile_id"] == profile_id
    assert customer["name"] == "Anna Svensson"
    assert customer["email"] == "anna@example.com"
    assert customer["phone"] == ANNA_PHONE
    identifiers = {(i["type"], i["value"]) for i in customer["identifiers"]}
    assert {("user_id", "u-anna"), ("email", "anna@example.com"), ("phone", ANNA_PHONE)} <= (
        identifiers
    )
    assert {"web", "chat", "phone"} <= {c["channel"] for c in customer["channels"]}
    assert customer["loyalty"]["balance"] > 0
    assert customer["computed_traits"]["favourite_store"] == GBG
    assert customer["loyalty"]["tier"]
    (seen_order,) = context["orders"]
    assert seen_order["number"] == order["number"]
    assert seen_order["status"] == "ready_for_pickup"
    assert seen_order["pickup_location"] == GBG
    assert seen_order["ready_at"] is not None
    assert [line["sku"] for line in seen_order["lines"]] == [COAT]
    assert seen_order["returns"] == []
    assert [line["sku"] for line in context["cart"]["lines"]] == [SCARF]
    assert context["cart"]["total"] == {"amount": 49_900, "currency": "SEK"}
    assert context["earlier_conversations"] == []

    # The inbox shows it once, and both messages are on her timeline with their channels.
    inbox = desk.ok(desk.get("/v1/conversations", desk.agent, status="open"))
    assert [c["id"] for c in inbox["items"]] == [conversation_id]
    assert inbox["items"][0]["preview"] == call_notes
    assert inbox["items"][0]["message_count"] == 2
    timeline = desk.ok(desk.get(f"/v1/profiles/{profile_id}/timeline", desk.agent))
    received = [e for e in timeline["items"] if e["name"] == "Message Received"]
    assert [(e["channel"], e["properties"]["conversation_id"]) for e in received] == [
        ("phone", conversation_id),
        ("chat", conversation_id),
    ]
    assert received[1]["properties"]["excerpt"].startswith(f"Hi! Order {order['number']}")

    # The agent answers on the phone's channel and the conversation waits for Anna.
    answered = desk.ok(
        desk.post(
            f"/v1/conversations/{conversation_id}/reply",
            {"body": "Yes: he shows the order number and his ID at the till."},
            desk.agent,
        ),
        201,
    )
    assert answered["messages"][-1]["channel"] == "phone"
    assert answered["messages"][-1]["direction"] == "outbound"
    pending = desk.ok(
        desk.post(f"/v1/conversations/{conversation_id}/status", {"status": "pending"}, desk.agent)
    )
    assert pending["status"] == "pending"
