"""S16: erasure across every domain, as a durable job; bookkeeping kept without the person."""

from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from fastapi import FastAPI
from sqlalchemy import select

from omnikanal.auth.models import Role
from omnikanal.commerce.models import Order, OrderLine
from omnikanal.loyalty.models import LoyaltyLedgerEntry
from omnikanal.marketing.messages import SUPPRESSED_ADDRESS
from omnikanal.outbox.models import OutboxEvent
from tests.integration.commerce.conftest import COAT, Shop
from tests.integration.conversations.conftest import Desk
from tests.integration.marketing.conftest import run_later
from tests.integration.privacy.people import (
    EMAIL,
    FIRST,
    LAST,
    PHONE,
    cart,
    everything_of_anna,
    headers_of,
    identify,
    run_erasure,
)


def erase(shop: Shop, profile_id: str, **headers: str) -> Any:
    response = shop.client.post(
        f"/v1/profiles/{profile_id}/erase", headers={**shop.admin, **headers}
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/privacy/requests/{response.json()['id']}"
    return response.json()


def status(shop: Shop, request_id: str) -> Any:
    return shop.ok(shop.client.get(f"/v1/privacy/requests/{request_id}", headers=shop.admin))


def names_anna(text: str) -> bool:
    lowered = text.lower()
    return any(
        needle in lowered
        for needle in (EMAIL, "701234567", "123 45 67", FIRST.lower(), LAST.lower())
    )


def test_erasure_removes_the_person_and_keeps_the_books(
    shop: Shop, desk: Desk, app: FastAPI, tmp_path: Path
) -> None:
    anna = everything_of_anna(shop, desk, app)
    profile_id = anna["profile_id"]
    assert list((tmp_path / "mail").glob("*.eml"))
    with shop.factory() as session:
        points_before = session.scalars(
            select(LoyaltyLedgerEntry.points).where(
                LoyaltyLedgerEntry.profile_id == UUID(profile_id)
            )
        ).all()
    assert points_before

    queued = erase(shop, profile_id)
    assert queued["status"] == "queued"
    assert queued["profile_id"] == profile_id
    assert [s["domain"] for s in queued["steps"]][-1] == "customers"  # identifiers last
    assert not names_anna(orjson.dumps(queued).decode())
    run_erasure(app)
    done = status(shop, queued["id"])
    assert done["status"] == "done", done
    assert all(s["status"] == "done" for s in done["steps"])
    assert done["finished_at"] is not None

    # The person is gone from every read.
    assert shop.client.get(f"/v1/profiles/{profile_id}", headers=shop.admin).status_code == 404
    assert (
        shop.client.get("/v1/profiles", params={"email": EMAIL}, headers=shop.admin).json()["items"]
        == []
    )
    assert shop.client.get(f"/v1/carts/{anna['cart_id']}", headers=shop.web).status_code == 404
    conversation = shop.client.get(
        f"/v1/conversations/{anna['conversation_id']}", headers=shop.agent
    )
    assert conversation.status_code == 404
    assert list((tmp_path / "mail").glob("*.eml")) == []
    # The books: the order, its lines and totals stay, without who bought.
    with shop.factory() as session:
        order = session.get(Order, UUID(anna["order"]["id"]))
        assert order is not None
        assert order.total == anna["order"]["total"]["amount"]
        assert (order.profile_id, order.email, order.delivery_address) == (None, None, None)
        lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)).all()
        assert [line.sku for line in lines] == [COAT]
        points_after = session.scalars(
            select(LoyaltyLedgerEntry.points).where(
                LoyaltyLedgerEntry.reference.in_([f"order:{order.id}"])
            )
        ).all()
        assert points_after == points_before
        assert (
            session.scalar(
                select(LoyaltyLedgerEntry.id).where(
                    LoyaltyLedgerEntry.profile_id == UUID(profile_id)
                )
            )
            is None
        )
    number = anna["order"]["number"]
    kept = shop.ok(shop.client.get(f"/v1/orders/{anna['order']['id']}", headers=shop.admin))
    assert kept["number"] == number
    assert not names_anna(orjson.dumps(kept).decode())
    # A second erase of the same person: nobody is left to erase.
    again = shop.client.post(f"/v1/profiles/{profile_id}/erase", headers=shop.admin)
    assert again.status_code == 404


def test_the_erased_event_carries_ids_only(shop: Shop, desk: Desk, app: FastAPI) -> None:
    anna = everything_of_anna(shop, desk, app)
    queued = erase(shop, anna["profile_id"])
    run_erasure(app)
    with shop.factory() as session:
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.type == "profile.erased"))
        (event,) = events.all()
        every_payload = [
            orjson.dumps(e.payload).decode() for e in session.scalars(select(OutboxEvent))
        ]
    assert event.payload == {
        "profile_id": anna["profile_id"],
        "profile_ids": [anna["profile_id"]],
        "request_id": queued["id"],
    }
    assert not any(names_anna(payload) for payload in every_payload)


def test_a_retried_erase_is_answered_once(shop: Shop) -> None:
    profile_id = identify(shop, "device-9", email="dag@example.com")
    first = erase(shop, profile_id, **{"Idempotency-Key": "erase-dag-1"})
    retry = shop.client.post(
        f"/v1/profiles/{profile_id}/erase",
        headers={**shop.admin, "Idempotency-Key": "erase-dag-1"},
    )
    assert retry.status_code == 202
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.json()["id"] == first["id"]
    # Asked again with another key while it runs: the same request, not a second job.
    assert erase(shop, profile_id)["id"] == first["id"]
    # Who asked for it is in the access log, once.
    log = shop.ok(
        shop.client.get("/v1/audit-log", params={"profile_id": profile_id}, headers=shop.admin)
    )
    assert [e["action"] for e in log["items"] if e["action"] == "erase"] == ["erase"]


def test_only_admins_erase_and_read_requests(shop: Shop) -> None:
    profile_id = identify(shop, "device-10", email="eva@example.com")
    for role in (Role.AGENT, Role.STORE, Role.MARKETER):
        headers = headers_of(shop, role)
        answer = shop.client.post(f"/v1/profiles/{profile_id}/erase", headers=headers)
        assert answer.status_code == 403
    request_id = erase(shop, profile_id)["id"]
    assert (
        shop.client.get(f"/v1/privacy/requests/{request_id}", headers=shop.agent).status_code == 403
    )
    unknown = "00000000-0000-7000-8000-000000000000"
    assert shop.client.get(f"/v1/privacy/requests/{unknown}", headers=shop.admin).status_code == 404
    assert shop.client.post(f"/v1/profiles/{unknown}/erase", headers=shop.admin).status_code == 404


def test_a_later_message_starts_anew_and_marketing_stays_suppressed(
    shop: Shop, desk: Desk, app: FastAPI
) -> None:
    anna = everything_of_anna(shop, desk, app)
    erase(shop, anna["profile_id"])
    run_erasure(app)

    # She comes back on a new device with the same email, and opts in again.
    fresh = identify(
        shop,
        "tablet-2",
        email=EMAIL,
        city="Göteborg",
        consents={"marketing": {"email": True}},
    )
    assert fresh != anna["profile_id"]
    profile = shop.ok(shop.client.get(f"/v1/profiles/{fresh}", headers=shop.admin))
    assert profile["merged_ids"] == []
    assert "first_name" not in profile["traits"]
    assert sorted(i["type"] for i in profile["identifiers"]) == ["anonymous_id", "email"]
    loyalty = shop.ok(shop.client.get(f"/v1/loyalty/{fresh}", headers=shop.gbg))
    assert (loyalty["member"], loyalty["balance"], loyalty["ledger"]) == (None, 0, [])

    # A cart left behind: the reminder is held back by the suppression list.
    cart(shop, "tablet-2", COAT)
    run_later(app)
    marketer = headers_of(shop, Role.MARKETER)
    audience = shop.ok(
        shop.client.post(
            "/v1/audiences",
            json={"name": "Göteborg", "rule": {"trait": "city", "exists": True}},
            headers=marketer,
        ),
        201,
    )
    campaign = shop.ok(
        shop.client.post(
            "/v1/campaigns",
            json={
                "name": "Coats",
                "audience_id": audience["id"],
                "channels": ["email"],
                "subject": "Coats",
                "body": "Wool coats are in.",
            },
            headers=marketer,
        ),
        201,
    )
    shop.ok(shop.client.post(f"/v1/campaigns/{campaign['id']}/send", headers=marketer), 202)
    run_later(app)
    sent = shop.ok(
        shop.client.get("/v1/marketing/messages", params={"profile_id": fresh}, headers=marketer)
    )["items"]
    assert sorted(m["kind"] for m in sent) == ["abandoned_cart", "campaign"]
    assert {(m["status"], m["last_error"]) for m in sent} == {("suppressed", SUPPRESSED_ADDRESS)}


def test_suppression_keeps_no_address(shop: Shop, app: FastAPI) -> None:
    from omnikanal.marketing.models import Suppression

    profile_id = identify(shop, "device-11", email="Fia@Example.com", phone="0701112233")
    erase(shop, profile_id)
    run_erasure(app)
    with shop.factory() as session:
        rows = session.scalars(select(Suppression)).all()
    assert sorted(r.kind for r in rows) == ["email", "phone"]
    assert all(len(r.digest) == 64 and "fia" not in r.digest for r in rows)
    assert PHONE not in {r.digest for r in rows}
