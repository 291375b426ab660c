"""The limits a client can rely on, checked at the edge so the database never sees past them.

The README's "Limits" section states these numbers; keep the two in step.
- JSON nests at most ``MAX_JSON_DEPTH`` levels (the database's serialiser stops at 254).
- No string holds a NUL character (PostgreSQL text cannot store one).
- Integers that reach a 32-bit column are bounded (``Count``, ``MinorUnits``, ...), and
  booleans or numeric strings are not integers (``strict``).
"""

from typing import Annotated, Any

from pydantic import Field

MAX_JSON_DEPTH = 32
INT32_MAX = 2**31 - 1

# A line's or a sale's quantity: booleans and strings such as "1" are refused.
Quantity = Annotated[int, Field(strict=True, ge=1, le=9_999)]
# Stock, counts and other non-negative whole numbers stored in 32-bit columns.
Count = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]
# A signed change of such a number (a stock adjustment, a points correction).
Delta = Annotated[int, Field(strict=True, ge=-INT32_MAX, le=INT32_MAX)]
# An amount of money in minor units (öre, cents): at most 21,474,836.47 in major units.
MinorUnits = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]


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
