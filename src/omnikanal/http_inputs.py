"""Inputs no database can store, refused at the edge with a 400 naming the field.

PostgreSQL text holds no NUL character, and JSON nested past the database's serialiser
(and past Python's recursion) fails deep inside a request as a 500. One check here covers
every endpoint: the query string, the path, form fields and JSON bodies. It is cheap: a
body is parsed only when a byte scan says it may break a limit (a NUL, a lone surrogate,
or more containers than the depth limit), about 10 µs for a small body when it is.
Ingestion checks each message itself (a bad message must not sink its batch), so its
JSON bodies are left to it.
"""

import re
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Scope

from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError
from omnikanal.kit.limits import MAX_JSON_DEPTH, json_problem

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character (\\u0000)"
# A JSON-escaped NUL, or an escaped UTF-16 surrogate (lone ones cannot be stored).
_JSON_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _limit_exceeded(field: str, message: str) -> OmnikanalError:
    return BadRequest(
        CommonErrorCode.LIMIT_EXCEEDED,
        f"{field} {message}.",
        errors=[{"field": field, "message": message}],
    )


def _media_type(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1")).split(";", 1)[0].strip().lower()
    return ""


def _query_problem(scope: Scope) -> OmnikanalError | None:
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return _limit_exceeded(f"query.{name.replace(NUL, '')}", NUL_MESSAGE)
    return None


async def _form_problem(scope: Scope, body: bytes) -> OmnikanalError | None:
    if b"%00" not in body and b"\x00" not in body:
        return None

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, receive).form()
    except (HTTPException, MultiPartException):
        return None  # malformed: the endpoint refuses it as it would anyway
    try:
        for name, value in form.multi_items():
            # Uploaded files are bytes, which may hold anything; their fields may not.
            if NUL in name or (not isinstance(value, UploadFile) and NUL in value):
                return _limit_exceeded(f"body.{name.replace(NUL, '')}", NUL_MESSAGE)
    finally:
        await form.close()
    return None


def _json_problem(body: bytes) -> OmnikanalError | None:
    containers = body.count(b"{") + body.count(b"[")
    if containers <= MAX_JSON_DEPTH and not _JSON_SUSPECT.search(body):
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "ecursion" in str(exc):  # orjson's words for it
            return _limit_exceeded("body", f"nests deeper than {MAX_JSON_DEPTH} levels")
        if _SURROGATE.search(body):
            return BadRequest(
                CommonErrorCode.MALFORMED_JSON, f"The request body is not valid JSON: {exc}."
            )
        return None  # malformed: the endpoint answers 400 malformed_json
    found = json_problem(value, path="body")
    return None if found is None else _limit_exceeded(*found)


async def input_problem(scope: Scope, body: bytes, *, check_json: bool) -> OmnikanalError | None:
    """The first input of this request that cannot be stored, as the error to answer."""
    if NUL in scope["path"]:
        return _limit_exceeded("path", NUL_MESSAGE)
    problem = _query_problem(scope)
    if problem is not None or not body:
        return problem
    media_type = _media_type(scope)
    if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return await _form_problem(scope, body)
    # FastAPI reads a body without a content type as JSON too.
    if check_json and (media_type in ("", "application/json") or media_type.endswith("+json")):
        return _json_problem(body)
    return None
