"""The experiments pages in Chromium over the demo's reminder test: a marketer reads the
results (two charts, the variants with intervals, the effect against control) and stops
it; axe-core finds no serious or critical violation, at desktop and tablet width, and
nothing is wider than a tablet. With OMNIKANAL_SCREENSHOTS=<folder>, the results page is
photographed."""

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role
from omnikanal.uow import unit_of_work
from tests.e2e.test_console_browser import photograph, sign_in
from tests.e2e.test_console_role_pages_browser import TABLET, fits, serious_violations
from tests.factories import demo_login

PAGES = ["/console/experiments", "/console/experiments/reminder-offer"]


@pytest.fixture
def demo_with_history(
    app: FastAPI, live_server: str, session_factory: sessionmaker[Session]
) -> str:
    with unit_of_work(session_factory, after_commit=app.state.relay.run_handlers) as session:
        demo.load(session, history=True)
    return live_server


@pytest.mark.parametrize("width", ["desktop", "tablet"])
def test_a_marketer_reads_the_results_and_stops_the_test(
    demo_with_history: str, browser: Any, width: str
) -> None:
    viewport = TABLET if width == "tablet" else {"width": 1280, "height": 900}
    page = browser.new_page(viewport=viewport)
    try:
        sign_in(page, demo_with_history, demo_login(Role.MARKETER))
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Experiments").click()
        page.get_by_role(
            "link", name="Free delivery against 10 % off in the abandoned-cart email"
        ).click()
        assert page.locator("svg").count() == 2
        assert page.get_by_role("heading", name="Conversion (primary)").is_visible()
        found: dict[str, list[str]] = {}
        for path in PAGES:
            page.goto(f"{demo_with_history}{path}")
            problems = serious_violations(page)
            if width == "tablet" and not fits(page):
                problems.append("wider than 820 px")
            if problems:
                found[path] = problems
        assert found == {}
        if width == "desktop":
            photograph(page, "console-experiment.png")
            page.get_by_role("button", name="Stop").click()
            assert page.get_by_role("status").inner_text() == "The experiment is stopped."
            assert page.locator("#experiment-status").inner_text() == "stopped"
    finally:
        page.close()
