"""In Chromium: the store view's suggestions for the customer in front of the associate
and the 360 page's recommendations, from the demo's model; axe-core finds nothing
serious or critical on them."""

from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from tests.e2e.test_console_browser import sign_in
from tests.e2e.test_console_replies import accessible
from tests.e2e.test_console_replies import demo_shop as demo_shop  # the fixture
from tests.e2e.test_console_replies import tablet as tablet  # the fixture
from tests.factories import demo_login
from tests.integration.console.test_pages import anna


def test_the_associate_sees_suggestions_in_stock_here_and_the_360_page_too(
    demo_shop: str, tablet: Any, app: FastAPI, session_factory: sessionmaker[Session]
) -> None:
    page = tablet
    sign_in(page, demo_shop, demo_login(Role.STORE))
    page.goto(f"{demo_shop}/console/store")
    page.select_option("#suggest-type", "email")
    page.fill("#suggest-customer", "anna.svensson@example.com")
    page.get_by_role("button", name="Suggest").click()
    section = page.locator("section", has=page.locator("#suggest"))
    assert "in stock at Stockholm Drottninggatan" in section.inner_text()
    assert section.locator("tbody tr").count() >= 1
    accessible(page)
    page.get_by_role("link", name="The customer's profile").click()
    page.wait_for_url(f"**/console/customers/{anna(session_factory)}")
    recommended = page.locator("section", has=page.locator("#recommended"))
    assert "Model version 1" in recommended.inner_text()
    accessible(page)
