"""The OpenAPI document, completed so it tells every answer an operation can give.

FastAPI documents an operation's success and, where it has parameters, a 422 as
``application/json``. The hub answers more than that: every error is a problem
(RFC 9457) sent as ``application/problem+json``, from the edge (body limits, gzip,
Idempotency-Key), the credential checks and the domains. Rather than list those on each
endpoint by hand, this module adds them from facts about each route — which credential it
takes, whether it has path parameters or a body, its method — so a new endpoint is
documented without anyone remembering to. It also names the two credentials as security
schemes and the ``Idempotency-Key`` header the edge honours on every POST.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from omnikanal.auth.dependencies import require_roles, source_actor
from omnikanal.auth.permissions import public_route
from omnikanal.errors import PROBLEM_CONTENT_TYPE, Problem
from omnikanal.idempotency.service import MAX_KEY_LENGTH

Credential = Literal["secret", "write"]

SECRET_KEY_SCHEME = "SecretKey"
WRITE_KEY_SCHEME = "WriteKey"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    SECRET_KEY_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "A secret key (`omnikanal keys create`) as `Authorization: Bearer "
        "<key>`; its role limits what it may do, admin may do everything.",
    },
    WRITE_KEY_SCHEME: {
        "type": "http",
        "scheme": "basic",
        "description": "A source's write key as the HTTP Basic user name with an empty "
        "password, as Segment's clients send it (`Bearer <key>` is taken too).",
    },
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Why each status can be answered; every one carries a Problem.
ANSWERS: dict[int, str] = {
    400: "Bad request: malformed JSON, a string with a NUL character, JSON nested too deep, "
    "a cursor that is not ours, an unsupported `Content-Encoding`, an invalid "
    "`Idempotency-Key`, or (ingestion) no valid message.",
    401: "No key, or an unknown or revoked one.",
    403: "The key's role may not do this, or a write key was sent for a secret key's work.",
    404: "Something the request names (in its path or body) does not exist.",
    409: "The current state does not allow this, or the `Idempotency-Key` was used for "
    "another request (or is in use by one still running).",
    413: "The body is larger than the limit (after gzip decompression).",
    422: "The request is well-formed but invalid; `errors` names each field.",
    500: "Something went wrong on our side; quote `request_id`.",
    503: "The database is busy (another writer held SQLite's lock too long, PostgreSQL "
    "broke the transaction off, or no connection came free): send it again after "
    "`Retry-After` seconds.",
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before asking again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# The few answers no rule can see: /ready says why it is not ready.
EXTRA_ANSWERS: dict[tuple[str, str], dict[int, str]] = {
    ("GET", "/ready"): {
        503: "The database does not answer, migrations are pending, the ingest writer is "
        "down, or identity resolution lags past OMNIKANAL_MAX_RESOLUTION_LAG_SECONDS."
    },
}

ANSWERS_ATTRIBUTE = "__omnikanal_answers__"
Call = TypeVar("Call", bound=Callable[..., Any])


@dataclass(frozen=True)
class Answer:
    """An answer a dependency adds to every operation that uses it."""

    why: str
    headers: dict[str, Any] = field(default_factory=dict)


def answers(declared: dict[int, Answer]) -> Callable[[Call], Call]:
    """Mark a dependency with the answers it can give, so each operation using it
    documents them (the same way the credential dependencies add 401 and 403)."""

    def mark(call: Call) -> Call:
        setattr(call, ANSWERS_ATTRIBUTE, declared)
        return call

    return mark


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key to retry safely: the first successful answer is "
    "replayed (with `Idempotent-Replayed: true`) instead of doing the work twice.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


@dataclass(frozen=True)
class Operation:
    """What the document needs to know about one method of one route."""

    method: str
    path: str
    credential: Credential | None
    # The endpoint takes the Response to choose its status: 201 created, 200 found.
    chooses_status: bool
    # Answers its dependencies declared (``answers``).
    declared: dict[int, Answer] = field(default_factory=dict)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)  # FastAPI's own, cached on the app
            complete(document, operations(app))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    # The documents FastAPI serves (/openapi.json, /docs, /redoc) are for anyone.
    served = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    for route in app.routes:
        if getattr(route, "path", None) in served:
            public_route(route)


def operations(app: FastAPI) -> Iterator[Operation]:
    # Included routers stay nested in app.routes; the contexts are the routes as served.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            yield Operation(
                method=method,
                path=str(route.path_format),
                credential=_credential(route.dependant),
                chooses_status=route.dependant.response_param_name is not None,
                declared=_declared(route.dependant),
            )


def complete(document: dict[str, Any], found: Iterator[Operation]) -> None:
    """Add the problem answers, security and Idempotency-Key to ``document`` in place."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_problem_schemas())
    components["securitySchemes"] = SECURITY_SCHEMES
    for operation in found:
        entry = document["paths"][operation.path][operation.method.lower()]
        _complete_operation(entry, operation)
    _drop_unused(schemas, document)


def error_statuses(entry: dict[str, Any], operation: Operation) -> dict[int, str]:
    """Every error status an operation can answer, with why, from what it takes."""
    has_body = "requestBody" in entry
    # Anything a request names (in its path, query or body) may not exist.
    names_something = has_body or bool(entry.get("parameters"))
    writes = operation.method in WRITE_METHODS
    statuses = [400, 500, 503]
    if operation.credential is not None:
        statuses += [401, 403]
    if names_something:
        statuses.append(404)
    if writes and operation.credential != "write":
        statuses.append(409)  # ingestion de-duplicates by messageId instead
    if has_body or writes:
        statuses.append(413)
    if "422" in entry.get("responses", {}):
        statuses.append(422)  # FastAPI's, where there is something to validate
    found = {status: ANSWERS[status] for status in sorted(statuses)}
    found.update(EXTRA_ANSWERS.get((operation.method, operation.path), {}))
    found.update({status: answer.why for status, answer in operation.declared.items()})
    return found


def _complete_operation(entry: dict[str, Any], operation: Operation) -> None:
    responses = entry.setdefault("responses", {})
    for status, why in error_statuses(entry, operation).items():
        documented = _problem_answer(why)
        # A route that also answers people (a page) keeps its page's content type; FastAPI's
        # 422 (application/json, HTTPValidationError) is replaced.
        pages = responses.get(str(status), {}).get("content", {})
        documented["content"].update({t: c for t, c in pages.items() if t == "text/html"})
        if why == ANSWERS[503]:  # the database busy: any operation may answer it
            documented["headers"] = RETRY_AFTER_HEADER
        responses[str(status)] = documented
    for status, answer in operation.declared.items():
        if answer.headers:
            responses[str(status)]["headers"] = answer.headers
    if operation.chooses_status:
        _created_or_found(responses)
    if operation.credential == "secret":
        entry["security"] = [{SECRET_KEY_SCHEME: []}]
    elif operation.credential == "write":
        entry["security"] = [{WRITE_KEY_SCHEME: []}]
    if operation.method == "POST" and operation.credential != "write":
        parameters = entry.setdefault("parameters", [])
        if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)


def _created_or_found(responses: dict[str, Any]) -> None:
    """Both answers of an endpoint that creates what is missing and returns what exists."""
    success = responses.get("201") or responses.get("200")
    if success is None:
        return
    responses.setdefault("200", {**success, "description": "It was there already."})
    responses.setdefault("201", {**success, "description": "Created."})


def _problem_answer(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}


def _drop_unused(schemas: dict[str, Any], document: dict[str, Any]) -> None:
    """Remove FastAPI's validation-error schemas once nothing refers to them."""
    for name in ("HTTPValidationError", "ValidationError"):
        schema = schemas.pop(name, None)
        if schema is not None and f"#/components/schemas/{name}" in repr(document):
            schemas[name] = schema


def _credential(dependant: Dependant) -> Credential | None:
    roles_check = f"{require_roles.__qualname__}.<locals>."
    for call in _calls(dependant):
        if call is source_actor:
            return "write"
        if getattr(call, "__qualname__", "").startswith(roles_check):
            return "secret"
    return None


def _declared(dependant: Dependant) -> dict[int, Answer]:
    declared: dict[int, Answer] = {}
    for call in _calls(dependant):
        declared.update(getattr(call, ANSWERS_ATTRIBUTE, {}))
    return declared


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)
