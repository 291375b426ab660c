"""The suppression list: addresses of erased people, never sent marketing again.

Only a keyed hash of each normalised address is kept (HMAC-SHA256 with the hub's secret
key): the list can say "this address is suppressed" without holding the address, and a
stolen copy cannot be reversed by hashing a list of known addresses without the key."""

import hashlib
import hmac

from sqlalchemy.orm import Session

from omnikanal.marketing import repository
from omnikanal.marketing.tokens import secret_key, settings_of

EMAIL = "email"
PHONE = "phone"
ERASED = "erased"
# The kind of address each messaging channel sends to (push goes to the app, no address).
ADDRESS_OF_CHANNEL = {"email": EMAIL, "sms": PHONE}


def normalise(kind: str, address: str) -> str:
    if kind == PHONE:
        digits = "".join(c for c in address if c.isdigit())
        return f"+{digits}" if address.strip().startswith("+") else digits
    return address.strip().lower()


def digest(session: Session, kind: str, address: str) -> str:
    key = secret_key(settings_of(session))
    message = f"{kind}:{normalise(kind, address)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def suppress(session: Session, *, emails: set[str], phones: set[str], reason: str) -> int:
    rows = [
        {"kind": kind, "digest": digest(session, kind, address), "reason": reason}
        for kind, addresses in ((EMAIL, emails), (PHONE, phones))
        for address in sorted(addresses)
    ]
    repository.add_suppressions(session, rows)
    return len(rows)


def is_suppressed(session: Session, *, channel: str, recipient: str | None) -> bool:
    kind = ADDRESS_OF_CHANNEL.get(channel)
    if kind is None or not recipient:
        return False
    return repository.is_suppressed(session, digest(session, kind, recipient))
