"""The limits a client can rely on, checked at the edge so the database never sees past them.

The README's "Limits" section states these numbers; keep the two in step.
- JSON nests at most ``MAX_JSON_DEPTH`` levels (the database's serialiser stops at 254).
- No string holds a NUL character (PostgreSQL text cannot store one).
- Integers that reach a 32-bit column are bounded (``Count``, ``MinorUnits``, ...), and
  booleans or numeric strings are not integers (``strict``).
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

MAX_JSON_DEPTH = 32
INT32_MAX = 2**31 - 1
# The most units of one SKU on one line (a cart's line holds at most this, however added).
MAX_QUANTITY = 9_999

# A line's or a sale's quantity: booleans and strings such as "1" are refused.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
# Stock, counts and other non-negative whole numbers stored in 32-bit columns.
Count = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
# A signed change of such a number (a stock adjustment, a points correction).
Delta = Annotated[int, Field(strict=True, ge=-INT32_MAX, le=INT32_MAX)]
# An amount of money in minor units (öre, cents): at most 21,474,836.47 in major units.
MinorUnits = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 east of UTC, year 9999 west of it
        raise ValueError("is out of range once in UTC") from exc


# A moment a client sends: with its zone (a zone-less time could be any of 26 hours, and
# the database stores only zoned ones), in UTC's range; handed on in UTC.
Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def json_problem(
    value: Any, *, path: str = "", max_depth: int = MAX_JSON_DEPTH
) -> tuple[str, str] | None:
    """The first field of a parsed JSON value that breaks a limit, and why; ``None`` if none.

    Iterative, so a value nested past Python's recursion limit is reported, not raised.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body", "must not contain a NUL character (\\u0000)"
            continue
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth >= max_depth:
            return where or "body", f"nests deeper than {max_depth} levels"
        for key, child in children:
            if isinstance(key, str) and "\x00" in key:
                return _join(where, key), "must not contain a NUL character (\\u0000)"
            stack.append((child, _join(where, key), depth + 1))
    return None
