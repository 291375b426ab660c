"""Delivery adapters: email over SMTP (or into a folder); SMS, push, social and chat over
signed webhooks.

Without ``OMNIKANAL_SMTP_URL`` email is written to ``<data dir>/mail/*.eml`` so nothing
leaves the machine by accident. SMS and push are POSTed as JSON to a provider-agnostic
webhook, signed as the outbox webhooks are (Standard Webhooks). Any exception here is a
failed attempt: the message is retried with backoff, then marked failed with the reason.
"""

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import httpx
import orjson

from omnikanal.config import Settings
from omnikanal.marketing.models import Message
from omnikanal.marketing.tokens import secret_key
from omnikanal.outbox import signing

# Mail written to the folder is named <created_at as STAMP>-<message id>.eml.
MAIL_FOLDER = "mail"
STAMP = "%Y%m%dT%H%M%S"


class DeliveryError(Exception):
    pass


def email_message(settings: Settings, message: Message) -> EmailMessage:
    # Long unbreakable headers (the opt-out link) stay plain rather than encoded-words.
    mail = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    mail["From"] = settings.mail_from
    mail["To"] = message.recipient or ""
    mail["Subject"] = message.subject or ""
    context = message.context or {}
    # A reply in a conversation carries its own ids, so the customer's mail app threads it.
    threading = {k: v for k, v in (context.get("email_headers") or {}).items() if v}
    mail["Message-ID"] = threading.get("Message-ID") or make_msgid(idstring=str(message.id))
    for header in ("In-Reply-To", "References"):
        if header in threading:
            mail[header] = threading[header]
    mail["X-Omnikanal-Message-Id"] = str(message.id)
    unsubscribe = context.get("unsubscribe_url")
    if unsubscribe:
        mail["List-Unsubscribe"] = f"<{unsubscribe}>"
        # One-click (RFC 8058): the mail reader POSTs this body to the link, no page shown.
        # Only for an HTTPS link, as the RFC asks (OMNIKANAL_PUBLIC_URL=https://...).
        if unsubscribe.startswith("https://"):
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.body_text or "")
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    return mail


def send_email(settings: Settings, message: Message) -> None:
    if not message.recipient:
        raise DeliveryError("no email address")
    mail = email_message(settings, message)
    if not settings.smtp_url:
        folder = Path(settings.data_dir) / MAIL_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stamp = message.created_at.astimezone(UTC).strftime(STAMP)
        (folder / f"{stamp}-{message.id}.eml").write_bytes(bytes(mail))
        return
    url = urlparse(settings.smtp_url)
    options = {k: v[-1].lower() for k, v in parse_qs(url.query).items()}
    ssl_on_connect = url.scheme == "smtps"
    host = url.hostname or "localhost"
    port = url.port or (465 if ssl_on_connect else 25)
    timeout = settings.webhook_timeout_seconds * 2
    smtp: smtplib.SMTP
    if ssl_on_connect:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if options.get("starttls") in ("true", "1", "yes"):
            smtp.starttls(context=ssl.create_default_context())
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(mail)


def webhook_secret(settings: Settings) -> str:
    if settings.messaging_webhook_secret:
        return settings.messaging_webhook_secret
    derived = hmac.new(secret_key(settings), b"messaging-webhooks", hashlib.sha256).digest()
    return signing.SECRET_PREFIX + base64.b64encode(derived[:24]).decode()


def send_webhook(settings: Settings, message: Message, *, url: str | None) -> None:
    if not url:
        raise DeliveryError(f"no {message.channel} provider configured")
    body = orjson.dumps(
        {
            "message_id": str(message.id),
            "channel": message.channel,
            "to": message.recipient,
            "profile_id": str(message.profile_id),
            "title": message.subject,
            "text": message.body_text,
            "kind": message.kind,
            # Replies: the conversation they answer (the chat widget shows them in it).
            "conversation_id": (message.context or {}).get("conversation_id"),
        }
    )
    headers = signing.headers(
        webhook_secret(settings), message_id=str(message.id), timestamp=int(time.time()), body=body
    )
    response = httpx.post(
        url, content=body, headers=headers, timeout=settings.webhook_timeout_seconds
    )
    if response.status_code >= 300:
        raise DeliveryError(f"{message.channel} provider answered {response.status_code}")


def send(settings: Settings, message: Message) -> None:
    if message.channel == "email":
        send_email(settings, message)
    elif message.channel == "sms":
        send_webhook(settings, message, url=settings.sms_webhook_url)
    elif message.channel == "push":
        send_webhook(settings, message, url=settings.push_webhook_url)
    elif message.channel == "social":
        send_webhook(settings, message, url=settings.social_webhook_url)
    elif message.channel == "chat":
        send_webhook(settings, message, url=settings.chat_webhook_url)
    else:
        raise DeliveryError(f"no delivery for channel {message.channel}")


# A mail's name: its message's creation time (STAMP), a dash, the message id, ".eml".
_STAMP_LENGTH = len("20261130T120000")


def _written_at(path: Path) -> datetime:
    """When the mail's message was created, from its name; else the file's time."""
    try:
        return datetime.strptime(path.name[:_STAMP_LENGTH], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _mail_files(settings: Settings) -> Iterator[Path]:
    folder = Path(settings.data_dir) / MAIL_FOLDER
    return folder.glob("*.eml") if folder.is_dir() else iter(())


def remove_mail_before(settings: Settings, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` .eml files in the mail folder written before ``before``."""
    removed = 0
    for path in _mail_files(settings):
        if removed >= limit:
            break
        if _written_at(path) < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_mail_of(settings: Settings, message_ids: Iterable[UUID]) -> int:
    """Delete the .eml files of these messages (erasure), in one pass over the folder."""
    wanted = {str(message_id) for message_id in message_ids}
    removed = 0
    for path in _mail_files(settings):
        if path.stem[_STAMP_LENGTH + 1 :] in wanted:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
