"""Replaying the first response to an Idempotency-Key (Stripe's rules).

A key is scoped to the credential that sent it. The first *successful* response is stored
in the same transaction as the work it did, so a retry either finds it or finds nothing
done. Failed requests change nothing and are not remembered: retrying one runs it again.
The same key with another method, path or body is refused with 409.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from omnikanal.db import insert_ignoring_duplicates
from omnikanal.errors import BadRequest, Conflict
from omnikanal.idempotency.models import IdempotencyRecord
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
# Only these response headers are worth replaying.
REPLAYED_HEADERS = ("content-type", "location")


class IdempotencyErrorCode(StrEnum):
    KEY_REUSED = "idempotency_key_reused"
    KEY_IN_USE = "idempotency_key_in_use"
    KEY_INVALID = "idempotency_key_invalid"


@dataclass(frozen=True)
class IdempotentRequest:
    principal: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class StoredResponse:
    """A plain copy of a stored response: read once in the worker thread, so replaying it
    never touches the database (an expired ORM object would query again on the event loop)."""

    status_code: int
    headers: dict[str, str]
    body: bytes


def describe(
    *, key: str, credential: str, method: str, path: str, body: bytes
) -> IdempotentRequest:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            IdempotencyErrorCode.KEY_INVALID,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
        )
    principal = hashlib.sha256(credential.encode()).hexdigest()
    digest = hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()
    return IdempotentRequest(principal=principal, key=key, request_hash=digest)


def find(session: Session, request: IdempotentRequest) -> StoredResponse | None:
    """The stored response for this key, or None; 409 when the key was used differently."""
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == request.principal,
            IdempotencyRecord.key == request.key,
        )
    )
    if record is None:
        return None
    if record.request_hash != request.request_hash:
        raise Conflict(
            IdempotencyErrorCode.KEY_REUSED,
            "This Idempotency-Key was already used for a different request.",
        )
    return StoredResponse(
        status_code=record.status_code,
        headers={str(k): str(v) for k, v in record.response_headers.items()},
        body=bytes(record.response_body),
    )


def remember(
    session: Session,
    request: IdempotentRequest,
    *,
    status_code: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    session.add(
        IdempotencyRecord(
            principal=request.principal,
            key=request.key,
            request_hash=request.request_hash,
            status_code=status_code,
            response_headers={k: v for k, v in headers.items() if k in REPLAYED_HEADERS},
            response_body=body,
        )
    )


def purge_expired(session: Session, *, older_than: timedelta) -> int:
    result = session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_job(session: Session) -> None:
    """Periodic: forget results older than the configured time (never under 24 hours)."""
    settings = session.info.get("settings")
    hours = settings.idempotency_ttl_hours if settings is not None else 48
    purge_expired(session, older_than=timedelta(hours=max(hours, 24)))


# -- stored responses that name a person (privacy.py) --

SCAN_PAGE = 500


def stored_pages(session: Session) -> Iterator[list[tuple[UUID, dict[str, Any], bytes]]]:
    """Every stored response (id, headers, body), a page at a time in id order."""
    after: UUID | None = None
    while True:
        query = select(
            IdempotencyRecord.id,
            IdempotencyRecord.response_headers,
            IdempotencyRecord.response_body,
        ).order_by(IdempotencyRecord.id)
        if after is not None:
            query = query.where(IdempotencyRecord.id > after)
        page = [(i, headers, body) for i, headers, body in session.execute(query.limit(SCAN_PAGE))]
        if not page:
            return
        yield page
        after = page[-1][0]


def forget(session: Session, record_ids: Sequence[UUID]) -> int:
    if not record_ids:
        return 0
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(record_ids)))
    return int(getattr(result, "rowcount", 0) or 0)


# -- one-time tokens of the console's forms --

FORM_STATUS = 303


def use_form_token(session: Session, *, principal: str, token: str, location: str) -> str | None:
    """Spend a form's one-time token in the caller's transaction; None when it was unspent,
    else where its first submission led (a double submit does its work once). Concurrent
    submissions queue on the unique key: the later finds the earlier's committed row. A
    refused form rolls back, so its token can be sent again."""
    request = IdempotentRequest(
        principal=hashlib.sha256(f"console-form:{principal}".encode()).hexdigest(),
        key=token[:MAX_KEY_LENGTH],
        request_hash=hashlib.sha256(b"console form").hexdigest(),
    )
    inserted = insert_ignoring_duplicates(
        session,
        cast(Table, IdempotencyRecord.__table__),
        [
            {
                "id": new_id(),
                "principal": request.principal,
                "key": request.key,
                "request_hash": request.request_hash,
                "status_code": FORM_STATUS,
                "response_headers": {"location": location},
                "response_body": b"",
                "created_at": utcnow(),
            }
        ],
        keys=["principal", "key"],
        returning=["id"],
    )
    if inserted:
        return None
    stored = find(session, request)
    return stored.headers.get("location", location) if stored is not None else location


def settle_form_token(session: Session, *, principal: str, token: str, location: str) -> None:
    """Where a spent token's submission led, once the work knows (the new campaign's page):
    a second submission is sent there."""
    principal_hash = hashlib.sha256(f"console-form:{principal}".encode()).hexdigest()
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal_hash,
            IdempotencyRecord.key == token[:MAX_KEY_LENGTH],
        )
    )
    if record is not None:
        record.response_headers = {"location": location}
        session.flush()
