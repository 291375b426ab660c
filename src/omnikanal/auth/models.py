from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from omnikanal.db import Base
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    POS = "pos"
    CHAT = "chat"
    PHONE = "phone"
    EMAIL = "email"
    SOCIAL = "social"
    BACKEND = "backend"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    STORE = "store"
    MARKETER = "marketer"
    ANALYST = "analyst"
    # A channel's back end (web shop, app, till system): carts, checkout, orders, returns.
    CHANNEL = "channel"


class Source(Base):
    """Something that sends events: a web shop, an app, one store's tills, a chat widget."""

    __tablename__ = "auth_source"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(100))
    write_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class SecretKey(Base):
    """A credential for staff and back ends; its role limits what it may read and change."""

    __tablename__ = "auth_secret_key"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Store staff keys belong to one store.
    location: Mapped[str | None] = mapped_column(String(100))
    # The channel a key's commerce calls count for: a channel key's own, pos for store keys.
    channel: Mapped[str | None] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
