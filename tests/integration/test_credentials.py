import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Channel, Role, SecretKey, Source
from omnikanal.errors import Forbidden, Unauthorized
from tests.factories import basic, bearer, create_secret_key, create_source


def test_admin_creates_a_source_and_sees_its_write_key_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    admin = create_secret_key(session_factory)
    created = client.post(
        "/v1/sources",
        json={"name": "Tills Malmö", "channel": "pos", "location": "malmo-1"},
        headers=bearer(admin),
    )
    assert created.status_code == 201
    write_key = created.json()["write_key"]
    assert write_key.startswith("wk_")
    listed = client.get("/v1/sources", headers=bearer(admin)).json()
    assert [s["name"] for s in listed] == ["Tills Malmö"]
    assert "write_key" not in listed[0]


def test_keys_are_stored_only_as_hashes(session_factory: sessionmaker[Session]) -> None:
    secret = create_secret_key(session_factory, role=Role.AGENT)
    write_key = create_source(session_factory)
    with session_factory() as session:
        key = session.scalars(select(SecretKey)).one()
        source = session.scalars(select(Source)).one()
    assert key.key_hash == auth_service.hash_key(secret) != secret
    assert source.write_key_hash == auth_service.hash_key(write_key) != write_key


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_not_a_key"}, {"Authorization": "Basic !!!"}],
    ids=["missing", "unknown", "garbled"],
)
def test_missing_or_unknown_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/sources", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "Bearer" in response.headers["www-authenticate"]


def test_write_key_cannot_read(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    write_key = create_source(session_factory)
    for headers in (basic(write_key), bearer(write_key)):
        response = client.get("/v1/sources", headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "wrong_key_kind"


def test_a_role_without_permission_is_403(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_secret_key(session_factory, role=Role.AGENT)
    response = client.post("/v1/keys", json={"role": "admin"}, headers=bearer(agent))
    assert response.status_code == 403
    assert response.json()["code"] == "role_not_allowed"


def test_revoked_key_stops_working(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    admin = create_secret_key(session_factory)
    other = client.post("/v1/keys", json={"role": "admin"}, headers=bearer(admin)).json()
    assert client.get("/v1/keys", headers=bearer(other["secret_key"])).status_code == 200
    revoked = client.post(f"/v1/keys/{other['id']}/revoke", headers=bearer(admin))
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/v1/keys", headers=bearer(other["secret_key"])).status_code == 401


def test_secret_key_cannot_ingest_and_disabled_source_is_unknown(session: Session) -> None:
    _, secret = auth_service.create_secret_key(session, role=Role.ADMIN, name="", location=None)
    with pytest.raises(Forbidden):
        auth_service.authenticate_source(session, write_key=secret)
    source, write_key = auth_service.create_source(
        session, name="web", channel=Channel.WEB, location=None
    )
    assert auth_service.authenticate_source(session, write_key=write_key).channel is Channel.WEB
    auth_service.disable_source(session, source_id=source.id)
    with pytest.raises(Unauthorized):
        auth_service.authenticate_source(session, write_key=write_key)
    session.rollback()
