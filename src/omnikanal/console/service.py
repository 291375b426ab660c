"""Console sign-in, sessions and CSRF tokens."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.console.models import ConsoleSession
from omnikanal.errors import Forbidden, OmnikanalError
from omnikanal.kit.time import utcnow

SESSION_LIFETIME = timedelta(hours=12)


class ConsoleErrorCode(StrEnum):
    CSRF_FAILED = "csrf_failed"
    SIGN_IN_FAILED = "sign_in_failed"


@dataclass(frozen=True)
class SignedIn:
    actor: StaffActor
    csrf_token: str
    session_id: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(session: Session, *, secret_key: str) -> tuple[str, SignedIn]:
    """Check the key and open a console session; returns the cookie token (shown once)."""
    try:
        actor = auth_service.authenticate_staff(
            session, secret=secret_key.strip(), allowed=frozenset(Role)
        )
    except OmnikanalError as exc:
        raise Forbidden(
            ConsoleErrorCode.SIGN_IN_FAILED, "That key is not a valid secret key."
        ) from exc
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_hash(token),
        key_id=actor.credential_id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    return token, SignedIn(actor=actor, csrf_token=row.csrf_token, session_id=str(row.id))


def current(session: Session, *, token: str | None) -> SignedIn | None:
    """The signed-in actor of a cookie, or None when absent, expired or revoked."""
    if not token:
        return None
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    actor = auth_service.staff_actor(session, key_id=row.key_id)
    if actor is None:
        return None
    return SignedIn(actor=actor, csrf_token=row.csrf_token, session_id=str(row.id))


def sign_out(session: Session, *, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))


def check_csrf(expected: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            ConsoleErrorCode.CSRF_FAILED,
            "The form is missing its security token or it has expired; reload and try again.",
        )
