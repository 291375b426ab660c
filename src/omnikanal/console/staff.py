"""Admins manage the people who use the console: invite, change role or store, disable
and enable (S16: only authorised staff, each under their own name)."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Role, StaffAccount
from omnikanal.console import service
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.forms import Refusal, refusal, shown_once, values_of, with_notice
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError, RuleViolation
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow

router = APIRouter(prefix="/staff")

Admin = Annotated[SignedIn, Depends(require_console_roles())]

ROLE_CHOICES = [role.value for role in staff_accounts.STAFF_ROLES]


def _stores(session: Session) -> dict[str, str]:
    return {s.code: s.name or s.code for s in inventory_service.locations(session, kind="store")}


def _role(text: str) -> Role:
    if text not in ROLE_CHOICES:
        raise RuleViolation(
            staff_accounts.StaffErrorCode.ROLE_NOT_FOR_PEOPLE,
            "Choose one of the roles.",
            errors=[{"field": "role", "message": "Choose one of the roles."}],
        )
    return Role(text)


def _store_of(session: Session, role: Role, text: str) -> str | None:
    """The chosen store, which must be one (store staff only; others have none)."""
    if role is not Role.STORE or not text:
        return text or None
    if text not in _stores(session):
        message = "Choose one of the stores."
        raise RuleViolation(
            staff_accounts.StaffErrorCode.LOCATION_REQUIRED,
            message,
            errors=[{"field": "location", "message": message}],
        )
    return text


def status_of(account: StaffAccount) -> str:
    if account.disabled_at is not None:
        return "disabled"
    if account.password_hash is None:
        return "invited"
    if account.locked_until is not None and account.locked_until > utcnow():
        return "locked"
    return "active"


def _list_page(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    refused: Refusal | None = None,
    invited: tuple[StaffAccount, str] | None = None,
) -> Response:
    return render(
        request,
        "staff.html",
        title="Staff",
        user=user,
        accounts=[(a, status_of(a)) for a in staff_accounts.accounts(session)],
        stores=_stores(session),
        roles=ROLE_CHOICES,
        refused=refused,
        invited=invited,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("")
def staff_list(request: Request, session: DbSession, user: Admin) -> Response:
    return _list_page(request, session, user)


def _invitation_link(request: Request, token: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/console/invitation?{urlencode({'token': token})}"


ALREADY_INVITED = (
    "That form was sent already: the person is invited once, and the link is shown only once."
)


@router.post("/invite")
def invite(request: Request, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    typed = values_of(form, "email", "name", "role", "location")
    try:
        role = _role(typed["role"])
        account, token = staff_accounts.create_account(
            session,
            email=typed["email"],
            name=typed["name"],
            role=role,
            location=_store_of(session, role, typed["location"]),
        )
    except OmnikanalError as exc:
        return _list_page(
            request, session, user, refused=refusal("invite", form, exc, values=typed)
        )
    assert token is not None
    # Shown this once: only the token's hash is kept, and a repeat of the form is told so.
    page = _list_page(request, session, user, invited=(account, _invitation_link(request, token)))
    return shown_once(page, with_notice("/console/staff", ALREADY_INVITED))


def _account(session: Session, account_id: UUID) -> StaffAccount:
    return staff_accounts.get_account(session, account_id=account_id)


def _account_page(
    request: Request,
    session: Session,
    user: SignedIn,
    account: StaffAccount,
    *,
    refused: Refusal | None = None,
) -> Response:
    return render(
        request,
        "staff_account.html",
        title=f"Staff · {account.name}",
        user=user,
        account=account,
        status=status_of(account),
        stores=_stores(session),
        roles=ROLE_CHOICES,
        refused=refused,
        is_self=account.id == user.account_id,
        done=request.query_params.get("done"),
        status_code=422 if refused else 200,
    )


@router.get("/{account_id}")
def account_page(account_id: UUID, request: Request, session: DbSession, user: Admin) -> Response:
    return _account_page(request, session, user, _account(session, account_id))


def _back(account_id: UUID, done: str) -> Response:
    return RedirectResponse(with_notice(f"/console/staff/{account_id}", done), 303)


@router.post("/{account_id}/role")
def change_role(
    account_id: UUID, request: Request, session: DbSession, user: Admin, form: CheckedForm
) -> Response:
    account = _account(session, account_id)
    typed = values_of(form, "role", "location")
    try:
        role = _role(typed["role"])
        staff_accounts.change_role(
            session,
            account_id=account_id,
            role=role,
            location=_store_of(session, role, typed["location"]),
        )
    except OmnikanalError as exc:
        return _account_page(
            request, session, user, account, refused=refusal("role", form, exc, values=typed)
        )
    where = f" at {account.location}" if account.location else ""
    return _back(account_id, f"{account.name} is now {account.role}{where}.")


def _not_self(user: SignedIn, account_id: UUID) -> None:
    if account_id == user.account_id:
        raise BadRequest(
            CommonErrorCode.BAD_REQUEST,
            "You cannot disable your own account; another admin can.",
        )


@router.get("/{account_id}/disable")
def confirm_disable(
    account_id: UUID, request: Request, session: DbSession, user: Admin
) -> Response:
    _not_self(user, account_id)
    account = _account(session, account_id)
    return render(
        request, "staff_disable.html", title=f"Disable {account.name}?", user=user, account=account
    )


@router.post("/{account_id}/disable")
def disable(account_id: UUID, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    _not_self(user, account_id)
    account = service.disable_account(session, account_id=account_id)
    return _back(account_id, f"{account.name} is disabled and signed out everywhere.")


@router.post("/{account_id}/enable")
def enable(account_id: UUID, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    account = staff_accounts.enable(session, account_id=account_id)
    return _back(account_id, f"{account.name} can sign in again.")
