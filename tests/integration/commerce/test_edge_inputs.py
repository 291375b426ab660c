"""Inputs at the edge of what commerce accepts (issue 12): integers past their columns,
booleans and strings as quantities, a cart line past its limit, negative tenders, zone-less
times, over-long strings, and keys acting for a store that is not theirs. Each answers a
4xx naming the field, and nothing is stored."""

import base64
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from omnikanal.auth.models import Channel, Role
from omnikanal.cli import app as cli
from omnikanal.commerce.models import Order, Tender
from omnikanal.config import Settings
from omnikanal.kit.limits import INT32_MAX
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import GBG, LATTE, SCARF, STHLM, Shop, delivery


def till_sale(shop: Shop, headers: dict[str, str], body: dict[str, Any]) -> Any:
    sale = {
        "currency": "SEK",
        "lines": [{"sku": LATTE, "quantity": 1}],
        "tenders": [{"type": "cash"}],
        **body,
    }
    return shop.client.post("/v1/orders", json=sale, headers=headers)


def refused(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    return problem


def order_count(shop: Shop) -> int:
    with shop.factory() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def open_cart(shop: Shop, anonymous_id: str) -> str:
    body = {"currency": "SEK", "anonymous_id": anonymous_id}
    cart_id: str = shop.ok(shop.client.post("/v1/carts", json=body, headers=shop.web), 201)["id"]
    return cart_id


def line_quantities(shop: Shop, cart_id: str) -> dict[str, int]:
    cart = shop.ok(shop.client.get(f"/v1/carts/{cart_id}", headers=shop.web))
    return {line["sku"]: line["quantity"] for line in cart["lines"]}


# -- integers: bounded, and never booleans or strings --


def test_a_negative_tender_amount_is_refused_naming_the_field(shop: Shop) -> None:
    tenders = [
        {"type": "card", "reference": "tok", "amount": {"amount": -100, "currency": "SEK"}},
        {"type": "cash"},
    ]
    refused(till_sale(shop, shop.gbg, {"tenders": tenders}), 422, "body.tenders[0].amount.amount")
    assert order_count(shop) == 0
    assert shop.stock(GBG, LATTE) == (50, 0, 0)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sku": LATTE, "quantity": 1, "unit_price": 2**31}, "body.lines[0].unit_price"),
        ({"sku": LATTE, "quantity": 1, "unit_price": 2**63}, "body.lines[0].unit_price"),
        ({"sku": LATTE, "quantity": 1, "unit_price": -1}, "body.lines[0].unit_price"),
        ({"sku": LATTE, "quantity": 2**31}, "body.lines[0].quantity"),
        ({"sku": LATTE, "quantity": True}, "body.lines[0].quantity"),
        ({"sku": LATTE, "quantity": "1"}, "body.lines[0].quantity"),
        ({"sku": LATTE, "quantity": 1.0}, "body.lines[0].quantity"),
        ({"sku": LATTE, "quantity": 1, "unit_price": True}, "body.lines[0].unit_price"),
        # Each bound holds, but the line's total would not fit its column.
        ({"sku": LATTE, "quantity": 2, "unit_price": INT32_MAX}, "lines[0]"),
    ],
)
def test_a_till_sale_refuses_integers_that_are_not_in_range(
    shop: Shop, line: dict[str, Any], field: str
) -> None:
    refused(till_sale(shop, shop.gbg, {"lines": [line]}), 422, field)
    assert order_count(shop) == 0
    assert shop.stock(GBG, LATTE) == (50, 0, 0)


def test_an_order_total_past_32_bits_is_refused(shop: Shop) -> None:
    lines = [
        {"sku": LATTE, "quantity": 1, "unit_price": INT32_MAX},
        {"sku": SCARF, "quantity": 1, "unit_price": INT32_MAX},
    ]
    refused(till_sale(shop, shop.gbg, {"lines": lines}), 422, "lines")
    assert order_count(shop) == 0


@pytest.mark.parametrize(
    ("tender", "field"),
    [
        ({"type": "card", "amount": {"amount": 2**31, "currency": "SEK"}}, "amount.amount"),
        ({"type": "card", "amount": {"amount": True, "currency": "SEK"}}, "amount.amount"),
        ({"type": "loyalty_points", "points": True}, "points"),
        ({"type": "card", "amount": {"amount": 100, "currency": "SKE"}}, "amount.currency"),
    ],
)
def test_a_tender_refuses_integers_that_are_not_in_range(
    shop: Shop, tender: dict[str, Any], field: str
) -> None:
    sale = {"tenders": [tender, {"type": "cash"}]}
    refused(till_sale(shop, shop.gbg, sale), 422, f"body.tenders[0].{field}")
    assert order_count(shop) == 0


@pytest.mark.parametrize("quantity", [True, "1", 1.0, 2**63])
def test_a_cart_refuses_a_quantity_that_is_not_an_integer_in_range(
    shop: Shop, quantity: Any
) -> None:
    cart_id = open_cart(shop, "device-q")
    added = shop.client.post(
        f"/v1/carts/{cart_id}/items", json={"sku": SCARF, "quantity": quantity}, headers=shop.web
    )
    refused(added, 422, "body.quantity")
    put = shop.client.put(
        f"/v1/carts/{cart_id}/items/{SCARF}", json={"quantity": quantity}, headers=shop.web
    )
    refused(put, 422, "body.quantity")
    made = shop.client.post(
        "/v1/carts",
        json={
            "currency": "SEK",
            "anonymous_id": "device-q",
            "items": [{"sku": SCARF, "quantity": quantity}],
        },
        headers=shop.web,
    )
    refused(made, 422, "body.items[0].quantity")
    assert line_quantities(shop, cart_id) == {}


def test_a_cart_line_never_holds_more_than_9999_units_however_they_are_added(
    shop: Shop,
) -> None:
    cart_id = open_cart(shop, "device-max")
    shop.ok(
        shop.client.put(
            f"/v1/carts/{cart_id}/items/{SCARF}", json={"quantity": 9_999}, headers=shop.web
        )
    )
    more = shop.client.post(
        f"/v1/carts/{cart_id}/items", json={"sku": SCARF, "quantity": 9_999}, headers=shop.web
    )
    assert refused(more, 422, "quantity")["code"] == "invalid_quantity"
    one = shop.client.post(
        f"/v1/carts/{cart_id}/items", json={"sku": SCARF, "quantity": 1}, headers=shop.web
    )
    refused(one, 422, "quantity")
    again = shop.client.post(
        "/v1/carts",
        json={
            "currency": "SEK",
            "anonymous_id": "device-max",
            "items": [{"sku": LATTE, "quantity": 1}, {"sku": SCARF, "quantity": 5}],
        },
        headers=shop.web,
    )
    refused(again, 422, "items[1].quantity")
    assert line_quantities(shop, cart_id) == {SCARF: 9_999}
    # Up to the limit is fine.
    shop.ok(
        shop.client.put(
            f"/v1/carts/{cart_id}/items/{SCARF}", json={"quantity": 9_000}, headers=shop.web
        )
    )
    shop.ok(
        shop.client.post(
            f"/v1/carts/{cart_id}/items", json={"sku": SCARF, "quantity": 999}, headers=shop.web
        )
    )
    assert line_quantities(shop, cart_id) == {SCARF: 9_999}


def test_query_integers_past_their_bounds_are_refused(shop: Shop) -> None:
    audit = shop.client.get(
        "/v1/reports/price-audit", params={"limit": 2**64}, headers=shop.analyst
    )
    refused(audit, 422, "query.limit")
    page = shop.client.get(
        "/v1/orders",
        params={"profile_id": "00000000-0000-0000-0000-000000000000", "limit": 2**40},
        headers=shop.agent,
    )
    refused(page, 422, "query.limit")


# -- times: a zone is required; a plain date is the start of its day in UTC --


def test_the_price_audit_takes_a_plain_date_as_the_start_of_that_day_in_utc(shop: Shop) -> None:
    report = shop.ok(
        shop.client.get(
            "/v1/reports/price-audit",
            params={"since": "2026-11-30", "until": "2026-12-01"},
            headers=shop.analyst,
        )
    )
    assert report["since"] in ("2026-11-30T00:00:00Z", "2026-11-30T00:00:00+00:00")
    assert report["until"] in ("2026-12-01T00:00:00Z", "2026-12-01T00:00:00+00:00")
    zoned = shop.ok(
        shop.client.get(
            "/v1/reports/price-audit",
            params={"since": "2026-11-30T10:00:00+01:00"},
            headers=shop.analyst,
        )
    )
    assert zoned["since"].startswith("2026-11-30T09:00:00")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "2026-11-30T10:00:00"),
        ("until", "2026-11-30T10:00"),
        ("since", "0001-01-01T00:00:00+14:00"),
        ("until", "9999-12-31T23:59:59-14:00"),
        ("since", "2026-13-45"),
    ],
)
def test_the_price_audit_refuses_a_time_without_a_zone_or_out_of_range(
    shop: Shop, name: str, value: str
) -> None:
    response = shop.client.get(
        "/v1/reports/price-audit", params={name: value}, headers=shop.analyst
    )
    refused(response, 422, f"query.{name}")


def test_the_cli_price_audit_reads_dates_and_times_in_utc(
    shop: Shop, database_url: str, settings: Settings
) -> None:
    env = {
        "OMNIKANAL_DATABASE_URL": database_url,
        "OMNIKANAL_DATA_DIR": str(settings.data_dir),
    }
    runner = CliRunner()
    for since, shown in (
        ("2026-11-01", "from 2026-11-01 00:00"),
        # The operator's console reads a zone-less time as UTC, as --help says.
        ("2026-11-01T10:00", "from 2026-11-01 10:00"),
        ("2026-11-01T10:00+01:00", "from 2026-11-01 09:00"),
    ):
        result = runner.invoke(cli, ["reports", "price-audit", "--since", since], env=env)
        assert result.exit_code == 0, result.output
        assert shown in result.output


def test_an_order_cursor_with_a_zone_less_time_is_refused(shop: Shop) -> None:
    sale = shop.ok(till_sale(shop, shop.gbg, {"customer": {"email": "cursor@example.com"}}), 201)
    second = shop.ok(till_sale(shop, shop.gbg, {"customer": {"email": "cursor@example.com"}}), 201)
    params = {"profile_id": sale["profile_id"], "limit": 1}
    first_page = shop.ok(shop.client.get("/v1/orders", params=params, headers=shop.agent))
    next_page = shop.ok(
        shop.client.get(
            "/v1/orders",
            params={**params, "cursor": first_page["next_cursor"]},
            headers=shop.agent,
        )
    )
    assert [first_page["items"][0]["id"], next_page["items"][0]["id"]] == [second["id"], sale["id"]]
    for moment in ("2026-11-30T10:00:00", "0001-01-01T00:00:00+14:00"):
        raw = f"{moment}|{sale['id']}".encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        response = shop.client.get(
            "/v1/orders",
            params={"profile_id": sale["profile_id"], "cursor": cursor},
            headers=shop.agent,
        )
        assert refused(response, 400)["code"] == "invalid_cursor"


# -- strings no longer than their columns --


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"external_reference": "R" * 101}, "external_reference"),
        ({"email": "a" * 310 + "@example.com"}, "email"),
        ({"location": "x" * 101}, "location"),
        ({"customer": {"loyalty_card": "7" * 101}}, "customer.loyalty_card"),
        (
            {"tenders": [{"type": "card", "reference": "t" * 201}]},
            "tenders[0].reference",
        ),
    ],
)
def test_an_order_refuses_strings_longer_than_their_columns(
    shop: Shop, extra: dict[str, Any], field: str
) -> None:
    refused(till_sale(shop, shop.gbg, extra), 422, f"body.{field}")
    assert order_count(shop) == 0


def test_cart_paths_and_queries_refuse_over_long_strings(shop: Shop) -> None:
    cart_id = open_cart(shop, "device-long")
    put = shop.client.put(
        f"/v1/carts/{cart_id}/items/{'S' * 65}", json={"quantity": 1}, headers=shop.web
    )
    refused(put, 422, "path.sku")
    current = shop.client.get("/v1/carts/current", params={"email": "a" * 321}, headers=shop.web)
    refused(current, 422, "query.email")


# -- keys act for their own store --


def test_a_store_key_cannot_ship_another_stores_order(shop: Shop) -> None:
    # Latte is in no warehouse: an order to deliver is shipped from Göteborg's shelf.
    order = shop.ok(
        till_sale(
            shop,
            shop.web,
            {"fulfilment": delivery(), "customer": {"email": "ship@example.com"}},
        ),
        201,
    )
    assert order["lines"][0]["stock_location"] == GBG
    assert shop.stock(GBG, LATTE) == (50, 0, 1)
    other = shop.client.post(f"/v1/orders/{order['id']}/ship", headers=shop.sthlm)
    assert refused(other, 403)["code"] == "not_your_location"
    unchanged = shop.ok(shop.client.get(f"/v1/orders/{order['id']}", headers=shop.agent))
    assert unchanged["status"] == "placed"
    assert shop.stock(GBG, LATTE) == (50, 0, 1)
    assert shop.stock(STHLM, LATTE) == (50, 0, 0)
    shipped = shop.ok(shop.client.post(f"/v1/orders/{order['id']}/ship", headers=shop.gbg))
    assert shipped["status"] == "shipped"
    assert shop.stock(GBG, LATTE) == (49, 0, 0)


def test_an_unbound_key_cannot_ring_up_a_sale_at_a_store(shop: Shop) -> None:
    unbound_pos = bearer(create_secret_key(shop.factory, role=Role.CHANNEL, channel=Channel.POS))
    for headers in (shop.web, unbound_pos):
        response = till_sale(shop, headers, {"location": GBG})
        assert refused(response, 403)["code"] == "not_your_location"
    # An unbound till key cannot sell with no store either.
    refused(
        till_sale(
            shop, unbound_pos, {"fulfilment": delivery(), "customer": {"email": "p@example.com"}}
        ),
        403,
    )
    assert order_count(shop) == 0
    assert shop.stock(GBG, LATTE) == (50, 0, 0)
    with shop.factory() as session:
        assert session.scalar(select(func.count()).select_from(Tender)) == 0
    # The store's own keys, and the admin for any store, may.
    bound_pos = bearer(
        create_secret_key(shop.factory, role=Role.CHANNEL, channel=Channel.POS, location=GBG)
    )
    for headers in (shop.gbg, bound_pos, shop.admin):
        sale = shop.ok(till_sale(shop, headers, {"location": GBG, "channel": "pos"}), 201)
        assert (sale["channel"], sale["location"]) == ("pos", GBG)
    assert shop.stock(GBG, LATTE) == (47, 0, 0)
