from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnikanal.auth.models import SecretKey, Source


def source_by_key_hash(session: Session, key_hash: str) -> Source | None:
    return session.scalar(select(Source).where(Source.write_key_hash == key_hash))


def secret_key_by_hash(session: Session, key_hash: str) -> SecretKey | None:
    return session.scalar(select(SecretKey).where(SecretKey.key_hash == key_hash))


def list_sources(session: Session) -> Sequence[Source]:
    return session.scalars(select(Source).order_by(Source.created_at)).all()


def list_secret_keys(session: Session) -> Sequence[SecretKey]:
    return session.scalars(select(SecretKey).order_by(SecretKey.created_at)).all()


def get_source(session: Session, source_id: UUID) -> Source | None:
    return session.get(Source, source_id)


def get_secret_key(session: Session, key_id: UUID) -> SecretKey | None:
    return session.get(SecretKey, key_id)


def sources_by_id(session: Session, source_ids: set[UUID]) -> Sequence[Source]:
    if not source_ids:
        return []
    return session.scalars(select(Source).where(Source.id.in_(source_ids))).all()


def secret_keys_by_id(session: Session, key_ids: set[UUID]) -> Sequence[SecretKey]:
    if not key_ids:
        return []
    return session.scalars(select(SecretKey).where(SecretKey.id.in_(key_ids))).all()
