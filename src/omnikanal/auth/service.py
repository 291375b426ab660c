"""Issuing and checking credentials. Keys are random, shown once, stored as SHA-256 hashes
(they carry 192 bits of entropy, so a fast hash is enough, as for API tokens elsewhere)."""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth import repository
from omnikanal.auth.models import Channel, Role, SecretKey, Source
from omnikanal.errors import Forbidden, NotFound, RuleViolation, Unauthorized
from omnikanal.kit.time import utcnow

WRITE_KEY_PREFIX = "wk_"
SECRET_KEY_PREFIX = "sk_"


class AuthErrorCode(StrEnum):
    MISSING_CREDENTIALS = "missing_credentials"
    UNKNOWN_KEY = "unknown_key"
    WRONG_KEY_KIND = "wrong_key_kind"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    SOURCE_NOT_FOUND = "source_not_found"
    SECRET_KEY_NOT_FOUND = "secret_key_not_found"
    CHANNEL_REQUIRED = "channel_required"


@dataclass(frozen=True)
class SourceActor:
    """A channel integration authenticated by its write key."""

    source_id: UUID
    name: str
    channel: Channel
    location: str | None


class CredentialKind(StrEnum):
    SECRET_KEY = "secret_key"
    STAFF_ACCOUNT = "staff_account"


@dataclass(frozen=True)
class StaffActor:
    """A person or back end: a secret key, or a named staff account signed in to the console.

    ``credential_id`` is the id of whichever it is; what it did is recorded under that id.
    """

    credential_id: UUID
    name: str
    role: Role
    location: str | None
    # The channel its commerce calls count for (channel keys; store keys are pos).
    channel: Channel | None = None
    kind: CredentialKind = CredentialKind.SECRET_KEY


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def create_source(
    session: Session, *, name: str, channel: Channel, location: str | None
) -> tuple[Source, str]:
    write_key = _new_key(WRITE_KEY_PREFIX)
    source = Source(
        name=name,
        channel=channel.value,
        location=location,
        write_key_hash=hash_key(write_key),
        key_prefix=write_key[:10],
    )
    session.add(source)
    session.flush()
    return source, write_key


def create_secret_key(
    session: Session,
    *,
    role: Role,
    name: str,
    location: str | None,
    channel: Channel | None = None,
) -> tuple[SecretKey, str]:
    if role is Role.CHANNEL and channel is None:
        raise RuleViolation(
            AuthErrorCode.CHANNEL_REQUIRED,
            "A channel key names the channel its back end speaks for (web, app, pos ...).",
            errors=[{"field": "channel", "message": "required for the channel role"}],
        )
    if role is Role.STORE:
        channel = channel or Channel.POS
    secret = _new_key(SECRET_KEY_PREFIX)
    key = SecretKey(
        name=name or f"{role.value} key",
        role=role.value,
        location=location,
        channel=channel.value if channel else None,
        key_hash=hash_key(secret),
        key_prefix=secret[:10],
    )
    session.add(key)
    session.flush()
    return key, secret


def disable_source(session: Session, *, source_id: UUID) -> Source:
    source = repository.get_source(session, source_id)
    if source is None:
        raise NotFound(AuthErrorCode.SOURCE_NOT_FOUND, f"No source {source_id}.")
    source.disabled_at = source.disabled_at or utcnow()
    return source


def revoke_secret_key(session: Session, *, key_id: UUID) -> SecretKey:
    key = repository.get_secret_key(session, key_id)
    if key is None:
        raise NotFound(AuthErrorCode.SECRET_KEY_NOT_FOUND, f"No secret key {key_id}.")
    key.revoked_at = key.revoked_at or utcnow()
    return key


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="omnikanal", Bearer realm="omnikanal"'}


def _unknown() -> Unauthorized:
    return Unauthorized(AuthErrorCode.UNKNOWN_KEY, "The key is not known.", headers=_CHALLENGE)


def authenticate_source(session: Session, *, write_key: str | None) -> SourceActor:
    if not write_key:
        raise Unauthorized(
            AuthErrorCode.MISSING_CREDENTIALS,
            "Send a source's write key as the HTTP Basic user name.",
            headers=_CHALLENGE,
        )
    source = repository.source_by_key_hash(session, hash_key(write_key))
    if source is None or source.disabled_at is not None:
        if repository.secret_key_by_hash(session, hash_key(write_key)) is not None:
            raise Forbidden(
                AuthErrorCode.WRONG_KEY_KIND,
                "Secret keys cannot ingest events; use a source's write key.",
            )
        raise _unknown()
    return SourceActor(
        source_id=source.id,
        name=source.name,
        channel=Channel(source.channel),
        location=source.location,
    )


def authenticate_staff(
    session: Session, *, secret: str | None, allowed: frozenset[Role]
) -> StaffActor:
    if not secret:
        raise Unauthorized(
            AuthErrorCode.MISSING_CREDENTIALS,
            "Send a secret key as 'Authorization: Bearer <key>'.",
            headers=_CHALLENGE,
        )
    key = repository.secret_key_by_hash(session, hash_key(secret))
    if key is None or key.revoked_at is not None:
        if repository.source_by_key_hash(session, hash_key(secret)) is not None:
            raise Forbidden(AuthErrorCode.WRONG_KEY_KIND, "Write keys may only ingest events.")
        raise _unknown()
    role = Role(key.role)
    if role is not Role.ADMIN and role not in allowed:
        raise Forbidden(
            AuthErrorCode.ROLE_NOT_ALLOWED,
            f"The {role.value} role may not do this; allowed: "
            + ", ".join(sorted(r.value for r in allowed | {Role.ADMIN})),
        )
    return _staff(key)


def staff_actor(session: Session, *, key_id: UUID) -> StaffActor | None:
    """The actor of a still-valid secret key (console sessions re-check it on every page)."""
    key = repository.get_secret_key(session, key_id)
    if key is None or key.revoked_at is not None:
        return None
    return _staff(key)


def _staff(key: SecretKey) -> StaffActor:
    return StaffActor(
        credential_id=key.id,
        name=key.name,
        role=Role(key.role),
        location=key.location,
        channel=Channel(key.channel) if key.channel else None,
    )


def source_names(session: Session, source_ids: set[UUID]) -> dict[UUID, str]:
    """Names of the credentials that sent events: sources, the secret keys of back ends,
    and staff accounts (orders, returns and carts reach the timeline through them)."""
    names = {s.id: s.name for s in repository.sources_by_id(session, source_ids)}
    rest = source_ids - names.keys()
    if rest:
        names.update({k.id: k.name for k in repository.secret_keys_by_id(session, rest)})
    rest -= names.keys()
    if rest:
        names.update({a.id: a.name for a in repository.staff_accounts_by_id(session, rest)})
    return names


def locations_of(session: Session, credential_ids: set[UUID]) -> dict[UUID, str]:
    """The store each of these secret keys or staff accounts works at (those with one)."""
    found: dict[UUID, str] = {}
    for key in repository.secret_keys_by_id(session, credential_ids):
        if key.location:
            found[key.id] = key.location
    for account in repository.staff_accounts_by_id(session, credential_ids):
        if account.location:
            found[account.id] = account.location
    return found


# -- what the admins' console page lists --


def sources(session: Session) -> Sequence[Source]:
    return repository.list_sources(session)


def secret_keys(session: Session) -> Sequence[SecretKey]:
    return repository.list_secret_keys(session)


def get_source(session: Session, *, source_id: UUID) -> Source:
    source = repository.get_source(session, source_id)
    if source is None:
        raise NotFound(AuthErrorCode.SOURCE_NOT_FOUND, f"No source {source_id}.")
    return source


def get_secret_key(session: Session, *, key_id: UUID) -> SecretKey:
    key = repository.get_secret_key(session, key_id)
    if key is None:
        raise NotFound(AuthErrorCode.SECRET_KEY_NOT_FOUND, f"No secret key {key_id}.")
    return key
