"""The agent's and the store's console in Chromium, on a tablet's width (820 px): an
agent's email reply reaches the customer's mail server and their answer joins the
conversation; a double-clicked *Take return* refunds once; the inbox pages past 50; a
refused form comes back with what was typed; axe-core finds nothing serious or critical
on any of these pages."""

import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Channel, Role
from omnikanal.commerce import orders, returns
from omnikanal.config import Settings
from omnikanal.uow import unit_of_work
from tests.e2e.test_console_browser import photograph, sign_in
from tests.factories import basic, bearer, create_secret_key, create_staff_account, demo_login
from tests.integration.console.test_pages import anna
from tests.integration.marketing.conftest import MailSink, run_later
from tests.server import free_port

TABLET = {"width": 820, "height": 1180}
AXE = Axe()


@pytest.fixture
def smtp() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: tuple[MailSink, int]) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        nats_url=None,
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        mail_from="Norrsken <kundtjanst@norrsken.example>",
        secret_key="test-secret",
        timezone="Europe/Stockholm",
    )


@pytest.fixture
def demo_shop(app: FastAPI, live_server: str, session_factory: sessionmaker[Session]) -> str:
    with unit_of_work(session_factory, after_commit=app.state.relay.run_handlers) as session:
        demo.load(session)
    return live_server


@pytest.fixture
def tablet(browser: Any) -> Iterator[Any]:
    opened = browser.new_page(viewport=TABLET)
    yield opened
    opened.close()


def accessible(page: Any) -> None:
    """axe-core (pinned with axe-playwright-python) finds no serious or critical problem."""
    found = AXE.run(page).response["violations"]
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{page.url}: {serious}"


def fits(page: Any, locator: Any) -> None:
    """Visible and within the page's width, big enough to tap (44 px)."""
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= TABLET["width"], box
    assert box["height"] >= 44, box


def test_an_emailed_reply_reaches_the_customer_and_their_answer_joins(
    demo_shop: str,
    tablet: Any,
    app: FastAPI,
    smtp: tuple[MailSink, int],
    session_factory: sessionmaker[Session],
) -> None:
    mail, _ = smtp
    page = tablet
    page.goto(f"{demo_shop}/console/signin")
    accessible(page)
    sign_in(page, demo_shop, demo_login(Role.AGENT))
    accessible(page)
    fits(page, page.get_by_role("button", name="Sign out"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.wait_for_url(re.compile(r".*/console/inbox$"))
    accessible(page)
    page.locator("table a").first.click()
    page.wait_for_url(re.compile(r".*/console/inbox/[0-9a-f-]{36}$"))
    conversation = page.url.rsplit("/", 1)[1]
    page.get_by_label("Reply to the customer").fill("We sew the button on while you wait.")
    page.get_by_label("On channel").select_option("email")
    page.get_by_role("button", name="Send reply").click()
    assert page.get_by_role("status").inner_text() == "Reply queued for delivery by email."
    transcript = page.locator("section", has=page.get_by_role("heading", name="Transcript"))
    assert "queued" in transcript.locator("li").last.inner_text()
    accessible(page)

    run_later(app)
    # The demo's own mail (reminders, notices) goes out too: the reply is the one that says so.
    replies = [
        m
        for m in mail.received
        if "We sew the button" in str(m.get_body(preferencelist=("plain",)) or "")
    ]
    assert len(replies) == 1
    sent = replies[0]
    assert sent["To"] == "anna.svensson@example.com"
    page.reload()
    assert "sent" in transcript.locator("li").last.inner_text()

    answer = EmailMessage(policy=SMTP)
    answer["From"] = "Anna Svensson <anna.svensson@example.com>"
    answer["To"] = sent["From"]
    answer["Subject"] = f"Re: {sent['Subject']}"
    answer["Message-ID"] = f"<{uuid4().hex}@mail.example.com>"
    answer["In-Reply-To"] = sent["Message-ID"]
    answer["References"] = sent["Message-ID"]
    answer.set_content("Lovely, I'll come by on Saturday.\n\n> We sew the button on")
    inbox_key = create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.EMAIL)
    posted = httpx.post(
        f"{demo_shop}/v1/conversations/inbound-email",
        content=bytes(answer),
        headers={**basic(inbox_key), "content-type": "message/rfc822"},
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["conversation_id"] == conversation
    page.reload()
    last = transcript.locator("li").last.inner_text()
    assert "Lovely, I'll come by on Saturday." in last
    assert "email" in last
    photograph(page, "console-reply-email.png")


def test_a_double_clicked_take_return_refunds_once(
    demo_shop: str, tablet: Any, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        _, placed = orders.of_person(
            session, profile_id=anna(session_factory), before=None, limit=9
        )
        coat = next(o for o in placed if o.status == "completed")
    page = tablet
    sign_in(page, demo_shop, demo_login(Role.STORE))
    page.goto(f"{demo_shop}/console/store")
    accessible(page)
    fits(page, page.get_by_text("Collected…"))
    form = page.locator("section", has=page.get_by_role("heading", name="Take a return"))
    form.get_by_label("Order or receipt number").fill(coat.number)
    form.get_by_label("SKU").fill("COAT-WOOL-GREY-38")
    form.get_by_label("Reason").fill("Button missing")
    with page.expect_navigation():
        form.get_by_role("button", name="Take return").dblclick()
    assert page.get_by_role("status").inner_text().startswith(f"Return of order {coat.number}")
    with session_factory() as session:
        taken = returns.of_order(session, order_id=coat.id)
    assert len(taken) == 1
    assert taken[0].received.refund_total == 249900


def test_a_refused_form_keeps_what_was_typed(demo_shop: str, tablet: Any) -> None:
    page = tablet
    sign_in(page, demo_shop, demo_login(Role.STORE))
    page.goto(f"{demo_shop}/console/store")
    aisle = page.locator("section", has=page.get_by_role("heading", name="Order for a customer"))
    aisle.get_by_label("Identified by").select_option("loyalty_card")
    aisle.get_by_label("Email, phone or card number").fill("7001 2345 6789 0001")
    aisle.get_by_label("SKU").fill("COAT-WOOL-GREY-42")
    aisle.get_by_label("Name").fill("Anna Svensson")
    aisle.get_by_label("Street and number").fill("Vasagatan 1")
    aisle.get_by_label("Postcode").fill("x")
    aisle.get_by_label("Town or city").fill("Göteborg")
    aisle.get_by_role("button", name="Show price and total").click()
    postcode = aisle.get_by_label("Postcode")
    assert postcode.get_attribute("aria-invalid") == "true"
    assert "That is not a postcode in Sweden: five digits, e.g. 111 22." in aisle.inner_text()
    assert aisle.get_by_label("Name").input_value() == "Anna Svensson"
    assert aisle.get_by_label("Street and number").input_value() == "Vasagatan 1"
    assert aisle.get_by_label("Email, phone or card number").input_value() == (
        "7001 2345 6789 0001"
    )
    accessible(page)

    postcode.fill("411 24")
    aisle.get_by_role("button", name="Show price and total").click()
    review = aisle.inner_text()
    assert "Check with the customer before payment" in review
    assert "Total" in review
    accessible(page)
    photograph(page, "console-endless-aisle-review.png")
    aisle.get_by_role("button", name=re.compile("^Take payment of")).click()
    assert re.match(r"Order \S+ placed \(", page.get_by_role("status").inner_text())


def test_the_inbox_pages_past_fifty(
    live_server: str, tablet: Any, session_factory: sessionmaker[Session]
) -> None:
    chat = bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT))
    with httpx.Client(base_url=live_server, headers=chat, timeout=30) as http:
        for n in range(56):
            posted = http.post(
                "/v1/conversations/messages",
                json={"body": f"Question {n}", "anonymous_id": f"visitor-{n}-{uuid4().hex[:6]}"},
            )
            assert posted.status_code == 201, posted.text
    page = tablet
    sign_in(page, live_server, create_staff_account(session_factory, role=Role.AGENT))
    page.goto(f"{live_server}/console/inbox")
    assert page.get_by_role("heading", name="56 open conversations").is_visible()
    assert page.locator("tbody tr").count() == 50
    accessible(page)
    page.get_by_role("link", name="Older conversations").click()
    assert page.locator("tbody tr").count() == 6
    # The six who waited longest are there.
    assert "Question 0" in page.locator("tbody").inner_text()
    assert page.get_by_role("link", name="Older conversations").count() == 0


def test_the_customer_pages_at_tablet_width(demo_shop: str, tablet: Any) -> None:
    page = tablet
    sign_in(page, demo_shop, demo_login(Role.AGENT))
    page.goto(f"{demo_shop}/console/customers")
    accessible(page)
    page.get_by_label("Email, phone, loyalty card, user id or order number").fill(
        "anna.svensson@example.com"
    )
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/console/customers/[0-9a-f-]{36}$"))
    accessible(page)
    text = page.locator("main").inner_text()
    assert "None" not in text
    assert "True" not in text
    assert "False" not in text
    assert "UTC" not in text
