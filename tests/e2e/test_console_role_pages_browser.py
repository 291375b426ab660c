"""The marketer's and admin's console pages in Chromium: a marketer builds an audience,
previews and sends a campaign and sees its results; an admin creates a key (shown once)
and revokes it after a confirmation; axe-core finds no serious or critical violation on
any of these pages, at desktop and tablet width. With OMNIKANAL_SCREENSHOTS=<folder>, the
pages are photographed."""

import re
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.marketing import campaigns, messages
from omnikanal.marketing.models import MessageStatus
from omnikanal.timers import service as timers_service
from omnikanal.uow import unit_of_work
from tests.e2e.test_console_browser import demo_shop, page, photograph, sign_in
from tests.factories import demo_login
from tests.integration.console.test_role_pages import ADMIN_PAGES, MARKETER_PAGES

__all__ = ["demo_shop", "page"]

PHOTOGRAPHED = {"/console/messages", "/console/triggers", "/console/admin/health"}
SERIOUS = ("serious", "critical")
TABLET = {"width": 820, "height": 1180}


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in SERIOUS
    ]


def fits(page: Any) -> bool:
    """Nothing wider than the window: no control is cut off."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def small_targets(page: Any) -> list[str]:
    """Buttons, links styled as buttons and fields in the page's content under 44 px high."""
    return list(
        page.evaluate(
            """[...document.querySelectorAll(
                 'main button, main a.button, main select, main input:not([type=hidden])'
                 + ':not([type=checkbox]):not([type=radio])')]
               .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)
               .map(e => e.outerHTML.slice(0, 80))"""
        )
    )


def _run_send(session_factory: sessionmaker[Session], campaign_id: UUID) -> None:
    """What the worker does with the send (the test server runs none)."""
    with unit_of_work(session_factory) as session:
        timer = timers_service.get(session, kind=campaigns.SEND, key=str(campaign_id))
        assert timer is not None
        campaigns.send_timer(session, timer)
        for message in campaigns.campaign_messages(session, campaign_id=campaign_id):
            if message.status == MessageStatus.QUEUED:
                messages.deliver(session, message_id=message.id)


def test_a_marketer_builds_an_audience_previews_and_sends_a_campaign(
    demo_shop: str, page: Any, session_factory: sessionmaker[Session]
) -> None:
    sign_in(page, demo_shop, demo_login(Role.MARKETER))
    nav = page.get_by_role("navigation", name="Main")
    with page.expect_navigation():
        nav.get_by_role("link", name="Audiences").click()
    expect(page).to_have_title("Audiences · omnikanal")
    page.get_by_label("Name", exact=True).fill("Email readers")
    page.get_by_label("Kind").first.select_option("trait")
    page.get_by_label("Trait, habit or SKU").first.fill("email")
    page.get_by_role("button", name="Save audience").click()
    assert page.get_by_role("status").first.inner_text() == "Audience Email readers is saved."
    count = int(page.locator("#audience-count").inner_text())
    assert count >= 2

    page.get_by_role("link", name="Compose a campaign to them").click()
    page.get_by_label("Campaign name").fill("Boots are back")
    for channel in ("Email", "SMS", "Push"):
        page.get_by_label(channel, exact=True).check()
    page.get_by_label("Subject").fill("Chelsea boots are back")
    page.get_by_label("Message").fill("Black Chelsea boots, size 39, in every store now.")
    page.get_by_label("Link (optional)").fill("https://shop.norrsken.example/boots")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("section", has=page.get_by_role("heading", name="Preview"))
    assert "omnikanal: Black Chelsea boots" in preview.locator("[data-channel=sms]").inner_text()
    assert "Chelsea boots are back" in preview.locator("[data-channel=push]").inner_text()
    email = page.frame_locator("iframe[title^='Email preview']")
    assert email.get_by_role("link", name="Open the shop").is_visible()
    photograph(page, "console-campaign-compose.png")

    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url(re.compile(r".*/console/campaigns/[0-9a-f-]{36}\?done=.*"))
    campaign_id = UUID(page.url.split("/")[-1].split("?")[0])
    page.get_by_role("link", name="Send now…").click()
    expect(page).to_have_title("Send Boots are back? · omnikanal")
    send = page.get_by_role("button", name=re.compile(r"^Send to \d+ (person|people)$"))
    # A double click sends once: the button is disabled while the first is on its way.
    send.dblclick()
    page.wait_for_url(re.compile(rf".*/console/campaigns/{campaign_id}\?done=.*"))
    assert page.locator("#campaign-status").inner_text() == "sending"

    _run_send(session_factory, campaign_id)
    page.reload()
    results = page.locator("section", has=page.get_by_role("heading", name="Results"))
    assert int(results.locator("[data-result=sent]").inner_text()) >= 1
    assert results.locator("[data-result=opt_outs]").inner_text() == "0"
    with session_factory() as session:
        assert len(campaigns.campaign_messages(session, campaign_id=campaign_id)) == count * 3


def test_an_admin_creates_a_key_and_revokes_it(demo_shop: str, page: Any) -> None:
    sign_in(page, demo_shop, demo_login(Role.ADMIN))
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Keys").click()
    expect(page).to_have_title("Sources and keys · omnikanal")
    page.get_by_label("Name", exact=True).fill("Stockholm tills")
    page.get_by_label("Role").select_option("store")
    page.get_by_role("button", name="Create key").click()
    # Refused: the field says why, and what was typed stays.
    assert (
        page.locator("#key-location-error").inner_text()
        == "A store key belongs to one store: choose it."
    )
    assert page.get_by_label("Name", exact=True).input_value() == "Stockholm tills"
    page.get_by_label("Store (store keys)").select_option("sthlm-drottninggatan")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("sk_")
    photograph(page, "console-keys.png")

    page.goto(f"{demo_shop}/console/admin/keys")
    assert secret not in page.content()
    page.get_by_role("link", name="Revoke Stockholm tills…").click()
    expect(page).to_have_title("Revoke Stockholm tills? · omnikanal")
    page.get_by_role("button", name="Revoke key").click()
    assert page.get_by_role("status").first.inner_text() == "Key Stockholm tills is revoked."
    assert page.get_by_role("link", name="Revoke Stockholm tills…").count() == 0


@pytest.mark.parametrize("width", ["desktop", "tablet"])
def test_no_serious_accessibility_violations_on_the_role_pages(
    demo_shop: str, browser: Any, width: str
) -> None:
    viewport = TABLET if width == "tablet" else {"width": 1280, "height": 900}
    page = browser.new_page(viewport=viewport)
    try:
        found: dict[str, list[str]] = {}
        sign_in(page, demo_shop, demo_login(Role.ADMIN))
        campaign = None
        for path in MARKETER_PAGES + ADMIN_PAGES:
            page.goto(f"{demo_shop}{path}")
            assert "None" not in page.inner_text("main"), path
            if path == "/console/campaigns":
                campaign = page.get_by_role("link", name="Autumn coats").get_attribute("href")
            problems = serious_violations(page)
            if width == "tablet":
                problems += [] if fits(page) else ["wider than 820 px"]
                problems += [f"under 44 px: {t}" for t in small_targets(page)]
            if problems:
                found[path] = problems
            if width == "desktop" and path in PHOTOGRAPHED:
                photograph(page, f"console-{path.rsplit('/', 1)[1]}.png")
        assert campaign is not None
        for path in (campaign, f"{campaign}/send"):
            page.goto(f"{demo_shop}{path}")
            problems = serious_violations(page)
            if problems:
                found[path] = problems
        if width == "desktop":
            page.goto(f"{demo_shop}{campaign}")
            photograph(page, "console-campaign-results.png")
        assert found == {}
    finally:
        page.close()
