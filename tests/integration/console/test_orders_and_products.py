"""The order page (lines with SKU and size, tenders, fulfilment, returns, what happened),
a return taken from its lines, and product search by name, SKU or barcode with price
and stock per location, over HTTP."""

import re
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.commerce import orders, returns
from omnikanal.commerce.models import Order
from tests.factories import bearer, create_secret_key, demo_login
from tests.integration.console.test_pages import anna, shop  # noqa: F401 (a fixture)
from tests.integration.console.test_signin import csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("shop")


def annas_coat_order(session_factory: sessionmaker[Session]) -> Order:
    with session_factory() as session:
        _, placed = orders.of_person(
            session, profile_id=anna(session_factory), before=None, limit=9
        )
        return next(o for o in placed if o.status == "completed")


def form_token(page: str) -> str:
    # The return form's own token (the sign-out form in the header carries one too).
    form = page[page.index('action="/console/orders/') :]
    found = re.search(r'name="form_token" value="([^"]+)"', form)
    assert found, "the return form has no form token"
    return found.group(1)


def coat_field(page: str) -> str:
    found = re.search(r'name="(quantity-\d+)"', page)
    assert found, "no line to return"
    return found.group(1)


def test_the_order_page_shows_lines_tenders_fulfilment_and_events(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    coat = annas_coat_order(session_factory)
    sign_in(client, demo_login(Role.AGENT))
    # Reached from the 360 page.
    person = client.get(f"/console/customers/{anna(session_factory)}")
    assert f'href="/console/orders/{coat.id}"' in person.text
    page = client.get(f"/console/orders/{coat.id}")
    assert page.status_code == 200
    assert f"<title>Order {coat.number} · omnikanal</title>" in page.text
    row = re.search(r"<tr>\s*<td>Wool coat, grey.*?</tr>", page.text, re.S)
    assert row, page.text
    assert '<td class="sku">COAT-WOOL-GREY-38</td>' in row.group(0)
    assert "<td>38</td>" in row.group(0)
    assert "2\u00a0499,00\u00a0kr" in row.group(0)
    assert 'id="tenders">Paid by</h2>' in page.text
    assert "Nothing returned." in page.text
    assert re.search(r"<strong>Placed</strong>", page.text)
    assert re.search(r"\d+ events?\.", page.text)
    # Agents read the order; returns are taken over a store's counter.
    assert "Take a return from these lines" not in page.text
    assert client.get(f"/console/orders/{UUID(int=1)}").status_code == 404


def test_a_return_from_the_orders_lines_posted_twice_refunds_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    coat = annas_coat_order(session_factory)
    sign_in(client, demo_login(Role.STORE))
    page = client.get(f"/console/orders/{coat.id}").text
    assert "Take a return from these lines" in page
    data = {
        coat_field(page): "1",
        "reason": "Button missing",
        "csrf_token": csrf_of(page),
        "form_token": form_token(page),
    }
    first = client.post(f"/console/orders/{coat.id}/return", data=data, follow_redirects=False)
    second = client.post(f"/console/orders/{coat.id}/return", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303, first.text
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    done = parse_qs(urlsplit(first.headers["location"]).query)["done"][0]
    assert done == "Return of 1 item taken: 2\u00a0499,00\u00a0kr refunded."
    with session_factory() as session:
        taken = returns.of_order(session, order_id=coat.id)
    assert len(taken) == 1
    assert taken[0].received.refund_total == 249900
    assert taken[0].received.location == "sthlm-drottninggatan"
    after = client.get(first.headers["location"]).text
    assert done in after
    assert "<strong>Returned</strong>" in after
    assert "<strong>Refunded</strong>" in after
    assert "Button missing" in after
    # Nothing is left to return: the form is gone.
    assert "Take a return from these lines" not in after


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Say how many of which item come back."),
        ("2", "Return from 0 to 1 of Wool coat, grey (COAT-WOOL-GREY-38)."),
        ("x", "Return from 0 to 1 of Wool coat, grey (COAT-WOOL-GREY-38)."),
    ],
)
def test_a_refused_return_says_why_beside_the_line_and_keeps_what_was_typed(
    client: TestClient, session_factory: sessionmaker[Session], quantity: str, message: str
) -> None:
    coat = annas_coat_order(session_factory)
    sign_in(client, demo_login(Role.STORE))
    page = client.get(f"/console/orders/{coat.id}").text
    field = coat_field(page)
    refused = client.post(
        f"/console/orders/{coat.id}/return",
        data={field: quantity, "reason": "Too small", "csrf_token": csrf_of(page)},
    )
    assert refused.status_code == 422
    assert f'<p class="field-error" id="return-{field}-error">{message}</p>' in refused.text
    assert re.search(
        rf'name="{field}"[^>]*value="{re.escape(quantity)}"[^>]*aria-invalid="true"', refused.text
    )
    assert 'value="Too small"' in refused.text
    with session_factory() as session:
        assert returns.of_order(session, order_id=coat.id) == []


def test_the_store_view_and_a_receipt_search_link_the_order(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.STORE))
    store = client.get("/console/store").text
    linked = re.findall(r'href="/console/orders/([0-9a-f-]{36})"', store)
    assert linked
    assert client.get(f"/console/orders/{linked[0]}").status_code == 200
    till = bearer(
        create_secret_key(session_factory, role=Role.STORE, location="sthlm-drottninggatan")
    )
    sale = client.post(
        "/v1/orders",
        json={
            "currency": "SEK",
            "lines": [{"sku": "SCARF-MERINO-RED", "quantity": 1}],
            "tenders": [{"type": "cash"}],
        },
        headers=till,
    )
    assert sale.status_code == 201, sale.text
    found = client.get("/console/customers", params={"q": sale.json()["number"]})
    assert f'href="/console/orders/{sale.json()["id"]}"' in found.text


@pytest.mark.parametrize(
    ("typed", "skus"),
    [
        ("wool COAT", ["COAT-WOOL-GREY-36", "COAT-WOOL-GREY-38", "COAT-WOOL-GREY-40"]),
        ("grey-38", ["COAT-WOOL-GREY-38"]),
        ("7350012000066", ["BOOTS-CHELSEA-39"]),
        # A barcode is found whole, never by a part of it.
        ("735001200006", []),
    ],
)
def test_product_search_by_name_sku_or_barcode(
    client: TestClient, typed: str, skus: list[str]
) -> None:
    sign_in(client, demo_login(Role.STORE))
    page = client.get("/console/products", params={"q": typed})
    assert page.status_code == 200
    shown = re.findall(r'<span class="muted sku">([A-Z0-9-]+)</span></h3>', page.text)
    assert shown[: len(skus)] == skus
    if not skus:
        assert "No product matches" in page.text
        return
    first = page.text[page.text.index(skus[0]) :]
    # The price at the till, and the stock here first, then elsewhere.
    assert "kr</strong>" in first
    assert re.search(r"Stockholm Drottninggatan <span class=\"tag\">this store</span>", first)
    assert "Göteborg Avenyn" in first


def test_an_agent_searches_products_too_and_the_nav_links_it(client: TestClient) -> None:
    sign_in(client, demo_login(Role.AGENT))
    home = client.get("/console").text
    assert 'href="/console/products"' in home
    page = client.get("/console/products", params={"q": "scarf"})
    assert "SCARF-MERINO-RED" in page.text
    assert "499,00\u00a0kr" in page.text
    client.cookies.clear()
    sign_in(client, demo_login(Role.MARKETER))
    assert client.get("/console/products", params={"q": "scarf"}).status_code == 403


def test_the_360_page_says_how_many_timeline_entries_and_conversations(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    page = client.get(f"/console/customers/{anna(session_factory)}").text
    total = re.search(r"(\d+) entries in all; (\d+) shown", page)
    assert total, page
    assert int(total.group(1)) >= int(total.group(2)) > 0
    assert re.search(r"1 conversation\.", page)
    assert re.search(r"\d+ messages? · ", page)
