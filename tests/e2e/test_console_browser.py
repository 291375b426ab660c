"""The console in a real browser: sign in, see what the role allows, sign out."""

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from tests.factories import create_secret_key


def test_sign_in_and_out_in_chromium(
    browser: Any, live_server: str, session_factory: sessionmaker[Session]
) -> None:
    secret = create_secret_key(session_factory, role=Role.AGENT)
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/console")
        assert page.url.startswith(f"{live_server}/console/signin")
        assert page.title() == "Sign in · omnikanal"
        page.get_by_label("Secret key").fill(secret)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/console")
        assert "Welcome, test agent" in page.content()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server}/console/signin")
        page.goto(f"{live_server}/console")
        assert "/console/signin" in page.url
    finally:
        page.close()


def test_a_wrong_key_is_explained(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/console/signin")
        page.get_by_label("Secret key").fill("sk_not_real")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").inner_text() == "That key is not a valid secret key."
    finally:
        page.close()
