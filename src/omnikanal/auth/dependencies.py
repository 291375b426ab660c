"""Credentials as FastAPI dependencies: ``SourceKey`` for ingestion, role aliases for staff."""

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from omnikanal.auth import service
from omnikanal.auth.models import Role
from omnikanal.auth.service import SourceActor, StaffActor
from omnikanal.http import DbSession


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


def source_actor(request: Request, session: DbSession) -> SourceActor:
    return service.authenticate_source(session, write_key=_presented_key(request))


def require_roles(*roles: Role) -> Callable[[Request, DbSession], StaffActor]:
    allowed = frozenset(roles)

    def dependency(request: Request, session: DbSession) -> StaffActor:
        return service.authenticate_staff(session, secret=_presented_key(request), allowed=allowed)

    return dependency


SourceKey = Annotated[SourceActor, Depends(source_actor)]
AdminKey = Annotated[StaffActor, Depends(require_roles(Role.ADMIN))]
AnyStaffKey = Annotated[StaffActor, Depends(require_roles(*Role))]
