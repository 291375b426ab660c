"""One customer across every channel, end to end.

A real server (``live_server``) takes events from the real client libraries - Segment's
``analytics-python`` (sync mode) and RudderStack's ``rudder-sdk-python`` (its background
consumer, gzip on) - and plain HTTP; the profile API, with a secret key, must then show one
person: found by any identifier, seen on every channel, with every event on one timeline.

Every upload either client makes is recorded (request headers, the batch as sent, the
server's answer), so a test cannot pass while the server refused or dropped data.
"""

import atexit
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import rudderstack.analytics
import rudderstack.analytics.request
import segment.analytics
import segment.analytics.request
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from omnikanal.events.dependencies import POSITION_HEADER
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.reading import wait_until_resolved

Json = dict[str, Any]

WEB_SOURCE = "Webshop"
APP_SOURCE = "Mobile app"
POS_SOURCE = "Drottninggatan tills"
STORE = "sthlm-drottninggatan"


# -- what the clients put on the wire --


@dataclass(frozen=True)
class Upload:
    """One POST a client library made: what it sent and what the server answered."""

    client: str
    url: str
    headers: dict[str, str]
    gzipped: bool
    batch: list[Json]
    status: int
    answer: Json


@dataclass
class Wire:
    uploads: list[Upload] = field(default_factory=list)

    def of(self, client: str) -> list[Upload]:
        return [u for u in self.uploads if u.client == client]

    def assert_every_message_stored(self) -> None:
        """Each upload was accepted in full: nothing rejected, nothing taken for a replay."""
        assert self.uploads, "no client uploaded anything"
        for upload in self.uploads:
            assert upload.url.endswith("/v1/batch"), upload.url
            assert upload.headers["Authorization"].startswith("Basic "), upload.headers
            assert upload.status == 200, (upload.status, upload.answer)
            assert upload.answer["success"] is True, upload.answer
            assert upload.answer["rejected"] == [], upload.answer
            assert upload.answer["received"] == len(upload.batch), upload.answer
            assert upload.answer["stored"] == len(upload.batch), upload.answer
            assert upload.answer["duplicates"] == 0, upload.answer


def _record(monkeypatch: pytest.MonkeyPatch, wire: Wire, client: str, session: Any) -> None:
    real_post = session.post

    def post(url: str, **kwargs: Any) -> Any:
        response = real_post(url, **kwargs)
        headers = dict(kwargs["headers"])
        auth = kwargs.get("auth")
        if auth is not None:  # RudderStack passes requests' HTTPBasicAuth(write_key, "")
            assert auth.password == ""
            headers |= basic(auth.username)
        body = kwargs["data"]
        zipped = headers.get("Content-Encoding") == "gzip"
        raw = gzip.decompress(body) if zipped else body
        wire.uploads.append(
            Upload(
                client=client,
                url=url,
                headers=headers,
                gzipped=zipped,
                batch=json.loads(raw)["batch"],
                status=response.status_code,
                answer=response.json(),
            )
        )
        return response

    monkeypatch.setattr(session, "post", post)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    recorded = Wire()
    # Both libraries post through one module-level requests.Session each.
    _record(monkeypatch, recorded, "segment", segment.analytics.request._session)
    _record(monkeypatch, recorded, "rudderstack", rudderstack.analytics.request._session)
    return recorded


@contextmanager
def segment_client(host: str, write_key: str) -> Iterator[Any]:
    """Segment's client in sync mode: each call is one POST, and a refusal raises APIError.
    Sync mode starts no consumer thread, so there is nothing to shut down."""
    client = segment.analytics.Client(write_key=write_key, host=host, sync_mode=True)
    assert client.consumers is None
    yield client


@contextmanager
def rudderstack_client(
    host: str, write_key: str, *, upload_size: int = 100, upload_interval: float = 0.1
) -> Iterator[Any]:
    """RudderStack's client with its background consumer and gzip (its default); leaving the
    block flushes, stops the consumer thread and fails on any upload error."""
    errors: list[Exception] = []
    client = rudderstack.analytics.Client(
        write_key=write_key,
        host=host,
        max_retries=0,  # a refusal reaches on_error at once, not after minutes of backoff
        upload_size=upload_size,
        upload_interval=upload_interval,  # how long its consumer gathers a batch
        on_error=lambda error, batch: errors.append(error),
    )
    assert client.gzip is True
    assert all(consumer.gzip is True for consumer in client.consumers)
    try:
        yield client
        client.flush()
    finally:
        client.shutdown()  # flush, then pause and join the consumer thread
        atexit.unregister(client.join)
    assert not any(consumer.is_alive() for consumer in client.consumers)
    assert errors == []


def sent_id(enqueued: tuple[bool, Json]) -> str:
    """The messageId a client call sent (both libraries answer ``(success, message)``)."""
    success, message = enqueued
    assert success, message
    message_id: str = message["messageId"]
    return message_id


# -- the staff side of the API --


@dataclass
class Shop:
    url: str
    web: str
    app: str
    pos: str
    http: httpx.Client
    session_factory: sessionmaker[Session]

    def ingest(self, write_key: str, path: str, body: Json) -> Json:
        response = self.http.post(f"/v1/{path}", json=body, headers=basic(write_key))
        assert response.status_code == 200, response.text
        # Read right after: wait for the answer's position, as such a client does.
        wait_until_resolved(self.session_factory, int(response.headers[POSITION_HEADER]))
        answer: Json = response.json()
        return answer

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def find(self, **identifier: str) -> str:
        """The id of the one profile that holds this identifier."""
        items = self.get("/v1/profiles", **identifier)["items"]
        assert len(items) == 1, (identifier, items)
        profile_id: str = items[0]["id"]
        return profile_id

    def profile(self, profile_id: str) -> Json:
        found: Json = self.get(f"/v1/profiles/{profile_id}")
        return found

    def timeline(self, profile_id: str, *, page_size: int = 3) -> list[Json]:
        """Every entry, following next_cursor page by page."""
        entries: list[Json] = []
        params: dict[str, Any] = {"limit": page_size}
        live_id = self.profile(profile_id)["id"]  # a merged-away id answers for the survivor
        while True:
            page = self.get(f"/v1/profiles/{profile_id}/timeline", **params)
            assert page["profile_id"] == live_id
            assert len(page["items"]) <= page_size
            entries += page["items"]
            if page["next_cursor"] is None:
                return entries
            params["cursor"] = page["next_cursor"]

    def merges(self, profile_id: str) -> list[Json]:
        log: list[Json] = self.get(f"/v1/profiles/{profile_id}/merges")
        return log


@pytest.fixture
def shop(live_server: str, session_factory: sessionmaker[Session]) -> Iterator[Shop]:
    secret = create_secret_key(session_factory, role=Role.AGENT)
    with httpx.Client(base_url=live_server, headers=bearer(secret), timeout=30) as http:
        yield Shop(
            url=live_server,
            web=create_source(session_factory, channel=Channel.WEB, name=WEB_SOURCE),
            app=create_source(session_factory, channel=Channel.APP, name=APP_SOURCE),
            pos=create_source(
                session_factory, channel=Channel.POS, name=POS_SOURCE, location=STORE
            ),
            http=http,
            session_factory=session_factory,
        )


def identifiers(profile: Json) -> set[tuple[str, str]]:
    return {(i["type"], i["value"]) for i in profile["identifiers"]}


def message_ids(timeline: list[Json]) -> list[str]:
    return [entry["message_id"] for entry in timeline]


def assert_newest_first(timeline: list[Json]) -> None:
    stamps = [datetime.fromisoformat(entry["timestamp"]) for entry in timeline]
    assert stamps == sorted(stamps, reverse=True), stamps


def story_start() -> datetime:
    """A week ago: events carry their own times, a few minutes or days apart."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)


# -- 1. one person: laptop, phone, store --


def test_anna_on_laptop_phone_and_in_store_is_one_profile(shop: Shop, wire: Wire) -> None:
    start = story_start()
    laptop, phone = f"laptop-{uuid4().hex[:8]}", f"phone-{uuid4().hex[:8]}"
    sent: list[tuple[str, str]] = []  # (messageId, channel), in the order they happened

    # On the laptop: anonymous browsing, then an email in the newsletter form.
    with segment_client(shop.url, shop.web) as web:
        at = start
        sent.append((sent_id(web.page(anonymous_id=laptop, name="Jackets", timestamp=at)), "web"))
        product = {"product_id": "jacket-42", "name": "Rain jacket", "price": 1299}
        viewed = web.track(
            anonymous_id=laptop,
            event="Product Viewed",
            properties=product,
            timestamp=at + timedelta(minutes=2),
        )
        sent.append((sent_id(viewed), "web"))
        newsletter = web.identify(
            anonymous_id=laptop,
            traits={"email": "anna.svensson@example.com"},
            timestamp=at + timedelta(minutes=5),
        )
        sent.append((sent_id(newsletter), "web"))
    anna = shop.find(anonymous_id=laptop)
    assert shop.find(email="anna.svensson@example.com") == anna

    # On the phone, the next day: the app opens anonymously, then Anna signs in.
    at = start + timedelta(days=1)
    with rudderstack_client(shop.url, shop.app) as app:
        sent.append((sent_id(app.screen(anonymous_id=phone, name="Home", timestamp=at)), "app"))
    phone_profile = shop.find(anonymous_id=phone)
    assert phone_profile != anna  # nothing yet says the phone is Anna's

    with rudderstack_client(shop.url, shop.app) as app:
        sign_in = app.identify(
            user_id="anna-1001",
            anonymous_id=phone,
            traits={
                "email": " Anna.Svensson@Example.COM ",
                "phone": "070-123 45 67",
                "loyalty_card": "7001 2345 6789",
                "first_name": "Anna",
            },
            timestamp=at + timedelta(minutes=1),
        )
        sent.append((sent_id(sign_in), "app"))
        wished = app.track(
            user_id="anna-1001",
            anonymous_id=phone,
            event="Product Added to Wishlist",
            properties={"product_id": "jacket-42"},
            timestamp=at + timedelta(minutes=3),
        )
        sent.append((sent_id(wished), "app"))

    # In the store, two days later: the till scans her loyalty card.
    order = {
        "order_id": "POS-1001",
        "total": 1299.0,
        "currency": "SEK",
        "products": [{"product_id": "jacket-42", "price": 1299.0, "quantity": 1}],
    }
    with segment_client(shop.url, shop.pos) as till:
        sale = till.track(
            anonymous_id="till-receipt-POS-1001",
            event="Order Completed",
            properties=order,
            context={"traits": {"loyalty_card": "700123456789"}},
            timestamp=start + timedelta(days=3),
        )
        sent.append((sent_id(sale), "pos"))

    wire.assert_every_message_stored()
    assert {u.client for u in wire.uploads} == {"segment", "rudderstack"}
    assert all(u.gzipped for u in wire.of("rudderstack"))
    assert sum(len(u.batch) for u in wire.uploads) == len(sent)

    # Found by every identifier, in any spelling: always the same profile.
    lookups: list[dict[str, str]] = [
        {"email": "anna.svensson@example.com"},
        {"email": " Anna.Svensson@Example.COM "},
        {"email": "ANNA.SVENSSON@EXAMPLE.COM"},
        {"phone": "+46701234567"},
        {"phone": "070-123 45 67"},
        {"user_id": "anna-1001"},
        {"loyalty_card": "700123456789"},
        {"loyalty_card": "7001-2345-6789"},
        {"anonymous_id": laptop},
        {"anonymous_id": phone},
    ]
    for lookup in lookups:
        assert shop.find(**lookup) == anna, lookup

    profile = shop.profile(anna)
    assert profile["id"] == anna
    assert identifiers(profile) == {
        ("user_id", "anna-1001"),
        ("email", "anna.svensson@example.com"),
        ("phone", "+46701234567"),
        ("loyalty_card", "700123456789"),
        ("anonymous_id", laptop),
        ("anonymous_id", phone),
        ("anonymous_id", "till-receipt-POS-1001"),
    }
    assert [(c["channel"], c["events"]) for c in profile["channels"]] == [
        ("web", 3),
        ("app", 3),
        ("pos", 1),
    ]
    assert profile["traits"]["email"] == "anna.svensson@example.com"
    assert profile["traits"]["phone"] == "+46701234567"
    assert profile["traits"]["loyalty_card"] == "700123456789"
    assert profile["traits"]["first_name"] == "Anna"
    first_seen = datetime.fromisoformat(profile["first_seen"])
    last_seen = datetime.fromisoformat(profile["last_seen"])
    assert start <= first_seen < start + timedelta(minutes=1)
    assert start + timedelta(days=3) <= last_seen < start + timedelta(days=3, minutes=1)
    assert profile["merged_ids"] == [phone_profile]
    assert shop.profile(phone_profile)["id"] == anna  # the merged-away id answers for Anna

    # Every event on one timeline, newest first, each with its channel.
    timeline = shop.timeline(anna)
    assert message_ids(timeline) == [message_id for message_id, _ in reversed(sent)]
    assert [entry["channel"] for entry in timeline] == [channel for _, channel in reversed(sent)]
    assert_newest_first(timeline)
    assert [(e["type"], e["name"]) for e in timeline] == [
        ("track", "Order Completed"),
        ("track", "Product Added to Wishlist"),
        ("identify", None),
        ("screen", "Home"),
        ("identify", None),
        ("track", "Product Viewed"),
        ("page", "Jackets"),
    ]
    purchase = timeline[0]
    assert purchase["source"] == POS_SOURCE
    assert purchase["location"] == STORE
    assert purchase["properties"] == order
    assert purchase["traits"] == {"loyalty_card": "700123456789"}
    assert {(e["source"], e["location"]) for e in timeline[1:4]} == {(APP_SOURCE, None)}
    assert {(e["source"], e["location"]) for e in timeline[4:]} == {(WEB_SOURCE, None)}
    assert timeline[-2]["properties"] == product
    assert shop.timeline(phone_profile) == timeline

    # The merge log explains the one merge: the phone's sign-in joined its anonymous profile.
    log = shop.merges(anna)
    assert [(e["action"], e["profile_id"], e["other_profile_id"]) for e in log] == [
        ("merged", anna, phone_profile)
    ]
    assert log[0]["message_id"] == sign_in[1]["messageId"]
    assert log[0]["channel"] == "app"
    assert {"type": "anonymous_id", "value": phone} in log[0]["linking"]
    assert f"anonymous_id:{phone}" in log[0]["rule"]


# -- 2. a shared family tablet --


def test_shared_tablet_follows_whoever_identified_last(shop: Shop, wire: Wire) -> None:
    start = story_start()
    tablet = f"tablet-{uuid4().hex[:8]}"
    with segment_client(shop.url, shop.web) as web:
        a_signs_in = sent_id(web.identify(user_id="a", anonymous_id=tablet, timestamp=start))
        a_browses = sent_id(
            web.page(user_id="a", anonymous_id=tablet, name="Recipes", timestamp=start)
        )
        b_signs_in = sent_id(
            web.identify(user_id="b", anonymous_id=tablet, timestamp=start + timedelta(hours=1))
        )
        anonymous = sent_id(
            web.track(
                anonymous_id=tablet, event="Product Viewed", timestamp=start + timedelta(hours=2)
            )
        )
    wire.assert_every_message_stored()

    a, b = shop.find(user_id="a"), shop.find(user_id="b")
    assert a != b
    assert shop.find(anonymous_id=tablet) == b
    assert identifiers(shop.profile(a)) == {("user_id", "a")}
    assert identifiers(shop.profile(b)) == {("user_id", "b"), ("anonymous_id", tablet)}
    assert message_ids(shop.timeline(b)) == [anonymous, b_signs_in]
    assert set(message_ids(shop.timeline(a))) == {a_signs_in, a_browses}  # A keeps its past

    log = shop.merges(b)
    assert [(e["action"], e["profile_id"], e["other_profile_id"]) for e in log] == [
        ("device_moved", b, a)
    ]
    assert log[0]["message_id"] == b_signs_in
    assert {"type": "anonymous_id", "value": tablet} in log[0]["linking"]
    assert shop.merges(a) == log  # A's log shows the device leaving; no merge of A and B
    assert shop.profile(a)["merged_ids"] == shop.profile(b)["merged_ids"] == []

    # A picks the tablet up again: the device moves back, and follows A from now on.
    with segment_client(shop.url, shop.web) as web:
        a_again = sent_id(
            web.identify(user_id="a", anonymous_id=tablet, timestamp=start + timedelta(hours=3))
        )
        later = sent_id(
            web.track(
                anonymous_id=tablet, event="Cart Viewed", timestamp=start + timedelta(hours=4)
            )
        )
    wire.assert_every_message_stored()

    assert shop.find(anonymous_id=tablet) == a
    assert identifiers(shop.profile(a)) == {("user_id", "a"), ("anonymous_id", tablet)}
    assert identifiers(shop.profile(b)) == {("user_id", "b")}
    timeline_a = shop.timeline(a)
    assert message_ids(timeline_a)[:2] == [later, a_again]
    assert set(message_ids(timeline_a)) == {later, a_again, a_signs_in, a_browses}
    assert_newest_first(timeline_a)
    assert message_ids(shop.timeline(b)) == [anonymous, b_signs_in]  # B keeps its past

    log = shop.merges(a)
    assert [(e["action"], e["profile_id"], e["other_profile_id"]) for e in log] == [
        ("device_moved", a, b),
        ("device_moved", b, a),
    ]
    assert log[0]["message_id"] == a_again


# -- 3. a replayed messageId --


def test_a_replayed_message_is_stored_once_per_source(shop: Shop) -> None:
    message = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "replaying-device",
        "messageId": "msg-0001",
        "timestamp": story_start().isoformat(),
        "properties": {"product_id": "jacket-42"},
    }
    first = shop.ingest(shop.web, "track", message)
    assert (first["received"], first["stored"], first["duplicates"]) == (1, 1, 0)
    replay = shop.ingest(shop.web, "track", message)
    assert replay == {"success": True, "received": 1, "stored": 0, "duplicates": 1, "rejected": []}
    in_a_batch = shop.ingest(shop.web, "batch", {"batch": [message, message]})
    assert (in_a_batch["stored"], in_a_batch["duplicates"]) == (0, 2)

    device = shop.find(anonymous_id="replaying-device")
    timeline = shop.timeline(device)
    assert [(e["message_id"], e["channel"]) for e in timeline] == [("msg-0001", "web")]
    assert shop.profile(device)["channels"][0]["events"] == 1

    # The same messageId from another source is another message.
    from_app = shop.ingest(shop.app, "track", message)
    assert (from_app["stored"], from_app["duplicates"]) == (1, 0)
    timeline = shop.timeline(device)
    assert sorted((e["message_id"], e["channel"]) for e in timeline) == [
        ("msg-0001", "app"),
        ("msg-0001", "web"),
    ]


# -- 4. one gzip batch from RudderStack's client --


def test_rudderstack_gzip_batch_is_stored_in_full(shop: Shop, wire: Wire) -> None:
    start = story_start()
    events = ["App Opened", "Product Viewed", "Product Added", "Cart Viewed", "Checkout Started"]
    # One upload: the consumer sends as soon as it holds them all (or after a second).
    with rudderstack_client(
        shop.url, shop.app, upload_size=len(events), upload_interval=1.0
    ) as app:
        sent = [
            sent_id(
                app.track(
                    anonymous_id="gzip-phone",
                    event=name,
                    properties={"step": step},
                    timestamp=start + timedelta(minutes=step),
                )
            )
            for step, name in enumerate(events)
        ]

    uploads = wire.of("rudderstack")
    wire.assert_every_message_stored()
    assert all(u.gzipped and u.headers["Content-Encoding"] == "gzip" for u in uploads)
    assert all(u.headers["Authorization"] == basic(shop.app)["Authorization"] for u in uploads)
    assert len(uploads) == 1  # one gzip batch, not a request per event
    assert [m["messageId"] for u in uploads for m in u.batch] == sent
    assert sum(u.answer["stored"] for u in uploads) == len(events)

    timeline = shop.timeline(shop.find(anonymous_id="gzip-phone"))
    assert message_ids(timeline) == sent[::-1]
    assert [e["name"] for e in timeline] == events[::-1]
    assert {e["channel"] for e in timeline} == {"app"}
    assert [e["properties"] for e in timeline] == [{"step": s} for s in reversed(range(5))]


# -- 5. undoing a merge --


def test_unmerge_gives_the_anonymous_profile_back_its_events(shop: Shop, wire: Wire) -> None:
    start = story_start()
    visitor = f"visitor-{uuid4().hex[:8]}"
    with segment_client(shop.url, shop.web) as web:
        karin_signs_up = sent_id(
            web.identify(
                user_id="karin-7",
                traits={"email": " Karin.Berg@Example.com ", "first_name": "Karin"},
                timestamp=start,
            )
        )
        karin_orders = sent_id(
            web.track(user_id="karin-7", event="Order Completed", timestamp=start)
        )
        browsed = sent_id(
            web.page(anonymous_id=visitor, name="Sale", timestamp=start + timedelta(days=1))
        )
        viewed = sent_id(
            web.track(
                anonymous_id=visitor,
                event="Product Viewed",
                timestamp=start + timedelta(days=1, minutes=1),
            )
        )
    karin, stranger = shop.find(user_id="karin-7"), shop.find(anonymous_id=visitor)
    assert karin != stranger

    with segment_client(shop.url, shop.web) as web:
        linking = sent_id(
            web.identify(
                user_id="karin-7",
                anonymous_id=visitor,
                timestamp=start + timedelta(days=1, minutes=2),
            )
        )
    wire.assert_every_message_stored()
    assert shop.find(anonymous_id=visitor) == karin
    assert shop.profile(stranger)["id"] == karin
    assert shop.profile(karin)["merged_ids"] == [stranger]
    assert shop.profile(karin)["traits"] == {
        "email": "karin.berg@example.com",
        "first_name": "Karin",
    }
    assert len(shop.timeline(karin)) == 5
    merged = shop.merges(karin)
    assert [(e["action"], e["profile_id"], e["other_profile_id"]) for e in merged] == [
        ("merged", karin, stranger)
    ]
    assert merged[0]["message_id"] == linking

    response = shop.http.post(f"/v1/profiles/{karin}/unmerge")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["merge_id"] == merged[0]["id"]
    assert result["profile"]["id"] == karin
    assert result["restored_profile"]["id"] == stranger

    # Two profiles again, each answering for itself with its own identifiers and events.
    restored, survivor = shop.profile(stranger), shop.profile(karin)
    assert restored == result["restored_profile"]
    assert survivor == result["profile"]
    assert restored["id"] == stranger
    assert restored["merged_ids"] == survivor["merged_ids"] == []
    assert identifiers(restored) == {("anonymous_id", visitor)}
    assert identifiers(survivor) == {("user_id", "karin-7"), ("email", "karin.berg@example.com")}
    assert shop.find(anonymous_id=visitor) == stranger
    assert shop.find(email="karin.berg@example.com") == karin

    assert message_ids(shop.timeline(stranger)) == [viewed, browsed]
    timeline_karin = shop.timeline(karin)
    assert message_ids(timeline_karin)[0] == linking
    assert set(message_ids(timeline_karin)) == {linking, karin_orders, karin_signs_up}
    assert [(c["channel"], c["events"]) for c in restored["channels"]] == [("web", 2)]
    assert [(c["channel"], c["events"]) for c in survivor["channels"]] == [("web", 3)]
    assert survivor["traits"] == {"email": "karin.berg@example.com", "first_name": "Karin"}
    assert restored["traits"] == {}

    log = shop.merges(karin)
    assert [(e["action"], e["profile_id"], e["other_profile_id"]) for e in log] == [
        ("unmerged", karin, stranger),
        ("merged", karin, stranger),
    ]
    assert "agent" in (log[0]["actor"] or "")
    assert log[1]["unmerged_at"] is not None
    assert shop.merges(stranger) == log

    # The visitor browsing on afterwards is the anonymous profile again, not Karin.
    with segment_client(shop.url, shop.web) as web:
        later = sent_id(
            web.page(anonymous_id=visitor, name="Outlet", timestamp=start + timedelta(days=2))
        )
    wire.assert_every_message_stored()
    assert message_ids(shop.timeline(stranger)) == [later, viewed, browsed]
