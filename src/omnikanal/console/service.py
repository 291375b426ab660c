"""Console sign-in, sessions and CSRF tokens.

People sign in with their staff account (email, password and, when they turned it on, a
one-time code). Secret keys are for machines and cannot open the console.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from omnikanal.auth import staff as staff_accounts
from omnikanal.auth.models import StaffAccount
from omnikanal.auth.service import StaffActor
from omnikanal.console.models import ConsoleSession
from omnikanal.errors import Forbidden
from omnikanal.kit.time import utcnow

# However busy, a session lasts no longer than a working day.
SESSION_LIFETIME = timedelta(hours=12)
DEFAULT_IDLE = timedelta(minutes=30)
# A page view moves the idle deadline on only when the last move is this old: one write
# per minute at most instead of one per page.
SLIDE_AFTER = timedelta(minutes=1)


class ConsoleErrorCode(StrEnum):
    CSRF_FAILED = "csrf_failed"
    SIGN_IN_FAILED = "sign_in_failed"


@dataclass(frozen=True)
class SignedIn:
    actor: StaffActor
    csrf_token: str
    session_id: str
    last_seen_at: datetime

    @property
    def account_id(self) -> UUID:
        return self.actor.credential_id


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    code: str | None = None,
    lock_out: staff_accounts.LockOut | None = None,
) -> tuple[str, SignedIn]:
    """Check the person's credentials and open a console session; returns the cookie token
    (shown once). A failure raises after counting it on the account: commit even then."""
    actor = staff_accounts.verify_password(
        session, email=email, password=password, code=code, lock_out=lock_out
    )
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = ConsoleSession(
        token_hash=_hash(token),
        staff_account_id=actor.credential_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    return token, SignedIn(
        actor=actor, csrf_token=row.csrf_token, session_id=str(row.id), last_seen_at=now
    )


def current(
    session: Session, *, token: str | None, idle: timedelta = DEFAULT_IDLE
) -> SignedIn | None:
    """The signed-in person of a cookie, or None when absent, idle too long, past its
    12 hours, signed out, or their account disabled."""
    if not token:
        return None
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
    now = utcnow()
    if row is None or row.expires_at <= now or row.last_seen_at + idle <= now:
        return None
    actor = staff_accounts.staff_actor(session, account_id=row.staff_account_id)
    if actor is None:
        return None
    return SignedIn(
        actor=actor,
        csrf_token=row.csrf_token,
        session_id=str(row.id),
        last_seen_at=row.last_seen_at,
    )


def needs_sliding(user: SignedIn) -> bool:
    return utcnow() - user.last_seen_at >= SLIDE_AFTER


def slide(session: Session, *, session_id: str) -> None:
    """A page was viewed: the idle time starts again."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == UUID(session_id))
        .values(last_seen_at=utcnow())
    )


def sign_out(session: Session, *, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))


def disable_account(session: Session, *, account_id: UUID) -> StaffAccount:
    """The person can no longer sign in, and every browser they are signed in on is signed
    out now (the console's admin page and ``omnikanal staff disable``)."""
    account = staff_accounts.disable(session, account_id=account_id)
    session.execute(delete(ConsoleSession).where(ConsoleSession.staff_account_id == account_id))
    return account


def check_csrf(expected: str, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            ConsoleErrorCode.CSRF_FAILED,
            "The form is missing its security token or it has expired; reload and try again.",
        )
