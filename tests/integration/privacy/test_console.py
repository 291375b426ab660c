"""S16 in the console: an admin exports a customer's data and erases them from the 360
page, after a confirmation naming the person; other roles see neither."""

import io
import zipfile

from fastapi import FastAPI

from omnikanal.auth.models import Role
from tests.factories import create_staff_account
from tests.integration.commerce.conftest import Shop
from tests.integration.console.test_signin import csrf_of, sign_in
from tests.integration.privacy.people import identify, run_erasure


def test_an_admin_exports_and_erases_from_the_360_page(shop: Shop, app: FastAPI) -> None:
    profile_id = identify(shop, "web-5", email="gun@example.com", first_name="Gunilla")
    client = shop.client
    sign_in(client, create_staff_account(shop.factory, role=Role.ADMIN))
    page = client.get(f"/console/customers/{profile_id}")
    assert page.status_code == 200, page.text
    assert "Export data" in page.text
    assert "Erase this person" in page.text

    exported = client.get(f"/console/customers/{profile_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert "README.txt" in archive.namelist()

    confirm = client.get(f"/console/customers/{profile_id}/erase")
    assert confirm.status_code == 200
    assert "Erase Gunilla?" in confirm.text
    assert "gun@example.com" in confirm.text
    forged = client.post(
        f"/console/customers/{profile_id}/erase",
        data={"csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code in (400, 403)
    started = client.post(
        f"/console/customers/{profile_id}/erase",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    status_page = started.headers["location"]
    assert "Erasure queued" in client.get(status_page).text
    run_erasure(app)
    assert "Erasure done" in client.get(status_page).text
    assert shop.client.get(f"/v1/profiles/{profile_id}", headers=shop.admin).status_code == 404


def test_an_agent_sees_no_export_or_erase(shop: Shop) -> None:
    profile_id = identify(shop, "web-6", email="hj@example.com")
    client = shop.client
    sign_in(client, create_staff_account(shop.factory, role=Role.AGENT))
    page = client.get(f"/console/customers/{profile_id}")
    assert page.status_code == 200
    assert "Erase this person" not in page.text
    assert client.get(f"/console/customers/{profile_id}/erase").status_code == 403
    assert client.get(f"/console/customers/{profile_id}/export").status_code == 403
