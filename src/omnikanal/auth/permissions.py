"""Who may call each route, declared by the dependencies the route already uses.

A credential dependency carries the callers it lets through (``allows``): the staff role
checks (``require_roles``, the console's role checks), the write-key check, and the
``Public`` marker for the few routes open to anyone on purpose. ``callers_of`` reads them
off a route, so the permission matrix (docs/permissions.md, ``omnikanal permissions``) is
generated from the code, and a route that declares nothing can be found and refused.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from omnikanal.auth.models import Role

WRITE_KEY = "write key"
PUBLIC = "public"
# The matrix's columns: each staff role, a source's write key, anyone.
CALLERS: tuple[str, ...] = (*(role.value for role in Role), WRITE_KEY, PUBLIC)

ALLOWED_ATTRIBUTE = "__omnikanal_allowed__"
Call = TypeVar("Call", bound=Callable[..., Any])


def allows(callers: Iterable[str]) -> Callable[[Call], Call]:
    """Declare on a dependency (or a route) who may pass it."""
    allowed = frozenset(callers)
    unknown = allowed - set(CALLERS)
    if unknown:
        raise ValueError(f"unknown callers: {sorted(unknown)}")

    def mark(call: Call) -> Call:
        setattr(call, ALLOWED_ATTRIBUTE, allowed)
        return call

    return mark


def roles(allowed: Iterable[Role]) -> list[str]:
    return [role.value for role in allowed]


@allows([PUBLIC])
def public() -> None:
    """Open to anyone on purpose: health checks, links in messages, the sign-in page."""


# ``@router.get(path, dependencies=[Public])``: the route is public and says so.
Public = Depends(public)

Route = TypeVar("Route", bound=BaseRoute)


def public_route(route: Route) -> Route:
    """Mark a route that takes no dependencies (static files, the API docs) as public."""
    setattr(route, ALLOWED_ATTRIBUTE, frozenset({PUBLIC}))
    return route


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _declared(dependant: Dependant) -> frozenset[str] | None:
    """Every declaring dependency must let the caller through: the intersection."""
    found: frozenset[str] | None = None
    for call in _calls(dependant):
        allowed: frozenset[str] | None = getattr(call, ALLOWED_ATTRIBUTE, None)
        if allowed is not None:
            found = allowed if found is None else found & allowed
    return found


@dataclass(frozen=True)
class RoutePermission:
    methods: tuple[str, ...]
    path: str
    # None: the route declares no callers (a test refuses that).
    callers: frozenset[str] | None


def route_permissions(app: FastAPI) -> list[RoutePermission]:
    """Each route the app serves with who may call it, by path then method."""
    found: list[RoutePermission] = []
    for route in iter_route_contexts(app.routes):
        marked: frozenset[str] | None = getattr(route.original_route, ALLOWED_ATTRIBUTE, None)
        dependant: Dependant | None = getattr(route, "dependant", None)
        callers = marked if marked is not None else _declared(dependant) if dependant else None
        methods = tuple(sorted((route.methods or set()) - {"HEAD"})) or ("*",)
        path = str(getattr(route, "path_format", None) or route.path)
        found.append(RoutePermission(methods=methods, path=path, callers=callers))
    return sorted(found, key=lambda r: (r.path, r.methods))


def matrix_markdown(app: FastAPI) -> str:
    """docs/permissions.md: one row per route, one column per kind of caller."""
    lines = [
        "# Permission matrix",
        "",
        "Generated from the code by `omnikanal permissions`; do not edit by hand (a test",
        "regenerates it and fails when it differs). Each route declares who may call it",
        "through its credential dependency (`require_roles`, the console's role checks, the",
        "write-key check) or is marked public on purpose (`Public`).",
        "",
        "- **admin … channel**: a secret key (or console sign-in) of that role; admin may",
        "  do everything. Some routes narrow further inside (store keys see their own store).",
        "- **write key**: a source's write key (ingestion).",
        "- **public**: anyone, with or without a credential (health, links in messages, the",
        "  sign-in page, static files, the API documents).",
        "",
        "| method | path | " + " | ".join(CALLERS) + " |",
        "|---|---|" + "---|" * len(CALLERS),
    ]
    for permission in route_permissions(app):
        callers = permission.callers or frozenset()
        cells = ["✓" if caller in callers else "" for caller in CALLERS]
        path = permission.path.replace("|", "\\|")
        lines.append(f"| {' '.join(permission.methods)} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
