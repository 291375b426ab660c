"""Keyset pagination shared by every list endpoint: ``limit`` and an opaque ``cursor``."""

import base64
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from omnikanal.errors import BadRequest, CommonErrorCode

T = TypeVar("T")

MAX_LIMIT = 500


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before.")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except ValueError as exc:
        raise BadRequest(CommonErrorCode.INVALID_CURSOR, "The cursor is not valid.") from exc
