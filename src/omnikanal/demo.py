"""The demo retailer: a Nordic fashion-and-coffee chain (Norrsken), loaded once.

Demo keys are fixed strings so that every `make run` can print them; they are for a
laptop demo only, never for a real database.
"""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from omnikanal.auth import repository as auth_repository
from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Channel, Role, SecretKey, Source


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
]


def is_loaded(session: Session) -> bool:
    return (
        auth_repository.secret_key_by_hash(session, auth_service.hash_key("sk_demo_admin"))
        is not None
    )


def load(session: Session) -> bool:
    """Load the demo retailer unless it is there already; True when it was loaded now."""
    if is_loaded(session):
        return False
    for source in SOURCES:
        session.add(
            Source(
                name=source.name,
                channel=source.channel.value,
                location=source.location,
                write_key_hash=auth_service.hash_key(source.write_key),
                key_prefix=source.write_key[:10],
            )
        )
    for key in KEYS:
        session.add(
            SecretKey(
                name=key.name,
                role=key.role.value,
                location=key.location,
                key_hash=auth_service.hash_key(key.secret_key),
                key_prefix=key.secret_key[:10],
            )
        )
    session.flush()
    return True
