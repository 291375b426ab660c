"""Plain functions that make test data through the services, committed."""

import base64
import functools
import re
from dataclasses import dataclass
from uuid import UUID, uuid4

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth import service as auth_service
from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Channel, Role, StaffAccount
from omnikanal.uow import unit_of_work

STAFF_PASSWORD = "correct horse battery"


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


@dataclass(frozen=True)
class StaffLogin:
    """A staff account made for a test, with what its person signs in with."""

    id: UUID
    email: str
    password: str
    name: str
    totp_secret: str | None = None


@functools.cache
def _password_hash(password: str) -> str:
    # Argon2 is slow on purpose; tests reuse one hash per password.
    return staff_accounts.hash_password(password)


def create_staff_account(
    factory: sessionmaker[Session],
    *,
    role: Role,
    location: str | None = None,
    password: str = STAFF_PASSWORD,
    email: str | None = None,
    name: str | None = None,
    totp_secret: str | None = None,
) -> StaffLogin:
    """An active account of ``role`` (store staff need ``location``)."""
    email = email or f"{role.value}-{uuid4().hex[:8]}@staff.example"
    name = name or f"test {role.value}"
    with unit_of_work(factory) as session:
        account, _ = staff_accounts.create_account(
            session, email=email, name=name, role=role, location=location, password=None
        )
        stored = session.get(StaffAccount, account.id)
        assert stored is not None
        stored.password_hash = _password_hash(password)
        stored.invite_token_hash = None
        stored.invite_expires_at = None
        stored.totp_secret = totp_secret
    return StaffLogin(account.id, account.email, password, name, totp_secret)


def demo_login(role: Role, location: str | None = None) -> StaffLogin:
    """The demo retailer's person of ``role`` (store staff: Stockholm unless told)."""
    wanted = location or ("sthlm-drottninggatan" if role is Role.STORE else None)
    person = next(p for p in demo.STAFF if p.role is role and p.location == wanted)
    return StaffLogin(UUID(int=0), person.email, person.password, person.name)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(
    client: TestClient,
    login: StaffLogin,
    *,
    code: str | None = None,
    next_path: str = "/console",
) -> None:
    """Sign in to the console as ``login``'s person; the client then carries the cookie."""
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={
            "email": login.email,
            "password": login.password,
            "code": code or "",
            "csrf_token": csrf_of(page.text),
            "next_path": next_path,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
