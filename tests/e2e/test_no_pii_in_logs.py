"""No personal data in the logs (S16): a real ``omnikanal serve`` (with its worker) is taken
through a whole story — identify, track, cart, checkout, a conversation, consent, a
refused request and a look-up of someone unknown — and nothing it printed (its own logs,
uvicorn's access log) holds an email address, a phone number in any spelling, or a name."""

import re
import time
from pathlib import Path
from urllib.parse import unquote_plus

import httpx

from omnikanal.auth.models import Channel, Role
from tests.factories import bearer, create_secret_key
from tests.integration.commerce.conftest import COAT, Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture, re-exported
from tests.server import free_port, omnikanal_env, omnikanal_process

EMAIL = "greta.lindqvist@example.com"
UNKNOWN_EMAIL = "nobody.holmberg@example.com"
PHONE = "+46 70 123 45 67"
NAMES = ("Greta", "Lindqvist", "Holmberg")


def test_a_whole_story_leaves_no_personal_data_in_the_logs(
    shop: Shop, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = omnikanal_env(database_url, tmp_path, OMNIKANAL_WORKER_POLL_SECONDS="0.2")
    log = tmp_path / "serve.log"
    command = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with omnikanal_process(command, env, log) as process:
        process.wait_ready(url)
        with httpx.Client(base_url=url, timeout=15) as http:
            story(http, shop)
        time.sleep(1.5)  # the worker's reactions to what was committed
        process.stop()
    printed = log.read_text(errors="replace")
    assert "GET /v1/profiles" in printed  # the access log was captured
    found = personal_data_in(printed)
    assert found == [], f"personal data in the logs: {found}\n{printed[-3000:]}"


def personal_data_in(text: str) -> list[str]:
    """The email addresses, names and phone numbers of the story in ``text``, also
    URL-encoded, in any case, and the phone in any spelling (spaces, dashes, 0 or +46)."""
    decoded = unquote_plus(text).lower()
    found = [v for v in (EMAIL, UNKNOWN_EMAIL, *NAMES) if v.lower() in decoded]
    found += [v for v in ("greta.lindqvist", "nobody.holmberg") if v in decoded]
    for run in re.findall(r"[+\d][\d\s().-]{6,}\d", decoded):
        if re.sub(r"\D", "", run).endswith("701234567"):
            found.append(run)
    return found


def story(http: httpx.Client, shop: Shop) -> None:
    def ok(response: httpx.Response, *statuses: int) -> httpx.Response:
        assert response.status_code in (statuses or (200,)), response.text
        return response

    device = "greta-laptop"
    traits = {"email": EMAIL, "phone": PHONE, "first_name": "Greta", "last_name": "Lindqvist"}
    ok(
        http.post(
            "/v1/identify",
            json={"anonymousId": device, "traits": traits},
            headers=shop.web_events,
        )
    )
    ok(
        http.post(
            "/v1/track",
            json={"anonymousId": device, "event": "Product Viewed", "properties": {"sku": COAT}},
            headers=shop.web_events,
        )
    )
    found = ok(
        http.get(
            "/v1/profiles",
            params={"email": EMAIL},
            headers={**shop.agent, "Omnikanal-Position": "0"},
        )
    ).json()
    deadline = time.monotonic() + 20
    while not found["items"] and time.monotonic() < deadline:
        time.sleep(0.2)
        found = ok(http.get("/v1/profiles", params={"email": EMAIL}, headers=shop.agent)).json()
    profile_id = found["items"][0]["id"]
    cart = ok(
        http.post(
            "/v1/carts",
            json={"currency": "SEK", "anonymous_id": device, "items": [{"sku": COAT}]},
            headers=shop.web,
        ),
        200,
        201,
    ).json()
    address = {
        "name": "Greta Lindqvist",
        "street": "Storgatan 1",
        "postal_code": "411 38",
        "city": "Göteborg",
        "country": "SE",
        "phone": PHONE,
    }
    ok(
        http.post(
            f"/v1/carts/{cart['id']}/checkout",
            json={
                "fulfilment": {"type": "delivery", "address": address},
                "tenders": [{"type": "card", "reference": "tok_visa_4242"}],
                "email": EMAIL,
            },
            headers=shop.web,
        ),
        201,
    )
    ok(
        http.post(
            "/v1/conversations/messages",
            json={"email": EMAIL, "phone": PHONE, "body": "Hi, Greta Lindqvist here."},
            headers=bearer(
                create_secret_key(shop.factory, role=Role.CHANNEL, channel=Channel.CHAT)
            ),
        ),
        201,
    )
    ok(
        http.put(
            f"/v1/profiles/{profile_id}/consents",
            json={"consents": [{"purpose": "marketing", "channel": "email", "granted": True}]},
            headers=shop.agent,
        )
    )
    # Refused requests carrying personal data.
    refused = http.post(
        "/v1/carts",
        json={"currency": "SEK", "email": "greta.lindqvist@@example", "items": "Greta"},
        headers=shop.web,
    )
    assert refused.status_code >= 400
    refused = http.put(
        f"/v1/profiles/{profile_id}/consents",
        json={"consents": [{"purpose": EMAIL, "channel": PHONE, "granted": "Greta"}]},
        headers=shop.agent,
    )
    assert refused.status_code == 422
    # Someone unknown, looked up by email in the query string.
    unknown = http.get("/v1/profiles", params={"email": UNKNOWN_EMAIL}, headers=shop.agent)
    assert unknown.status_code in (200, 404)
    ok(http.get("/v1/profiles", params={"phone": PHONE}, headers=shop.agent))
