"""The served OpenAPI document tells every answer, and a 405 names every method of its path."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import bearer, create_secret_key

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/v1/unsubscribe/{token}"),
    ("POST", "/v1/unsubscribe/{token}"),
    ("GET", "/v1/surveys/{token}"),
    ("POST", "/v1/surveys/{token}"),
}
INGESTION = {"identify", "track", "page", "screen", "alias", "group", "batch"}


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return bearer(create_secret_key(session_factory))


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


PAGE_LINKS = ("/v1/unsubscribe/", "/v1/surveys/")


def each_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_error_answer_is_a_documented_problem(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        responses = operation["responses"]
        assert {"400", "500"} <= responses.keys(), (method, path)
        for status, answer in responses.items():
            if int(status) >= 400:
                # A link people open (unsubscribe, survey) answers them a page as well.
                problem = {k: v for k, v in answer["content"].items() if k != "text/html"}
                assert problem == PROBLEM, (method, path, status)
                if len(answer["content"]) > 1:
                    assert path.startswith(PAGE_LINKS), (method, path, status)
    schemas = document["components"]["schemas"]
    assert {"type", "title", "status", "detail", "code"} <= set(schemas["Problem"]["required"])
    assert {"request_id", "errors"} <= schemas["Problem"]["properties"].keys()
    assert set(schemas["ProblemFieldError"]["properties"]) == {"field", "message", "type"}
    assert "HTTPValidationError" not in schemas


def test_validation_answers_are_problems_not_fastapis_json(document: dict[str, Any]) -> None:
    validated = [
        (method, path)
        for method, path, operation in each_operation(document)
        if "422" in operation["responses"]
    ]
    assert len(validated) > 70
    assert ("POST", "/v1/keys") in validated


def test_credentials_are_security_schemes_with_401_and_403(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["SecretKey"]["scheme"] == "bearer"
    assert schemes["WriteKey"]["scheme"] == "basic"
    for method, path, operation in each_operation(document):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            assert "401" not in operation["responses"], (method, path)
            continue
        expected = "WriteKey" if path.removeprefix("/v1/") in INGESTION else "SecretKey"
        assert operation["security"] == [{expected: []}], (method, path)
        assert {"401", "403"} <= operation["responses"].keys(), (method, path)


def test_what_a_request_names_may_be_missing_or_conflict(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        responses = operation["responses"]
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"404", "413"} <= responses.keys(), (method, path)
        if method in {"POST", "PUT", "DELETE"} and path.removeprefix("/v1/") not in INGESTION:
            assert "409" in responses, (method, path)
        if method == "POST" and path.removeprefix("/v1/") not in INGESTION:
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert "Idempotency-Key" in headers, (method, path)


def test_upserts_document_created_and_found(document: dict[str, Any]) -> None:
    for path, method in [("/v1/products/{sku}", "put"), ("/v1/carts", "post")]:
        responses = document["paths"][path][method]["responses"]
        assert {"200", "201"} <= responses.keys(), path
        assert responses["200"]["content"] == responses["201"]["content"]


def test_ready_documents_503(document: dict[str, Any]) -> None:
    assert document["paths"]["/ready"]["get"]["responses"]["503"]["content"] == PROBLEM


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/sources", "GET, POST"),
        ("PATCH", "/v1/products/SKU-1", "GET, PUT"),
        ("DELETE", "/v1/loyalty/program", "GET, PUT"),
        ("PATCH", "/v1/profiles/4b8f3a52-0000-4000-8000-000000000000/consents", "GET, PUT"),
        ("POST", "/health", "GET"),
        # Not the conversation called "messages": conversation ids are UUIDs.
        ("GET", "/v1/conversations/messages", "POST"),
    ],
)
def test_method_not_allowed_names_every_method_of_the_path(
    client: TestClient, admin: dict[str, str], method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=admin)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"


def test_each_ingestion_path_documents_its_own_message_type(document: dict[str, Any]) -> None:
    for type_ in ("identify", "track", "page", "screen", "alias", "group"):
        body = document["paths"][f"/v1/{type_}"]["post"]["requestBody"]["content"]
        schema = body["application/json"]["schema"]
        assert schema["properties"]["type"]["const"] == type_
        assert "type" not in schema.get("required", [])


IDENTITY_READS = {
    "/v1/profiles",
    "/v1/profiles/{profile_id}",
    "/v1/profiles/{profile_id}/timeline",
    "/v1/profiles/{profile_id}/merges",
    "/v1/profiles/{profile_id}/consents",
    "/v1/carts/current",
    "/v1/conversations/{conversation_id}/context",
    "/v1/loyalty/{profile_id}",
}


def test_reads_that_wait_for_resolution_document_the_position_and_503(
    document: dict[str, Any],
) -> None:
    waiting = set()
    for method, path, operation in each_operation(document):
        names = {p["name"] for p in operation.get("parameters", [])}
        if "after" not in names:
            if path != "/ready":  # any other may find the database busy
                busy = operation["responses"]["503"]
                assert "database is busy" in busy["description"], (method, path)
                assert "Retry-After" in busy["headers"], (method, path)
            continue
        waiting.add(path)
        assert method == "GET"
        assert "Omnikanal-Position" in names
        answer = operation["responses"]["503"]
        assert answer["content"] == PROBLEM
        assert "Retry-After" in answer["headers"]
    assert waiting == IDENTITY_READS
