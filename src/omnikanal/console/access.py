"""Who read a customer's data: the latest accesses on the 360 page, and all of them a page
at a time, for admins (S16)."""

from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from omnikanal.auth.models import Role
from omnikanal.console.dependencies import require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.http import DbSession
from omnikanal.privacy import service as privacy_service
from omnikanal.privacy.models import AccessLogEntry

router = APIRouter(prefix="/customers")

Admin = Annotated[SignedIn, Depends(require_console_roles(Role.ADMIN))]

# Accesses on the 360 page; the rest are a page away.
LATEST_ACCESSES = 10
ACCESS_PAGE = 50


def latest_accesses(
    session: Session, *, user: SignedIn, profile_id: UUID
) -> tuple[Sequence[AccessLogEntry], str | None] | None:
    """An admin's view of who read this person lately, with the path to the rest;
    None for every other role (they do not see who looked)."""
    if user.actor.role is not Role.ADMIN:
        return None
    shown, cursor = privacy_service.access_log(
        session, profile_id=profile_id, limit=LATEST_ACCESSES
    )
    return shown, _page_path(profile_id, cursor) if cursor else None


def _page_path(profile_id: UUID, cursor: str) -> str:
    return f"/console/customers/{profile_id}/access-log?" + urlencode({"cursor": cursor})


@router.get("/{profile_id}/access-log")
def access_log(
    profile_id: UUID,
    request: Request,
    session: DbSession,
    user: Admin,
    cursor: str | None = None,
) -> Response:
    shown, following = privacy_service.access_log(
        session, profile_id=profile_id, cursor=cursor, limit=ACCESS_PAGE
    )
    more = _page_path(profile_id, following) if following else None
    return render(
        request,
        "access_log.html",
        title="Who read this customer's data",
        user=user,
        profile_id=profile_id,
        accesses=shown,
        more_accesses=more,
        first_page=cursor is not None,
    )
