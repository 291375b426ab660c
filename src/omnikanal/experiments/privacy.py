"""The experiments domain's part: a person's exposures (which variant of which experiment
they were shown, when, on which channel), found by their profiles and their devices'
anonymous ids. Erasure deletes them; the experiment's results then count the person no
more. Experiments themselves and store exposures name no one."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.experiments import repository
from omnikanal.experiments.models import Experiment, Exposure
from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry, as_document

ANONYMOUS_ID = "anonymous_id"


def _exposures(session: Session, person: Person) -> list[Exposure]:
    return list(
        repository.exposures_of_person(
            session, sorted(person.profile_ids), sorted(person.values(ANONYMOUS_ID))
        )
    )


def export(session: Session, person: Person) -> Mapping[str, Any]:
    keys = {e.id: e.key for e in repository.experiments(session, status=None, limit=100_000)}
    return {
        "experiments": [
            {
                **as_document(e, leave_out=("experiment_id",)),
                "experiment": keys.get(e.experiment_id),
            }
            for e in _exposures(session, person)
        ]
    }


def erase(session: Session, person: Person) -> int:
    return repository.delete_exposures(session, [e.id for e in _exposures(session, person)])


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="experiments",
            tables=frozenset({Experiment.__tablename__, Exposure.__tablename__}),
            files={
                "experiments": "The tests of offers and messages you took part in: which "
                "version you were shown, when, and on which channel.",
            },
            export=export,
            erase=erase,
        )
    )
