"""The customer's email, posted raw (RFC 5322) by the mail provider's inbound route, joins
their conversation (S3).

The sender's address places the message with its person, as any channel's identifier
does; the ``Message-ID`` is the message's ``external_id`` (a provider posting the same mail
twice stores it once); ``In-Reply-To`` and ``References`` name the reply it answers, which
the receipt reports. Only the new text is kept: the quoted history below "On ... wrote:"
or ``>`` lines is already in the transcript.
"""

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.conversations import messages, repository
from omnikanal.conversations.models import Direction
from omnikanal.conversations.service import ConversationErrorCode
from omnikanal.errors import RuleViolation

# As a posted message body (schemas.MAX_BODY_BYTES); longer mail is cut, marked so.
MAX_BODY_BYTES = 20 * 1024
MAX_SUBJECT = 300
MAX_ID = 200
_ID = re.compile(r"<[^<>\s]{1,198}>")
# Where a mail app starts quoting the mail answered.
_QUOTE_START = re.compile(
    r"^(On .{1,300} wrote:|Den .{1,300} skrev .{0,100}:|-{2,} ?Original Message ?-{2,}|>)",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]{0,2000}>")


@dataclass(frozen=True)
class InboundEmail:
    sender: str
    message_id: str
    subject: str | None
    body: str
    answers: list[str]
    sent_at: datetime | None


def _header(mail: EmailMessage, name: str) -> str:
    """A header as text; a malformed one counts as absent."""
    try:
        value = mail.get(name)
    except (ValueError, TypeError, IndexError, LookupError, MessageError):
        return ""
    return str(value or "").strip()


def _text_of(mail: EmailMessage) -> str:
    try:
        part = mail.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError, MessageError):
        return ""
    if not isinstance(content, str):
        return ""
    if part is not None and part.get_content_subtype() == "html":
        content = html.unescape(_TAG.sub(" ", content.replace("<br>", "\n")))
    return content


def new_text(text: str) -> str:
    """The lines above the quoted history (the whole text when it is all quote)."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()) and any(k.strip() for k in kept):
            break
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def _within(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 4].decode(errors="ignore") + " […]"


def _sent_at(mail: EmailMessage) -> datetime | None:
    try:
        moment = parsedate_to_datetime(_header(mail, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def parse(raw: bytes) -> InboundEmail:
    """What the hub keeps of a raw mail; a mail without a sender or text is refused,
    naming the header."""
    mail = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(mail, EmailMessage)
    _, sender = parseaddr(_header(mail, "From"))
    if "@" not in sender or len(sender) > 320:
        raise _refused("From", "the mail has no sender address")
    body = _within(new_text(_text_of(mail)), MAX_BODY_BYTES)
    if not body:
        raise _refused("body", "the mail has no text")
    found_id = _ID.search(_header(mail, "Message-ID"))
    # Without a Message-ID, the mail's own bytes name it: posted twice, stored once.
    message_id = (
        found_id.group(0) if found_id else f"<{hashlib.sha256(raw).hexdigest()[:40]}@inbound>"
    )
    answers = _ID.findall(_header(mail, "In-Reply-To")) + _ID.findall(_header(mail, "References"))
    subject = _header(mail, "Subject")[:MAX_SUBJECT] or None
    return InboundEmail(
        sender=sender,
        message_id=message_id[:MAX_ID],
        subject=subject,
        body=body,
        answers=answers,
        sent_at=_sent_at(mail),
    )


def _refused(header: str, message: str) -> RuleViolation:
    return RuleViolation(
        ConversationErrorCode.UNREADABLE_EMAIL,
        f"Not a mail the hub can file: {message}.",
        errors=[{"field": f"body.{header}", "message": message}],
    )


def answered_conversation(session: Session, answers: list[str]) -> UUID | None:
    """The conversation of the latest of our emails this one answers, if any."""
    for message_id in reversed(answers):
        stored = repository.message_by_external_id(session, channel="email", external_id=message_id)
        if stored is not None:
            return stored.conversation_id
    return None


def receive(
    session: Session, *, actor: StaffActor, raw: bytes
) -> tuple[messages.Receipt, UUID | None]:
    """The stored message, and the conversation of the reply it answers (if it names one)."""
    mail = parse(raw)
    receipt = messages.receive_message(
        session,
        actor=actor,
        channel="email",
        sender=messages.Sender(email=mail.sender),
        message=messages.IncomingMessage(
            direction=Direction.INBOUND,
            body=mail.body,
            subject=mail.subject,
            external_id=mail.message_id,
            sent_at=mail.sent_at,
            reply_address=mail.sender,
        ),
    )
    return receipt, answered_conversation(session, mail.answers)
