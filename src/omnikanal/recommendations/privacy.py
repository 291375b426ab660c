"""The recommendations domain's part: the per-person lists of the stored models (what we
would suggest to the person, and why). The models' other lists (what goes with a product,
best sellers) name nobody. Erasure deletes the person's lists; the next training leaves
them out as their history is gone."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.kit.personal_data import DomainPart, Person, PrivacyRegistry
from omnikanal.recommendations import service
from omnikanal.recommendations.models import ItemList, PersonList, RecommendationModel


def export(session: Session, person: Person) -> Mapping[str, Any]:
    versions = {m.id: m.version for m in service.models(session, limit=1000)}
    return {
        "recommendations": [
            {
                "model_version": versions.get(row.model_id),
                "profile_id": str(row.profile_id),
                "suggestions": [
                    {"sku": sku, "score": score, "reason": reason, "reason_sku": reason_sku}
                    for sku, score, reason, reason_sku in row.items or []
                ],
                "left_out_as_bought": list(row.bought or []),
            }
            for row in service.person_rows(session, profile_ids=sorted(person.profile_ids))
        ]
    }


def erase(session: Session, person: Person) -> int:
    return service.erase_person_rows(session, profile_ids=sorted(person.profile_ids))


def register(registry: PrivacyRegistry) -> None:
    registry.register(
        DomainPart(
            domain="recommendations",
            tables=frozenset(
                model.__tablename__ for model in (RecommendationModel, PersonList, ItemList)
            ),
            files={
                "recommendations": "The products we would suggest to you, and why (what "
                "you bought or looked at that they go with), as computed from your history "
                "by each stored model.",
            },
            export=export,
            erase=erase,
        )
    )
