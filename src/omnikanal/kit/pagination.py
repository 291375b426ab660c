"""Keyset pagination shared by every list endpoint: ``limit`` and an opaque ``cursor``.

A cursor is base64url of ``c1|<part>|<part>...``. Decoding is total: anything that is
not a cursor this hub made (not base64, another tag, the wrong parts, a time without a
zone) is ``400 invalid_cursor``, never an error deeper down.
"""

import base64
import re
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel

from omnikanal.errors import BadRequest, CommonErrorCode

T = TypeVar("T")

MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 512
CURSOR_TAG = "c1"
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the page before."),
    ] = None,
) -> PageParams:
    # An empty cursor (`cursor=`, as a client's first call often sends it) is the first page.
    return PageParams(limit=limit, cursor=cursor or None)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _invalid() -> BadRequest:
    return BadRequest(CommonErrorCode.INVALID_CURSOR, "The cursor is not valid.")


def encode_cursor(*parts: str) -> str:
    """Parts hold no "|" (SKUs, ids and ISO times do not)."""
    text = "|".join((CURSOR_TAG, *parts))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor_parts(cursor: str, count: int) -> tuple[str, ...]:
    """The ``count`` parts of a cursor made by ``encode_cursor``."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _BASE64URL.match(cursor):
        raise _invalid()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise _invalid() from exc
    tag, *parts = text.split("|")
    if tag != CURSOR_TAG or len(parts) != count:
        raise _invalid()
    # Printable only: no NUL or control character reaches a query.
    if not all(part and part.isprintable() for part in parts):
        raise _invalid()
    return tuple(parts)


def decode_cursor(cursor: str) -> str:
    """A cursor of one text key (a SKU)."""
    return decode_cursor_parts(cursor, 1)[0]


def decode_id_cursor(cursor: str) -> UUID:
    try:
        return UUID(decode_cursor(cursor))
    except ValueError as exc:
        raise _invalid() from exc


def encode_time_cursor(moment: datetime, row_id: UUID) -> str:
    return encode_cursor(moment.isoformat(), str(row_id))


def decode_time_cursor(cursor: str) -> tuple[datetime, UUID]:
    """(a timezone-aware moment, an id), as ``encode_time_cursor`` made them."""
    moment, row_id = decode_cursor_parts(cursor, 2)
    try:
        parsed = datetime.fromisoformat(moment)
        identifier = UUID(row_id)
        if parsed.utcoffset() is None:
            raise _invalid()
        # A time whose UTC form is past datetime's range (year 1 at +01:00) cannot be stored.
        return parsed.astimezone(UTC), identifier
    except (ValueError, OverflowError) as exc:
        raise _invalid() from exc
