"""S16: a person's data, exported as one ZIP with a file per part and a README."""

import io
import zipfile
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from omnikanal.auth.models import Role
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from omnikanal.privacy.models import AccessLogEntry
from tests.integration.commerce.conftest import Shop
from tests.integration.conversations.conftest import Desk
from tests.integration.privacy.people import (
    EMAIL,
    FIRST,
    PHONE,
    everything_of_anna,
    headers_of,
    identify,
)


def unzip(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {
            name: archive.read(name).decode()
            if name.endswith(".txt")
            else orjson.loads(archive.read(name))
            for name in archive.namelist()
        }


def test_the_export_holds_every_part_of_the_person(shop: Shop, desk: Desk, app: FastAPI) -> None:
    anna = everything_of_anna(shop, desk, app)
    response = shop.client.get(f"/v1/profiles/{anna['profile_id']}/export", headers=shop.admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    files = unzip(response.content)

    for stem in (
        "profile", "identifiers", "traits", "events", "carts", "orders", "returns",
        "loyalty", "conversations", "consents", "messages", "notifications", "merge_log",
    ):  # fmt: skip
        assert f"{stem}.json" in files
        assert f"{stem}.json: " in files["README.txt"]
    assert files["profile.json"][0]["id"] == anna["profile_id"]
    assert {(i["type"], i["value"]) for i in files["identifiers.json"]} >= {
        ("email", EMAIL),
        ("phone", PHONE),
    }
    assert files["traits.json"][0]["traits"]["first_name"] == FIRST
    assert any(e["type"] == "identify" for e in files["events.json"])
    assert [c["id"] for c in files["carts.json"] if c["status"] == "active"] == [anna["cart_id"]]
    order = next(o for o in files["orders.json"] if o["id"] == anna["order"]["id"])
    assert order["email"] == EMAIL
    assert order["delivery_address"]["phone"] == PHONE
    assert len(order["lines"]) == 1
    assert order["tenders"][0]["type"] == "card"
    assert files["loyalty.json"]["memberships"][0]["profile_id"] == anna["profile_id"]
    assert any(e["reason"] == "earn" for e in files["loyalty.json"]["ledger"])
    (conversation,) = files["conversations.json"]
    assert FIRST in conversation["transcript"][0]["body"]
    consents = files["consents.json"]["now"]
    assert {"purpose": "marketing", "channel": "email", "granted": True} in [
        {k: c[k] for k in ("purpose", "channel", "granted")} for c in consents
    ]
    reminder = next(m for m in files["messages.json"] if m["kind"] == "abandoned_cart")
    assert reminder["recipient"] == EMAIL
    assert reminder["status"] == "sent"


def test_a_merged_away_id_exports_its_survivor(shop: Shop) -> None:
    phone_side = identify(shop, "phone-7", first_name="Bo")
    laptop_side = identify(shop, "laptop-7", email="bo@example.com")
    # The phone signs in with Bo's email: the two profiles become one.
    survivor = identify(shop, "phone-7", email="bo@example.com")
    merged_away = laptop_side if survivor == phone_side else phone_side
    files = unzip(shop.client.get(f"/v1/profiles/{merged_away}/export", headers=shop.admin).content)
    assert {p["id"] for p in files["profile.json"]} == {phone_side, laptop_side}
    assert [p["id"] for p in files["profile.json"] if p["merged_into"] is None] == [survivor]


def test_agents_say_why_and_other_roles_may_not_export(shop: Shop) -> None:
    profile_id = identify(shop, "tablet-1", email="cy@example.com")
    path = f"/v1/profiles/{profile_id}/export"
    without = shop.client.get(path, headers=shop.agent)
    assert without.status_code == 422, without.text
    assert without.json()["code"] == "reason_required"
    assert shop.client.get(path, headers=shop.agent, params={"reason": " "}).status_code == 422
    with_reason = shop.client.get(path, headers=shop.agent, params={"reason": "ticket 42"})
    assert with_reason.status_code == 200, with_reason.text
    for role in (Role.STORE, Role.MARKETER):
        assert shop.client.get(path, headers=headers_of(shop, role)).status_code == 403
    assert shop.client.get(path).status_code == 401
    with shop.factory() as session:
        logged = session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == "export")
        ).all()
    assert [(e.profile_id, e.reason, e.actor_role) for e in logged] == [
        (logged[0].profile_id, "ticket 42", "agent")
    ]
    assert str(logged[0].profile_id) == profile_id


def test_an_unknown_profile_is_404(shop: Shop) -> None:
    unknown = "00000000-0000-7000-8000-000000000000"
    response = shop.client.get(f"/v1/profiles/{unknown}/export", headers=shop.admin)
    assert response.status_code == 404


def test_the_command_line_writes_the_same_zip(
    shop: Shop, database_url: str, tmp_path: Path, settings: Settings
) -> None:
    profile_id = identify(shop, "kiosk-1", email="di@example.com", first_name="Di")
    out = tmp_path / "di.zip"
    env = {"OMNIKANAL_DATABASE_URL": database_url, "OMNIKANAL_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(
        cli, ["privacy", "export", "--profile", profile_id, "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    files = unzip(out.read_bytes())
    assert files["traits.json"][0]["traits"]["first_name"] == "Di"
    assert "README.txt" in files
    unknown = CliRunner().invoke(
        cli,
        [
            "privacy",
            "export",
            "--profile",
            "00000000-0000-7000-8000-000000000000",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert unknown.exit_code == 1
    assert "No profile" in unknown.output
