"""A person's own account: one-time codes on and off; accepting an invitation (choosing a
password) before one has signed in."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.permissions import Public
from omnikanal.console.dependencies import CheckedForm, ConsoleUser
from omnikanal.console.pages import render
from omnikanal.errors import OmnikanalError
from omnikanal.http import DbSession

router = APIRouter()


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _account_page(
    request: Request,
    session: DbSession,
    user: ConsoleUser,
    *,
    secret: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    account = staff_accounts.get_account(session, account_id=user.account_id)
    totp_on = account.totp_secret is not None
    # A new secret each time the page is shown until one is confirmed with a code.
    secret = None if totp_on else (secret or staff_accounts.new_totp_secret())
    return render(
        request,
        "account.html",
        title="Your account",
        user=user,
        account=account,
        totp_on=totp_on,
        secret=secret,
        secret_grouped=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        if secret
        else None,
        totp_uri=staff_accounts.totp_uri(secret=secret, email=account.email) if secret else None,
        error=error,
        done=request.query_params.get("done"),
        status_code=status_code,
    )


@router.get("/account")
def account_page(request: Request, session: DbSession, user: ConsoleUser) -> Response:
    return _account_page(request, session, user)


def _done(message: str) -> Response:
    return RedirectResponse(f"/console/account?{urlencode({'done': message})}", 303)


@router.post("/account/totp")
def turn_on_codes(
    request: Request, session: DbSession, user: ConsoleUser, form: CheckedForm
) -> Response:
    secret = _text(form, "secret")
    try:
        staff_accounts.turn_on_totp(
            session, account_id=user.account_id, secret=secret, code=_text(form, "code")
        )
    except OmnikanalError as exc:
        return _account_page(
            request, session, user, secret=secret, error=exc.detail, status_code=exc.status
        )
    return _done("One-time codes are on: sign-in asks for one from now on.")


@router.post("/account/totp/off")
def turn_off_codes(
    request: Request, session: DbSession, user: ConsoleUser, form: CheckedForm
) -> Response:
    try:
        staff_accounts.turn_off_totp(session, account_id=user.account_id, code=_text(form, "code"))
    except OmnikanalError as exc:
        return _account_page(request, session, user, error=exc.detail, status_code=exc.status)
    return _done("One-time codes are off.")


# -- invitations (signed out) --


# Someone invited has no account to sign in with yet: the link's token is the credential.
@router.get("/invitation", dependencies=[Public])
def invitation_page(
    request: Request,
    session: DbSession,
    token: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    account = staff_accounts.invitation(session, token=token)
    return render(
        request, "invitation.html", title="Choose your password", account=account, token=token
    )


@router.post("/invitation", dependencies=[Public])
def accept_invitation(
    request: Request,
    session: DbSession,
    token: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    repeated: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    account = staff_accounts.invitation(session, token=token)
    try:
        if password != repeated:
            raise staff_accounts.passwords_differ()
        staff_accounts.accept_invitation(session, token=token, password=password)
    except OmnikanalError as exc:
        return render(
            request,
            "invitation.html",
            title="Choose your password",
            account=account,
            token=token,
            error=exc.detail,
            status_code=exc.status,
        )
    query = urlencode({"done": "Your password is set: sign in with it."})
    return RedirectResponse(f"/console/signin?{query}", 303)
