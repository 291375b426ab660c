"""Erasure as a durable job: one domain at a time, each in its own transaction.

``request`` records the job and schedules its first step as a timer. Each step is one
timer firing (its own transaction): the domain's part erases and the step is marked done
in that same transaction, and the next step's timer is scheduled in it too. A worker killed
mid-job leaves the step it was on uncommitted; the timer's lease runs out and the step runs
again, so the job resumes at the first step not done. A failing step is retried with
backoff (``delivery_max_attempts`` in all), then the request is marked failed with the
reason. The person is gathered again from the customers domain at every step (their
identifiers are erased last), never kept in the request row. When the last step is done, a
``profile.erased`` event with ids only goes out through the outbox.
"""

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from omnikanal.auth.service import StaffActor
from omnikanal.config import settings_of
from omnikanal.customers import service as customers_service
from omnikanal.errors import NotFound
from omnikanal.kit.leases import retry_delay
from omnikanal.kit.personal_data import Person, PrivacyRegistry
from omnikanal.kit.time import utcnow
from omnikanal.privacy import access, repository
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.models import PrivacyRequest, RequestStatus, StepStatus
from omnikanal.privacy.service import PrivacyErrorCode
from omnikanal.timers import service as timers_service
from omnikanal.timers.models import Timer
from omnikanal.uow import DomainEvent, record_event, savepoint

logger = logging.getLogger("omnikanal.privacy")

STEP = "privacy.erasure_step"
ERASURE = "erasure"


@dataclasses.dataclass(frozen=True)
class ProfileErased(DomainEvent):
    """Ids only: connected systems erase what they hold of these profiles."""

    type: ClassVar[str] = "profile.erased"
    profile_id: UUID
    profile_ids: list[UUID]
    request_id: UUID


def request(
    session: Session, *, profile_id: UUID, actor: StaffActor, registry: PrivacyRegistry
) -> PrivacyRequest:
    """Start erasing the person of ``profile_id``; an unfinished request for them is
    answered instead of starting a second."""
    person = customers_service.person(session, profile_id=profile_id)
    if person is None:
        raise NotFound(PrivacyErrorCode.PROFILE_NOT_FOUND, f"No profile {profile_id}.")
    ids = sorted(person.profile_ids)
    existing = repository.unfinished_request(session, ids)
    if existing is not None:
        return existing
    access.record(session, actor=actor, action=AccessAction.ERASE, profile_id=profile_id)
    steps = [
        {
            "domain": part.domain,
            "status": StepStatus.PENDING,
            "count": 0,
            "attempts": 0,
            "error": None,
            "done_at": None,
        }
        for part in registry.parts()
        if part.erase is not None
    ]
    erasure = PrivacyRequest(
        kind=ERASURE,
        profile_id=profile_id,
        profile_ids=[str(i) for i in ids],
        status=RequestStatus.QUEUED,
        steps=steps,
        requested_by=actor.credential_id,
    )
    session.add(erasure)
    session.flush()
    _schedule(session, erasure, str(steps[0]["domain"]) if steps else "", attempt=0)
    return erasure


def get(session: Session, *, request_id: UUID) -> PrivacyRequest:
    found = repository.get_request(session, request_id)
    if found is None:
        raise NotFound(PrivacyErrorCode.REQUEST_NOT_FOUND, f"No privacy request {request_id}.")
    return found


def _schedule(
    session: Session, erasure: PrivacyRequest, domain: str, *, attempt: int, delay: float = 0.0
) -> None:
    timers_service.schedule(
        session,
        kind=STEP,
        # One timer per step and attempt (a fired timer is not armed again by its handler).
        key=f"{erasure.id}:{domain}:{attempt}",
        due_at=utcnow() + timedelta(seconds=delay),
        payload={"request_id": str(erasure.id)},
    )


def _person(session: Session, erasure: PrivacyRequest) -> Person:
    known = [UUID(i) for i in erasure.profile_ids]
    person = customers_service.person(session, profile_id=erasure.profile_id, also=known)
    if person is None:  # the customers step is done: only the ids are left to act on
        return Person(profile_ids=frozenset(known))
    erasure.profile_ids = sorted({*erasure.profile_ids, *(str(i) for i in person.profile_ids)})
    return person


@contextmanager
def _overwriting_deletes(session: Session) -> Iterator[None]:
    """On SQLite, what the step deletes is overwritten with zeros in the database file
    (``secure_delete``), not left readable in free pages; only for the step's own writes, so
    ingestion's deletes of resolved inbox rows stay cheap."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        session.execute(text("PRAGMA secure_delete = ON"))
    try:
        yield
    finally:
        if sqlite:
            session.execute(text("PRAGMA secure_delete = OFF"))


def step_fired(session: Session, timer: Timer, *, registry: PrivacyRegistry) -> None:
    """The worker runs the first step not done of the timer's request."""
    erasure = repository.get_request(session, UUID(timer.payload["request_id"]), lock=True)
    if erasure is None or erasure.status not in RequestStatus.UNFINISHED:
        return
    steps = [dict(step) for step in erasure.steps]
    pending = [s for s in steps if s["status"] != StepStatus.DONE]
    now = utcnow()
    erasure.status = RequestStatus.RUNNING
    erasure.started_at = erasure.started_at or now
    erasure.updated_at = now
    if not pending:
        _finish(session, erasure)
        return
    step = pending[0]
    part = registry.part(step["domain"])
    person = _person(session, erasure)
    try:
        with savepoint(session), _overwriting_deletes(session):
            count = part.erase(session, person) if part and part.erase else 0
    except Exception as exc:
        _failed(session, erasure, steps, step, exc)
        return
    step.update(status=StepStatus.DONE, count=count, error=None, done_at=now.isoformat())
    erasure.steps = steps
    if len(pending) > 1:
        pause = settings_of(session).erasure_step_pause_seconds
        _schedule(session, erasure, pending[1]["domain"], attempt=0, delay=pause)
    else:
        _finish(session, erasure)


def _failed(
    session: Session,
    erasure: PrivacyRequest,
    steps: list[dict[str, Any]],
    step: dict[str, Any],
    exc: Exception,
) -> None:
    """Written on the request (never swallowed): retried with backoff, then failed. By the
    error's type only: its message may quote the very data being erased (a SQL error
    quotes the row's values), and the request outlives the person."""
    logger.warning("erasure %s: the %s step failed: %s", erasure.id, step["domain"], type(exc))
    step["attempts"] += 1
    step["error"] = type(exc).__name__
    erasure.steps = steps
    if step["attempts"] >= settings_of(session).delivery_max_attempts:
        step["status"] = StepStatus.FAILED
        erasure.status = RequestStatus.FAILED
        erasure.error = f"the {step['domain']} step failed: {step['error']}"
        erasure.finished_at = utcnow()
        return
    delay = retry_delay(step["attempts"]).total_seconds()
    _schedule(session, erasure, step["domain"], attempt=step["attempts"], delay=delay)


def _finish(session: Session, erasure: PrivacyRequest) -> None:
    erasure.status = RequestStatus.DONE
    erasure.finished_at = utcnow()
    erasure.error = None
    record_event(
        session,
        ProfileErased(
            profile_id=erasure.profile_id,
            profile_ids=[UUID(i) for i in erasure.profile_ids],
            request_id=erasure.id,
        ),
    )
