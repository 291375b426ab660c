"""A person's own account: one-time codes on and off; accepting an invitation (choosing a
password) before one has signed in."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.permissions import Public
from omnikanal.console.dependencies import CheckedForm, ConsoleUser
from omnikanal.console.forms import Refusal, text, with_notice
from omnikanal.console.pages import render
from omnikanal.errors import OmnikanalError
from omnikanal.http import DbSession

router = APIRouter()


def _account_page(
    request: Request,
    session: DbSession,
    user: ConsoleUser,
    *,
    secret: str | None = None,
    refused: Refusal | None = None,
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
        refused=refused,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/account")
def account_page(request: Request, session: DbSession, user: ConsoleUser) -> Response:
    return _account_page(request, session, user)


def _done(message: str) -> Response:
    return RedirectResponse(with_notice("/console/account", message), 303)


def _code_refused(form_name: str, exc: OmnikanalError) -> Refusal:
    """A code refused, said beside it (a one-time code is not kept: it expires)."""
    return Refusal(form=form_name, values={}, errors={"code": exc.detail})


@router.post("/account/totp")
def turn_on_codes(
    request: Request, session: DbSession, user: ConsoleUser, form: CheckedForm
) -> Response:
    secret = text(form, "secret", required=False)
    try:
        staff_accounts.turn_on_totp(
            session,
            account_id=user.account_id,
            secret=secret,
            code=text(form, "code", required=False),
        )
    except OmnikanalError as exc:
        return _account_page(
            request, session, user, secret=secret, refused=_code_refused("totp-on", exc)
        )
    return _done("One-time codes are on: sign-in asks for one from now on.")


@router.post("/account/totp/off")
def turn_off_codes(
    request: Request, session: DbSession, user: ConsoleUser, form: CheckedForm
) -> Response:
    try:
        staff_accounts.turn_off_totp(
            session, account_id=user.account_id, code=text(form, "code", required=False)
        )
    except OmnikanalError as exc:
        return _account_page(request, session, user, refused=_code_refused("totp-off", exc))
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
    done = "Your password is set: sign in with it."
    return RedirectResponse(with_notice("/console/signin", done), 303)
