"""Staff accounts: named people who sign in to the console with their email, a password
and, when they turned it on, a one-time code from an authenticator app (RFC 6238).

Passwords are hashed with Argon2id (argon2-cffi's defaults, re-hashed on sign-in when those
change). Unknown emails cost the same Argon2 verification as known ones and get the same
answer, so neither the answer nor its timing says who has an account.
"""

import functools
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from omnikanal.auth import repository
from omnikanal.auth.models import Channel, Role, StaffAccount
from omnikanal.auth.service import CredentialKind, StaffActor
from omnikanal.errors import Forbidden, NotFound, RuleViolation, Unauthorized
from omnikanal.kit.time import utcnow

# Every role but a channel's back end is held by people.
STAFF_ROLES = tuple(role for role in Role if role is not Role.CHANNEL)
# Who may be given a conversation: those who open the inbox.
CONVERSATION_ROLES = frozenset({Role.AGENT, Role.ADMIN})
MIN_PASSWORD_LENGTH = 12
# Longer than any pass phrase; bounds the work one request can ask of Argon2.
MAX_PASSWORD_LENGTH = 1024
INVITATION_LIFETIME = timedelta(days=7)
TOTP_ISSUER = "omnikanal"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()


class StaffErrorCode(StrEnum):
    INVALID_EMAIL = "invalid_email"
    EMAIL_TAKEN = "email_taken"
    NAME_REQUIRED = "name_required"
    ROLE_NOT_FOR_PEOPLE = "role_not_for_people"
    LOCATION_REQUIRED = "location_required"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORDS_DIFFER = "passwords_differ"
    STAFF_ACCOUNT_NOT_FOUND = "staff_account_not_found"
    INVITATION_INVALID = "invitation_invalid"
    SIGN_IN_FAILED = "sign_in_failed"
    ACCOUNT_LOCKED = "account_locked"
    CODE_REQUIRED = "code_required"
    CODE_WRONG = "code_wrong"
    TOTP_ALREADY_ON = "totp_already_on"
    TOTP_NOT_ON = "totp_not_on"


@dataclass(frozen=True)
class StaffMember:
    """A person as others see them (in lists, on assigned conversations)."""

    id: UUID
    name: str
    email: str
    role: Role


@dataclass(frozen=True)
class LockOut:
    """How many failed sign-ins in a row lock an account, and for how long."""

    max_failed: int = 5
    duration: timedelta = timedelta(minutes=15)


def normalise_email(email: str) -> str:
    """One spelling per address: NFC, trimmed, lower-cased."""
    return unicodedata.normalize("NFC", email).strip().lower()


def _field_error(code: StaffErrorCode, field: str, message: str) -> RuleViolation:
    return RuleViolation(code, message, errors=[{"field": field, "message": message}])


def _valid_email(email: str) -> str:
    normalised = normalise_email(email)
    if len(normalised) > 320 or not EMAIL_PATTERN.match(normalised):
        raise _field_error(
            StaffErrorCode.INVALID_EMAIL, "email", "Enter an email address like name@example.com."
        )
    return normalised


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _field_error(
            StaffErrorCode.PASSWORD_TOO_SHORT,
            "password",
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _field_error(
            StaffErrorCode.PASSWORD_TOO_LONG,
            "password",
            f"A password has at most {MAX_PASSWORD_LENGTH} characters.",
        )


def passwords_differ() -> RuleViolation:
    return _field_error(
        StaffErrorCode.PASSWORDS_DIFFER,
        "repeated",
        "The two passwords differ: type the same twice.",
    )


def _role_and_location(role: Role, location: str | None) -> str | None:
    """The location kept for the role: store staff belong to one store, others to none."""
    if role is Role.CHANNEL:
        raise _field_error(
            StaffErrorCode.ROLE_NOT_FOR_PEOPLE,
            "role",
            "The channel role is for back ends (secret keys), not people.",
        )
    if role is not Role.STORE:
        return None
    code = (location or "").strip()
    if not code:
        raise _field_error(
            StaffErrorCode.LOCATION_REQUIRED,
            "location",
            "Store staff belong to a store: choose one.",
        )
    return code


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _spend_as_a_check(password: str) -> None:
    """The cost of one verification, for an answer that must not be quicker than a real one."""
    _verify(_decoy_hash(), password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_account(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    location: str | None = None,
    password: str | None = None,
) -> tuple[StaffAccount, str | None]:
    """A new account, with its password, or else as an invitation: then the one-time token
    of the invitation link (valid for 7 days) is returned; only its hash is kept."""
    normalised = _valid_email(email)
    shown_name = name.strip()
    if not shown_name:
        raise _field_error(StaffErrorCode.NAME_REQUIRED, "name", "Enter the person's name.")
    kept_location = _role_and_location(role, location)
    if repository.staff_account_by_email(session, normalised) is not None:
        raise _field_error(
            StaffErrorCode.EMAIL_TAKEN, "email", f"There is an account for {normalised} already."
        )
    account = StaffAccount(
        email=normalised,
        name=shown_name[:200],
        role=role.value,
        location=kept_location,
        failed_sign_ins=0,
    )
    token: str | None = None
    if password is not None:
        account.password_hash = hash_password(password)
    else:
        token = secrets.token_urlsafe(32)
        account.invite_token_hash = _token_hash(token)
        account.invite_expires_at = utcnow() + INVITATION_LIFETIME
    session.add(account)
    session.flush()
    return account, token


def invitation(session: Session, *, token: str) -> StaffAccount:
    """The account an invitation link is for, while the link is valid."""
    account = repository.staff_account_by_invite(session, _token_hash(token)) if token else None
    if (
        account is None
        or account.invite_expires_at is None
        or account.invite_expires_at <= utcnow()
        or account.disabled_at is not None
    ):
        raise NotFound(
            StaffErrorCode.INVITATION_INVALID,
            "This invitation link is not valid or has expired; ask an admin for a new one.",
        )
    return account


def accept_invitation(session: Session, *, token: str, password: str) -> StaffAccount:
    """The invited person chooses their password; the link then stops working."""
    account = invitation(session, token=token)
    account.password_hash = hash_password(password)
    account.invite_token_hash = None
    account.invite_expires_at = None
    session.flush()
    return account


def get_account(session: Session, *, account_id: UUID, lock: bool = False) -> StaffAccount:
    account = repository.get_staff_account(session, account_id, lock=lock)
    if account is None:
        raise NotFound(StaffErrorCode.STAFF_ACCOUNT_NOT_FOUND, "There is no such staff account.")
    return account


def account_by_email(session: Session, *, email: str) -> StaffAccount:
    account = repository.staff_account_by_email(session, normalise_email(email))
    if account is None:
        raise NotFound(
            StaffErrorCode.STAFF_ACCOUNT_NOT_FOUND, f"There is no staff account for {email}."
        )
    return account


def accounts(session: Session) -> list[StaffAccount]:
    return list(repository.list_staff_accounts(session))


def change_role(
    session: Session, *, account_id: UUID, role: Role, location: str | None
) -> StaffAccount:
    """Takes effect at the person's next page: the console reads the role on every page."""
    account = get_account(session, account_id=account_id, lock=True)
    account.location = _role_and_location(role, location)
    account.role = role.value
    session.flush()
    return account


def disable(session: Session, *, account_id: UUID) -> StaffAccount:
    """The person can no longer sign in; an open console session ends at its next page
    (the console also deletes them at once)."""
    account = get_account(session, account_id=account_id, lock=True)
    account.disabled_at = account.disabled_at or utcnow()
    session.flush()
    return account


def enable(session: Session, *, account_id: UUID) -> StaffAccount:
    account = get_account(session, account_id=account_id, lock=True)
    account.disabled_at = None
    account.failed_sign_ins = 0
    account.locked_until = None
    session.flush()
    return account


def _sign_in_failed() -> Unauthorized:
    return Unauthorized(StaffErrorCode.SIGN_IN_FAILED, "The email or password is not right.")


def _count_failure(account: StaffAccount, now: datetime, lock_out: LockOut) -> None:
    account.failed_sign_ins += 1
    if account.failed_sign_ins >= lock_out.max_failed:
        # Locked for a while; then a fresh count of tries.
        account.locked_until = now + lock_out.duration
        account.failed_sign_ins = 0


def verify_password(
    session: Session,
    *,
    email: str,
    password: str,
    code: str | None = None,
    lock_out: LockOut | None = None,
) -> StaffActor:
    """The actor of the person whose email, password (and code, when they use one) these
    are. Each failure is counted on the account; the caller commits even when this raises,
    so that the count holds."""
    lock_out = lock_out or LockOut()
    now = utcnow()
    password = password[:MAX_PASSWORD_LENGTH]
    # Locked: two sign-ins at once both count their failure.
    account = repository.staff_account_by_email(session, normalise_email(email), lock=True)
    if account is None or account.password_hash is None or account.disabled_at is not None:
        _spend_as_a_check(password)
        raise _sign_in_failed()
    if account.locked_until is not None and account.locked_until > now:
        _spend_as_a_check(password)
        minutes = max(1, round((account.locked_until - now).total_seconds() / 60))
        raise Forbidden(
            StaffErrorCode.ACCOUNT_LOCKED,
            f"Too many failed sign-ins: this account is locked for {minutes} more minute"
            f"{'s' if minutes != 1 else ''}.",
        )
    if not _verify(account.password_hash, password):
        _count_failure(account, now, lock_out)
        session.flush()
        raise _sign_in_failed()
    if account.totp_secret is not None:
        if not (code or "").strip():
            raise Unauthorized(
                StaffErrorCode.CODE_REQUIRED,
                "Enter the 6-digit code from your authenticator app as well.",
            )
        if not _code_matches(account.totp_secret, code):
            _count_failure(account, now, lock_out)
            session.flush()
            raise Unauthorized(
                StaffErrorCode.CODE_WRONG, "The 6-digit code is not right; try the current one."
            )
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.failed_sign_ins = 0
    account.locked_until = None
    account.last_sign_in_at = now
    session.flush()
    return actor_of(account)


# -- one-time codes --


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(*, secret: str, email: str) -> str:
    """The otpauth:// address an authenticator app reads (as a QR code or a link)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _code_matches(secret: str, code: str | None) -> bool:
    digits = re.sub(r"\s", "", code or "")
    # One step either side: a phone's clock a little off, a code typed as it turned.
    return (
        len(digits) == 6 and digits.isdigit() and pyotp.TOTP(secret).verify(digits, valid_window=1)
    )


def turn_on_totp(session: Session, *, account_id: UUID, secret: str, code: str) -> StaffAccount:
    """Turned on only with a code the person's app made from ``secret``: they have it."""
    account = get_account(session, account_id=account_id, lock=True)
    if account.totp_secret is not None:
        raise RuleViolation(StaffErrorCode.TOTP_ALREADY_ON, "One-time codes are on already.")
    if not re.fullmatch(r"[A-Z2-7]{16,64}", secret) or not _code_matches(secret, code):
        raise _field_error(
            StaffErrorCode.CODE_WRONG,
            "code",
            "That code does not match; type the 6-digit code your app shows now.",
        )
    account.totp_secret = secret
    session.flush()
    return account


def turn_off_totp(session: Session, *, account_id: UUID, code: str) -> StaffAccount:
    """Turned off with a current code, so that a browser left signed in cannot do it."""
    account = get_account(session, account_id=account_id, lock=True)
    if account.totp_secret is None:
        raise RuleViolation(StaffErrorCode.TOTP_NOT_ON, "One-time codes are off already.")
    if not _code_matches(account.totp_secret, code):
        raise _field_error(
            StaffErrorCode.CODE_WRONG,
            "code",
            "That code does not match; type the 6-digit code your app shows now.",
        )
    account.totp_secret = None
    session.flush()
    return account


# -- the person as an actor and as others see them --


def actor_of(account: StaffAccount) -> StaffActor:
    role = Role(account.role)
    return StaffActor(
        credential_id=account.id,
        name=account.name,
        role=role,
        location=account.location,
        # Store staff sell at the till, as store keys do.
        channel=Channel.POS if role is Role.STORE else None,
        kind=CredentialKind.STAFF_ACCOUNT,
    )


def staff_actor(session: Session, *, account_id: UUID) -> StaffActor | None:
    """The actor of an account that may still act (console sessions re-check every page)."""
    account = repository.get_staff_account(session, account_id)
    if account is None or account.disabled_at is not None or account.password_hash is None:
        return None
    return actor_of(account)


def _member(account: StaffAccount) -> StaffMember:
    return StaffMember(
        id=account.id, name=account.name, email=account.email, role=Role(account.role)
    )


def members(session: Session, account_ids: set[UUID]) -> dict[UUID, StaffMember]:
    return {a.id: _member(a) for a in repository.staff_accounts_by_id(session, account_ids)}


def conversation_handlers(session: Session) -> list[StaffMember]:
    """Active people who may be given a conversation."""
    roles = {role.value for role in CONVERSATION_ROLES}
    return [_member(a) for a in repository.active_staff_with_roles(session, roles)]


def find_member(session: Session, *, reference: str) -> StaffMember | None:
    """The person an account id or email names, whatever the account's state."""
    text = reference.strip()
    try:
        account = repository.get_staff_account(session, UUID(text))
    except ValueError:
        account = repository.staff_account_by_email(session, normalise_email(text))
    return None if account is None else _member(account)


def conversation_handler(session: Session, *, reference: str) -> StaffMember | None:
    """The active person an account id or email names, when they may handle conversations."""
    found = find_member(session, reference=reference)
    if found is None or found.role not in CONVERSATION_ROLES:
        return None
    account = repository.get_staff_account(session, found.id)
    if account is None or account.disabled_at is not None or account.password_hash is None:
        return None
    return found
