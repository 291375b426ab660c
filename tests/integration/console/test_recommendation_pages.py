"""The demo's model on the console: the 360 page's recommendations, the store view's
suggestions for the customer in front of the associate, and Anna's reminder."""

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role
from omnikanal.marketing.models import Message
from omnikanal.privacy.models import AccessLogEntry
from omnikanal.uow import unit_of_work
from tests.factories import demo_login
from tests.integration.console.test_pages import anna
from tests.integration.console.test_signin import sign_in


def _load(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)


def test_the_360_page_shows_recommendations_with_their_reasons(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _load(session_factory)
    sign_in(client, demo_login(Role.AGENT))
    page = client.get(f"/console/customers/{anna(session_factory)}")
    assert page.status_code == 200
    section = page.text.split('id="recommended"')[1].split("</section>")[0]
    assert "Model version 1" in section
    assert "Goes with" in section or "Popular" in section
    assert "No model is trained yet" not in section


def test_the_store_view_suggests_for_the_customer_in_front_of_the_associate(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _load(session_factory)
    sign_in(client, demo_login(Role.STORE))
    page = client.get(
        "/console/store",
        params={"customer_type": "email", "customer": "anna.svensson@example.com"},
    )
    assert page.status_code == 200
    section = page.text.split('id="suggest"')[1].split("</section>")[0]
    assert "in stock at Stockholm Drottninggatan" in section
    assert "<td>" in section
    with session_factory() as session:
        logged = session.scalars(
            select(AccessLogEntry.action).where(AccessLogEntry.profile_id == anna(session_factory))
        ).all()
    assert "recommendations" in logged
    unknown = client.get(
        "/console/store", params={"customer_type": "email", "customer": "nobody@example.com"}
    )
    assert "No customer is known by nobody@example.com" in unknown.text


def test_annas_reminder_suggests_what_goes_with_her_cart(
    session_factory: sessionmaker[Session],
) -> None:
    _load(session_factory)
    with session_factory() as session:
        reminder = session.scalars(select(Message).where(Message.kind == "abandoned_cart")).one()
    assert reminder.context["suggestions"]
    assert "SCARF-MERINO-RED" not in [s["sku"] for s in reminder.context["suggestions"]]
