"""Sign-in, sign-out and the console's home page."""

import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.permissions import Public
from omnikanal.console import (
    access,
    account,
    admin,
    analytics,
    customers,
    duplicates,
    experiments,
    inbox,
    marketing,
    orders,
    products,
    service,
    staff,
    store,
)
from omnikanal.console.dependencies import (
    SESSION_COOKIE,
    CheckedForm,
    ConsoleUser,
    RoleNotAllowed,
    SignInRequired,
)
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import OmnikanalError
from omnikanal.events import service as events_service
from omnikanal.http import DbSession
from omnikanal.uow import unit_of_work

router = APIRouter(prefix="/console", include_in_schema=False)

SIGNIN_CSRF_COOKIE = "omnikanal_signin_csrf"


def _safe_next(next_path: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if next_path and next_path.startswith("/console") and not next_path.startswith("//"):
        return next_path
    return "/console"


def _set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None
) -> None:
    # HttpOnly: scripts never see it; SameSite=Lax plus form tokens stop cross-site posts.
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


# Signing in is for people who are not yet.
@router.get("/signin", dependencies=[Public])
def signin_page(
    request: Request,
    next: str | None = None,  # noqa: A002
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        title="Sign in",
        next_path=_safe_next(next),
        csrf_token=token,
        done=done,
    )
    _set_cookie(response, request, SIGNIN_CSRF_COOKIE, token)
    return response


def _lock_out(request: Request) -> staff_accounts.LockOut:
    settings = request.app.state.settings
    return staff_accounts.LockOut(
        max_failed=settings.console_max_failed_sign_ins,
        duration=timedelta(minutes=settings.console_lockout_minutes),
    )


def _attempt_sign_in(
    request: Request, *, email: str, password: str, code: str
) -> tuple[str, SignedIn] | OmnikanalError:
    """Sign in, in a transaction of its own that commits a failure too: the request's own
    would roll back with the error page, and the lock-out counts failures."""
    with unit_of_work(request.app.state.session_factory) as session:
        try:
            return service.sign_in(
                session, email=email, password=password, code=code, lock_out=_lock_out(request)
            )
        except OmnikanalError as exc:
            return exc


@router.post("/signin", dependencies=[Public])
def signin(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form()] = "/console",
) -> Response:
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    try:
        service.check_csrf(expected, csrf_token)
    except OmnikanalError as exc:
        outcome: tuple[str, SignedIn] | OmnikanalError = exc
    else:
        outcome = _attempt_sign_in(request, email=email, password=password, code=code)
    if isinstance(outcome, OmnikanalError):
        new_token = secrets.token_urlsafe(24)
        response = render(
            request,
            "signin.html",
            title="Sign in",
            next_path=_safe_next(next_path),
            csrf_token=new_token,
            email=email,
            error=outcome.detail,
            ask_code=outcome.code == staff_accounts.StaffErrorCode.CODE_REQUIRED,
            status_code=outcome.status,
        )
        _set_cookie(response, request, SIGNIN_CSRF_COOKIE, new_token)
        return response
    token, _ = outcome
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    _set_cookie(
        response,
        request,
        SESSION_COOKIE,
        token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/signout")
def signout(request: Request, session: DbSession, user: ConsoleUser, form: CheckedForm) -> Response:
    service.sign_out(session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/console/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.get("")
def home(request: Request, session: DbSession, user: ConsoleUser) -> Response:
    lag = events_service.resolution_lag(session)
    bound = request.app.state.settings.max_resolution_lag_seconds
    return render(
        request, "home.html", title="Console", user=user, lag=lag, lag_within=lag.seconds <= bound
    )


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/console/signin?next={quote(exc.next_path)}", status_code=303)


def role_not_allowed_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoleNotAllowed)
    return render(
        request,
        "forbidden.html",
        title="Not for your role",
        user=exc.user,
        allowed=sorted(role.value for role in exc.allowed),
        status_code=403,
    )


def console_problem_page(request: Request, exc: OmnikanalError) -> Response:
    """Domain errors inside the console are shown as a page, not as JSON."""
    return render(request, "error.html", title=exc.title, detail=exc.detail, status_code=exc.status)


# The pages, each in its own module; included last so that their routes follow these.
for pages_router in (
    customers.router,
    duplicates.router,
    access.router,
    inbox.router,
    store.router,
    orders.router,
    products.router,
    staff.router,
    account.router,
    analytics.router,
    experiments.router,
    marketing.router,
    admin.router,
):
    router.include_router(pages_router)
