from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from omnikanal.auth.models import Channel, Role


class SourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    location: str | None = Field(default=None, max_length=100)


class SourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    channel: Channel
    location: str | None
    key_prefix: str
    created_at: datetime
    disabled_at: datetime | None


class SourceCreated(SourceRead):
    write_key: str = Field(description="Shown once; only its hash is kept.")


class SecretKeyCreate(BaseModel):
    role: Role
    name: str = Field(default="", max_length=200)
    location: str | None = Field(default=None, max_length=100)
    channel: Channel | None = Field(
        default=None,
        description="Required for a channel key (its back end's channel); store keys are pos.",
    )


class SecretKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    role: Role
    location: str | None
    channel: Channel | None
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class SecretKeyCreated(SecretKeyRead):
    secret_key: str = Field(description="Shown once; only its hash is kept.")
