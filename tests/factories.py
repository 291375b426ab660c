"""Plain functions that make test data through the services, committed."""

import base64

from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Channel, Role
from omnikanal.uow import unit_of_work


def create_secret_key(
    factory: sessionmaker[Session],
    *,
    role: Role = Role.ADMIN,
    location: str | None = None,
    channel: Channel | None = None,
) -> str:
    with unit_of_work(factory) as session:
        _, secret = auth_service.create_secret_key(
            session, role=role, name=f"test {role.value}", location=location, channel=channel
        )
    return secret


def create_source(
    factory: sessionmaker[Session],
    *,
    channel: Channel = Channel.WEB,
    name: str = "test source",
    location: str | None = None,
) -> str:
    with unit_of_work(factory) as session:
        _, write_key = auth_service.create_source(
            session, name=name, channel=channel, location=location
        )
    return write_key


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def basic(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}
