from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnikanal.auth.models import SecretKey, Source, StaffAccount


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


def staff_account_by_email(
    session: Session, email: str, *, lock: bool = False
) -> StaffAccount | None:
    query = select(StaffAccount).where(StaffAccount.email == email)
    return session.scalar(query.with_for_update() if lock else query)


def staff_account_by_invite(session: Session, token_hash: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.invite_token_hash == token_hash))


def get_staff_account(
    session: Session, account_id: UUID, *, lock: bool = False
) -> StaffAccount | None:
    return session.get(StaffAccount, account_id, with_for_update=lock)


def list_staff_accounts(session: Session) -> Sequence[StaffAccount]:
    return session.scalars(
        select(StaffAccount).order_by(StaffAccount.name, StaffAccount.email)
    ).all()


def staff_accounts_by_id(session: Session, account_ids: set[UUID]) -> Sequence[StaffAccount]:
    if not account_ids:
        return []
    return session.scalars(select(StaffAccount).where(StaffAccount.id.in_(account_ids))).all()


def active_staff_with_roles(session: Session, roles: set[str]) -> Sequence[StaffAccount]:
    return session.scalars(
        select(StaffAccount)
        .where(
            StaffAccount.role.in_(roles),
            StaffAccount.disabled_at.is_(None),
            StaffAccount.password_hash.is_not(None),
        )
        .order_by(StaffAccount.name, StaffAccount.email)
    ).all()
