"""Credentials as FastAPI dependencies: ``SourceKey`` for ingestion, role aliases for staff."""

import base64
import binascii
import time
from collections.abc import Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request

from omnikanal.auth import service
from omnikanal.auth.models import Role
from omnikanal.auth.permissions import WRITE_KEY, allows, roles
from omnikanal.auth.service import SourceActor, StaffActor
from omnikanal.http import DbSession, get_session


def _presented_key(request: Request) -> str | None:
    """The key in ``Authorization``: Basic user name (Segment convention) or Bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _password = decoded.partition(":")
        return user or None
    return None


class SourceKeyCache:
    """Write keys recently seen valid, so ingestion does not look its key up per request.

    A disabled source's key keeps working for at most ``ttl_seconds`` in each process.
    """

    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._known: dict[str, tuple[SourceActor, float]] = {}

    def get(self, write_key: str) -> SourceActor | None:
        found = self._known.get(write_key)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, write_key: str, actor: SourceActor) -> None:
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[write_key] = (actor, time.monotonic() + self.ttl_seconds)


@allows([WRITE_KEY])
async def source_actor(request: Request) -> SourceActor:
    write_key = _presented_key(request)
    cache: SourceKeyCache = request.app.state.source_keys
    actor = cache.get(write_key) if write_key else None
    if actor is None:
        session = get_session(request)
        actor = await anyio.to_thread.run_sync(
            lambda: service.authenticate_source(session, write_key=write_key)
        )
        if write_key:
            cache.put(write_key, actor)
    return actor


def require_roles(*allowed_roles: Role) -> Callable[[Request, DbSession], StaffActor]:
    allowed = frozenset(allowed_roles)

    # Admin passes every role check (authenticate_staff): the matrix says so too.
    @allows(roles(allowed | {Role.ADMIN}))
    def dependency(request: Request, session: DbSession) -> StaffActor:
        return service.authenticate_staff(session, secret=_presented_key(request), allowed=allowed)

    return dependency


SourceKey = Annotated[SourceActor, Depends(source_actor)]
AdminKey = Annotated[StaffActor, Depends(require_roles(Role.ADMIN))]
AnyStaffKey = Annotated[StaffActor, Depends(require_roles(*Role))]
