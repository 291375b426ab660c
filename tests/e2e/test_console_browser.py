"""The console in a real browser: a person signs in, sees what the role allows, signs out;
an admin invites a person who chooses a password; the agent
finds Anna and continues her conversation; the store hands over a pickup; an agent
undoes a merge. With OMNIKANAL_SCREENSHOTS=<folder>, the pages are also photographed."""

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Channel, Role
from omnikanal.uow import unit_of_work
from tests.factories import StaffLogin, basic, create_source, create_staff_account, demo_login

SCREENSHOTS = os.environ.get("OMNIKANAL_SCREENSHOTS")


def test_sign_in_and_out_in_chromium(
    browser: Any, live_server: str, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/console")
        assert page.url.startswith(f"{live_server}/console/signin")
        expect(page).to_have_title("Sign in · omnikanal")
        page.get_by_label("Email").fill(agent.email)
        page.get_by_label("Password").fill(agent.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/console")
        assert "Welcome, test agent" in page.content()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server}/console/signin")
        page.goto(f"{live_server}/console")
        assert "/console/signin" in page.url
    finally:
        page.close()


def test_a_wrong_password_is_explained(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/console/signin")
        page.get_by_label("Email").fill("nobody@staff.example")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").inner_text() == "The email or password is not right."
        # What was typed is kept, except the password.
        assert page.get_by_label("Email").input_value() == "nobody@staff.example"
        assert page.get_by_label("Password").input_value() == ""
    finally:
        page.close()


# -- with the demo retailer --


@pytest.fixture
def demo_shop(app: FastAPI, live_server: str, session_factory: sessionmaker[Session]) -> str:
    # Handlers run as in `omnikanal serve --demo`: orders earn points, carts merge.
    with unit_of_work(session_factory, after_commit=app.state.relay.run_handlers) as session:
        demo.load(session)
    return live_server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = browser.new_page(viewport={"width": 1280, "height": 900})
    yield opened
    opened.close()


def sign_in(page: Any, base: str, login: StaffLogin) -> None:
    page.goto(f"{base}/console/signin")
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console")


def photograph(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_an_agent_finds_anna_by_phone_and_continues_her_conversation(
    demo_shop: str, page: Any
) -> None:
    sign_in(page, demo_shop, demo_login(Role.AGENT))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page).to_have_title("Find a customer · omnikanal")
    page.get_by_label("Email, phone, loyalty card, user id or order number").fill("070-123 45 67")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/console/customers/[0-9a-f-]{36}$"))
    expect(page).to_have_title("Customer Anna · omnikanal")
    assert page.get_by_role("heading", name="Anna").is_visible()
    orders = page.locator("section", has=page.get_by_role("heading", name="Orders"))
    assert "Wool coat, grey" in orders.inner_text()
    assert "Oat latte, medium" in orders.inner_text()
    assert "Merino scarf, red" in page.locator("section", has_text="Cart now").inner_text()
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
    for channel in ("web", "app", "pos · Göteborg Avenyn", "chat", "phone"):
        assert timeline.get_by_text(channel, exact=True).count() >= 1, channel
    photograph(page, "console-360.png")

    page.locator("section", has=page.get_by_role("heading", name="Conversations")).get_by_role(
        "link"
    ).first.click()
    page.wait_for_url(re.compile(r".*/console/inbox/[0-9a-f-]{36}$"))
    expect(page).to_have_title("Conversation with Anna · omnikanal")
    transcript = page.locator("section", has=page.get_by_role("heading", name="Transcript"))
    assert "A button came off the wool coat" in transcript.inner_text()
    assert "Anna calls about the coat's button" in transcript.inner_text()
    beside = page.locator("aside")
    assert "Wool coat, grey" in beside.inner_text()
    assert "completed" in beside.inner_text()
    assert "anna.svensson@example.com" in beside.inner_text()
    photograph(page, "console-inbox.png")

    page.get_by_label("Reply to the customer").fill("Of course: bring it to Stockholm on Saturday.")
    page.get_by_role("button", name="Send reply").click()
    assert page.get_by_role("status").inner_text().startswith("Reply queued for delivery by ")
    assert "bring it to Stockholm" in transcript.inner_text()
    # Closing is final: it asks first.
    page.get_by_text("Close conversation…").click()
    page.get_by_role("button", name="Yes, close it").click()
    page.get_by_label("Customer's rating (1–5)").select_option("5")
    page.get_by_role("button", name="Record rating").click()
    expect(page.locator("main")).to_contain_text("Rated 5/5")


def test_the_store_hands_over_a_pickup(demo_shop: str, page: Any) -> None:
    sign_in(page, demo_shop, demo_login(Role.STORE))
    # The title is read once the store page has loaded, not while the click is navigating.
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Store").click()
    expect(page).to_have_title("Store · Stockholm Drottninggatan · omnikanal")
    queue = page.locator("section", has=page.get_by_role("heading", name="Pickup queue"))
    assert "Chelsea boots" in queue.inner_text()
    assert "ready for pickup" in queue.inner_text()
    stock = page.locator("section", has=page.get_by_role("heading", name="Stock here and nearby"))
    assert "BOOTS-CHELSEA-39" in stock.inner_text()
    assert "Göteborg Avenyn" in stock.inner_text()
    photograph(page, "console-store.png")

    queue.get_by_text("Collected…").click()
    queue.get_by_role("button", name="Yes, handed over").click()
    assert re.fullmatch(r"Order NK-\w+ was collected\.", page.get_by_role("status").inner_text())
    assert "Nothing waiting for pickup." in queue.inner_text()


def test_an_agent_unmerges_from_the_360_page(
    live_server: str, page: Any, session_factory: sessionmaker[Session]
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB)
    visitor = f"visitor-{uuid4().hex[:8]}"
    now = datetime.now(UTC).isoformat()
    with httpx.Client(base_url=live_server, headers=basic(write_key), timeout=30) as http:
        for path, body in (
            ("identify", {"userId": "karin-7", "traits": {"first_name": "Karin"}}),
            ("page", {"anonymousId": visitor, "name": "Sale"}),
            ("identify", {"userId": "karin-7", "anonymousId": visitor}),
        ):
            response = http.post(f"/v1/{path}", json={**body, "timestamp": now})
            assert response.status_code == 200, response.text
    sign_in(page, live_server, create_staff_account(session_factory, role=Role.AGENT))
    page.goto(f"{live_server}/console/customers?q=karin-7")
    karin = page.url
    merges = page.locator("section", has=page.get_by_role("heading", name="Merge log"))
    assert "merged" in merges.inner_text()
    merges.get_by_text("Unmerge…").click()
    merges.get_by_role("button", name="Yes, unmerge").click()
    assert page.get_by_role("status").inner_text().startswith("Unmerged: profile ")
    assert page.url.startswith(karin)
    assert merges.get_by_text("Unmerge…").count() == 0
    assert "unmerged" in merges.inner_text()

    page.goto(f"{live_server}/console/customers?q={visitor}")
    assert page.url != karin
    assert page.url.split("?")[0] != karin.split("?")[0]
    identifiers = page.locator("section", has=page.get_by_role("heading", name="Identifiers"))
    assert visitor in identifiers.inner_text()
    assert "karin-7" not in identifiers.inner_text()
    assert "Viewed page Sale" in page.content()


def test_an_admin_invites_a_person_who_chooses_a_password(demo_shop: str, page: Any) -> None:
    sign_in(page, demo_shop, demo_login(Role.ADMIN))
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Staff").click()
    expect(page).to_have_title("Staff · omnikanal")
    page.get_by_label("Name").fill("Linnea Sjö")
    page.get_by_label("Email").fill("linnea@norrsken.example")
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Invite").click()
    link = page.locator("#invitation-link").inner_text()
    photograph(page, "console-staff.png")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{demo_shop}/console/signin")

    page.goto(link)
    expect(page).to_have_title("Choose your password · omnikanal")
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_label("The same password again").fill("a long password")
    page.get_by_role("button", name="Set password").click()
    assert page.get_by_role("status").inner_text() == "Your password is set: sign in with it."
    sign_in(page, demo_shop, StaffLogin(uuid4(), "linnea@norrsken.example", "a long password", ""))
    assert "Welcome, Linnea Sjö" in page.content()
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").count() == 1
    )
