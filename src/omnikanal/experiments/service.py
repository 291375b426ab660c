"""Experiments: their life (draft, running, stopped) and who gets which variant.

**Assignment.** A unit's variant is a deterministic hash of the experiment's key and the
unit: for a person their live profile id, for a store its location code. The first time a
unit is shown a variant it is recorded (an exposure); from then on the recorded variant is
the answer, so a person keeps their variant on every channel and device.

**The rule for people** (in this order):
1. The live profile's own exposure holds (after a merge, the surviving profile keeps its
   variant; the merged-away profile's exposure no longer decides).
2. Otherwise the earliest exposure of a profile merged into it, or of one of its devices
   (an ``anonymous_id`` shown a variant before anyone knew whose it was).
3. Otherwise the hash of the experiment key and the live profile id.
A device no profile holds yet is hashed by its ``anonymous_id`` and recorded under it; once
it joins a profile, rule 2 carries its variant over.
"""

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import service as customers_service
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.experiments import repository
from omnikanal.experiments.models import Experiment, Exposure, Status, Unit
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow
from omnikanal.marketing import audiences as marketing_audiences
from omnikanal.uow import add_record

ANONYMOUS_ID = "anonymous_id"


class ExperimentErrorCode(StrEnum):
    EXPERIMENT_NOT_FOUND = "experiment_not_found"
    EXPERIMENT_EXISTS = "experiment_exists"
    TARGET_TAKEN = "experiment_target_taken"
    INVALID_STATE = "experiment_invalid_state"
    WRONG_UNIT = "experiment_wrong_unit"
    PERSON_NOT_FOUND = "experiment_person_not_found"
    INVALID_VARIANTS = "experiment_invalid_variants"
    UNPLANNABLE = "experiment_unplannable"


# -- the hash --


def bucket(experiment_key: str, unit: str) -> float:
    """A point in [0, 1) fixed by the experiment and the unit: SHA-256 of both."""
    digest = hashlib.sha256(f"{experiment_key}\x1f{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(variants: Sequence[dict[str, Any]], point: float) -> str:
    """The variant whose share of [0, 1) (by weight, in order) holds ``point``."""
    total = float(sum(v["weight"] for v in variants))
    edge = 0.0
    for variant in variants:
        edge += variant["weight"] / total
        if point < edge:
            return str(variant["key"])
    return str(variants[-1]["key"])


def control_of(experiment: Experiment) -> str:
    return str(experiment.variants[0]["key"])


# -- life --


def get(session: Session, *, key: str) -> Experiment:
    experiment = repository.by_key(session, key)
    if experiment is None:
        raise NotFound(ExperimentErrorCode.EXPERIMENT_NOT_FOUND, f"No experiment {key!r}.")
    return experiment


def experiments(
    session: Session, *, status: str | None = None, limit: int = 100
) -> Sequence[Experiment]:
    return repository.experiments(session, status=status, limit=limit)


def create(session: Session, *, fields: dict[str, Any]) -> Experiment:
    variants = fields["variants"]
    keys = [v["key"] for v in variants]
    if len(set(keys)) != len(keys):
        raise RuleViolation(
            ExperimentErrorCode.INVALID_VARIANTS,
            "Each variant needs its own key.",
            errors=[{"field": "body.variants", "message": "variant keys repeat"}],
        )
    if repository.by_key(session, fields["key"]) is not None:
        raise Conflict(
            ExperimentErrorCode.EXPERIMENT_EXISTS, f"An experiment {fields['key']!r} exists."
        )
    target = fields.get("target")
    if target is not None and repository.by_target(session, target) is not None:
        raise Conflict(
            ExperimentErrorCode.TARGET_TAKEN, f"Another experiment already varies {target!r}."
        )
    if fields.get("audience_id") is not None:
        marketing_audiences.get(session, audience_id=fields["audience_id"])
    experiment = Experiment(**fields)
    session.add(experiment)
    session.flush()
    return experiment


def _move(session: Session, *, key: str, from_: str, to: str) -> Experiment:
    experiment = get(session, key=key)
    if experiment.status != from_:
        raise Conflict(
            ExperimentErrorCode.INVALID_STATE,
            f"Experiment {key!r} is {experiment.status}; only a {from_} one can become {to}.",
        )
    experiment.status = to
    if to == Status.RUNNING:
        experiment.started_at = utcnow()
    else:
        experiment.stopped_at = utcnow()
    session.flush()
    return experiment


def start(session: Session, *, key: str) -> Experiment:
    """Start assigning units (a draft only)."""
    return _move(session, key=key, from_=Status.DRAFT, to=Status.RUNNING)


def stop(session: Session, *, key: str) -> Experiment:
    """No new units; those in keep their variant."""
    return _move(session, key=key, from_=Status.RUNNING, to=Status.STOPPED)


# -- assignment --


@dataclass(frozen=True)
class Assignment:
    experiment: str
    variant: str
    # False: the unit is not in the experiment (not running, outside its audience); the
    # variant is then control, and nothing was recorded.
    in_experiment: bool
    # The unit the variant is for: a profile id, ``anonymous_id:<id>`` or ``location:<code>``.
    unit: str
    # Whether this call recorded the unit's first exposure.
    first_exposure: bool
    reason: str | None = None


@dataclass(frozen=True)
class Facts:
    """What assignment reads of an experiment, with the unit's exposures (earliest first:
    (variant, profile id or None))."""

    id: UUID
    key: str
    unit: str
    variants: list[dict[str, Any]]
    audience_id: UUID | None
    status: str
    exposures: list[tuple[str, UUID | None]]


def _facts(session: Session, key: str, **unit: Any) -> Facts:
    rows = repository.experiment_and_exposures(session, key, **unit)
    if not rows:
        raise NotFound(ExperimentErrorCode.EXPERIMENT_NOT_FOUND, f"No experiment {key!r}.")
    first = rows[0]
    return Facts(
        id=first.id,
        key=first.key,
        unit=first.unit,
        variants=list(first.variants),
        audience_id=first.audience_id,
        status=first.status,
        exposures=[
            (r.exposed_variant, r.exposed_profile) for r in rows if r.exposed_variant is not None
        ],
    )


def _out(facts: Facts, unit: str, reason: str) -> Assignment:
    return Assignment(facts.key, str(facts.variants[0]["key"]), False, unit, False, reason)


def _wrong_unit(key: str, unit: str) -> RuleViolation:
    if unit == Unit.STORE:
        return RuleViolation(
            ExperimentErrorCode.WRONG_UNIT,
            f"{key!r} randomises stores: ask with location only.",
            errors=[{"field": "query.location", "message": "a store experiment needs it"}],
        )
    return RuleViolation(
        ExperimentErrorCode.WRONG_UNIT,
        f"{key!r} randomises people: give one of anonymous_id, user_id or profile_id.",
        errors=[{"field": "query", "message": "exactly one person identifier"}],
    )


def assign(
    session: Session,
    *,
    key: str,
    anonymous_id: str | None = None,
    user_id: str | None = None,
    profile_id: UUID | None = None,
    location: str | None = None,
    channel: str | None = None,
) -> Assignment:
    """The variant of the person (any one identifier) or store, recording the first
    exposure once (``add_record``: a read request writes it after answering). A known
    person's repeated ask is two statements: the person's family by the identifier, and
    the experiment with the family's exposures."""
    given = [v for v in (anonymous_id, user_id, profile_id) if v is not None]
    if not given:
        if location is None:
            raise _wrong_unit(key, Unit.PERSON)
        facts = _facts(session, key, location=location)
        if facts.unit != Unit.STORE:
            raise _wrong_unit(key, Unit.PERSON)
        return _store(session, facts, location, channel)
    if len(given) != 1:
        raise _wrong_unit(key, Unit.PERSON)
    # The live profile first, then every profile merged into it (one statement mostly).
    family: list[UUID] | None
    if profile_id is not None:
        family = customers_service.family(session, profile_id=profile_id)
    elif user_id is not None:
        family = customers_service.family_by_identifier(session, type_="user_id", raw_value=user_id)
        if family is None:
            if _facts(session, key).unit != Unit.PERSON:
                raise _wrong_unit(key, Unit.STORE)
            raise NotFound(
                ExperimentErrorCode.PERSON_NOT_FOUND,
                "No person holds this user_id yet; ask with the device's anonymous_id.",
            )
    else:
        assert anonymous_id is not None
        # As the identity graph stores it (NFC, trimmed).
        anonymous_id = unicodedata.normalize("NFC", anonymous_id).strip()
        family = customers_service.family_by_identifier(
            session, type_=ANONYMOUS_ID, raw_value=anonymous_id
        )
        if family is None:
            facts = _facts(session, key, anonymous_ids=[anonymous_id])
            if facts.unit != Unit.PERSON:
                raise _wrong_unit(key, Unit.STORE)
            return _device(session, facts, anonymous_id, location, channel)
    facts = _facts(session, key, profile_ids=family)
    if facts.unit != Unit.PERSON:
        raise _wrong_unit(key, Unit.STORE)
    return _person(session, facts, family, anonymous_id, location, channel)


def _record(session: Session, facts: Facts, variant: str, **unit: Any) -> None:
    add_record(
        session, Exposure(experiment_id=facts.id, variant=variant, exposed_at=utcnow(), **unit)
    )


def _person(
    session: Session,
    facts: Facts,
    family: list[UUID],
    anonymous_id: str | None,
    location: str | None,
    channel: str | None,
) -> Assignment:
    live = family[0]
    unit = str(live)
    own = next((v for v, p in facts.exposures if p == live), None)
    if own is not None:
        return Assignment(facts.key, own, True, unit, False)
    if facts.status != Status.RUNNING:
        return _out(facts, unit, f"the experiment is {facts.status}")
    earlier = facts.exposures[0][0] if facts.exposures else None
    if earlier is None:
        devices = [anonymous_id] if anonymous_id else []
        devices += [
            i.value
            for i in customers_service.get_profile(session, profile_id=live).identifiers
            if i.type == ANONYMOUS_ID and i.value != anonymous_id
        ]
        if devices:
            seen = repository.exposures_of_devices(session, facts.id, devices)
            earlier = seen[0].variant if seen else None
    if earlier is not None:
        variant = earlier
    else:
        if facts.audience_id is not None and not marketing_audiences.includes(
            session, audience_id=facts.audience_id, profile_id=live
        ):
            return _out(facts, unit, "not in the experiment's audience")
        variant = choose(facts.variants, bucket(facts.key, unit))
    _record(session, facts, variant, profile_id=live, location=location, channel=channel)
    return Assignment(facts.key, variant, True, unit, True)


def _device(
    session: Session,
    facts: Facts,
    anonymous_id: str,
    location: str | None,
    channel: str | None,
) -> Assignment:
    unit = f"anonymous_id:{anonymous_id}"
    if facts.exposures:
        return Assignment(facts.key, facts.exposures[0][0], True, unit, False)
    if facts.status != Status.RUNNING:
        return _out(facts, unit, f"the experiment is {facts.status}")
    if facts.audience_id is not None:
        return _out(facts, unit, "an unknown device is in no audience")
    variant = choose(facts.variants, bucket(facts.key, unit))
    _record(session, facts, variant, anonymous_id=anonymous_id, location=location, channel=channel)
    return Assignment(facts.key, variant, True, unit, True)


def _store(session: Session, facts: Facts, location: str, channel: str | None) -> Assignment:
    unit = f"location:{location}"
    if facts.exposures:
        return Assignment(facts.key, facts.exposures[0][0], True, unit, False)
    inventory_service.location(session, code=location)
    if facts.status != Status.RUNNING:
        return _out(facts, unit, f"the experiment is {facts.status}")
    variant = choose(facts.variants, bucket(facts.key, unit))
    _record(session, facts, variant, location=location, channel=channel)
    return Assignment(facts.key, variant, True, unit, True)


# -- what other domains ask --


def message_variant(
    session: Session, *, target: str, profile_id: UUID, channel: str
) -> dict[str, Any] | None:
    """The variant (its settings: ``subject``, ``offer``, ``promotion`` ...) a person gets
    of the message ``target`` (``abandoned_cart``, ``campaign:<id>``) while an experiment
    on it runs, recording the exposure; None when no experiment varies it (or the person
    is not in it)."""
    experiment = repository.by_target(session, target)
    if experiment is None or experiment.status != Status.RUNNING:
        return None
    if experiment.unit != Unit.PERSON:
        return None
    assignment = assign(session, key=experiment.key, profile_id=profile_id, channel=channel)
    if not assignment.in_experiment:
        return None
    chosen = next(v for v in experiment.variants if v["key"] == assignment.variant)
    return {**chosen, "experiment": experiment.key}


def record_past_exposure(
    session: Session, *, key: str, profile_id: UUID, at: datetime, channel: str | None = None
) -> str:
    """Record that a person was shown their variant at ``at`` (exposures logged by a
    channel while it could not ask, loaded later); the variant is the rule's. Returns it."""
    experiment = get(session, key=key)
    live = customers_service.live_profile(session, profile_id).id
    variant = choose(experiment.variants, bucket(experiment.key, str(live)))
    session.add(
        Exposure(
            experiment_id=experiment.id,
            variant=variant,
            profile_id=live,
            channel=channel,
            exposed_at=at,
        )
    )
    return variant
