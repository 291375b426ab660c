"""Historical orders imported (S15): they land with channel, store, time, lines and
totals, are linked to their people, go on the timeline at their own time, count for
habits, and cause no live reaction. Through the orders kind and the HTTP API, on both
databases."""

import gzip
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.event import listen, remove

from omnikanal.commerce import habits
from omnikanal.commerce import repository as commerce_repository
from omnikanal.imports.kinds import RowProblem
from omnikanal.inventory.models import Adjustment
from omnikanal.kit.time import utcnow
from omnikanal.loyalty.models import LoyaltyLedgerEntry
from omnikanal.marketing.models import Message as MarketingMessage
from omnikanal.notifications.models import Notification
from omnikanal.outbox.models import OutboxEvent
from omnikanal.timers.models import Timer
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import COAT, GBG, LATTE, SCARF, STHLM, Shop
from tests.integration.imports.conftest import Hub, Importer, csv_text


def row(number: str, sku: str, **fields: str) -> dict[str, str]:
    """A line of the hub format: a web order of one unit at the book price by default."""
    prices = {COAT: "2499.00", SCARF: "499.00", LATTE: "49.00"}
    return {
        "order_number": number,
        "channel": "web",
        "ordered_at": "2024-03-01T14:05:00+01:00",
        "sku": sku,
        "quantity": "1",
        "unit_price": prices.get(sku, "10.00"),
        "currency": "SEK",
        **fields,
    }


def identify(shop: Shop, **message: Any) -> str:
    shop.ok(shop.client.post("/v1/identify", json=message, headers=shop.web_events))
    traits = message.get("traits", {})
    params = {"user_id": message["userId"]} if "userId" in message else {"email": traits["email"]}
    found = shop.ok(shop.client.get("/v1/profiles", params=params, headers=shop.agent))
    profile_id: str = found["items"][0]["id"]
    return profile_id


def orders_of(shop: Shop, profile_id: str) -> list[dict[str, Any]]:
    page = shop.ok(
        shop.client.get("/v1/orders", params={"profile_id": profile_id}, headers=shop.agent)
    )
    items: list[dict[str, Any]] = page["items"]
    return items


def profile_of(shop: Shop, **identifier: str) -> str:
    found = shop.ok(shop.client.get("/v1/profiles", params=identifier, headers=shop.agent))
    assert len(found["items"]) == 1, found
    profile_id: str = found["items"][0]["id"]
    return profile_id


def counts(shop: Shop) -> dict[str, int]:
    with shop.factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                LoyaltyLedgerEntry,
                MarketingMessage,
                Timer,
                Notification,
                Adjustment,
                OutboxEvent,
            )
        }


def test_orders_land_with_channel_store_time_lines_and_totals(
    shop: Shop, importer: Importer
) -> None:
    outcome = importer.apply(
        [
            row("W-1001", COAT, external_id="cust-1", discount="100.00"),
            row("W-1001", SCARF, external_id="cust-1", quantity="2", name="Scarf, red"),
            row(
                "R-77",
                LATTE,
                channel="pos",
                location=GBG,
                external_id="cust-1",
                ordered_at="2023-11-05T08:15:00Z",
                unit_price="45.50",
            ),
        ]
    )
    assert outcome.problems == []
    assert (outcome.created, outcome.updated, outcome.unchanged) == (3, 0, 0)
    profile_id = profile_of(shop, external_id="cust-1")
    web, till = orders_of(shop, profile_id)  # newest first
    assert web["channel"] == "web"
    assert web["external_reference"] == "W-1001"
    assert web["location"] is None
    assert web["status"] == "shipped"
    assert web["placed_at"].startswith("2024-03-01T13:05:00")
    assert web["total"] == {"amount": 249_900 - 10_000 + 2 * 49_900, "currency": "SEK"}
    assert [(ln["sku"], ln["quantity"], ln["line_total"]["amount"]) for ln in web["lines"]] == [
        (COAT, 1, 239_900),
        (SCARF, 2, 99_800),
    ]
    assert web["lines"][1]["name"] == "Scarf, red"
    assert web["tenders"] == []
    assert till["channel"] == "pos"
    assert till["location"] == GBG
    assert till["status"] == "completed"
    assert till["fulfilment"] == "in_store"
    assert till["placed_at"].startswith("2023-11-05T08:15:00")
    assert till["total"]["amount"] == 4_550
    assert till["number"] != "R-77"
    assert till["external_reference"] == "R-77"


def test_orders_are_linked_by_email_user_id_and_card_or_make_a_profile(
    shop: Shop, importer: Importer
) -> None:
    by_email = identify(shop, anonymousId="laptop-a", traits={"email": "anna@example.com"})
    by_id = identify(shop, userId="crm-42", traits={"email": "bo@example.com"})
    member = identify(shop, anonymousId="phone-c", traits={"email": "cia@example.com"})
    shop.ok(shop.client.post(f"/v1/loyalty/{member}/join", json={}, headers=shop.gbg))
    card = shop.ok(shop.client.get(f"/v1/loyalty/{member}", headers=shop.agent))["member"][
        "card_number"
    ]
    outcome = importer.apply(
        [
            row("W-1", COAT, email=" Anna@Example.com "),
            row("W-2", COAT, user_id="crm-42"),
            row("R-3", LATTE, channel="pos", location=GBG, loyalty_card=card),
            row("W-4", SCARF, email="new.customer@example.com", external_id="crm-99"),
        ]
    )
    assert outcome.problems == []
    assert [o["external_reference"] for o in orders_of(shop, by_email)] == ["W-1"]
    assert [o["external_reference"] for o in orders_of(shop, by_id)] == ["W-2"]
    assert [o["external_reference"] for o in orders_of(shop, member)] == ["R-3"]
    # An unknown customer gets a profile holding what named them, as identify would.
    new = profile_of(shop, email="new.customer@example.com")
    assert profile_of(shop, external_id="crm-99") == new
    assert new not in (by_email, by_id, member)
    assert [o["external_reference"] for o in orders_of(shop, new)] == ["W-4"]
    profile = shop.ok(shop.client.get(f"/v1/profiles/{new}", headers=shop.agent))
    assert profile["traits"]["email"] == "new.customer@example.com"
    assert profile["first_seen"].startswith("2024-03-01")


def test_store_and_web_purchases_show_in_one_timeline_with_habits(
    shop: Shop, importer: Importer
) -> None:
    importer.apply(
        [
            row("R-1", COAT, channel="pos", location=STHLM, external_id="c-7",
                ordered_at="2023-05-02T17:20:00+02:00"),
            row("R-2", LATTE, channel="pos", location=STHLM, external_id="c-7",
                ordered_at="2023-06-10T17:45:00+02:00"),
            row("W-3", SCARF, external_id="c-7", quantity="3",
                ordered_at="2024-01-15T21:00:00+01:00"),
        ]
    )  # fmt: skip
    profile_id = profile_of(shop, external_id="c-7")
    timeline = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/timeline", headers=shop.agent))
    completed = [e for e in timeline["items"] if e["name"] == "Order Completed"]
    assert [(e["channel"], e["location"]) for e in completed] == [
        ("web", None),
        ("pos", STHLM),
        ("pos", STHLM),
    ]
    assert [e["timestamp"][:10] for e in completed] == ["2024-01-15", "2023-06-10", "2023-05-02"]
    web = completed[0]["properties"]
    assert web["order_number"].startswith("NK-")
    assert web["external_reference"] == "W-3"
    assert web["total"] == 3 * 49_900
    assert web["products"] == [
        {"sku": SCARF, "name": "Merino scarf, red", "price": 49_900, "quantity": 3}
    ]
    orders = orders_of(shop, profile_id)
    assert {o["id"] for o in orders} == {e["properties"]["order_id"] for e in completed}
    # The habits they tell (Stockholm time): the store, the hour, the favourite products.
    traits = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}", headers=shop.agent))[
        "computed_traits"
    ]
    assert traits["orders"] == 3
    assert traits["favourite_store"] == STHLM
    assert traits["preferred_channel"] == "pos"
    assert traits["usual_order_time"] == "17:00-18:00"
    assert traits["favourite_products"][0] == SCARF
    assert traits["last_order_at"].startswith("2024-01-15T20:00:00")


def test_a_second_run_changes_nothing(shop: Shop, importer: Importer) -> None:
    rows = [
        row("W-1", COAT, email="anna@example.com"),
        row("W-1", SCARF, email="anna@example.com"),
        row("R-1", LATTE, channel="pos", location=GBG, email="anna@example.com"),
        # The same number on another channel is another order.
        row("W-1", LATTE, channel="app", email="anna@example.com"),
    ]
    first = importer.apply(rows)
    assert (first.created, first.unchanged, first.problems) == (4, 0, [])
    before = counts(shop)
    profile_id = profile_of(shop, email="anna@example.com")
    orders = orders_of(shop, profile_id)
    timeline = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/timeline", headers=shop.agent))
    again = importer.apply(rows)
    assert (again.created, again.updated, again.unchanged, again.problems) == (0, 0, 4, [])
    assert counts(shop) == before
    assert orders_of(shop, profile_id) == orders
    assert len(orders) == 3
    assert (
        shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/timeline", headers=shop.agent))
        == timeline
    )


def test_a_refused_line_is_refused_again_not_counted_unchanged(
    shop: Shop, importer: Importer
) -> None:
    rows = [
        row("W-1", COAT, email="anna@example.com"),
        row("W-1", COAT, email="anna@example.com", quantity="5"),
        row("W-1", SCARF, email="anna@example.com"),
    ]
    twice = RowProblem(2, "sku", "already on another line of this order")
    first = importer.apply(rows)
    assert (first.created, first.unchanged, first.problems) == (2, 0, [twice])
    again = importer.apply(rows)
    assert (again.created, again.unchanged, again.problems) == (0, 2, [twice])
    # Its lines again, from a file that now says two coats: a line it has, not the same.
    changed = importer.apply([row("W-1", COAT, email="anna@example.com", quantity="2")])
    reason = "already on this order, imported before with another quantity or price"
    assert (changed.created, changed.unchanged, changed.problems) == (
        0, 0, [RowProblem(1, "sku", reason)]
    )  # fmt: skip


def test_bad_rows_are_refused_alone_with_row_and_field(shop: Shop, importer: Importer) -> None:
    outcome = importer.apply(
        [
            row("W-1", COAT, email="anna@example.com"),
            row("W-1", "NO-SUCH-SKU", email="anna@example.com"),
            row("W-1", SCARF, email="anna@example.com", quantity="two"),
            row("W-2", SCARF, email="anna@example.com", quantity="0"),
            row("R-1", LATTE, channel="pos", email="anna@example.com"),
            row("R-2", LATTE, channel="pos", location="nowhere", email="anna@example.com"),
            row("W-3", SCARF, email="anna@example.com", ordered_at="2024-03-01 14:05"),
            row("W-4", SCARF, email="anna@example.com", ordered_at="yesterday"),
            row("W-5", SCARF, email="anna@example.com", unit_price="4.999"),
            row("W-1", LATTE, email="anna@example.com", ordered_at="2024-03-02T10:00:00Z"),
            row("W-6", SCARF, email="anna@example.com"),
        ]
    )
    assert outcome.created == 2
    assert [(p.row, p.field) for p in outcome.problems] == [
        (2, "sku"),
        (3, "quantity"),
        (4, "quantity"),
        (5, "location"),
        (6, "location"),
        (7, "ordered_at"),
        (8, "ordered_at"),
        (9, "unit_price"),
        (10, "ordered_at"),
    ]
    assert all(isinstance(p, RowProblem) and p.reason for p in outcome.problems)
    # The reasons never quote the value.
    assert not any("NO-SUCH-SKU" in p.reason or "nowhere" in p.reason for p in outcome.problems)
    profile_id = profile_of(shop, email="anna@example.com")
    landed = orders_of(shop, profile_id)
    assert sorted(o["external_reference"] for o in landed) == ["W-1", "W-6"]
    w1 = next(o for o in landed if o["external_reference"] == "W-1")
    assert [ln["sku"] for ln in w1["lines"]] == [COAT]


def test_a_historical_order_causes_no_reaction(shop: Shop, importer: Importer) -> None:
    member = identify(shop, anonymousId="laptop-m", traits={"email": "mia@example.com"})
    shop.ok(shop.client.post(f"/v1/loyalty/{member}/join", json={}, headers=shop.gbg))
    stock_before = shop.stock(GBG, LATTE), shop.stock(GBG, COAT)
    importer.run_worker()
    before = counts(shop)
    outcome = importer.apply(
        [
            row("W-1", COAT, email="mia@example.com"),
            row("R-1", COAT, channel="pos", location=GBG, email="mia@example.com"),
            row("R-1", LATTE, channel="pos", location=GBG, email="mia@example.com", quantity="3"),
            row("R-2", LATTE, channel="pos", location=GBG, email="stranger@example.com"),
        ]
    )
    assert outcome.created == 4
    importer.run_worker()
    assert counts(shop) == before
    assert (shop.stock(GBG, LATTE), shop.stock(GBG, COAT)) == stock_before
    ledger = shop.ok(shop.client.get(f"/v1/loyalty/{member}", headers=shop.agent))
    assert ledger["balance"] == 0
    assert len(orders_of(shop, member)) == 2


def test_award_points_earns_once_at_the_orders_time(shop: Shop, importer: Importer) -> None:
    member = identify(shop, anonymousId="laptop-p", traits={"email": "per@example.com"})
    shop.ok(shop.client.post(f"/v1/loyalty/{member}/join", json={}, headers=shop.gbg))
    rows = [
        row("W-1", COAT, email="per@example.com", ordered_at="2026-01-10T12:00:00Z"),
        row("R-1", LATTE, channel="pos", location=GBG, email="per@example.com",
            ordered_at="2026-06-01T10:00:00+02:00"),
    ]  # fmt: skip
    importer.apply(rows, award_points=True)
    importer.run_worker()
    importer.apply(rows, award_points=True)
    importer.run_worker()
    account = shop.ok(shop.client.get(f"/v1/loyalty/{member}", headers=shop.agent))
    earned = [e for e in account["ledger"] if e["reason"] == "earn"]
    # 1 point per krona (the default program), for each order once.
    assert sorted(e["points"] for e in earned) == [49, 2499]
    assert account["balance"] == 2499 + 49
    assert sorted(e["created_at"][:10] for e in earned) == ["2026-01-10", "2026-06-01"]


def test_an_order_split_across_two_batches_gets_all_its_lines(
    shop: Shop, importer: Importer
) -> None:
    rows = [
        row("W-1", COAT, external_id="c-1"),
        row("W-1", SCARF, external_id="c-1"),
        row("W-1", LATTE, external_id="c-1", quantity="2"),
    ]
    first = importer.apply(rows[:2])
    second = importer.apply(rows[2:], first_row=3)
    assert (first.created, second.created, second.unchanged) == (2, 1, 0)
    profile_id = profile_of(shop, external_id="c-1")
    (order,) = orders_of(shop, profile_id)
    assert [ln["sku"] for ln in order["lines"]] == [COAT, SCARF, LATTE]
    assert order["total"]["amount"] == 249_900 + 49_900 + 2 * 4_900
    timeline = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/timeline", headers=shop.agent))
    (completed,) = [e for e in timeline["items"] if e["name"] == "Order Completed"]
    assert completed["properties"]["total"] == order["total"]["amount"]
    assert [p["sku"] for p in completed["properties"]["products"]] == [COAT, SCARF, LATTE]
    # The whole file again, in other batches: nothing changes.
    again = importer.apply(rows)
    assert (again.created, again.unchanged) == (0, 3)
    assert orders_of(shop, profile_id) == [order]


def test_dry_run_checks_everything_and_writes_nothing(shop: Shop, importer: Importer) -> None:
    before = counts(shop)
    outcome = importer.apply(
        [row("W-1", COAT, email="dry@example.com"), row("W-1", "NO-SUCH", email="d@x.se")],
        dry_run=True,
    )
    assert outcome.created == 1
    assert [(p.row, p.field) for p in outcome.problems] == [(2, "email")]
    assert counts(shop) == before
    found = shop.ok(
        shop.client.get("/v1/profiles", params={"email": "dry@example.com"}, headers=shop.agent)
    )
    assert found["items"] == []


def traits_of(shop: Shop, profile_id: str) -> dict[str, Any]:
    profile = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}", headers=shop.agent))
    traits: dict[str, Any] = profile["computed_traits"]
    return traits


def test_habits_are_refreshed_once_when_the_import_ends(shop: Shop, importer: Importer) -> None:
    started = utcnow()
    importer.apply([row("W-1", COAT, external_id="c-1")], last=False)
    importer.apply(
        [
            row("W-1", SCARF, external_id="c-1", quantity="4"),
            row("P-2", LATTE, channel="pos", location=GBG, external_id="c-1", quantity="2",
                ordered_at="2024-03-02T08:10:00+01:00"),
        ],
        first_row=2,
        last=False,
    )  # fmt: skip
    profile_id = profile_of(shop, external_id="c-1")
    assert "orders" not in traits_of(shop, profile_id)  # not per batch
    importer.finish(since=started)
    traits = traits_of(shop, profile_id)
    assert traits["orders"] == 2
    assert traits["favourite_products"] == [SCARF, LATTE, COAT]
    assert traits["last_order_at"].startswith("2024-03-02T07:10:00")


def test_lines_a_later_import_adds_count_for_habits(shop: Shop, importer: Importer) -> None:
    importer.apply([row("W-1", COAT, external_id="c-1")])
    profile_id = profile_of(shop, external_id="c-1")
    assert traits_of(shop, profile_id)["favourite_products"] == [COAT]
    # Another file, another import: the order it extends was imported before it began.
    importer.apply([row("W-1", SCARF, external_id="c-1", quantity="3")])
    assert traits_of(shop, profile_id)["favourite_products"] == [SCARF, COAT]


def test_the_import_command_refreshes_habits_after_its_last_batch(shop: Shop, hub: Hub) -> None:
    rows = [
        row("W-1", COAT, external_id="c-9"),
        row("W-1", SCARF, external_id="c-9", quantity="2"),
        row("W-2", LATTE, external_id="c-9", quantity="5", ordered_at="2024-04-01T09:00:00Z"),
        row("P-3", LATTE, channel="pos", location=STHLM, external_id="c-9"),
    ]
    header = list(rows[0]) + ["location"]
    path = hub.file("orders.csv", csv_text(header, [[r.get(h, "") for h in header] for r in rows]))
    hub.env["OMNIKANAL_IMPORT_BATCH_ROWS"] = "2"  # two batches
    job = hub.imported("orders", str(path))
    assert job["counts"]["created"] == 4
    assert job["ignored_columns"] == []  # every hub column read
    traits = traits_of(shop, profile_of(shop, external_id="c-9"))
    assert traits["orders"] == 3
    assert traits["favourite_products"] == [LATTE, SCARF, COAT]
    assert traits["last_order_at"].startswith("2024-04-01T09:00:00")


def channels_of(shop: Shop, profile_id: str) -> tuple[dict[str, Any], str, str]:
    """The profile's channels by name, its first and last seen."""
    profile = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}", headers=shop.agent))
    channels = {seen.pop("channel"): seen for seen in profile["channels"]}
    return channels, profile["first_seen"], profile["last_seen"]


def test_channels_and_first_seen_are_told_once_when_the_import_ends(
    shop: Shop, importer: Importer
) -> None:
    profile_id = identify(shop, userId="crm-7", traits={"email": "vera@example.com"})
    before = channels_of(shop, profile_id)
    started = utcnow()
    importer.apply(
        [
            row("W-1", COAT, user_id="crm-7", ordered_at="2023-02-01T10:00:00Z"),
            row("W-1", SCARF, user_id="crm-7", ordered_at="2023-02-01T10:00:00Z"),
        ],
        last=False,
    )
    importer.apply(
        [
            row("W-2", LATTE, user_id="crm-7", ordered_at="2023-05-01T10:00:00Z"),
            row("R-3", LATTE, channel="pos", location=GBG, user_id="crm-7",
                ordered_at="2023-04-01T10:00:00Z"),
        ],
        first_row=3,
        last=False,
    )  # fmt: skip
    assert channels_of(shop, profile_id) == before  # not per batch
    importer.finish(since=started)
    channels, first_seen, last_seen = channels_of(shop, profile_id)
    # The identify on the web, then two web orders and one till order.
    assert channels["web"]["events"] == before[0]["web"]["events"] + 2
    assert channels["pos"]["events"] == 1
    assert channels["pos"]["first_seen"].startswith("2023-04-01T10:00:00")
    assert channels["pos"]["last_seen"].startswith("2023-04-01T10:00:00")
    assert channels["web"]["first_seen"].startswith("2023-02-01T10:00:00")
    assert first_seen.startswith("2023-02-01T10:00:00")
    assert last_seen == before[2]  # the identify, today, is the latest
    # The same file again is another import that makes no order: nothing more is told.
    importer.apply(
        [
            row("W-1", COAT, user_id="crm-7", ordered_at="2023-02-01T10:00:00Z"),
            row("W-2", LATTE, user_id="crm-7", ordered_at="2023-05-01T10:00:00Z"),
        ]
    )
    assert channels_of(shop, profile_id)[0] == channels


def test_an_import_that_fails_midway_still_tells_what_it_brought_in(shop: Shop, hub: Hub) -> None:
    rows = [
        row(f"W-{n}", LATTE, external_id="c-5", ordered_at=f"2024-01-{n:02d}T09:00:00Z")
        for n in range(1, 29)
    ]
    header = list(rows[0])
    whole = gzip.compress(csv_text(header, [list(r.values()) for r in rows]).encode())
    path = hub.file("orders.csv.gz", whole[: len(whole) * 3 // 4])  # cut short in transit
    hub.env["OMNIKANAL_IMPORT_BATCH_ROWS"] = "2"
    job = hub.imported("orders", str(path), code=1)
    assert job["status"] == "failed"
    imported = job["counts"]["created"]
    assert 0 < imported < len(rows)
    profile_id = profile_of(shop, external_id="c-5")
    assert traits_of(shop, profile_id)["orders"] == imported
    assert channels_of(shop, profile_id)[0]["web"]["events"] == imported


def test_a_merged_persons_habits_count_their_most_recent_orders_across_profiles(
    shop: Shop, importer: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two profiles' orders interleave in time; only the 3 most recent of all count, and
    # each profile's orders are read by a query of their own.
    monkeypatch.setattr(habits, "RECENT_ORDERS", 3)
    monkeypatch.setattr(commerce_repository, "CHUNK", 1)
    importer.apply(
        [
            row("W-1", COAT, email="mia@example.com", ordered_at="2024-01-01T10:00:00Z"),
            row("W-2", LATTE, user_id="crm-7", ordered_at="2024-02-01T10:00:00Z"),
            row("W-3", SCARF, email="mia@example.com", quantity="2",
                ordered_at="2024-03-01T10:00:00Z"),
            row("W-4", LATTE, user_id="crm-7", ordered_at="2024-04-01T10:00:00Z"),
            row("W-5", COAT, email="mia@example.com", ordered_at="2024-05-01T10:00:00Z"),
        ]
    )  # fmt: skip
    merged = identify(shop, userId="crm-7", traits={"email": "mia@example.com"})
    assert profile_of(shop, email="mia@example.com") == merged
    with unit_of_work(shop.factory) as session:
        habits.refresh_many(session, profile_ids=[UUID(merged)])
    in_bulk = traits_of(shop, merged)
    with unit_of_work(shop.factory) as session:
        one_by_one = habits.refresh(session, profile_id=UUID(merged))
    assert in_bulk == one_by_one
    # W-3, W-4 and W-5: the scarf's two units lead; W-1's coat is too old to count twice,
    # so coat and latte tie at one unit each (the smaller SKU first).
    assert in_bulk["orders"] == 3
    assert in_bulk["favourite_products"] == [SCARF, COAT, LATTE]
    assert in_bulk["last_order_at"].startswith("2024-05-01T10:00:00")


def test_the_import_end_reads_imported_orders_by_index_not_every_order(
    shop: Shop, importer: Importer, database_url: str
) -> None:
    """A retailer with millions of live orders pays for each import's end by what it
    imported: its queries find the imported orders by their update time. Without the
    index (or with a condition on profile_id) SQLite walked every order: 2.5 s each at a
    million orders."""
    if database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL picks plans by its statistics; SQLite's planner has none")
    till = {
        "currency": "SEK",
        "lines": [{"sku": LATTE, "quantity": 1}],
        "tenders": [{"type": "cash"}],
    }
    shop.ok(shop.client.post("/v1/orders", json=till, headers=shop.sthlm), 201)  # a live order
    started = utcnow()
    importer.apply([row("W-1", COAT, email="ines@example.com")], last=False)
    engine = shop.factory.kw["bind"]
    with recorded_statements(engine) as statements:
        importer.finish(since=started)
    plans = []
    for statement, parameters in statements:
        if "FROM commerce_order" in statement:
            plans += plan_of(engine, statement, parameters)
    on_orders = [plan for plan in plans if re.search(r"\bcommerce_order\b", plan)]
    assert any("ix_commerce_order_imported_updated" in plan for plan in on_orders), on_orders
    assert not [plan for plan in on_orders if plan.startswith("SCAN") or ">?" in plan and
                "updated_at>?" not in plan], on_orders  # fmt: skip
    assert traits_of(shop, profile_of(shop, email="ines@example.com"))["orders"] == 1


def test_a_batchs_look_ups_by_many_values_search_an_index(
    shop: Shop, importer: Importer, database_url: str
) -> None:
    """A batch finds its SKUs, its orders already imported, its customers' identifiers and
    the order numbers taken by a list of values (db.one_of); each is an index search, so a
    batch costs what it looks up, not the size of the catalogue or of the order history.
    (Read as ``(x IN (...)) = 1`` they scanned their whole table: 1.5 ms for 10 SKUs in a
    catalogue of 17,000.)"""
    if database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL picks plans by its statistics; SQLite's planner has none")
    engine = shop.factory.kw["bind"]
    with recorded_statements(engine) as statements:
        importer.apply(
            [row("W-1", COAT, email="ines@example.com"), row("W-2", SCARF, external_id="c-9")]
        )
    by_list = [(s, p) for s, p in statements if "json_each" in s and s.startswith("SELECT")]
    tables = {t for s, _ in by_list for t in re.findall(r"FROM (\w+)", s)}
    assert {"catalog_product", "commerce_order", "customer_identifier"} <= tables, tables
    for statement, parameters in by_list:
        plan = plan_of(engine, statement, parameters)
        scans = [d for d in plan if d.startswith("SCAN") and "json_each" not in d]
        assert not scans, (statement, plan)


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) the engine runs inside the block."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        remove(engine, "before_cursor_execute", record)


def plan_of(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """SQLite's query plan of a statement, a line per step."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [detail for *_, detail in found]
