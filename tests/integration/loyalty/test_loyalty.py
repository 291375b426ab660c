"""Loyalty through HTTP and through the events commerce records."""

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import IdentifierKey
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import service
from omnikanal.loyalty.handlers import earn_points, reverse_points
from omnikanal.loyalty.models import LoyaltyLedgerEntry
from omnikanal.outbox.registry import PublishedEvent
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory, role=Role.STORE, location="gbg-avenyn"))


def a_person(factory: sessionmaker[Session]) -> uuid.UUID:
    """A profile the identity graph knows (joining needs a real person)."""
    with unit_of_work(factory) as session:
        keys = [IdentifierKey("user_id", f"member-{uuid.uuid4().hex[:8]}")]
        return customers_service.place(
            session, identifiers=keys, channel="app", at=utcnow()
        ).profile_id


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


def order_placed(profile_id: uuid.UUID, order_id: str, amount: int, channel: str) -> PublishedEvent:
    return PublishedEvent(
        id=uuid.uuid4(),
        type="order.placed",
        payload={
            "order_id": order_id,
            "profile_id": str(profile_id),
            "total": {"amount": amount, "currency": "SEK"},
            "channel": channel,
            "location": None,
        },
        occurred_at=utcnow(),
    )


def return_received(
    profile_id: uuid.UUID, order_id: str, refund: int, total: int, location: str
) -> PublishedEvent:
    return PublishedEvent(
        id=uuid.uuid4(),
        type="return.received",
        payload={
            "return_id": f"r-{uuid.uuid4().hex[:6]}",
            "order_id": order_id,
            "profile_id": str(profile_id),
            "refund": {"amount": refund, "currency": "SEK"},
            "order_total": {"amount": total, "currency": "SEK"},
            "channel": "pos",
            "location": location,
        },
        occurred_at=utcnow(),
    )


def ledger_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(LoyaltyLedgerEntry)) or 0)


def test_earn_on_the_web_redeem_at_a_till_reverse_on_a_return(
    client: TestClient, store: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    profile_id = a_person(session_factory)
    joined = client.post(f"/v1/loyalty/{profile_id}/join", json={"channel": "app"}, headers=store)
    assert joined.status_code == 200
    card = joined.json()["card_number"]
    again = client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=store)
    assert again.json()["card_number"] == card

    with unit_of_work(session_factory) as session:
        earn_points(session, order_placed(profile_id, "web-1", 250_000, "web"))
        earn_points(session, order_placed(profile_id, "web-1", 250_000, "web"))  # redelivered
    account = client.get(f"/v1/loyalty/{profile_id}", headers=store).json()
    assert account["balance"] == 2500
    assert account["tier"]["name"] == "Silver"
    assert account["ledger"][0]["channel"] == "web"

    redeemed = client.post(
        f"/v1/loyalty/{profile_id}/redemptions",
        json={"points": 500, "reference": "till-77", "channel": "pos"},
        headers={**store, "Idempotency-Key": "till-77"},
    )
    assert redeemed.status_code == 201
    assert redeemed.json()["balance"] == 2000
    assert redeemed.json()["entry"]["location"] == "gbg-avenyn"
    replay = client.post(
        f"/v1/loyalty/{profile_id}/redemptions",
        json={"points": 500, "reference": "till-77", "channel": "pos"},
        headers={**store, "Idempotency-Key": "till-77"},
    )
    assert replay.json() == redeemed.json()
    # The same receipt redeemed again without the key is refused, not doubled.
    twice = client.post(
        f"/v1/loyalty/{profile_id}/redemptions",
        json={"points": 500, "reference": "till-77"},
        headers=store,
    )
    assert twice.status_code == 409

    # Half the order returned in another store: half its points come back out.
    with unit_of_work(session_factory) as session:
        reverse_points(session, return_received(profile_id, "web-1", 125_000, 250_000, "cph"))
    after = client.get(f"/v1/loyalty/{profile_id}", headers=store).json()
    assert after["balance"] == 750
    assert after["ledger"][0]["reason"] == "reverse"
    assert after["ledger"][0]["location"] == "cph"


def test_redeeming_more_than_the_balance_changes_nothing(
    client: TestClient, store: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    profile_id = a_person(session_factory)
    client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=store)
    with unit_of_work(session_factory) as session:
        earn_points(session, order_placed(profile_id, "o-1", 10_000, "pos"))
    before = ledger_count(session_factory)
    response = client.post(
        f"/v1/loyalty/{profile_id}/redemptions", json={"points": 101}, headers=store
    )
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_points"
    assert response.json()["balance"] == 100
    assert ledger_count(session_factory) == before


def test_bad_redemptions_are_refused(client: TestClient, store: dict[str, str]) -> None:
    stranger = uuid.uuid4()
    not_member = client.post(
        f"/v1/loyalty/{stranger}/redemptions", json={"points": 1}, headers=store
    )
    assert not_member.status_code == 404
    assert not_member.json()["code"] == "not_a_member"
    both = client.post(
        f"/v1/loyalty/{stranger}/redemptions",
        json={"points": 1, "reward_code": "COFFEE"},
        headers=store,
    )
    assert both.status_code == 422
    negative = client.post(
        f"/v1/loyalty/{stranger}/redemptions", json={"points": -5}, headers=store
    )
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["field"] == "body.points"


def test_rewards_and_admin_adjustments(
    client: TestClient,
    store: dict[str, str],
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    profile_id = a_person(session_factory)
    client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=store)
    assert (
        client.post(
            "/v1/loyalty/rewards",
            json={"code": "COFFEE", "name": "Free coffee", "points_cost": 300},
            headers=store,
        ).status_code
        == 403
    )
    created = client.post(
        "/v1/loyalty/rewards",
        json={"code": "COFFEE", "name": "Free coffee", "points_cost": 300},
        headers=admin,
    )
    assert created.status_code == 201
    added = client.post(
        f"/v1/loyalty/{profile_id}/adjustments",
        json={"points": 400, "note": "Apology for a late delivery"},
        headers=admin,
    )
    assert added.status_code == 201
    assert "by test admin" in added.json()["note"]
    reward = client.post(
        f"/v1/loyalty/{profile_id}/redemptions", json={"reward_code": "COFFEE"}, headers=store
    )
    assert reward.status_code == 201
    assert reward.json()["balance"] == 100
    too_much = client.post(
        f"/v1/loyalty/{profile_id}/adjustments",
        json={"points": -101, "note": "correction"},
        headers=admin,
    )
    assert too_much.status_code == 422


def test_points_expire_first_in_first_out(session_factory: sessionmaker[Session]) -> None:
    profile_id = a_person(session_factory)
    with unit_of_work(session_factory) as session:
        service.join(session, profile_id=profile_id, channel="web")
        old = service.earn_for_order(
            session,
            profile_id=profile_id,
            order_id="old",
            amount_minor=100_000,
            currency="SEK",
            channel="web",
            location=None,
        )
        assert old is not None
        old.expires_at = utcnow() - timedelta(days=1)
        service.earn_for_order(
            session,
            profile_id=profile_id,
            order_id="new",
            amount_minor=50_000,
            currency="SEK",
            channel="web",
            location=None,
        )
        # 600 of the old 1000 points were spent before they lapsed.
        service.redeem(session, profile_id=profile_id, points=600)
    with unit_of_work(session_factory) as session:
        assert service.expire_all(session) == 400
        assert service.expire_all(session) == 0
        assert service.balance(session, profile_id=profile_id) == 500


def test_program_rules_are_validated(client: TestClient, admin: dict[str, str]) -> None:
    program = client.get("/v1/loyalty/program", headers=admin).json()
    program["tiers"] = [{"name": "Gold", "threshold": 100}]
    refused = client.put("/v1/loyalty/program", json=program, headers=admin)
    assert refused.status_code == 422
    program["tiers"] = [{"name": "Bas", "threshold": 0}, {"name": "Guld", "threshold": 10}]
    saved = client.put("/v1/loyalty/program", json=program, headers=admin)
    assert saved.status_code == 200
    assert client.get("/v1/loyalty/program", headers=admin).json()["tiers"][1]["name"] == "Guld"


def test_analysts_cannot_read_a_members_points(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    analyst = bearer(create_secret_key(session_factory, role=Role.ANALYST))
    assert client.get(f"/v1/loyalty/{uuid.uuid4()}", headers=analyst).status_code == 403


def test_the_card_issued_on_joining_finds_the_person_at_a_till(
    client: TestClient, store: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    profile_id = a_person(session_factory)
    card = client.post(f"/v1/loyalty/{profile_id}/join", json={"channel": "app"}, headers=store)
    assert card.status_code == 200, card.text
    number = card.json()["card_number"]
    spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    found = client.get("/v1/profiles", params={"loyalty_card": spaced}, headers=store).json()
    assert [p["id"] for p in found["items"]] == [str(profile_id)]
    nobody = client.post(f"/v1/loyalty/{uuid.uuid4()}/join", json={}, headers=store)
    assert nobody.status_code == 404
    assert nobody.json()["code"] == "profile_not_found"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("rewards", {"code": "BIG", "name": "Big", "points_cost": 2**40}, "body.points_cost"),
        ("rewards", {"code": "BIG", "name": "Big", "points_cost": True}, "body.points_cost"),
        ("{profile}/adjustments", {"points": -(2**40), "note": "oops"}, "body.points"),
        ("{profile}/adjustments", {"points": 5, "note": "n" * 495}, "body.note"),
        ("{profile}/redemptions", {"points": 2**63}, "body.points"),
    ],
)
def test_values_past_the_columns_answer_422_naming_the_field(
    client: TestClient,
    store: dict[str, str],
    admin: dict[str, str],
    session_factory: sessionmaker[Session],
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    profile_id = a_person(session_factory)
    client.post(f"/v1/loyalty/{profile_id}/join", json={}, headers=store)
    response = client.post(
        f"/v1/loyalty/{path.format(profile=profile_id)}", json=body, headers=admin
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_program_past_its_limits_answers_422_naming_the_field(
    client: TestClient, admin: dict[str, str]
) -> None:
    program = client.get("/v1/loyalty/program", headers=admin).json()
    for change, field in (
        ({"name": "N" * 101}, "body.name"),
        ({"tier_window_days": 10**9}, "body.tier_window_days"),
        ({"points_per_unit": {"SEK": 2**40}}, "body.points_per_unit.SEK"),
    ):
        response = client.put("/v1/loyalty/program", json={**program, **change}, headers=admin)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_cursor_that_is_not_ours_is_400(
    client: TestClient, store: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    profile_id = a_person(session_factory)
    response = client.get(f"/v1/loyalty/{profile_id}", params={"cursor": "aGVsbG8"}, headers=store)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")
