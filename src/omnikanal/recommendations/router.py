"""``/v1/profiles/{id}/recommendations``, ``/v1/products/{sku}/related`` and the model."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from omnikanal.http import DbSession
from omnikanal.privacy import access
from omnikanal.privacy.access import AccessAction
from omnikanal.privacy.dependencies import AccessReason
from omnikanal.recommendations import service
from omnikanal.recommendations.dependencies import ModelReader, RecommendationReader
from omnikanal.recommendations.schemas import (
    ContextName,
    LocationCode,
    ModelRead,
    RecommendationList,
    RelatedList,
    Sku,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])


@router.get("/profiles/{profile_id}/recommendations", response_model=RecommendationList)
def recommendations(
    profile_id: UUID,
    session: DbSession,
    actor: RecommendationReader,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 12,
    location: Annotated[
        LocationCode | None,
        Query(
            description="The store asking (its stock decides); default the person's "
            "favourite store."
        ),
    ] = None,
    context: Annotated[
        ContextName,
        Query(
            description="cart: what goes with the cart first, its SKUs left out; email, "
            "store: the person's list."
        ),
    ] = "email",
    reason: AccessReason = None,
) -> RecommendationList:
    """SKUs for this person from the served model (every channel's history), each with
    its reason; best sellers fill in (cold start) and are all a person without consent
    for `personalisation` gets. Left out: what is not in stock at `location` (else their
    favourite store, else anywhere), inactive products, what they bought and will not
    buy again."""
    found = service.recommend(
        session, profile_id=profile_id, limit=limit, location=location, context=context
    )
    access.record(
        session,
        actor=actor,
        action=AccessAction.RECOMMENDATIONS,
        profile_id=found.profile_id,
        reason=reason,
    )
    return RecommendationList.model_validate(found)


@router.get("/products/{sku}/related", response_model=RelatedList)
def related(
    sku: Sku,
    session: DbSession,
    _: RecommendationReader,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 12,
    location: Annotated[
        LocationCode | None, Query(description="Only what is in stock here.")
    ] = None,
) -> RelatedList:
    """What goes with this product: SKUs chosen by the people who chose it (item-to-item
    similarity of the served model), in stock (at `location`, or anywhere)."""
    return RelatedList.model_validate(
        service.related(session, sku=sku, limit=limit, location=location)
    )


@router.get("/recommendations/models", response_model=list[ModelRead])
def models(session: DbSession, _: ModelReader) -> list[ModelRead]:
    """The stored model versions, newest first; the served one has status `active`."""
    return [ModelRead.model_validate(m) for m in service.models(session)]
