"""Who is signed in to the console, and what their role lets them open."""

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from omnikanal.auth.models import Role
from omnikanal.auth.permissions import allows, roles
from omnikanal.console import service
from omnikanal.console.service import SignedIn
from omnikanal.db import is_read_only
from omnikanal.http import DbSession
from omnikanal.uow import unit_of_work

SESSION_COOKIE = "omnikanal_console"


class SignInRequired(Exception):
    """Raised for a page that needs a signed-in user; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class RoleNotAllowed(Exception):
    """Raised when the signed-in role may not open a page; answered with a 403 page."""

    def __init__(self, user: SignedIn, allowed: frozenset[Role]) -> None:
        super().__init__(user.actor.role)
        self.user = user
        self.allowed = allowed


# Any key may sign in to the console today; the pages narrow it by role.
@allows(roles(Role))
def signed_in(request: Request, session: DbSession) -> SignedIn:
    settings = request.app.state.settings
    user = service.current(
        session,
        token=request.cookies.get(SESSION_COOKIE),
        idle=timedelta(minutes=settings.console_idle_minutes),
    )
    if user is None:
        raise SignInRequired(request.url.path)
    if service.needs_sliding(user):
        _slide(request, session, user)
    return user


def _slide(request: Request, session: Session, user: SignedIn) -> None:
    """Start the idle time again. Page views read in a read-only session that is never
    committed, so the move is written in a short transaction of its own; a form's session
    writes anyway (and on SQLite already holds the one write lock), so it is written there."""
    if not is_read_only(session):
        service.slide(session, session_id=user.session_id)
        return
    with unit_of_work(request.app.state.session_factory) as writer:
        service.slide(writer, session_id=user.session_id)


def require_console_roles(*allowed_roles: Role) -> Callable[[SignedIn], SignedIn]:
    allowed = frozenset(allowed_roles) | {Role.ADMIN}

    @allows(roles(allowed))
    def dependency(user: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
        if user.actor.role not in allowed:
            raise RoleNotAllowed(user, allowed)
        return user

    return dependency


async def form_with_csrf(request: Request) -> FormData:
    """The posted form; its csrf_token must match the signed-in session's (checked with it)."""
    return await request.form()


def checked_form(
    user: Annotated[SignedIn, Depends(signed_in)],
    form: Annotated[FormData, Depends(form_with_csrf)],
) -> FormData:
    token = form.get("csrf_token")
    service.check_csrf(user.csrf_token, token if isinstance(token, str) else None)
    return form


ConsoleUser = Annotated[SignedIn, Depends(signed_in)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
