"""What the marketer's and admin's pages share: one-time form tokens, times in the
retailer's zone, yes/no, and lists paged with a cursor that say how many there are.

A form carries a one-time token beside its CSRF token. The first submission spends it in
the transaction that does the work; a second (a double click, a reload of the answer)
finds it spent and is sent where the first one led, so the work is done once. A refused
form rolls back, so the token is still good when it is corrected and sent again."""

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.console.pages import templates
from omnikanal.console.service import SignedIn
from omnikanal.errors import BadRequest, CommonErrorCode
from omnikanal.idempotency import service as idempotency_service
from omnikanal.kit.pagination import decode_cursor, encode_cursor

ONCE_FIELD = "once_token"
PAGE_SIZE = 25

T = TypeVar("T")


def new_once_token() -> str:
    return secrets.token_urlsafe(18)


def _once(form: FormData) -> str:
    token = form.get(ONCE_FIELD)
    if not isinstance(token, str) or not token:
        raise BadRequest(
            CommonErrorCode.BAD_REQUEST,
            "The form is missing its one-time token; reload the page and send it again.",
        )
    return token


def spend_once(
    session: Session, user: SignedIn, form: FormData, *, location: str
) -> Response | None:
    """Spend the form's one-time token; a redirect to where the first submission led when
    it was spent already (then do nothing), else None (do the work)."""
    earlier = idempotency_service.use_form_token(
        session, principal=str(user.account_id), token=_once(form), location=location
    )
    if earlier is None:
        return None
    return RedirectResponse(earlier, status_code=303)


def settle_once(session: Session, user: SignedIn, form: FormData, *, location: str) -> None:
    idempotency_service.settle_form_token(
        session, principal=str(user.account_id), token=_once(form), location=location
    )


def with_notice(path: str, done: str) -> str:
    return f"{path}?{urlencode({'done': done})}"


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# -- how values read --


@jinja2.pass_context
def local_time(context: Any, value: datetime | None) -> str:
    """A moment in the retailer's zone (OMNIKANAL_TIMEZONE), to the minute, zone named."""
    if value is None:
        return "—"
    zone = ZoneInfo(context["request"].app.state.settings.timezone)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def yes_no(value: object) -> str:
    return "yes" if value else "no"


def shown(value: object) -> str:
    """Nothing is shown as a dash, never as "None"."""
    return "—" if value is None or value == "" else str(value)


templates.env.filters["local_time"] = local_time
templates.env.filters["yes_no"] = yes_no
templates.env.filters["shown"] = shown


def local_zone(settings_timezone: str) -> ZoneInfo:
    return ZoneInfo(settings_timezone)


# -- lists a page at a time --


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


def zip_pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    """Choices whose value is also their words."""
    return [(value, value) for value in values]


templates.env.filters["zip_pairs"] = zip_pairs
