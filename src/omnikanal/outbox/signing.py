"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature)."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id=message_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }


def verify(
    secret: str, *, message_id: str, timestamp: int, body: bytes, signature_header: str
) -> bool:
    expected = sign(secret, message_id=message_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, sig) for sig in signature_header.split())
