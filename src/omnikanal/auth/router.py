from uuid import UUID

from fastapi import APIRouter

from omnikanal.auth import repository, service
from omnikanal.auth.dependencies import AdminKey
from omnikanal.auth.schemas import (
    SecretKeyCreate,
    SecretKeyCreated,
    SecretKeyRead,
    SourceCreate,
    SourceCreated,
    SourceRead,
)
from omnikanal.http import DbSession

router = APIRouter(prefix="/v1", tags=["credentials"])


@router.post("/sources", status_code=201, response_model=SourceCreated)
def create_source(body: SourceCreate, session: DbSession, _: AdminKey) -> SourceCreated:
    source, write_key = service.create_source(
        session, name=body.name, channel=body.channel, location=body.location
    )
    return SourceCreated.model_validate(
        {**SourceRead.model_validate(source).model_dump(), "write_key": write_key}
    )


@router.get("/sources", response_model=list[SourceRead])
def list_sources(session: DbSession, _: AdminKey) -> list[SourceRead]:
    return [SourceRead.model_validate(s) for s in repository.list_sources(session)]


@router.post("/sources/{source_id}/disable", response_model=SourceRead)
def disable_source(source_id: UUID, session: DbSession, _: AdminKey) -> SourceRead:
    return SourceRead.model_validate(service.disable_source(session, source_id=source_id))


@router.post("/keys", status_code=201, response_model=SecretKeyCreated)
def create_key(body: SecretKeyCreate, session: DbSession, _: AdminKey) -> SecretKeyCreated:
    key, secret = service.create_secret_key(
        session, role=body.role, name=body.name, location=body.location, channel=body.channel
    )
    return SecretKeyCreated.model_validate(
        {**SecretKeyRead.model_validate(key).model_dump(), "secret_key": secret}
    )


@router.get("/keys", response_model=list[SecretKeyRead])
def list_keys(session: DbSession, _: AdminKey) -> list[SecretKeyRead]:
    return [SecretKeyRead.model_validate(k) for k in repository.list_secret_keys(session)]


@router.post("/keys/{key_id}/revoke", response_model=SecretKeyRead)
def revoke_key(key_id: UUID, session: DbSession, _: AdminKey) -> SecretKeyRead:
    return SecretKeyRead.model_validate(service.revoke_secret_key(session, key_id=key_id))
