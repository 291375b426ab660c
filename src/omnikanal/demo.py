"""The demo retailer: a Nordic fashion-and-coffee chain (Norrsken), loaded once.

Demo keys and the demo staff's passwords are fixed strings so that every `make run` can
print them; they are for a laptop demo only, never for a real database.
"""

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth import repository as auth_repository
from omnikanal.auth import service as auth_service
from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Channel, Role, SecretKey, Source, StaffAccount
from omnikanal.auth.service import SourceActor, StaffActor
from omnikanal.catalog import service as catalog_service
from omnikanal.commerce import carts, checkout, orders, returns
from omnikanal.commerce import history as commerce_history
from omnikanal.commerce import service as commerce_service
from omnikanal.commerce.history import CustomerReference, HistoricalLine, HistoricalOrder
from omnikanal.commerce.models import Fulfilment, Order
from omnikanal.conversations import actions, messages
from omnikanal.customers import service as customers_service
from omnikanal.customers.identity import IdentifierKey
from omnikanal.events import service as events_service
from omnikanal.inventory import service as inventory_service
from omnikanal.inventory.models import AdjustmentReason
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.loyalty import service as loyalty_service


@dataclass(frozen=True)
class DemoSource:
    name: str
    channel: Channel
    location: str | None
    write_key: str


@dataclass(frozen=True)
class DemoKey:
    name: str
    role: Role
    location: str | None
    secret_key: str
    channel: Channel | None = None


STORES = {
    "sthlm-drottninggatan": "Stockholm Drottninggatan",
    "gbg-avenyn": "Göteborg Avenyn",
    "cph-stroget": "København Strøget",
}

SOURCES = [
    DemoSource("Web shop", Channel.WEB, None, "wk_demo_web"),
    DemoSource("Norrsken app", Channel.APP, None, "wk_demo_app"),
    *[
        DemoSource(f"Tills {name}", Channel.POS, code, f"wk_demo_pos_{code.split('-')[0]}")
        for code, name in STORES.items()
    ],
    DemoSource("Chat widget", Channel.CHAT, None, "wk_demo_chat"),
    DemoSource("Phone support", Channel.PHONE, None, "wk_demo_phone"),
    DemoSource("Email", Channel.EMAIL, None, "wk_demo_email"),
    DemoSource("Social inbox", Channel.SOCIAL, None, "wk_demo_social"),
]

KEYS = [
    DemoKey("Demo admin", Role.ADMIN, None, "sk_demo_admin"),
    DemoKey("Demo support agent", Role.AGENT, None, "sk_demo_agent"),
    DemoKey("Demo store staff Stockholm", Role.STORE, "sthlm-drottninggatan", "sk_demo_store"),
    DemoKey("Demo marketer", Role.MARKETER, None, "sk_demo_marketer"),
    DemoKey("Demo analyst", Role.ANALYST, None, "sk_demo_analyst"),
    DemoKey("Web shop back end", Role.CHANNEL, None, "sk_demo_web", Channel.WEB),
    DemoKey("App back end", Role.CHANNEL, None, "sk_demo_app", Channel.APP),
    DemoKey("Till system Göteborg", Role.CHANNEL, "gbg-avenyn", "sk_demo_pos_gbg", Channel.POS),
    DemoKey("Till system København", Role.CHANNEL, "cph-stroget", "sk_demo_pos_cph", Channel.POS),
    DemoKey("Chat widget back end", Role.CHANNEL, None, "sk_demo_chat", Channel.CHAT),
    DemoKey("Phone system", Role.CHANNEL, None, "sk_demo_phone", Channel.PHONE),
]


@dataclass(frozen=True)
class DemoStaff:
    """A person who signs in to the console: one per role, one per store."""

    name: str
    email: str
    role: Role
    location: str | None
    password: str


STAFF = [
    DemoStaff("Ingrid Berg", "admin@norrsken.example", Role.ADMIN, None, "demo-admin-password"),
    DemoStaff("Maja Lind", "agent@norrsken.example", Role.AGENT, None, "demo-agent-password"),
    DemoStaff(
        "Oskar Nyström",
        "store.sthlm@norrsken.example",
        Role.STORE,
        "sthlm-drottninggatan",
        "demo-sthlm-password",
    ),
    DemoStaff(
        "Elin Dahl", "store.gbg@norrsken.example", Role.STORE, "gbg-avenyn", "demo-gbg-password"
    ),
    DemoStaff(
        "Mads Jensen", "store.cph@norrsken.example", Role.STORE, "cph-stroget", "demo-cph-password"
    ),
    DemoStaff(
        "Sara Holm", "marketer@norrsken.example", Role.MARKETER, None, "demo-marketer-password"
    ),
    DemoStaff("Jonas Ek", "analyst@norrsken.example", Role.ANALYST, None, "demo-analyst-password"),
]


@functools.cache
def _demo_password_hash(password: str) -> str:
    # Hashed once per process: Argon2 is slow on purpose, and the demo loads in many tests.
    return staff_accounts.hash_password(password)


def is_loaded(session: Session) -> bool:
    return (
        auth_repository.secret_key_by_hash(session, auth_service.hash_key("sk_demo_admin"))
        is not None
    )


def load(session: Session, *, history: bool = False) -> bool:
    """Load the demo retailer unless it is there already; True when it was loaded now.
    ``history``: nine months of past shoppers too, for the analyst's pages."""
    if is_loaded(session):
        return False
    actors: dict[str, SourceActor] = {}
    for demo_source in SOURCES:
        source = Source(
            name=demo_source.name,
            channel=demo_source.channel.value,
            location=demo_source.location,
            write_key_hash=auth_service.hash_key(demo_source.write_key),
            key_prefix=demo_source.write_key[:10],
        )
        session.add(source)
        session.flush()
        actors[demo_source.write_key] = SourceActor(
            source_id=source.id,
            name=source.name,
            channel=demo_source.channel,
            location=source.location,
        )
    staff: dict[str, StaffActor] = {}
    for key in KEYS:
        row = SecretKey(
            name=key.name,
            role=key.role.value,
            location=key.location,
            channel=(key.channel or (Channel.POS if key.role is Role.STORE else None)),
            key_hash=auth_service.hash_key(key.secret_key),
            key_prefix=key.secret_key[:10],
        )
        session.add(row)
        session.flush()
        actor = auth_service.staff_actor(session, key_id=row.id)
        assert actor is not None
        staff[key.secret_key] = actor
    for person in STAFF:
        session.add(
            StaffAccount(
                email=person.email,
                name=person.name,
                role=person.role.value,
                location=person.location,
                password_hash=_demo_password_hash(person.password),
                failed_sign_ins=0,
            )
        )
    session.flush()
    _load_catalog(session)
    _load_locations_and_stock(session)
    _load_customer_story(session, actors, ANNA_STORY)
    _load_carts_and_orders(session, staff)
    _load_customer_story(session, actors, ERIK_STORY)
    if history:
        _load_history(session, actors, staff)
    _train_recommendations(session)
    # After the model: the reminder suggests what goes with her scarf.
    _anna_is_reminded_of_her_scarf(session)
    _load_marketing(session)
    if history:
        _load_experiment(session)
    return True


IMAGES = "https://images.norrsken.example"
# (sku, family, name, category, attributes, VAT basis points, SEK, DKK) - prices in öre/øre.
CATALOG: list[tuple[str, str, str, str, dict[str, str], int, int, int]] = [
    *[
        (
            f"COAT-WOOL-GREY-{size}",
            "COAT-WOOL",
            "Wool coat, grey",
            "coats",
            {"size": size, "colour": "grey"},
            2500,
            249_900,
            179_900,
        )
        for size in ("36", "38", "40", "42")
    ],
    (
        "SCARF-MERINO-RED",
        "SCARF-MERINO",
        "Merino scarf, red",
        "accessories",
        {"colour": "red"},
        2500,
        49_900,
        34_900,
    ),
    (
        "BOOTS-CHELSEA-39",
        "BOOTS-CHELSEA",
        "Chelsea boots",
        "shoes",
        {"size": "39", "colour": "black"},
        2500,
        149_900,
        109_900,
    ),
    # Coffee served in the stores: 12 % VAT in Sweden for food.
    ("LATTE-OAT-M", "LATTE", "Oat latte, medium", "coffee", {"size": "M"}, 1200, 4_900, 4_500),
    ("BUN-CARDAMOM", "BUN", "Cardamom bun", "bakery", {}, 1200, 3_900, 3_500),
]


def ean13(number: int) -> str:
    """A valid EAN-13 in the demo retailer's (made-up) company prefix 7350012."""
    digits = f"7350012{number:05d}"
    weighted = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - weighted % 10) % 10)


def _load_catalog(session: Session) -> None:
    since = utcnow() - timedelta(days=30)
    for number, (sku, family, name, category, attributes, vat, sek, dkk) in enumerate(CATALOG):
        catalog_service.upsert_product(
            session,
            sku=sku,
            fields={
                "family": family,
                "name": name,
                "description": f"{name} from the Norrsken collection.",
                "category": category,
                "barcode": ean13(number + 1),
                "attributes": attributes,
                "image_urls": [f"{IMAGES}/{family.lower()}.jpg"],
                "vat_rate_bp": vat,
                "active": True,
            },
        )
        for currency, amount in (("SEK", sek), ("DKK", dkk)):
            catalog_service.set_price(
                session, sku=sku, currency=currency, amount=amount, valid_from=since
            )


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _hours(weekdays: str, saturday: str | None, sunday: str | None) -> dict[str, str | None]:
    """Opening times, local time; None: closed that day."""
    hours: dict[str, str | None] = dict.fromkeys(WEEKDAYS, weekdays)
    return hours | {"sat": saturday, "sun": sunday}


# The three stores of STORES and the warehouse that supplies them and the web shop.
LOCATIONS: dict[str, dict[str, Any]] = {
    "sthlm-drottninggatan": {
        "kind": "store",
        "address": {
            "street": "Drottninggatan 50",
            "postal_code": "111 21",
            "city": "Stockholm",
            "country": "SE",
        },
        "latitude": 59.3326,
        "longitude": 18.0649,
        "opening_hours": _hours("10:00-20:00", "10:00-18:00", "11:00-17:00"),
    },
    "gbg-avenyn": {
        "kind": "store",
        "address": {
            "street": "Kungsportsavenyen 22",
            "postal_code": "411 36",
            "city": "Göteborg",
            "country": "SE",
        },
        "latitude": 57.6996,
        "longitude": 11.9746,
        "opening_hours": _hours("10:00-19:00", "10:00-17:00", "11:00-16:00"),
    },
    "cph-stroget": {
        "kind": "store",
        "address": {
            "street": "Amagertorv 10",
            "postal_code": "1160",
            "city": "København K",
            "country": "DK",
        },
        "latitude": 55.6786,
        "longitude": 12.5760,
        "opening_hours": _hours("10:00-19:00", "10:00-18:00", "11:00-17:00"),
    },
    "wh-boras": {
        "name": "Warehouse Borås",
        "kind": "warehouse",
        "address": {
            "street": "Lagergatan 1",
            "postal_code": "503 30",
            "city": "Borås",
            "country": "SE",
        },
        "latitude": 57.7210,
        "longitude": 12.9401,
        "opening_hours": _hours("07:00-16:00", None, None),
    },
}

# Units received per SKU: the warehouse holds no coffee or buns; Göteborg has only a
# couple of the size-38 coat left.
WAREHOUSE_STOCK = {"coats": 40, "accessories": 60, "shoes": 25}
STORE_STOCK = {"coats": 6, "accessories": 12, "shoes": 4, "coffee": 150, "bakery": 60}
FEW_LEFT = {("gbg-avenyn", "COAT-WOOL-GREY-38"): 2}


def _load_locations_and_stock(session: Session) -> None:
    for code, fields in LOCATIONS.items():
        inventory_service.upsert_location(
            session,
            code=code,
            fields={
                "name": STORES.get(code, ""),
                **fields,
                "offers_pickup": fields["kind"] == "store",
                "active": True,
            },
        )
    for sku, _family, _name, category, *_ in CATALOG:
        for code, fields in LOCATIONS.items():
            per_category = WAREHOUSE_STOCK if fields["kind"] == "warehouse" else STORE_STOCK
            quantity = FEW_LEFT.get((code, sku), per_category.get(category, 0))
            if quantity:
                inventory_service.adjust(
                    session,
                    location=code,
                    sku=sku,
                    quantity=quantity,
                    reason=AdjustmentReason.RECEIPT,
                    reference="demo-delivery-1",
                    actor="demo",
                )


def _message(type_: str, days_ago: float, message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "messageId": message_id, "days_ago": days_ago, **fields}


# Anna browses anonymously on her laptop, signs up for the newsletter there, logs in on her
# phone (the email written differently) with her club card, and then buys the coat at a
# Göteborg till showing that card (``_load_carts_and_orders``): one profile across web,
# app and the store (stories S1, S10).
ANNA_STORY: list[tuple[str, dict[str, Any]]] = [
    ("wk_demo_web", _message("page", 6, "demo-1", anonymousId="anna-laptop", name="Coats")),
    (
        "wk_demo_web",
        _message(
            "track",
            6,
            "demo-2",
            anonymousId="anna-laptop",
            event="Product Viewed",
            properties={"sku": "COAT-WOOL-GREY-38", "name": "Wool coat"},
        ),
    ),
    (
        "wk_demo_web",
        _message(
            "identify",
            5.9,
            "demo-3",
            anonymousId="anna-laptop",
            traits={"email": "anna.svensson@example.com", "newsletter": True},
        ),
    ),
    (
        "wk_demo_app",
        _message(
            "identify",
            3,
            "demo-4",
            userId="anna-1001",
            anonymousId="anna-phone",
            traits={
                "email": " Anna.Svensson@Example.COM ",
                "first_name": "Anna",
                "phone": "070-123 45 67",
                "loyalty_card": "7001 2345 6789 0001",
            },
        ),
    ),
    (
        "wk_demo_app",
        _message("screen", 3, "demo-5", userId="anna-1001", name="Store finder"),
    ),
]


# Erik browsed on a laptop without signing in, then signed up for the newsletter there with
# the email his app account has: the laptop's profile merges into his (an unmerge to try
# on his 360 page in the console).
ERIK_STORY: list[tuple[str, dict[str, Any]]] = [
    ("wk_demo_web", _message("page", 2, "demo-erik-1", anonymousId="erik-laptop", name="Boots")),
    (
        "wk_demo_web",
        _message(
            "identify",
            1.5,
            "demo-erik-2",
            anonymousId="erik-laptop",
            traits={"email": "erik.berg@example.com", "newsletter": True},
        ),
    ),
]


def _load_customer_story(
    session: Session, actors: dict[str, SourceActor], story: list[tuple[str, dict[str, Any]]]
) -> None:
    received = utcnow()
    for write_key, story_message in story:
        raw = dict(story_message)
        raw["timestamp"] = (received - timedelta(days=raw.pop("days_ago"))).isoformat()
        checked = events_service.validate(raw, 0)
        assert isinstance(checked, events_service.ValidMessage), checked
        job = events_service.IngestJob(
            source=actors[write_key], messages=[checked], received_at=received
        )
        events_service.append(session, [job])
        # Placed at once: the story's next message builds on this one's person.
        while events_service.resolve(session, limit=1000):
            pass


def _order(
    session: Session,
    actor: StaffActor,
    lines: list[tuple[str, int]],
    *,
    currency: str = "SEK",
    fulfilment: checkout.FulfilmentRequest | None = None,
    customer: checkout.Customer | None = None,
    unit_price: int | None = None,
    email: str | None = None,
) -> Order:
    return checkout.place_for_customer(
        session,
        actor=actor,
        counter=commerce_service.counter_of(actor, channel=None, location=None),
        currency=currency,
        lines=[checkout.LineRequest(sku, quantity, unit_price) for sku, quantity in lines],
        fulfilment=fulfilment or checkout.FulfilmentRequest(type=Fulfilment.IN_STORE),
        tenders=[checkout.TenderRequest(type="card", reference="tok_demo", amount=None)],
        customer=customer,
        email=email,
        external_reference=None,
    )


def _cart(session: Session, actor: StaffActor, items: list[tuple[str, int]], **person: str) -> UUID:
    state, _ = carts.open_cart(
        session,
        actor=actor,
        counter=commerce_service.counter_of(actor, channel=None, location=None),
        currency="SEK",
        user_id=person.get("user_id"),
        anonymous_id=person.get("anonymous_id"),
        email=person.get("email"),
        items=items,
    )
    return state.cart.id


HOME = {
    "name": "Sofia Lind",
    "street": "Linnégatan 12",
    "postal_code": "413 04",
    "city": "Göteborg",
    "country": "SE",
}


def _load_carts_and_orders(session: Session, staff: dict[str, StaffActor]) -> None:
    """Carts and orders of every channel (S2, S4-S6, S10, S17)."""
    web, app = staff["sk_demo_web"], staff["sk_demo_app"]
    till_gbg, till_cph = staff["sk_demo_pos_gbg"], staff["sk_demo_pos_cph"]
    stockholm = staff["sk_demo_store"]
    # Anna joins the club with the card she already shows at tills, buys the coat at a
    # Göteborg till with it, leaves a scarf in her cart on the laptop, and orders a latte
    # ahead in the app; she is at the store and the barista is on it (S8, S9).
    anna = customers_service.find_profile_id(session, type_="user_id", raw_value="anna-1001")
    assert anna is not None
    loyalty_service.join(session, profile_id=anna, channel="app")
    _order(
        session,
        till_gbg,
        [("COAT-WOOL-GREY-38", 1)],
        customer=checkout.Customer(traits={"loyalty_card": "7001234567890001"}),
    )
    _cart(session, web, [("SCARF-MERINO-RED", 1)], anonymous_id="anna-laptop")
    latte = _order(
        session,
        app,
        [("LATTE-OAT-M", 1), ("BUN-CARDAMOM", 1)],
        fulfilment=checkout.FulfilmentRequest(
            type=Fulfilment.CLICK_AND_COLLECT, location="gbg-avenyn"
        ),
        customer=checkout.Customer(user_id="anna-1001"),
    )
    orders.arrived(session, actor=app, order_id=latte.id)
    orders.start_preparing(session, actor=till_gbg, order_id=latte.id)
    _anna_chats_then_calls(session, staff)
    # Erik orders boots in the app to collect in Stockholm; the store has them ready.
    erik_cart = _cart(
        session,
        app,
        [("BOOTS-CHELSEA-39", 1)],
        user_id="erik-2002",
        anonymous_id="erik-phone",
        email="erik.berg@example.com",
    )
    pickup = checkout.checkout(
        session,
        actor=app,
        counter=commerce_service.counter_of(app, channel=None, location=None),
        cart_id=erik_cart,
        fulfilment=checkout.FulfilmentRequest(
            type=Fulfilment.CLICK_AND_COLLECT, location="sthlm-drottninggatan"
        ),
        tenders=[checkout.TenderRequest(type="card", reference="tok_erik", amount=None)],
        email="erik.berg@example.com",
        external_reference=None,
    )
    orders.mark_ready(session, actor=stockholm, order_id=pickup.id)
    # Sofia has a coat delivered from the web shop and returns it in Göteborg (S6).
    sofia_cart = _cart(session, web, [("COAT-WOOL-GREY-40", 1)], email="sofia.lind@example.com")
    delivered = checkout.checkout(
        session,
        actor=web,
        counter=commerce_service.counter_of(web, channel=None, location=None),
        cart_id=sofia_cart,
        fulfilment=checkout.FulfilmentRequest(type=Fulfilment.DELIVERY, address=HOME),
        tenders=[checkout.TenderRequest(type="card", reference="tok_sofia", amount=None)],
        email="sofia.lind@example.com",
        external_reference=None,
    )
    orders.ship(session, actor=web, order_id=delivered.id)
    returns.receive(
        session,
        actor=till_gbg,
        counter=commerce_service.counter_of(till_gbg, channel=None, location=None),
        order_id=delivered.id,
        items=[returns.ReturnRequest("COAT-WOOL-GREY-40", 1)],
        reason="Too large",
    )
    # Endless aisle: a Stockholm associate orders a coat for a customer, delivered to her
    # home from the warehouse (S17).
    _order(
        session,
        stockholm,
        [("COAT-WOOL-GREY-36", 1)],
        fulfilment=checkout.FulfilmentRequest(type=Fulfilment.DELIVERY, address=HOME),
        customer=checkout.Customer(traits={"phone": "+46 70 765 43 21"}),
    )
    # Coffee in Copenhagen, anonymous; and a Stockholm till still charging last season's
    # scarf price, which the price audit finds (S4).
    _order(session, till_cph, [("LATTE-OAT-M", 2), ("BUN-CARDAMOM", 1)], currency="DKK")
    _order(session, stockholm, [("SCARF-MERINO-RED", 1)], unit_price=44_900)


def _anna_chats_then_calls(session: Session, staff: dict[str, StaffActor]) -> None:
    """S3: Anna asks about her coat in the chat, leaves, and calls; one conversation."""
    chat, phone = staff["sk_demo_chat"], staff["sk_demo_phone"]
    messages.receive_message(
        session,
        actor=chat,
        channel="chat",
        sender=messages.Sender(anonymous_id="anna-phone"),
        message=messages.IncomingMessage(
            direction="inbound",
            body="Hi! A button came off the wool coat I bought in Göteborg. Can I swap it?",
            external_id="demo-chat-1",
        ),
    )
    messages.receive_message(
        session,
        actor=phone,
        channel="phone",
        sender=messages.Sender(phone="070-123 45 67"),
        message=messages.IncomingMessage(
            direction="inbound",
            body="Call notes: Anna calls about the coat's button (asked in the chat first); "
            "wants to swap it in Stockholm on Saturday.",
            external_id="demo-call-1",
        ),
    )


def _train_recommendations(session: Session) -> None:
    """S11: Anna and Erik said yes to personal suggestions; a model is trained on every
    channel's history, so her 360 page, the store view and her reminder show them."""
    from omnikanal.marketing import service as marketing_service
    from omnikanal.recommendations import service as recommendations_service

    for user in ("anna-1001", "erik-2002"):
        person = customers_service.find_profile_id(session, type_="user_id", raw_value=user)
        if person is None:
            continue
        marketing_service.record_consent(
            session,
            profile_id=person,
            purpose="personalisation",
            channel="email",
            granted=True,
            source="preference centre",
            at=utcnow() - timedelta(days=5.8),
        )
    recommendations_service.train(session)


def _anna_is_reminded_of_her_scarf(session: Session) -> None:
    """S2: Anna said yes to marketing email; the scarf left on the laptop is the reminder in
    the message log (sent: written to <data dir>/mail unless OMNIKANAL_SMTP_URL is set)."""
    from omnikanal.marketing import messages as marketing_messages
    from omnikanal.marketing import service as marketing_service
    from omnikanal.marketing import triggers as marketing_triggers

    anna = customers_service.find_profile_id(session, type_="user_id", raw_value="anna-1001")
    assert anna is not None
    marketing_service.record_consent(
        session,
        profile_id=anna,
        purpose="marketing",
        channel="email",
        granted=True,
        source="newsletter sign-up",
        at=utcnow() - timedelta(days=5.9),
    )
    reminder = marketing_triggers.remind(
        session, profile_id=anna, skus=["SCARF-MERINO-RED"], trigger_id="demo"
    )
    if reminder is not None:
        marketing_messages.deliver(session, message_id=reminder.id)


# -- nine months of past shoppers, for the analyst's pages (drawn with a fixed seed, so
# every demo shows the same figures) --

HISTORY_SEED = 18
HISTORY_PEOPLE = 60
HISTORY_DAYS = 270
HISTORY_STORES = ("sthlm-drottninggatan", "gbg-avenyn")
# (sku, price in öre): what the shoppers buy in the history.
GOODS = [
    ("COAT-WOOL-GREY-38", 249_900),
    ("COAT-WOOL-GREY-40", 249_900),
    ("SCARF-MERINO-RED", 49_900),
    ("BOOTS-CHELSEA-39", 149_900),
]
WEB_KEY, APP_KEY = "wk_demo_web", "wk_demo_app"


def _history_plan(
    rng: random.Random, now: datetime
) -> tuple[list[HistoricalOrder], list[tuple[str, dict[str, Any]]]]:
    """Each shopper's orders and the product views before them."""
    orders: list[HistoricalOrder] = []
    views: list[tuple[str, dict[str, Any]]] = []
    for n in range(HISTORY_PEOPLE):
        user = f"shopper-{n:03d}"
        home = rng.choice(("web", "app", "pos"))
        first = now - timedelta(days=rng.uniform(20, HISTORY_DAYS))
        when = first
        for k in range(1 + min(int(rng.expovariate(0.7)), 5)):
            channel = home if rng.random() < 0.6 else rng.choice(("web", "app", "pos"))
            sku, price = rng.choice(GOODS)
            if rng.random() < 0.6 or channel != "pos":
                seen = when - timedelta(days=rng.uniform(0.1, 20))
                key = WEB_KEY if rng.random() < 0.7 else APP_KEY
                views.append((key, _view(user, sku, seen, f"demo-h-{n}-{k}")))
            orders.append(
                HistoricalOrder(
                    number=f"H-{n:03d}-{k}",
                    channel=channel,
                    location=rng.choice(HISTORY_STORES) if channel == "pos" else None,
                    ordered_at=when,
                    currency="SEK",
                    customer=CustomerReference(user_id=user),
                    lines=[
                        HistoricalLine(
                            row=0, sku=sku, quantity=rng.choice((1, 1, 2)), unit_price=price
                        )
                    ],
                )
            )
            when = when + timedelta(days=rng.uniform(10, 80))
            if when > now - timedelta(days=1):
                break
        # Some look and do not buy (yet): the funnel's stalled people.
        if rng.random() < 0.4:
            sku, _ = rng.choice(GOODS)
            seen = now - timedelta(days=rng.uniform(1, 60))
            views.append((WEB_KEY, _view(user, sku, seen, f"demo-h-{n}-look")))
    return orders, views


def _view(user: str, sku: str, at: datetime, message_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user,
        "event": "Product Viewed",
        "properties": {"sku": sku},
        "timestamp": at.isoformat(),
    }


# (staff key, channel): where the rated conversations came in.
SUPPORT = [("sk_demo_chat", "chat"), ("sk_demo_phone", "phone")]


def _rated_conversations(
    session: Session, rng: random.Random, staff: dict[str, StaffActor]
) -> None:
    """Shoppers ask support something; the conversation is closed and they rate it 1-5."""
    for n in range(0, HISTORY_PEOPLE, 3):
        key, channel = rng.choice(SUPPORT)
        receipt = messages.receive_message(
            session,
            actor=staff[key],
            channel=channel,
            sender=messages.Sender(user_id=f"shopper-{n:03d}"),
            message=messages.IncomingMessage(
                direction="inbound",
                body="Is my order on its way?",
                external_id=f"demo-h-ask-{n}",
            ),
        )
        actions.set_status(session, conversation_id=receipt.conversation.id, status="closed")
        score = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 5, 6))[0]
        actions.record_csat(
            session, conversation_id=receipt.conversation.id, score=score, comment=None
        )


def _load_history(
    session: Session, actors: dict[str, SourceActor], staff: dict[str, StaffActor]
) -> None:
    rng = random.Random(HISTORY_SEED)
    now = utcnow()
    orders, views = _history_plan(rng, now)
    for key in (WEB_KEY, APP_KEY):
        checked = []
        for raw in (v for k, v in views if k == key):
            valid = events_service.validate(raw, 0)
            assert isinstance(valid, events_service.ValidMessage), valid
            checked.append(valid)
        job = events_service.IngestJob(source=actors[key], messages=checked, received_at=now)
        events_service.append(session, [job])
    while events_service.resolve(session, limit=1000):
        pass
    started, import_id = utcnow(), new_id()
    outcome = commerce_history.import_orders(session, orders, import_id=import_id)
    assert not outcome.problems, outcome.problems[:3]
    # The shoppers' channels and habits (favourite store ...), as an import's end has them.
    commerce_history.finish_import(session, import_id=import_id, since=started)
    _nps_surveys(session, rng, now)
    _rated_conversations(session, rng, staff)


# How the shoppers answer "how likely are you to recommend us" (0-10): mostly happy.
NPS_WEIGHTS = (1, 1, 1, 1, 2, 3, 4, 8, 10, 9, 8)


def _nps_surveys(session: Session, rng: random.Random, now: datetime) -> None:
    """Three NPS surveys a quarter apart to the history's shoppers; about half answer."""
    from omnikanal.marketing import audiences, campaigns, surveys
    from omnikanal.marketing import tokens as marketing_tokens

    settings = marketing_tokens.settings_of(session)
    people = [
        found
        for n in range(HISTORY_PEOPLE)
        if (
            found := customers_service.find_profile_id(
                session, type_="user_id", raw_value=f"shopper-{n:03d}"
            )
        )
        is not None
    ]
    audience = audiences.create_listed(
        session, name="Shoppers of the last nine months", profile_ids=people
    )
    for months_ago in (6, 3, 0):
        campaign = campaigns.create(
            session,
            name=f"How are we doing? ({months_ago} months ago)",
            audience_id=audience.id,
            channels=["email", "sms"],
            subject="How are we doing?",
            body="Two minutes for us: would you recommend Norrsken to a friend?",
            survey=surveys.NPS,
        )
        for person in people:
            if rng.random() < 0.5:
                continue
            url = surveys.answer_url(
                settings,
                campaign_id=campaign.id,
                profile_id=person,
                channel=rng.choice(("email", "email", "sms")),
            )
            score = rng.choices(range(11), weights=NPS_WEIGHTS)[0]
            answer, _ = surveys.answer(
                session, token=url.rsplit("/", 1)[1], score=score, comment=None
            )
            # Answered in the weeks after that survey went out.
            answer.answered_at = now - timedelta(days=30 * months_ago + 25 - rng.uniform(0, 20))
    session.flush()


def _load_marketing(session: Session) -> None:
    """S12: the marketer's audiences, a campaign sent by email and SMS with what became of
    it (Anna opened it and followed its link), a draft to preview, and Erik waiting for a
    coat to come back in his size."""
    from omnikanal.marketing import audiences, campaigns, lifecycle
    from omnikanal.marketing import messages as marketing_messages
    from omnikanal.marketing import service as marketing_service
    from omnikanal.marketing.models import MessageStatus
    from omnikanal.timers import service as timers_service

    erik = customers_service.find_profile_id(session, type_="user_id", raw_value="erik-2002")
    if erik is not None:
        marketing_service.record_consent(
            session,
            profile_id=erik,
            purpose="marketing",
            channel="email",
            granted=True,
            source="store form",
            at=utcnow() - timedelta(days=3),
        )
        lifecycle.ask_for_stock_alert(session, profile_id=erik, sku="COAT-WOOL-GREY-36")
    reachable = audiences.create(
        session, name="Everyone with an email address", rule={"trait": "email", "exists": True}
    )
    offline = audiences.create(
        session, name="Never bought online", rule={"never_bought_on": ["web", "app"]}
    )
    audiences.create(
        session,
        name="Looked at the boots, did not buy",
        rule={"viewed": "BOOTS-CHELSEA-39", "at_least": 1, "without_buying": True},
    )
    sent = campaigns.create(
        session,
        name="Autumn coats",
        audience_id=reachable.id,
        channels=["email", "sms"],
        subject="The wool coat is back in grey",
        body="Our warmest coat is back in every size.\n\nTry it on in any store, or order "
        "online and pick it up where you like.",
        link_url="https://shop.norrsken.example/coats",
    )
    campaigns.send(session, campaign_id=sent.id)
    timer = timers_service.get(session, kind=campaigns.SEND, key=str(sent.id))
    assert timer is not None
    campaigns.send_timer(session, timer)
    timers_service.cancel(session, kind=campaigns.SEND, key=str(sent.id))
    now = utcnow()
    for message in campaigns.campaign_messages(session, campaign_id=sent.id):
        if message.status != MessageStatus.QUEUED:
            continue
        delivered = marketing_messages.deliver(session, message_id=message.id)
        if delivered is not None and delivered.recipient == "anna.svensson@example.com":
            marketing_messages.mark_opened(session, message_id=delivered.id, at=now)
            marketing_messages.mark_clicked(session, message_id=delivered.id, at=now)
    campaigns.create(
        session,
        name="Christmas in the stores",
        audience_id=offline.id,
        channels=["email", "push"],
        subject="Christmas opening hours",
        body="Our stores are open late every day until Christmas Eve, with mulled wine "
        "and cardamom buns.",
    )


# The reminder test: who was reminded, and how each variant converts (every channel).
EXPERIMENT_PEOPLE = 800
EXPERIMENT_DAYS = 28
EXPERIMENT_RATES = {"ten-off": 0.09, "free-delivery": 0.15}


def _load_experiment(session: Session) -> None:
    """S14: free delivery against 10 % off in the abandoned-cart email, running for four
    weeks: 800 reminded people (each shown their variant by the email), and what they
    bought after it on the web, in the app or at a till, and before it (for CUPED). A
    promotion gives the 10 % to that variant's people only."""
    from omnikanal.experiments import service as experiments_service
    from omnikanal.experiments.models import Experiment

    rng = random.Random(HISTORY_SEED + 1)
    now = utcnow()
    started = now - timedelta(days=EXPERIMENT_DAYS)
    experiment = experiments_service.create(
        session,
        fields={
            "key": "reminder-offer",
            "name": "Free delivery against 10 % off in the abandoned-cart email",
            "unit": "person",
            "variants": [
                {
                    "key": "ten-off",
                    "weight": 1,
                    "subject": "Your cart is waiting: 10 % off today",
                    "offer": "10 % off everything in your cart, today only.",
                    "promotion": "REMIND10",
                },
                {
                    "key": "free-delivery",
                    "weight": 1,
                    "subject": "Your cart is waiting: free delivery",
                    "offer": "Free delivery on this order.",
                },
            ],
            "metric": "conversion",
            "guardrails": ["revenue", "aov"],
            "window_days": 14,
            "target": "abandoned_cart",
        },
    )
    experiments_service.start(session, key=experiment.key)
    session.get(Experiment, experiment.id).started_at = started  # type: ignore[union-attr]
    catalog_service.create_promotion(
        session,
        fields={
            "code": "REMIND10",
            "name": "10 % off from the reminder (test)",
            "kind": "percent",
            "value": 1000,
            "currency": None,
            "skus": [sku for sku, _ in GOODS],
            "categories": [],
            "channels": [],
            "starts_at": started,
            "ends_at": now + timedelta(days=30),
            "experiment": experiment.key,
            "variant": "ten-off",
        },
    )
    orders: list[HistoricalOrder] = []
    for n in range(EXPERIMENT_PEOPLE):
        user = f"reminded-{n:03d}"
        at = started + timedelta(days=rng.uniform(0, EXPERIMENT_DAYS - 1))
        placed = customers_service.place(
            session, identifiers=[IdentifierKey("user_id", user)], channel="web", at=at
        )
        variant = experiments_service.record_past_exposure(
            session, key=experiment.key, profile_id=placed.profile_id, at=at, channel="email"
        )
        # Some bought before the reminder too: the pre-period CUPED adjusts by.
        bought_before = rng.random() < 0.25
        if bought_before:
            orders.append(
                _experiment_order(
                    rng, f"X-{n:03d}-0", user, at - timedelta(days=rng.uniform(1, 13))
                )
            )
        rate = EXPERIMENT_RATES[variant] * (1.6 if bought_before else 1.0)
        if rng.random() < rate:
            when = min(at + timedelta(days=rng.expovariate(1 / 3)), now - timedelta(minutes=5))
            orders.append(_experiment_order(rng, f"X-{n:03d}-1", user, when))
    session.flush()
    started, import_id = utcnow(), new_id()
    outcome = commerce_history.import_orders(session, orders, import_id=import_id)
    assert not outcome.problems, outcome.problems[:3]
    commerce_history.finish_import(session, import_id=import_id, since=started)


def _experiment_order(rng: random.Random, number: str, user: str, at: datetime) -> HistoricalOrder:
    sku, price = rng.choice(GOODS)
    channel = rng.choice(("web", "web", "app", "pos"))
    return HistoricalOrder(
        number=number,
        channel=channel,
        location=rng.choice(HISTORY_STORES) if channel == "pos" else None,
        ordered_at=at,
        currency="SEK",
        customer=CustomerReference(user_id=user),
        lines=[HistoricalLine(row=0, sku=sku, quantity=1, unit_price=price)],
    )
