"""The commerce tests' small retailer, plus the back ends of the conversation channels:
the chat widget, the phone system, the email and social inboxes."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.integration.commerce.conftest import Headers, Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture, re-exported


@dataclass(frozen=True)
class Desk:
    shop: Shop
    chat: Headers
    phone: Headers
    email: Headers
    social: Headers
    chat_events: Headers

    @property
    def agent(self) -> Headers:
        return self.shop.agent

    def ok(self, response: Any, status: int = 200) -> Any:
        return self.shop.ok(response, status)

    def post(self, path: str, body: Any, headers: Headers) -> Any:
        return self.shop.client.post(path, json=body, headers=headers)

    def get(self, path: str, headers: Headers, **params: Any) -> Any:
        return self.shop.client.get(path, params=params, headers=headers)

    def message(self, headers: Headers, body: str = "Hello?", **fields: Any) -> Any:
        return self.post("/v1/conversations/messages", {"body": body, **fields}, headers)

    def count(self, model: type) -> int:
        with self.shop.factory() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def desk(shop: Shop, session_factory: sessionmaker[Session]) -> Desk:
    def key(channel: Channel) -> Headers:
        return bearer(create_secret_key(session_factory, role=Role.CHANNEL, channel=channel))

    return Desk(
        shop=shop,
        chat=key(Channel.CHAT),
        phone=key(Channel.PHONE),
        email=key(Channel.EMAIL),
        social=key(Channel.SOCIAL),
        chat_events=basic(create_source(session_factory, channel=Channel.CHAT, name="Chat")),
    )
