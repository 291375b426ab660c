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


class StaffAccount(Base):
    """A named person who signs in to the console: what they do is recorded under their id.

    ``password_hash`` is empty until an invited person chooses a password; only the hash of
    the invitation's one-time token is kept.
    """

    __tablename__ = "auth_staff_account"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # Lower-cased and NFC-normalised, so one address is one account however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # The store of store staff (a location code).
    location: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Base32 secret of the person's authenticator app (RFC 6238), when they turned it on.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    invite_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None]
