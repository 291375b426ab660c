"""The marketer's and admin's console pages over HTTP: who may open them, an audience built
from rules, a campaign previewed, saved, sent once however often the form is sent, and its
results; keys created (shown once) and revoked after a confirmation; refused forms keep
what was typed and say why beside the field; lists say how many and page on."""

import re
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Role
from omnikanal.console import health
from omnikanal.marketing import audiences, campaigns, messages, overview
from omnikanal.marketing.models import MessageStatus
from omnikanal.uow import unit_of_work
from tests.factories import create_staff_account, demo_login
from tests.integration.console.test_signin import sign_in

MARKETER_PAGES = [
    "/console/audiences",
    "/console/campaigns",
    "/console/messages",
    "/console/triggers",
    "/console/stock-alerts",
]
ADMIN_PAGES = [
    "/console/admin/keys",
    "/console/admin/products",
    "/console/admin/locations",
    "/console/admin/webhooks",
    "/console/admin/health",
]


@pytest.fixture
def shop(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)


def once_of(html: str, action: str) -> dict[str, str]:
    """The tokens of the form posting to ``action``."""
    form = html[html.index(f'action="{action}"') :]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    once = re.search(r'name="form_token" value="([^"]+)"', form)
    assert csrf, f"no CSRF token in the form to {action}"
    assert once, f"no one-time token in the form to {action}"
    return {"csrf_token": csrf.group(1), "form_token": once.group(1)}


def post(
    client: TestClient,
    page: str,
    action: str,
    data: dict[str, str | list[str]],
    *,
    form: str | None = None,
) -> Response:
    """Send the form of ``page`` (the one posting to ``form``, by default ``action``)."""
    html = client.get(page).text
    tokens = once_of(html, form or action)
    response: Response = client.post(action, data={**tokens, **data}, follow_redirects=False)
    return response


def test_each_role_sees_its_own_pages(client: TestClient, shop: None) -> None:
    sign_in(client, demo_login(Role.MARKETER))
    home = client.get("/console").text
    for path in MARKETER_PAGES:
        assert f'href="{path}"' in home, path
        page = client.get(path)
        assert page.status_code == 200, path
        assert "None" not in re.sub(r"<[^>]+>", " ", page.text), path
        assert "True" not in page.text, path
        assert "False" not in page.text, path
    for path in ADMIN_PAGES:
        assert f'href="{path}"' not in home
        assert client.get(path).status_code == 403, path
    assert client.get("/console/inbox").status_code == 403

    client.cookies.clear()
    sign_in(client, demo_login(Role.AGENT))
    for path in MARKETER_PAGES + ADMIN_PAGES:
        assert client.get(path).status_code == 403, path

    client.cookies.clear()
    sign_in(client, demo_login(Role.ADMIN))
    home = client.get("/console").text
    for path in [*MARKETER_PAGES, *ADMIN_PAGES, "/console/inbox", "/console/store"]:
        assert f'href="{path}"' in home, path
    for path in ADMIN_PAGES + MARKETER_PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "None" not in re.sub(r"<[^>]+>", " ", page.text), path


def test_a_marketer_builds_an_audience_and_sends_a_campaign_once(
    client: TestClient, shop: None, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.MARKETER))
    refused = post(
        client,
        "/console/audiences",
        "/console/audiences",
        {"name": "Gbg", "match": "all", "kind_0": "bought_on", "value_0": "mars"},
    )
    assert refused.status_code == 422
    assert "Give channels among web, app and pos" in refused.text
    # What was typed is kept.
    assert 'value="Gbg"' in refused.text
    assert 'value="mars"' in refused.text

    created = post(
        client,
        "/console/audiences",
        "/console/audiences",
        {"name": "Email people", "match": "all", "kind_0": "trait", "name_0": "email"},
    )
    assert created.status_code == 303
    audience_page = client.get(created.headers["location"])
    assert "Audience Email people is saved." in audience_page.text
    audience_id = UUID(created.headers["location"].split("/")[3].split("?")[0])
    with session_factory() as session:
        audience = audiences.get(session, audience_id=audience_id)
        rule = audience.rule
        members = list(audiences.members(session, audience=audience))
    assert rule == {"all": [{"trait": "email", "exists": True}]}
    assert f'id="audience-count">{len(members)}<' in audience_page.text

    fields: dict[str, str | list[str]] = {
        "name": "Winter sale",
        "audience_id": str(audience_id),
        "channels": ["email", "sms", "push"],
        "subject": "Wool coats -20 %",
        "body": "All wool coats are 20 % off this week.\n\nIn every store and online.",
        "link_url": "https://shop.example/sale",
    }
    preview = post(
        client,
        "/console/campaigns",
        "/console/campaigns/preview",
        fields,
        form="/console/campaigns",
    )
    assert preview.status_code == 200
    assert 'data-channel="email"' in preview.text
    assert 'data-channel="sms"' in preview.text
    sms = preview.text[preview.text.index('data-channel="sms"') :]
    assert "omnikanal: All wool coats are 20 % off this week." in sms
    assert "online. https://shop.example/sale Stop: #" in sms
    assert 'value="Winter sale"' in preview.text

    form = client.get("/console/campaigns").text
    tokens = once_of(form, "/console/campaigns")
    first = client.post("/console/campaigns", data={**tokens, **fields}, follow_redirects=False)
    again = client.post("/console/campaigns", data={**tokens, **fields}, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    campaign_path = first.headers["location"].split("?")[0]
    # The second post is answered with the first one's answer: the same campaign.
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    with session_factory() as session:
        found = overview.campaigns_page(session, cursor=None, limit=10)
    assert [c.name for c in found.items].count("Winter sale") == 1

    confirm = client.get(f"{campaign_path}/send")
    assert "cannot be called back" in confirm.text
    tokens = once_of(confirm.text, f"{campaign_path}/send")
    sent = [
        client.post(f"{campaign_path}/send", data=tokens, follow_redirects=False) for _ in range(2)
    ]
    assert [r.status_code for r in sent] == [303, 303]
    campaign_id = UUID(campaign_path.rsplit("/", 1)[1])
    with unit_of_work(session_factory) as session:
        campaign = campaigns.get(session, campaign_id=campaign_id)
        assert campaign.status == "sending"
        campaigns.send_timer(session, _timer(session, campaign_id))
        log = overview.messages_page(session, status=None, cursor=None, limit=100)
        for message in log.items:
            if message.campaign_id == campaign_id and message.status == MessageStatus.QUEUED:
                messages.deliver(session, message_id=message.id)
    page = client.get(campaign_path).text
    with session_factory() as session:
        results = campaigns.results(session, campaign_id=campaign_id)
    assert results.messages == len(members) * 3
    assert f'data-result="sent">{results.sent}<' in page
    assert 'data-result="opt_outs">0<' in page


def _timer(session: Session, campaign_id: UUID):  # type: ignore[no-untyped-def]
    from omnikanal.timers import service as timers_service

    timer = timers_service.get(session, kind=campaigns.SEND, key=str(campaign_id))
    assert timer is not None
    return timer


def test_an_admin_creates_a_key_shown_once_and_revokes_it(
    client: TestClient, shop: None, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.ADMIN))
    refused = post(
        client, "/console/admin/keys", "/console/admin/keys", {"name": "Tills", "role": "store"}
    )
    assert refused.status_code == 422
    assert "A store key belongs to one store: choose it." in refused.text
    assert 'value="Tills"' in refused.text

    page = client.get("/console/admin/keys").text
    tokens = once_of(page, "/console/admin/keys")
    data = {**tokens, "name": "Reporting", "role": "analyst"}
    created = client.post("/console/admin/keys", data=data)
    secret = re.search(r'id="new-secret">(sk_[^<]+)<', created.text)
    assert secret, created.text
    again = client.post("/console/admin/keys", data=data)
    assert "sk_" not in again.text.split("Secret keys")[0]
    assert "That form was sent already" in again.text
    with session_factory() as session:
        named = [k for k in auth_service.secret_keys(session) if k.name == "Reporting"]
    assert len(named) == 1
    key = named[0]
    assert (
        client.get(
            "/v1/locations", headers={"authorization": f"Bearer {secret.group(1)}"}
        ).status_code
        == 200
    )

    confirm = client.get(f"/console/admin/keys/{key.id}/revoke")
    assert "cannot be undone" in confirm.text
    revoked = client.post(
        f"/console/admin/keys/{key.id}/revoke",
        data=once_of(confirm.text, f"/console/admin/keys/{key.id}/revoke"),
    )
    assert "Key Reporting is revoked." in revoked.text
    assert (
        client.get(
            "/v1/locations", headers={"authorization": f"Bearer {secret.group(1)}"}
        ).status_code
        == 401
    )


def test_lists_say_how_many_and_page_on(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        for i in range(30):
            audiences.create(
                session, name=f"Audience {i:02d}", rule={"trait": "city", "exists": True}
            )
    sign_in(client, create_staff_account(session_factory, role=Role.MARKETER))
    first = client.get("/console/audiences").text
    assert "Showing 25 of 30 audiences." in first
    next_url = re.search(r'href="(/console/audiences\?cursor=[^"]+)" rel="next"', first)
    assert next_url
    second = client.get(next_url.group(1).replace("&amp;", "&")).text
    assert "Showing 5 of 30 audiences." in second
    assert "Audience 00" in second
    assert "Audience 29" in first


def test_the_health_page_says_whether_a_worker_is_alive(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_staff_account(session_factory, role=Role.ADMIN))
    assert ">no: no worker has said so" in client.get("/console/admin/health").text
    with unit_of_work(session_factory) as session:
        health.beat(session)
    assert ">yes (1 process)" in client.get("/console/admin/health").text


def test_a_campaign_is_scheduled_in_the_retailers_time_zone(
    client: TestClient, shop: None, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        draft = next(
            c
            for c in overview.campaigns_page(session, cursor=None, limit=10).items
            if c.status == campaigns.DRAFT
        )
    path = f"/console/campaigns/{draft.id}"
    sign_in(client, demo_login(Role.MARKETER))
    action = f"{path}/schedule"
    refused = post(client, path, action, {"send_at": "2020-01-01T09:00"})
    assert refused.status_code == 422
    assert "Choose a time in the future, or send it now." in refused.text
    assert 'value="2020-01-01T09:00"' in refused.text

    scheduled = post(client, path, action, {"send_at": "2099-12-24T09:00"})
    assert scheduled.status_code == 303
    page = client.get(scheduled.headers["location"]).text
    assert "goes out 2099-12-24 09:00 CET." in page
    with session_factory() as session:
        campaign = campaigns.get(session, campaign_id=draft.id)
        assert campaign.status == campaigns.SCHEDULED
        due = campaigns.scheduled_for(session, campaign)
    assert due is not None
    assert due.isoformat() == "2099-12-24T08:00:00+00:00"
