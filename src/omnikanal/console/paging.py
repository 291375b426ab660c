"""Lists a page at a time: a page of items, how many there are in all, the cursor's way
on and the way back to the first page ("Showing 25 of 30 audiences.")."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from omnikanal.kit.pagination import decode_cursor, encode_cursor

PAGE_SIZE = 25

T = TypeVar("T")


@dataclass(frozen=True)
class Paged:
    """One page of a list, how many there are in all, and the way on and back to the start."""

    items: Sequence[Any]
    total: int
    next_url: str | None
    first_url: str | None

    @property
    def showing(self) -> str:
        return f"{len(self.items)} of {self.total}"


def paged(
    items: Sequence[Any],
    total: int,
    next_cursor: str | None,
    *,
    path: str,
    params: dict[str, str] | None = None,
    cursor: str | None = None,
) -> Paged:
    kept = {k: v for k, v in (params or {}).items() if v}
    next_url = f"{path}?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None
    first_url = (f"{path}?{urlencode(kept)}" if kept else path) if cursor else None
    return Paged(items=items, total=total, next_url=next_url, first_url=first_url)


def page_in_memory(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> tuple[list[T], str | None]:
    """A page of a short list read whole (keys, webhooks, locations), ordered by ``key``:
    those after the cursor's key, and the next cursor."""
    after = decode_cursor(cursor) if cursor else None
    rest = [item for item in sorted(items, key=key) if after is None or key(item) > after]
    page = rest[:limit]
    return page, encode_cursor(key(page[-1])) if len(rest) > limit else None
