"""Typed domain errors, rendered once as RFC 9457 problem details.

Each domain raises these with a code from its own enum; routers never build HTTP errors
for domain failures. Unexpected exceptions become a 500 problem carrying the request id
(a database too busy to answer now: a 503 with ``Retry-After``, http.py).
"""

import logging
import sqlite3
from enum import StrEnum
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger("omnikanal")

PROBLEM_CONTENT_TYPE = "application/problem+json"

# SQLSTATEs of a transaction PostgreSQL broke off (deadlock_detected, serialization_failure):
# it did nothing, and running it again may succeed (http.py runs a request again).
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
# What a database answers when it is busy, not broken: the above after the request's own
# attempts, a lock it could not take, no connection to spare, or starting up. SQLite's is
# another writer holding its one write lock past the wait (db.WRITE_LOCK_TIMEOUT_SECONDS).
BUSY_SQLSTATES = TRANSIENT_SQLSTATES | {"55P03", "53300", "57P03"}
BUSY_RETRY_AFTER_SECONDS = 2


class CommonErrorCode(StrEnum):
    VALIDATION_FAILED = "validation_failed"
    MALFORMED_JSON = "malformed_json"
    BAD_REQUEST = "bad_request"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_ENCODING = "unsupported_content_encoding"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"
    DATABASE_BUSY = "database_busy"
    CONFLICT = "conflict"
    INVALID_CURSOR = "invalid_cursor"
    # A value no database can store (a NUL character, JSON nested too deep): kit.limits.
    LIMIT_EXCEEDED = "limit_exceeded"


class OmnikanalError(Exception):
    """Base of every error a client may see; ``status`` is the HTTP status."""

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        code: StrEnum | str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code = str(code)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(OmnikanalError):
    status = 400
    title = "Bad request"


class Unauthorized(OmnikanalError):
    status = 401
    title = "Unauthorized"


class Forbidden(OmnikanalError):
    status = 403
    title = "Forbidden"


class NotFound(OmnikanalError):
    status = 404
    title = "Not found"


class Conflict(OmnikanalError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(OmnikanalError):
    status = 413
    title = "Payload too large"


class RuleViolation(OmnikanalError):
    status = 422
    title = "Unprocessable request"


class ServiceUnavailable(OmnikanalError):
    """Not now; the answer's ``Retry-After`` says when to ask again."""

    status = 503
    title = "Service unavailable"


class InternalError(OmnikanalError):
    """Only for the edge's answer to an unexpected exception; domains never raise it."""

    status = 500
    title = "Internal server error"


class ProblemFieldError(BaseModel):
    """One field a request got wrong."""

    field: str = Field(description="Where: `body.lines[0].quantity`, `query.limit`, `type`.")
    message: str
    type: str | None = Field(default=None, description="pydantic's error type, when it has one.")


class Problem(BaseModel):
    """What every error answer carries (RFC 9457 problem details, `application/problem+json`).

    Only the OpenAPI document uses this model; ``problem_response`` writes the body.
    """

    # Some problems carry more members (ingestion's `rejected` and `message`).
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`/problems/<code>`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable: branch on this.")
    instance: str | None = Field(default=None, description="The request's path.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a 500.")
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="Each field that was wrong, when the problem is about fields."
    )


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return Response(
        content=orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    return [
        {"field": _field_path(tuple(e.get("loc", ()))), "message": e["msg"], "type": e["type"]}
        for e in errors
    ]


async def _omnikanal_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OmnikanalError)
    return error_response(request, exc)


def error_response(request: Request, exc: OmnikanalError) -> Response:
    """The error as its reader sees it: a page inside the console, else a problem."""
    # Pages for people (the console) show errors as pages; everything else gets JSON.
    for prefix, render_page in getattr(request.app.state, "problem_pages", {}).items():
        if request.url.path.startswith(prefix):
            page: Response = render_page(request, exc)
            return page
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        request=request,
        headers=exc.headers,
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            status=400,
            code=CommonErrorCode.MALFORMED_JSON,
            title="Malformed JSON",
            detail="The request body is not valid JSON.",
            request=request,
            errors=validation_errors(errors),
        )
    return problem_response(
        status=422,
        code=CommonErrorCode.VALIDATION_FAILED,
        title="Validation failed",
        detail="One or more fields are invalid: "
        + ", ".join(sorted({_field_path(tuple(e.get("loc", ()))) for e in errors})),
        request=request,
        errors=validation_errors(errors),
    )


_HTTP_CODES = {
    404: CommonErrorCode.NOT_FOUND,
    405: CommonErrorCode.METHOD_NOT_ALLOWED,
    413: CommonErrorCode.PAYLOAD_TOO_LARGE,
}


def _allowed_methods(request: Request) -> str:
    """Every method some route answers at this path.

    Starlette's 405 names only the methods of the first route matching the path, but a
    path often has one route per method (GET and POST /v1/sources), so ask them all.
    """
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        path_regex = getattr(route, "path_regex", None)
        if route.methods and path_regex is not None and path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, CommonErrorCode.BAD_REQUEST)
    title = "Not found" if exc.status_code == 404 else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        status=exc.status_code,
        code=code,
        title=title,
        detail=str(exc.detail),
        request=request,
        headers=headers,
    )


def busy_answer() -> ServiceUnavailable:
    """What a request that found the database busy (``database_busy``) answers."""
    return ServiceUnavailable(
        CommonErrorCode.DATABASE_BUSY,
        f"The database is busy with other work. Send the request again in "
        f"{BUSY_RETRY_AFTER_SECONDS} seconds.",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def database_busy(exc: BaseException) -> bool:
    """Whether the request failed only because the database was busy: asking again in a
    moment may succeed, and nothing was written (its transaction was rolled back)."""
    if isinstance(exc, PoolTimeout):  # no pooled connection came free in time
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", "-")
    logger.exception("unexpected error (request_id=%s)", request_id, exc_info=exc)
    return problem_response(
        status=500,
        code=CommonErrorCode.INTERNAL_ERROR,
        title="Internal server error",
        detail=f"Something went wrong on our side. Quote request id {request_id}.",
        request=request,
        headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OmnikanalError, _omnikanal_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
