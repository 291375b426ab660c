"""The access log: every read of a person's data records who, when, what and why.

Staff and back ends are recorded; a channel acting for the person (carts, checkout,
ingestion) is not. Each record is one row: in a write request's own transaction, and for
a read written by the edge before the answer (``uow.add_record``).
"""

from enum import StrEnum
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.auth.models import Role
from omnikanal.auth.service import StaffActor
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.privacy.models import AccessLogEntry
from omnikanal.uow import add_record

# Longest reason kept; staff type a sentence, not a document.
MAX_REASON_LENGTH = 500


class AccessAction(StrEnum):
    # Reads
    PROFILE = "profile"
    PROFILE_360 = "profile_360"
    TIMELINE = "timeline"
    MERGE_LOG = "merge_log"
    LOYALTY = "loyalty"
    ORDERS = "orders"
    CART = "cart"
    CONSENTS = "consents"
    NOTIFICATIONS = "notifications"
    MESSAGES = "messages"
    EXPORT = "export"
    CONVERSATION = "conversation"
    TRANSCRIPT = "transcript"
    # What we would suggest to the person (made from their history).
    RECOMMENDATIONS = "recommendations"
    # Duplicate suggestions: each pair shows two people.
    DUPLICATES = "duplicates"
    # Changes by staff
    UNMERGE = "unmerge"
    # A duplicate suggestion accepted (a merge) or rejected.
    DUPLICATE_DECISION = "duplicate_decision"
    CONSENT_CHANGE = "consent_change"
    ERASE = "erase"


def acts_for_the_person(actor: StaffActor) -> bool:
    """A channel's back end reading or changing the person's own cart, orders or consent
    does it for them (their shop, their app): it is not staff looking at them."""
    return actor.role is Role.CHANNEL


def record(
    session: Session,
    *,
    actor: StaffActor,
    action: AccessAction,
    profile_id: UUID | None = None,
    conversation_id: UUID | None = None,
    reason: str | None = None,
) -> None:
    """Record a read or change of a person's data: one row, written with the request (a
    read's by the edge, after it). Not when a channel's back end did it for the person
    (their own shop or app: those paths write no log), nor when nothing names a person."""
    if acts_for_the_person(actor) or (profile_id is None and conversation_id is None):
        return
    entry = AccessLogEntry(
        id=new_id(),
        at=utcnow(),
        actor_kind=actor.kind.value,
        actor_id=actor.credential_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        action=action.value,
        profile_id=profile_id,
        conversation_id=conversation_id,
        reason=(reason or "").strip()[:MAX_REASON_LENGTH] or None,
    )
    add_record(session, entry)
