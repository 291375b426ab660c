"""What the HTTP edge guarantees every response and the files it keeps (issue 12)."""

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role, Source
from omnikanal.catalog.models import Product
from omnikanal.commerce.models import Cart, CartLine
from omnikanal.config import Settings
from omnikanal.conversations.models import Conversation, ConversationMessage
from omnikanal.inventory.models import Location
from omnikanal.kit.pagination import (
    decode_cursor,
    decode_id_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)
from omnikanal.marketing import tokens
from omnikanal.marketing.models import Audience
from omnikanal.outbox.models import WebhookEndpoint
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key


def test_no_page_may_be_framed(client: TestClient) -> None:
    for path in ("/console/signin", "/console", "/health", "/v1/nothing-here"):
        response = client.get(path, follow_redirects=False)
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_generated_secret_key_is_readable_by_its_owner_only(settings: Settings) -> None:
    key = tokens.secret_key(settings)
    path = settings.data_dir / "secret_key"
    assert _mode(path) == 0o600
    assert tokens.secret_key(settings) == key
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".secret_key")]


def test_an_existing_world_readable_secret_key_is_tightened_and_kept(
    settings: Settings,
) -> None:
    path = settings.data_dir / "secret_key"
    path.write_text("kept-from-before\n")
    path.chmod(0o644)
    assert tokens.secret_key(settings) == b"kept-from-before"
    assert _mode(path) == 0o600


# -- values no database can store: refused at the edge, naming the field --


@pytest.fixture
def keys(session_factory: sessionmaker[Session]) -> dict[str, dict[str, str]]:
    return {
        "admin": bearer(create_secret_key(session_factory)),
        "web": bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.WEB)),
        "chat": bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=Channel.CHAT)),
    }


def stored(factory: sessionmaker[Session], *models: type) -> int:
    with factory() as session:
        return sum(
            int(session.scalar(select(func.count()).select_from(model)) or 0) for model in models
        )


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "limit_exceeded"
    assert body["errors"][0]["field"] == field
    assert field in body["detail"]


def test_nul_characters_in_json_bodies_are_400_naming_the_field(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    cart = {"currency": "SEK", "anonymous_id": "anon-1", "items": [{"sku": "COAT\u0000"}]}
    assert_refused(client.post("/v1/carts", json=cart, headers=keys["web"]), "body.items[0].sku")
    cart = {"currency": "SEK", "anonymous_id": "an\u0000on", "items": []}
    assert_refused(client.post("/v1/carts", json=cart, headers=keys["web"]), "body.anonymous_id")
    message = {"anonymous_id": "chat-1", "body": "Hello\u0000there"}
    assert_refused(
        client.post("/v1/conversations/messages", json=message, headers=keys["chat"]),
        "body.body",
    )
    product = {"family": "F", "name": "Wool\u0000coat", "category": "coats", "vat_rate_bp": 2500}
    assert_refused(
        client.put("/v1/products/SKU-1", json=product, headers=keys["admin"]), "body.name"
    )
    product = {**product, "name": "Wool coat", "attributes": {"si\u0000ze": "38"}}
    assert_refused(
        client.put("/v1/products/SKU-1", json=product, headers=keys["admin"]),
        "body.attributes.si\u0000ze",
    )
    # A raw JSON text, as a client that does not escape would send it.
    raw = b'{"currency": "SEK", "anonymous_id": "\\u0000", "items": []}'
    response = client.post(
        "/v1/carts", content=raw, headers={**keys["web"], "content-type": "application/json"}
    )
    assert_refused(response, "body.anonymous_id")
    assert stored(session_factory, Cart, CartLine, Conversation, ConversationMessage, Product) == 0


def test_nul_characters_in_the_query_path_and_forms_are_400(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    assert_refused(
        client.get("/v1/carts/current?email=a%00b@example.com", headers=keys["web"]),
        "query.email",
    )
    assert_refused(client.get("/v1/products/SKU%00-1", headers=keys["admin"]), "path")
    assert_refused(
        client.post("/v1/keys?note=%00", json={"role": "agent"}, headers=keys["admin"]),
        "query.note",
    )
    # The console answers with a page, naming the field too.
    search = client.get("/console/customers?q=anna%00")
    assert search.status_code == 400
    assert search.headers["content-type"].startswith("text/html")
    assert "query.q" in search.text
    signin = client.post("/console/signin", data={"email": "a\u0000@example.com"})
    assert signin.status_code == 400
    assert "body.email" in signin.text
    multipart = client.post(
        "/console/signin",
        data={"password": "pw\u0000"},
        files={"ignored": ("a.bin", b"\x00\x01", "application/octet-stream")},
    )
    assert multipart.status_code == 400
    assert "body.password" in multipart.text


def _nested(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"trait": "city", "equals": "Stockholm"}
    for _ in range(depth - 1):
        rule = {"all": [rule]}
    return rule


def test_json_nested_past_the_limit_is_400_naming_the_field(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    shallow = client.post(
        "/v1/audiences", json={"name": "ok", "rule": _nested(3)}, headers=keys["admin"]
    )
    assert shallow.status_code == 201, shallow.text
    deep = client.post(
        "/v1/audiences", json={"name": "deep", "rule": _nested(40)}, headers=keys["admin"]
    )
    assert_refused(deep, "body.rule" + ".all[0]" * 15 + ".all")
    assert "32" in deep.json()["errors"][0]["message"]
    for depth in (127, 300):
        response = client.post(
            "/v1/audiences", json={"name": "x", "rule": _nested(depth)}, headers=keys["admin"]
        )
        assert response.status_code == 400, depth
    # Past every parser's recursion: still a 400, not a 500.
    bottomless = b'{"name": "x", "rule": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post(
        "/v1/audiences",
        content=bottomless,
        headers={**keys["admin"], "content-type": "application/json"},
    )
    assert_refused(response, "body")
    assert stored(session_factory, Audience) == 1


def test_a_lone_surrogate_is_malformed_json(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    body = b'{"family": "F", "name": "Coat \\ud800", "category": "c", "vat_rate_bp": 2500}'
    response = client.put(
        "/v1/products/SKU-1",
        content=body,
        headers={**keys["admin"], "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    paired = body.replace(b"\\ud800", b"\\ud83e\\udde5")  # a coat emoji, escaped as a pair
    response = client.put(
        "/v1/products/SKU-1",
        content=paired,
        headers={**keys["admin"], "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Coat \U0001f9e5"
    assert stored(session_factory, Product) == 1


# -- cursors: only ours are taken --

FOREIGN_CURSORS = [
    "aGVsbG8",  # "hello": base64, but not a cursor of ours
    "%%%",
    "YQ\x00",
    encode_cursor("a", "b", "c"),  # our tag, too many parts
    encode_cursor(""),
]
# Foreign to the lists keyed by an id or by a time and an id.
NOT_AN_ID_OR_TIME = [
    encode_cursor("not-an-id"),
    encode_cursor("2026-11-30T10:00:00", str(uuid4())),  # a time without a zone
    encode_cursor("2026-11-30T10:00:00+00:00"),  # a part missing
    encode_cursor("2026-11-30T10:00:00+00:00", "not-an-id"),
]


def test_a_cursor_we_did_not_make_is_400_on_every_list(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(session_factory) as session:
        session.add(
            Location(code="gbg", name="Göteborg", kind="store", latitude=57.7, longitude=12.0)
        )
    someone = str(uuid4())
    by_sku = ["/v1/products", "/v1/inventory/gbg"]
    by_id_or_time = [
        "/v1/conversations",
        f"/v1/profiles/{someone}/timeline",
        "/v1/orders",
        f"/v1/loyalty/{someone}",
        "/v1/outbox/deliveries",
    ]
    for path in by_sku + by_id_or_time:
        foreign = FOREIGN_CURSORS + (NOT_AN_ID_OR_TIME if path in by_id_or_time else [])
        for cursor in foreign:
            params = {"cursor": cursor, "profile_id": someone}
            response = client.get(path, params=params, headers=keys["admin"])
            assert response.status_code == 400, (path, cursor, response.text)
            assert response.json()["code"] in ("invalid_cursor", "limit_exceeded"), path
        params = {"cursor": "aGVsbG8", "profile_id": someone}
        hello = client.get(path, params=params, headers=keys["admin"])
        assert hello.json()["code"] == "invalid_cursor", path
        # An empty cursor is the first page, as clients send it on their first call
        # (the made-up person may be unknown: 404, but never a cursor error).
        first = client.get(
            path, params={"cursor": "", "profile_id": someone}, headers=keys["admin"]
        )
        assert first.status_code in (200, 404), (path, first.text)
        assert first.status_code == 200 or first.json()["code"] != "invalid_cursor", path


def test_time_cursors_round_trip_with_their_zone() -> None:
    moment = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    row_id = uuid4()
    assert decode_time_cursor(encode_time_cursor(moment, row_id)) == (moment, row_id)
    assert decode_id_cursor(encode_cursor(str(row_id))) == row_id
    assert decode_cursor(encode_cursor("COAT-WOOL")) == "COAT-WOOL"


# -- strings are bounded by their columns --


def test_credentials_and_webhooks_refuse_strings_longer_than_their_columns(
    client: TestClient,
    keys: dict[str, dict[str, str]],
    session_factory: sessionmaker[Session],
) -> None:
    admin = keys["admin"]
    too_long = [
        ("/v1/sources", {"name": "n" * 201, "channel": "web"}, "body.name"),
        ("/v1/sources", {"name": "n", "channel": "pos", "location": "l" * 101}, "body.location"),
        ("/v1/keys", {"role": "agent", "name": "n" * 201}, "body.name"),
        ("/v1/keys", {"role": "store", "location": "l" * 101}, "body.location"),
        ("/v1/webhooks", {"url": "https://example.com/" + "p" * 1990}, "body.url"),
        (
            "/v1/webhooks",
            {"url": "https://example.com/hook", "event_types": ["t" * 101]},
            "body.event_types[0]",
        ),
        (
            "/v1/webhooks",
            {"url": "https://example.com/hook", "description": "d" * 201},
            "body.description",
        ),
    ]
    for path, body, field in too_long:
        response = client.post(path, json=body, headers=admin)
        assert response.status_code == 422, (path, field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, (path, field)
    longest = "https://example.com/" + "p" * 1980
    assert len(longest) == 2000
    stored_ok = client.post("/v1/webhooks", json={"url": longest}, headers=admin)
    assert stored_ok.status_code == 201, stored_ok.text
    assert stored(session_factory, WebhookEndpoint, Source) == 1
