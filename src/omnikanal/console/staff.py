"""Admins manage the people who use the console: invite, change role or store, disable
and enable (S16: only authorised staff, each under their own name)."""

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import Role, StaffAccount
from omnikanal.console import service
from omnikanal.console.dependencies import CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError, RuleViolation
from omnikanal.http import DbSession
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow

router = APIRouter(prefix="/staff")

Admin = Annotated[SignedIn, Depends(require_console_roles())]

ROLE_CHOICES = [role.value for role in staff_accounts.STAFF_ROLES]


@dataclass
class Typed:
    """What was typed into a form, shown again with the error beside its field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def of(cls, form: FormData, *names: str) -> "Typed":
        return cls(values={name: _text(form, name) for name in names})

    def failed(self, exc: OmnikanalError) -> "Typed":
        for error in exc.extra.get("errors", []):
            self.errors[str(error["field"])] = str(error["message"])
        self.message = exc.detail
        return self


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


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
    typed: Typed | None = None,
    invited: tuple[StaffAccount, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff.html",
        title="Staff",
        user=user,
        accounts=[(a, status_of(a)) for a in staff_accounts.accounts(session)],
        stores=_stores(session),
        roles=ROLE_CHOICES,
        typed=typed or Typed(values={"role": Role.AGENT.value}),
        invited=invited,
        done=request.query_params.get("done"),
        status_code=status_code,
    )


@router.get("")
def staff_list(request: Request, session: DbSession, user: Admin) -> Response:
    return _list_page(request, session, user)


def _invitation_link(request: Request, token: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/console/invitation?{urlencode({'token': token})}"


@router.post("/invite")
def invite(request: Request, session: DbSession, user: Admin, form: CheckedForm) -> Response:
    typed = Typed.of(form, "email", "name", "role", "location")
    try:
        role = _role(typed.values["role"])
        account, token = staff_accounts.create_account(
            session,
            email=typed.values["email"],
            name=typed.values["name"],
            role=role,
            location=_store_of(session, role, typed.values["location"]),
        )
    except OmnikanalError as exc:
        return _list_page(request, session, user, typed=typed.failed(exc), status_code=exc.status)
    assert token is not None
    # Shown this once: only the token's hash is kept.
    return _list_page(request, session, user, invited=(account, _invitation_link(request, token)))


def _account(session: Session, account_id: UUID) -> StaffAccount:
    return staff_accounts.get_account(session, account_id=account_id)


def _account_page(
    request: Request,
    session: Session,
    user: SignedIn,
    account: StaffAccount,
    *,
    typed: Typed | None = None,
    status_code: int = 200,
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
        typed=typed or Typed(values={"role": account.role, "location": account.location or ""}),
        is_self=account.id == user.account_id,
        done=request.query_params.get("done"),
        status_code=status_code,
    )


@router.get("/{account_id}")
def account_page(account_id: UUID, request: Request, session: DbSession, user: Admin) -> Response:
    return _account_page(request, session, user, _account(session, account_id))


def _back(account_id: UUID, done: str) -> Response:
    return RedirectResponse(f"/console/staff/{account_id}?{urlencode({'done': done})}", 303)


@router.post("/{account_id}/role")
def change_role(
    account_id: UUID, request: Request, session: DbSession, user: Admin, form: CheckedForm
) -> Response:
    account = _account(session, account_id)
    typed = Typed.of(form, "role", "location")
    try:
        role = _role(typed.values["role"])
        staff_accounts.change_role(
            session,
            account_id=account_id,
            role=role,
            location=_store_of(session, role, typed.values["location"]),
        )
    except OmnikanalError as exc:
        return _account_page(
            request, session, user, account, typed=typed.failed(exc), status_code=exc.status
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
