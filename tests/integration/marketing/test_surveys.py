"""A funnel's stalled people saved as an audience a campaign reaches, and the NPS survey:
sent as a campaign message with the person's signed link, answered once (0-10), read by
analytics by channel, store and month."""

from typing import Any

import pytest
from fastapi import FastAPI

from omnikanal.auth.models import Role
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import Shop
from tests.integration.marketing.conftest import MailSink, run_later
from tests.integration.marketing.test_audiences_and_campaigns import marketer as marketer
from tests.integration.marketing.test_audiences_and_campaigns import people as people

VIEWED_THEN_BOUGHT = {
    "steps": [
        {"event": "Product Viewed", "channels": ["web", "app"]},
        {"kind": "order", "within": 30 * 86400},
    ]
}


@pytest.fixture
def analyst(shop: Shop) -> dict[str, str]:
    return bearer(create_secret_key(shop.factory, role=Role.ANALYST))


def campaign(shop: Shop, marketer: dict[str, str], audience_id: str, **extra: Any) -> Any:
    return shop.ok(
        shop.client.post(
            "/v1/campaigns",
            json={
                "name": "How are we doing?",
                "audience_id": audience_id,
                "channels": ["email"],
                "subject": "How are we doing?",
                "body": "Two minutes for us.",
                **extra,
            },
            headers=marketer,
        ),
        201,
    )


def test_the_people_a_funnel_lost_become_an_audience_for_a_campaign(
    shop: Shop,
    analyst: dict[str, str],
    marketer: dict[str, str],
    people: dict[str, str],
) -> None:
    saved = shop.ok(
        shop.client.post(
            "/v1/analytics/funnels/stalled-audience",
            json={**VIEWED_THEN_BOUGHT, "name": "Looked at the coat, did not buy"},
            headers=analyst,
        ),
        201,
    )
    # Bo viewed the coat three times and bought nothing; Anna bought without viewing.
    assert saved["step"] == 2
    assert saved["people"] == 1
    listed = shop.ok(
        shop.client.get(f"/v1/audiences/{saved['audience_id']}/members", headers=marketer)
    )
    assert listed["profile_ids"] == [people["bo"]]
    assert campaign(shop, marketer, saved["audience_id"])["audience_id"] == saved["audience_id"]
    # A marketer may not write the list's rule by hand.
    refused = shop.client.post(
        "/v1/audiences", json={"name": "x", "rule": {"listed": True}}, headers=marketer
    )
    assert refused.status_code == 422
    # Nobody stalled: no audience saved.
    nothing = shop.ok(
        shop.client.post(
            "/v1/analytics/funnels/stalled-audience",
            json={"steps": [{"event": "Product Viewed"}], "name": "one step"},
            headers=analyst,
        ),
        201,
    )
    assert nothing == {"audience_id": None, "name": "one step", "step": None, "people": 0}


def survey_link(mail: MailSink) -> str:
    text: str = mail.received[-1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = [w for w in text.split() if "/v1/surveys/" in w]
    assert len(found) == 1, text
    return found[0].removeprefix("https://hub.example.com")


def test_an_nps_survey_is_answered_once_through_its_signed_link(
    shop: Shop,
    app: FastAPI,
    mail: MailSink,
    analyst: dict[str, str],
    marketer: dict[str, str],
    people: dict[str, str],
) -> None:
    made = shop.ok(
        shop.client.post(
            "/v1/audiences",
            json={"name": "all", "rule": {"trait": "city", "exists": True}},
            headers=marketer,
        ),
        201,
    )
    survey = campaign(shop, marketer, made["id"], survey="nps")
    assert survey["survey"] == "nps"
    shop.ok(shop.client.post(f"/v1/campaigns/{survey['id']}/send", headers=marketer), 202)
    run_later(app)
    assert [m["To"] for m in mail.received] == ["anna@example.com"]  # Bo has no consent
    path = survey_link(mail)

    page = shop.client.get(path)
    assert page.status_code == 200
    assert page.text.count('type="radio" name="score"') == 11
    first = shop.client.post(path, json={"score": 9, "comment": "Quick pickup"})
    assert first.status_code == 201, first.text
    assert (first.json()["score"], first.json()["survey"]) == (9, "nps")
    again = shop.client.post(path, json={"score": 9, "comment": "Quick pickup"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    changed = shop.client.post(path, json={"score": 3})
    assert changed.status_code == 409
    assert changed.json()["code"] == "survey_already_answered"
    out_of_range = shop.client.post(path, json={"score": 11})
    assert out_of_range.status_code == 422
    assert "score" in out_of_range.text
    token = path.rsplit("/", 1)[1]
    tampered = shop.client.post(f"/v1/surveys/{token[:-2]}xx", json={"score": 9})
    assert tampered.status_code == 400
    assert tampered.json()["code"] == "invalid_link"
    form = shop.client.post(f"{path}/form", data={"score": "9", "comment": "Quick pickup"})
    assert form.status_code == 200
    assert "Thank you" in form.text

    by_channel = shop.ok(
        shop.client.get(
            "/v1/analytics/satisfaction", params={"kind": "nps", "by": "channel"}, headers=analyst
        )
    )
    assert [(s["key"], s["answered"], s["score"]) for s in by_channel] == [("email", 1, 1.0)]
    by_month = shop.ok(
        shop.client.get(
            "/v1/analytics/satisfaction", params={"kind": "nps", "by": "month"}, headers=analyst
        )
    )
    assert [s["answered"] for s in by_month] == [1]
