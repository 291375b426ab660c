"""The opt-out link (RFC 8058): opening it shows a page and changes nothing, so a mail
scanner that follows every link opts nobody out; the opt-out is a POST, from the page's
button or a mail reader's one-click."""

from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from omnikanal.kit.time import utcnow
from omnikanal.marketing import tokens
from tests.integration.commerce.conftest import Shop
from tests.integration.marketing.conftest import MailSink, run_later
from tests.integration.marketing.test_abandoned_cart import coat_on_the_laptop, known_person

JSON = {"accept": "application/json"}
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def reminded(shop: Shop, app: FastAPI, mail: MailSink, device: str) -> tuple[str, str]:
    """A person who said yes to marketing email got a reminder: (profile id, its link)."""
    profile_id = known_person(shop, anonymous_id=device, consents={"marketing": {"email": True}})
    coat_on_the_laptop(shop, device)
    run_later(app)
    link = mail.received[-1]["List-Unsubscribe"].strip("<>")
    assert mail.received[-1]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return profile_id, link.removeprefix("https://hub.example.com")


def marketing_email(shop: Shop, profile_id: str) -> dict[str, Any]:
    consents = shop.ok(shop.client.get(f"/v1/profiles/{profile_id}/consents", headers=shop.agent))
    found: dict[str, Any] = next(
        c for c in consents["consents"] if (c["purpose"], c["channel"]) == ("marketing", "email")
    )
    return found


def test_opening_the_link_shows_a_page_and_changes_nothing(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    profile_id, path = reminded(shop, app, mail, "laptop-50")
    before = marketing_email(shop, profile_id)
    for _ in range(2):
        page = shop.client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "Unsubscribe from marketing email?" in page.text
        assert '<form method="post">' in page.text
        assert "anna@example.com" not in page.text
    assert marketing_email(shop, profile_id) == before
    assert before["granted"] is True
    described = shop.ok(shop.client.get(path, headers=JSON))
    assert (described["profile_id"], described["channel"], described["granted"]) == (
        profile_id,
        "email",
        True,
    )
    assert marketing_email(shop, profile_id) == before


def test_the_pages_button_opts_out_and_twice_is_fine(
    shop: Shop, app: FastAPI, mail: MailSink
) -> None:
    profile_id, path = reminded(shop, app, mail, "laptop-51")
    done = shop.client.post(path, data=ONE_CLICK)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    after = marketing_email(shop, profile_id)
    assert (after["granted"], after["source"]) == (False, "unsubscribe_link")
    again = shop.client.post(path, data=ONE_CLICK)
    assert again.status_code == 200
    assert marketing_email(shop, profile_id) == after  # one change recorded, not two
    # The page now says so instead of offering the button.
    page = shop.client.get(path)
    assert "already unsubscribed" in page.text
    assert "<form" not in page.text


def test_a_mail_readers_one_click_post_opts_out(shop: Shop, app: FastAPI, mail: MailSink) -> None:
    profile_id, path = reminded(shop, app, mail, "laptop-52")
    # What a mail reader sends (RFC 8058 section 3.2): the form body, no cookies, no key.
    response = shop.client.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert marketing_email(shop, profile_id)["granted"] is False
    answer = shop.ok(shop.client.post(path, headers=JSON))
    assert (answer["profile_id"], answer["granted"]) == (profile_id, False)


def test_a_bad_link_answers_a_page_for_people_and_a_problem_for_programs(
    shop: Shop, app: FastAPI
) -> None:
    forged = tokens.sign(
        app.state.settings.model_copy(update={"secret_key": "someone else's"}),
        purpose="unsubscribe",
        data={"pr": "4b8f3a52-0000-4000-8000-000000000000", "pu": "marketing", "ch": "email"},
        expires_at=utcnow() + timedelta(days=1),
    )
    for method in ("GET", "POST"):
        page = shop.client.request(method, f"/v1/unsubscribe/{forged}")
        assert page.status_code == 400
        assert "This link does not work" in page.text
        problem = shop.client.request(method, f"/v1/unsubscribe/{forged}", headers=JSON)
        assert problem.status_code == 400
        assert problem.json()["code"] == "invalid_link"
    assert shop.client.get("/v1/unsubscribe/not-a-token").status_code == 400
