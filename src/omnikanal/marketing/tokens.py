"""Signed, expiring tokens for links in messages (cart restore, unsubscribe).

``<base64url JSON>.<base64url HMAC-SHA256>``; the key is ``OMNIKANAL_SECRET_KEY`` or, when
unset, a random key generated once and kept in ``<data dir>/secret_key``."""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from omnikanal.config import Settings
from omnikanal.config import settings_of as settings_of  # where marketing reads it from


class InvalidToken(Exception):
    """Tampered, malformed, of another purpose, or expired."""


def secret_key(settings: Settings) -> bytes:
    return settings.resolved_secret_key().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(settings: Settings, *, purpose: str, data: dict[str, Any], expires_at: datetime) -> str:
    body = _b64(
        json.dumps(
            {**data, "p": purpose, "exp": int(expires_at.timestamp())}, separators=(",", ":")
        ).encode()
    )
    mac = hmac.new(secret_key(settings), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(settings: Settings, token: str, *, purpose: str, now: datetime) -> dict[str, Any]:
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret_key(settings), body.encode(), hashlib.sha256).digest()
        if not mac or not hmac.compare_digest(expected, _unb64(mac)):
            raise InvalidToken("the link's signature does not match")
        data: dict[str, Any] = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("the link is malformed") from exc
    if data.get("p") != purpose:
        raise InvalidToken("the link is not for this")
    if int(data.get("exp", 0)) < now.timestamp():
        raise InvalidToken("the link has expired")
    return data
