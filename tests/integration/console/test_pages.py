"""The console's pages over HTTP: who may open what, forms need their token, finding a
customer by any identifier, and the inbox's and the store's forms."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Channel, Role
from omnikanal.commerce import orders, returns
from omnikanal.conversations import service as conversations_service
from omnikanal.customers import service as customers_service
from omnikanal.inventory import service as inventory_service
from omnikanal.uow import unit_of_work
from tests.factories import (
    basic,
    bearer,
    create_secret_key,
    create_source,
    create_staff_account,
    demo_login,
)
from tests.integration.console.test_signin import csrf_of, sign_in
from tests.integration.events.test_inbox import append


@pytest.fixture
def shop(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)


def anna(session_factory: sessionmaker[Session]) -> UUID:
    with session_factory() as session:
        found = customers_service.find_profile_id(session, type_="user_id", raw_value="anna-1001")
    assert found is not None
    return found


def annas_conversation(session_factory: sessionmaker[Session]) -> UUID:
    annas = anna(session_factory)
    with session_factory() as session:
        found = conversations_service.inbox(
            session,
            status=None,
            assignee=None,
            profile_id=annas,
            before=None,
            limit=5,
        )
    assert len(found) == 1
    return found[0].id


def notice(response_url: str) -> str:
    return parse_qs(urlsplit(response_url).query)["done"][0]


# -- who may open what --


@pytest.mark.parametrize(
    "path", ["/console/customers", "/console/inbox", "/console/store", "/console/customers/x"]
)
def test_signed_out_requests_go_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/console/signin?next={path}")


@pytest.mark.usefixtures("shop")
def test_store_staff_cannot_open_the_inbox(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.STORE))
    home = client.get("/console")
    assert 'href="/console/store"' in home.text
    assert 'href="/console/inbox"' not in home.text
    assert client.get("/console/inbox").status_code == 403
    conversation = annas_conversation(session_factory)
    page = client.get(f"/console/inbox/{conversation}")
    assert page.status_code == 403
    assert "Not for your role" in page.text
    refused = client.post(
        f"/console/inbox/{conversation}/note",
        data={"body": "hi", "csrf_token": csrf_of(home.text)},
    )
    assert refused.status_code == 403
    # Store staff look customers up (S17) but do not undo merges.
    assert client.get(f"/console/customers/{anna(session_factory)}").status_code == 200


@pytest.mark.usefixtures("shop")
def test_an_agent_cannot_open_the_store_view_and_a_marketer_neither(client: TestClient) -> None:
    sign_in(client, demo_login(Role.AGENT))
    assert client.get("/console/store").status_code == 403
    client.cookies.clear()
    sign_in(client, demo_login(Role.MARKETER))
    assert client.get("/console/customers").status_code == 403
    assert client.get("/console/inbox").status_code == 403


@pytest.mark.usefixtures("shop")
def test_forms_without_their_csrf_token_are_refused_and_change_nothing(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    conversation = annas_conversation(session_factory)
    for path, data in (
        (f"/console/inbox/{conversation}/status", {"status": "closed"}),
        (f"/console/inbox/{conversation}/note", {"body": "hi", "csrf_token": "forged"}),
        (f"/console/customers/{anna(session_factory)}/unmerge", {}),
    ):
        response = client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path
        assert "security token" in response.text
    with session_factory() as session:
        found = conversations_service.get(session, conversation_id=conversation)
        assert found.status == "open"
        assert found.message_count == 2


# -- finding a customer --


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    "query",
    [
        "anna.svensson@example.com",
        " Anna.Svensson@Example.COM",
        "070-123 45 67",
        "+46701234567",
        "7001 2345 6789 0001",
        "anna-1001",
    ],
)
def test_any_identifier_finds_anna(
    client: TestClient, session_factory: sessionmaker[Session], query: str
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    response = client.get("/console/customers", params={"q": query}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/customers/{anna(session_factory)}"


@pytest.mark.usefixtures("shop")
def test_an_order_number_finds_its_customer(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    annas = anna(session_factory)
    with session_factory() as session:
        _, placed = orders.of_person(session, profile_id=annas, before=None, limit=5)
    sign_in(client, demo_login(Role.STORE))
    response = client.get(
        "/console/customers", params={"q": placed[0].number.lower()}, follow_redirects=False
    )
    assert response.headers["location"] == f"/console/customers/{anna(session_factory)}"
    page = client.get(response.headers["location"])
    assert "<title>Customer Anna · omnikanal</title>" in page.text
    assert placed[0].number in page.text
    assert "Unmerge" not in page.text
    assert "<h3>Consents</h3>" in page.text


@pytest.mark.usefixtures("shop")
def test_nothing_found_and_several_found(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    none = client.get("/console/customers", params={"q": "nobody@example.com"})
    assert none.status_code == 200
    assert "No customer has" in none.text
    # One person's user id is another's email address: both are shown.
    web = basic(create_source(session_factory, channel=Channel.WEB))
    for body in (
        {"userId": "ulla@example.com"},
        {"userId": "ulla-2", "traits": {"email": "ulla@example.com"}},
    ):
        assert client.post("/v1/identify", json=body, headers=web).status_code == 200
    several = client.get("/console/customers", params={"q": "ulla@example.com"})
    assert several.status_code == 200
    assert "2 customers match" in several.text
    assert "user id" in several.text
    assert len(set(re.findall(r'href="/console/customers/([0-9a-f-]{36})"', several.text))) == 2


def skus_on(page: str) -> list[str]:
    return re.findall(r"sku: (SKU-\d+)</span>", page)


def test_the_timeline_is_paged(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    web = basic(create_source(session_factory, channel=Channel.WEB))
    for n in range(25):
        body = {"userId": "pager-1", "event": "Product Viewed", "properties": {"sku": f"SKU-{n}"}}
        body["timestamp"] = f"2026-11-01T10:{n:02d}:00Z"
        assert client.post("/v1/track", json=body, headers=web).status_code == 200
    sign_in(client, create_staff_account(session_factory, role=Role.AGENT))
    first = client.get("/console/customers", params={"q": "pager-1"}, follow_redirects=True)
    assert skus_on(first.text) == [f"SKU-{n}" for n in range(24, 4, -1)]  # newest first
    older = re.search(r'href="(\?before=[^"]+)">Older entries', first.text)
    assert older is not None
    second = client.get(f"{first.url.path}{html.unescape(older.group(1))}")
    assert second.status_code == 200
    assert skus_on(second.text) == [f"SKU-{n}" for n in range(4, -1, -1)]
    assert "Older entries" not in second.text
    assert ">Newest</a>" in second.text


# -- the inbox's forms --


@pytest.mark.usefixtures("shop")
def test_an_agent_notes_assigns_closes_and_records_the_rating(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    conversation = annas_conversation(session_factory)
    page = client.get(f"/console/inbox/{conversation}")
    assert page.status_code == 200
    token = csrf_of(page.text)
    assert "Record rating" not in page.text  # only after closing
    for path, data, done in (
        ("note", {"body": "Button swap agreed."}, "Note added."),
        ("assign", {"agent": "me"}, "Assigned to Maja Lind."),
        (
            "reply",
            {"body": "See you Saturday!", "channel": "chat"},
            "Reply queued for delivery by chat.",
        ),
        ("status", {"status": "closed"}, "Marked closed."),
        ("csat", {"score": "4", "comment": "Quick"}, "Rating recorded."),
    ):
        response = client.post(
            f"/console/inbox/{conversation}/{path}",
            data={**data, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert notice(response.headers["location"]) == done
    shown = client.get(f"/console/inbox/{conversation}").text
    assert "Button swap agreed." in shown
    assert "See you Saturday!" in shown
    assert "Rated 4/5" in shown
    assert "Send reply" not in shown
    again = client.post(
        f"/console/inbox/{conversation}/csat", data={"score": "5", "csrf_token": token}
    )
    assert again.status_code == 409
    assert "rated already" in again.text


@pytest.mark.usefixtures("shop")
def test_the_inbox_lists_open_conversations(client: TestClient) -> None:
    sign_in(client, demo_login(Role.AGENT))
    page = client.get("/console/inbox")
    assert "<title>Inbox · open · omnikanal</title>" in page.text
    assert "Call notes: Anna calls" in page.text
    closed = client.get("/console/inbox?status=closed").text
    assert "0 closed conversations" in closed
    assert "Nothing here." in closed


# -- the store's forms --


@pytest.mark.usefixtures("shop")
def test_the_store_takes_a_return_of_an_order_from_another_store(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    annas = anna(session_factory)
    with session_factory() as session:
        _, placed = orders.of_person(session, profile_id=annas, before=None, limit=5)
        coat = next(o for o in placed if o.status == "completed")
        before = inventory_service.stock_page(
            session, location="sthlm-drottninggatan", sku_prefix="COAT-WOOL-GREY-38"
        )[0]
    sign_in(client, demo_login(Role.STORE))
    token = csrf_of(client.get("/console/store").text)
    response = client.post(
        "/console/store/returns",
        data={
            "order_number": coat.number,
            "sku": "coat-wool-grey-38",
            "quantity": "1",
            "reason": "Button missing",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert notice(response.headers["location"]) == (
        f"Return of order {coat.number} taken: 2\u00a0499,00\u00a0kr refunded."
    )
    with session_factory() as session:
        after = inventory_service.stock_page(
            session, location="sthlm-drottninggatan", sku_prefix="COAT-WOOL-GREY-38"
        )[0]
    assert after.on_hand == before.on_hand + 1
    # The same unit cannot come back twice.
    twice = client.post(
        "/console/store/returns",
        data={"order_number": coat.number, "sku": "COAT-WOOL-GREY-38", "quantity": "1"}
        | {"csrf_token": token},
    )
    assert twice.status_code >= 400
    assert "<!doctype html>" in twice.text


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize("quantity", ["99999999999", "10000", "\u00b2", "0", "-1", "1.0"])
def test_a_store_form_refuses_a_quantity_out_of_range(client: TestClient, quantity: str) -> None:
    sign_in(client, demo_login(Role.STORE))
    token = csrf_of(client.get("/console/store").text)
    response = client.post(
        "/console/store/returns",
        data={"order_number": "W-1", "sku": "COAT-WOOL-GREY-38", "quantity": quantity}
        | {"csrf_token": token},
    )
    # The page comes back with the reason beside the field and what was typed.
    assert response.status_code == 422, response.text
    assert "The quantity is a whole number from 1 to 9,999." in response.text
    assert 'value="W-1"' in response.text


def order_for_anna_in_the_store(client: TestClient) -> Response:
    """A store associate orders a coat from the warehouse for Anna (by her loyalty card),
    paid at the till; the answer is the redirect to the order's notice."""
    sign_in(client, demo_login(Role.STORE))
    token = csrf_of(client.get("/console/store").text)
    typed = {
        "customer_type": "loyalty_card",
        "customer": "7001 2345 6789 0001",
        "sku": "COAT-WOOL-GREY-42",
        "quantity": "1",
        "name": "Anna Svensson",
        "street": "Vasagatan 1",
        "postal_code": "411 24",
        "city": "Göteborg",
        "country": "se",
        "card_reference": "tok_terminal_1",
        "csrf_token": token,
    }
    # First the price and total to tell the customer, then payment and the order.
    review = client.post("/console/store/orders", data={**typed, "step": "review"})
    assert review.status_code == 200, review.text
    assert "Check with the customer before payment" in review.text
    assert "Take payment of" in review.text
    response: Response = client.post(
        "/console/store/orders", data={**typed, "step": "place"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response


@pytest.mark.usefixtures("shop")
def test_the_store_orders_for_a_customer_from_the_warehouse(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    response = order_for_anna_in_the_store(client)
    done = notice(response.headers["location"])
    number = re.fullmatch(
        r"Order (\S+) placed \(.+ paid by card\): delivery to Göteborg from the warehouse\.", done
    )
    assert number, done
    annas = anna(session_factory)
    with session_factory() as session:
        order = orders.by_number(session, number=number.group(1))
        assert order.fulfilment == "delivery"
        assert order.channel == "pos"
        assert order.location == "sthlm-drottninggatan"
        assert order.profile_id is not None
        live = customers_service.live_profile(session, order.profile_id).id
        assert live == annas
        view = orders.views(session, [order])[0]
        assert view.lines[0].stock_location == "wh-boras"
        # The name and address typed are kept on her profile.
        traits = customers_service.get_profile(session, profile_id=live).profile.traits
        assert traits["address"]["postal_code"] == "411 24"
        assert traits["address"]["city"] == "Göteborg"
        assert traits["first_name"] == "Anna"


@pytest.mark.usefixtures("shop")
def test_an_admin_chooses_the_store_and_moves_an_order_ahead_along(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    annas = anna(session_factory)
    with session_factory() as session:
        _, placed = orders.of_person(session, profile_id=annas, before=None, limit=5)
    latte = next(o for o in placed if o.pickup_location == "gbg-avenyn")
    sign_in(client, demo_login(Role.ADMIN))
    page = client.get("/console/store", params={"location": "gbg-avenyn"})
    assert "<title>Store · Göteborg Avenyn · omnikanal</title>" in page.text
    assert latte.number in page.text
    assert "arrived" in page.text
    response = client.post(
        f"/console/store/pickups/{latte.id}/ready",
        data={"location": "gbg-avenyn", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "location=gbg-avenyn" in response.headers["location"]
    assert notice(response.headers["location"]) == f"Order {latte.number} is ready for pickup."
    client.cookies.clear()
    # Stockholm's staff cannot hand over Göteborg's order.
    sign_in(client, demo_login(Role.STORE))
    token = csrf_of(client.get("/console/store").text)
    refused = client.post(
        f"/console/store/pickups/{latte.id}/collected", data={"csrf_token": token}
    )
    assert refused.status_code == 403
    assert "cannot act for" in refused.text or "belongs to" in refused.text


@pytest.mark.usefixtures("shop")
def test_store_staff_cannot_unmerge(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.STORE))
    token = csrf_of(client.get("/console/store").text)
    response = client.post(
        f"/console/customers/{anna(session_factory)}/unmerge", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert "Not for your role" in response.text


@pytest.mark.usefixtures("shop")
def test_the_360_page_shows_the_consents_given(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.AGENT))
    page = client.get(f"/console/customers/{anna(session_factory)}")
    assert page.status_code == 200
    # The demo's Anna said yes to marketing email.
    consents = page.text.split("<h3>Consents</h3>")[1].split("</table>")[0]
    assert "marketing" in consents
    assert "email" in consents
    assert "None recorded" not in consents


def test_the_start_page_shows_how_far_identity_resolution_is_behind(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_staff_account(session_factory, role=Role.ADMIN))
    keeping_up = client.get("/console")
    assert keeping_up.status_code == 200
    assert '<section class="card" aria-labelledby="resolution">' in keeping_up.text
    assert '<h2 id="resolution">Identity resolution</h2>' in keeping_up.text
    assert re.search(r'<th scope="row">Events waiting</th><td>0</td>', keeping_up.text)
    assert "Keeping up" in keeping_up.text
    append(session_factory, 4, age=timedelta(seconds=75))
    behind = client.get("/console").text
    assert re.search(r'<th scope="row">Events waiting</th><td>4</td>', behind)
    assert re.search(r'<th scope="row">Oldest waiting</th><td>7\d\.\d s</td>', behind)
    assert '<td role="status">Behind' in behind


@pytest.mark.usefixtures("shop")
def test_a_form_posted_twice_with_its_token_refunds_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """The browser disables the button, but a double submit that gets through anyway (two
    posts of the same rendering) is answered from the first: one return, one refund."""
    annas = anna(session_factory)
    with session_factory() as session:
        _, placed = orders.of_person(session, profile_id=annas, before=None, limit=5)
        coat = next(o for o in placed if o.status == "completed")
    sign_in(client, demo_login(Role.STORE))
    page = client.get("/console/store").text
    form_token = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form_token
    data = {
        "order_number": coat.number,
        "sku": "COAT-WOOL-GREY-38",
        "quantity": "1",
        "csrf_token": csrf_of(page),
        "form_token": form_token.group(1),
    }
    first = client.post("/console/store/returns", data=data, follow_redirects=False)
    second = client.post("/console/store/returns", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    with session_factory() as session:
        assert len(returns.of_order(session, order_id=coat.id)) == 1


@pytest.mark.usefixtures("shop")
def test_a_stores_anonymous_receipt_is_found_by_its_number(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
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
    number = sale.json()["number"]
    sign_in(client, demo_login(Role.STORE))
    page = client.get("/console/customers", params={"q": number.lower()})
    assert page.status_code == 200
    # The receipt's number leads to its order page.
    assert re.search(rf'Receipt <a href="/console/orders/[0-9a-f-]+">{number}</a>', page.text)
    assert "SCARF-MERINO-RED" in page.text
    assert "no customer known" in page.text
