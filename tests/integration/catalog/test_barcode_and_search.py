"""A product's barcode through HTTP (added to ``PUT /v1/products/{sku}``, one product per
barcode) and product search by part of the name or SKU or the whole barcode, paged."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.catalog import service as catalog_service
from tests.factories import bearer, create_secret_key
from tests.integration.catalog.test_catalog import COAT, Headers


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Headers:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def coats(client: TestClient, admin: Headers) -> list[str]:
    skus = []
    for n, size in enumerate(("36", "38", "40")):
        sku = f"COAT-WOOL-GREY-{size}"
        body = COAT | {"attributes": {"size": size}, "barcode": f"735001200010{n}"}
        assert client.put(f"/v1/products/{sku}", json=body, headers=admin).status_code == 201
        skus.append(sku)
    scarf = COAT | {"name": "Merino scarf (100% wool)", "family": "SCARF", "category": "scarves"}
    assert client.put("/v1/products/SCARF-RED", json=scarf, headers=admin).status_code == 201
    return skus


def skus_of(client: TestClient, headers: Headers, **params: str) -> tuple[list[str], str | None]:
    response = client.get("/v1/products", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [p["sku"] for p in body["items"]], body["next_cursor"]


def test_the_barcode_is_kept_read_back_and_one_products_only(
    client: TestClient, admin: Headers, coats: list[str]
) -> None:
    read = client.get(f"/v1/products/{coats[0]}", headers=admin).json()
    assert read["barcode"] == "7350012000100"
    taken = client.put(
        "/v1/products/COAT-WOOL-GREY-42", json=COAT | {"barcode": "7350012000100"}, headers=admin
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "barcode_taken"
    assert taken.json()["errors"][0]["field"] == "body.barcode"
    # The product itself may be put again with its own barcode.
    again = client.put(
        f"/v1/products/{coats[0]}", json=COAT | {"barcode": "7350012000100"}, headers=admin
    )
    assert again.status_code == 200
    for bad in ("12", "73 500", "x" * 65, "ean/1"):
        refused = client.put(
            f"/v1/products/{coats[0]}", json=COAT | {"barcode": bad}, headers=admin
        )
        assert refused.status_code == 422, bad
        assert refused.json()["errors"][0]["field"] == "body.barcode"
    # Left out: the product has none (the field is optional, as before it existed).
    assert (
        client.put(f"/v1/products/{coats[0]}", json=COAT, headers=admin).json()["barcode"] is None
    )


def test_search_by_name_sku_or_barcode_paged(
    client: TestClient, session_factory: sessionmaker[Session], coats: list[str]
) -> None:
    agent = bearer(create_secret_key(session_factory, role=Role.AGENT))
    assert skus_of(client, agent, q="WOOL COAT")[0] == coats
    assert skus_of(client, agent, q="grey-4")[0] == ["COAT-WOOL-GREY-40"]
    assert skus_of(client, agent, q="7350012000101")[0] == ["COAT-WOOL-GREY-38"]
    assert skus_of(client, agent, q="735001200010")[0] == []
    # % and _ are letters to look for, not patterns.
    assert skus_of(client, agent, q="100%")[0] == ["SCARF-RED"]
    assert skus_of(client, agent, q="_")[0] == []
    first, cursor = skus_of(client, agent, q="wool", limit="2")
    assert first == coats[:2]
    assert cursor is not None
    rest, last = skus_of(client, agent, q="wool", limit="2", cursor=cursor)
    assert rest == [coats[2], "SCARF-RED"]
    assert last is None
    too_long = client.get("/v1/products", params={"q": "x" * 201}, headers=agent)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "query.q"


def test_the_service_searches_in_pages(
    client: TestClient, session_factory: sessionmaker[Session], coats: list[str]
) -> None:
    with session_factory() as session:
        assert catalog_service.search(session, text="  ") == []
        page = catalog_service.search(session, text="Coat", limit=2)
        assert [p.sku for p in page] == coats[:2]
        after = catalog_service.search(session, text="Coat", after=page[-1].sku, limit=2)
        assert [p.sku for p in after] == coats[2:]
