"""Recommendations: training a model from every channel's history, and serving it.

Training (``train``) reads the history (``history.py``), computes every list
(``training.py``) and stores them as a new model version, made the served one in the same
transaction (``models.py``). Serving (``recommend``, ``related``) reads the served model's
precomputed lists and applies what changes by the minute: consent, stock at the store
that matters, and what the person bought since the model was trained.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.catalog import service as catalog_service
from omnikanal.commerce import carts as commerce_carts
from omnikanal.commerce import service as commerce_service
from omnikanal.config import settings_of
from omnikanal.customers import service as customers_service
from omnikanal.db import long_read
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow
from omnikanal.marketing import service as marketing_service
from omnikanal.recommendations import history, repository, training
from omnikanal.recommendations.models import (
    ListKind,
    ModelStatus,
    PersonList,
    RecommendationModel,
)
from omnikanal.recommendations.training import Lists, Params, Progress

Context = Literal["cart", "email", "store"]
CONTEXTS: tuple[Context, ...] = ("cart", "email", "store")
INSERT_CHUNK = 1000
# Training again when the served model is older than this (the worker's schedule).
RETRAIN_AFTER = timedelta(hours=24)
# How often the worker looks (the job trains only when the model is due).
CHECK_INTERVAL = timedelta(hours=1)
MAX_LIMIT = 50


@dataclass(frozen=True)
class Suggestion:
    sku: str
    name: str
    score: float
    # bought_with | viewed_with | bought_before | viewed_before | goes_with_cart |
    # goes_with | popular_at_store | popular
    reason: str
    reason_text: str
    # The SKU the reason names (bought with ...), or the store (popular at ...).
    reason_sku: str | None = None
    reason_location: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class Recommendations:
    profile_id: UUID
    model_version: int | None
    # False: no consent for personalisation (or no history): best sellers only.
    personalised: bool
    context: str
    # Where stock was checked: the asking store, the person's favourite store, or None
    # (available at any location).
    stock_location: str | None
    items: list[Suggestion]


@dataclass(frozen=True)
class Related:
    sku: str
    model_version: int | None
    items: list[Suggestion]


# -- training --


def params_of(session: Session) -> Params:
    settings = settings_of(session)
    return Params(threads=settings.recommendations_threads)


def store(session: Session, lists: Lists, *, seconds: float) -> RecommendationModel:
    """Write a trained model's lists as a new version and make it the served one; the
    model served before stays (a request that read it a moment ago still finds its
    lists), older ones go. All in the caller's transaction."""
    model = RecommendationModel(
        version=repository.next_version(session),
        status=ModelStatus.READY,
        history_until=lists.until,
        people=len(lists.people),
        items=len(lists.items),
        interactions=lists.interactions,
        seconds=round(seconds, 3),
        params=lists.params.as_dict(),
    )
    session.add(model)
    session.flush()
    skus = lists.items
    for start in range(0, len(lists.people), INSERT_CHUNK):
        stop = min(start + INSERT_CHUNK, len(lists.people))
        repository.insert_people(
            session,
            [
                {
                    "model_id": model.id,
                    "profile_id": UUID(lists.people[row]),
                    "items": items,
                    "bought": [skus[item] for item in lists.bought[row]],
                }
                for row, items in zip(
                    range(start, stop), lists.people_items(start, stop), strict=True
                )
            ],
        )
    found: list[dict[str, Any]] = []
    for item, sku in enumerate(lists.items):
        related = lists.related_items(item)
        if related:
            found.append(
                {"model_id": model.id, "kind": ListKind.RELATED, "key": sku, "items": related}
            )
        if len(found) >= INSERT_CHUNK:
            repository.insert_lists(session, found)
            found = []
    for key in lists.popular:
        found.append(
            {
                "model_id": model.id,
                "kind": ListKind.POPULAR,
                "key": key,
                "items": lists.popular_items(key),
            }
        )
    repository.insert_lists(session, found)
    served = repository.active_model(session)
    repository.activate(session, model.id)
    keep = {model.id} | ({served.id} if served is not None else set())
    repository.delete_models(
        session, [m.id for m in repository.models(session, limit=1000) if m.id not in keep]
    )
    session.flush()
    session.refresh(model)
    return model


def train(
    session: Session, *, params: Params | None = None, progress: Progress | None = None
) -> RecommendationModel | None:
    """Train on the whole history and serve the new model; None when there is no
    history to learn from (no purchase and no product event)."""
    told = progress or (lambda step, done, total: None)
    started = time.perf_counter()
    told("history", 0, 1)
    # Read and learn before the caller's write transaction begins: on SQLite it holds the
    # one write lock from its first statement, and every checkout would wait for the fit.
    with long_read(session) as reader:
        interactions = history.read(reader)
    told("history", 1, 1)
    if not len(interactions):
        return None
    lists = training.train(interactions, params or params_of(session), told)
    told("store", 0, 1)
    model = store(session, lists, seconds=time.perf_counter() - started)
    told("store", 1, 1)
    return model


def train_job(session: Session) -> None:
    """Periodic, in the worker: train when the served model is older than a day (or
    there is none and there is history); safe to run twice (the later model wins)."""
    with long_read(session) as reader:
        served = repository.active_model(reader)
    if served is not None and served.trained_at > utcnow() - RETRAIN_AFTER:
        return
    train(session)


def served_model(session: Session) -> RecommendationModel | None:
    return repository.active_model(session)


def models(session: Session, *, limit: int = 10) -> Sequence[RecommendationModel]:
    return repository.models(session, limit=limit)


# -- serving --


@dataclass
class _Candidate:
    sku: str
    score: float
    reason: str
    reason_sku: str | None = None
    reason_location: str | None = None


def _person_candidates(rows: Sequence[PersonList]) -> tuple[list[_Candidate], set[str]]:
    """The lists of a person's profiles (more than one when profiles merged after
    training), best score first, and what they will not buy again."""
    found: dict[str, _Candidate] = {}
    bought: set[str] = set()
    for row in rows:
        bought.update(row.bought or [])
        for sku, score, reason, reason_sku in row.items or []:
            kept = found.get(sku)
            if kept is None or kept.score < score:
                found[sku] = _Candidate(sku, float(score), reason, reason_sku)
    ranked = sorted(found.values(), key=lambda c: (-c.score, c.sku))
    return ranked, bought


def _popular(items: list[Any], *, at: str | None) -> list[_Candidate]:
    reason = training.POPULAR_AT_STORE if at else training.POPULAR
    return [_Candidate(sku, 0.0, reason, reason_location=at) for sku, _units in items]


def _reason_text(candidate: _Candidate, names: dict[str, str], stores: dict[str, str]) -> str:
    other = names.get(candidate.reason_sku or "", candidate.reason_sku or "")
    match candidate.reason:
        case training.BOUGHT_WITH:
            return f"Goes with {other}, which you bought"
        case training.VIEWED_WITH:
            return f"Goes with {other}, which you looked at"
        case training.BOUGHT_BEFORE:
            return "You have bought this before"
        case training.VIEWED_BEFORE:
            return "You looked at this"
        case training.GOES_WITH_CART:
            return f"Goes with {other} in your cart"
        case training.GOES_WITH:
            return f"Often chosen with {other}"
        case training.POPULAR_AT_STORE:
            store = candidate.reason_location or ""
            return f"Popular at {stores.get(store, store)}"
    return "Popular right now"


def _finish(
    session: Session,
    candidates: list[_Candidate],
    *,
    excluded: set[str],
    stock_location: str | None,
    limit: int,
) -> list[Suggestion]:
    """The first ``limit`` candidates that are active products, in stock where it
    matters, not excluded and no other variant of an excluded one (not the coat in a
    second size): one query for the products, one for the stock."""
    unique: list[_Candidate] = []
    seen: set[str] = set(excluded)
    for candidate in candidates:
        if candidate.sku not in seen:
            seen.add(candidate.sku)
            unique.append(candidate)
    families = catalog_service.families(session, skus=[*excluded, *(c.sku for c in unique)])
    excluded_families = {families[sku] for sku in excluded if sku in families}
    unique = [c for c in unique if families.get(c.sku) not in excluded_families]
    skus = [c.sku for c in unique]
    listings = catalog_service.active_listings(session, skus=skus)
    stock = inventory_service.available_units(
        session, skus=[s for s in skus if s in listings], location=stock_location
    )
    kept = [c for c in unique if stock.get(c.sku, 0) > 0][:limit]
    named = {c.reason_sku for c in kept if c.reason_sku} - set(listings)
    names = {sku: listing.name for sku, listing in listings.items()}
    names |= {
        sku: listing.name
        for sku, listing in catalog_service.active_listings(session, skus=sorted(named)).items()
    }
    store_codes = sorted({c.reason_location for c in kept if c.reason_location})
    stores = {code: inventory_service.location(session, code=code).name for code in store_codes}
    return [
        Suggestion(
            sku=c.sku,
            name=listings[c.sku].name,
            score=round(c.score, 4),
            reason=c.reason,
            reason_text=_reason_text(c, names, stores),
            reason_sku=c.reason_sku,
            reason_location=c.reason_location,
            image_url=listings[c.sku].image_url,
        )
        for c in kept
    ]


def recommend(
    session: Session,
    *,
    profile_id: UUID,
    limit: int = 12,
    location: str | None = None,
    context: Context = "email",
) -> Recommendations:
    """Up to ``limit`` SKUs for the person, each with its reason.

    With consent for personalisation: their model list (what goes with what they bought
    or looked at), then the best sellers of their store (``location``, else their
    favourite store), then overall; ``context="cart"`` puts what goes with their cart
    first and leaves out what is in it. Without consent: best sellers only. Always left
    out: what is not in stock at ``location`` (else their favourite store, else at any
    location), inactive products, and what they bought and will not buy again."""
    family = customers_service.family(session, profile_id=profile_id)
    live = family[0]
    if location is not None:
        inventory_service.location(session, code=location)
    model = repository.active_model(session)
    profile = customers_service.live_profile(session, live)
    personalised = marketing_service.personalisation_allowed_of(
        session, family=family, traits=profile.traits or {}, trait_times=profile.trait_times or {}
    )
    favourite: str | None = None
    if personalised:
        value = (profile.computed_traits or {}).get("favourite_store")
        favourite = value if isinstance(value, str) and value else None
    stock_location = location or favourite
    if model is None:
        return Recommendations(live, None, personalised, context, stock_location, [])
    candidates: list[_Candidate] = []
    excluded: set[str] = set()
    if personalised:
        own, bought = _person_candidates(repository.person_lists(session, model.id, family))
        excluded |= bought
        excluded |= commerce_service.skus_bought(
            session, profile_ids=family, since=model.history_until
        )
        if context == "cart":
            cart = commerce_carts.person_cart(session, profile_id=live)
            in_cart = [line.sku for line in cart.lines] if cart is not None else []
            excluded |= set(in_cart)
            related = repository.item_lists(session, model.id, ListKind.RELATED, in_cart)
            for sku in in_cart:
                candidates += [
                    _Candidate(other, float(score), training.GOES_WITH_CART, sku)
                    for other, score in related.get(sku, [])[:5]
                ]
        candidates += own
    popular_keys = [key for key in (stock_location, "") if key is not None]
    popular = repository.item_lists(session, model.id, ListKind.POPULAR, popular_keys)
    if stock_location:
        candidates += _popular(popular.get(stock_location, []), at=stock_location)
    candidates += _popular(popular.get("", []), at=None)
    items = _finish(
        session,
        candidates,
        excluded=excluded,
        stock_location=stock_location,
        limit=min(limit, MAX_LIMIT),
    )
    return Recommendations(
        live, model.version, personalised and bool(items), context, stock_location, items
    )


def related(session: Session, *, sku: str, limit: int = 12, location: str | None = None) -> Related:
    """What goes with a product (SKUs chosen by the same people), in stock at
    ``location`` (or anywhere); the best sellers fill in when the model knows too few."""
    catalog_service.product(session, sku=sku)
    if location is not None:
        inventory_service.location(session, code=location)
    model = repository.active_model(session)
    if model is None:
        return Related(sku, None, [])
    lists = repository.item_lists(session, model.id, ListKind.RELATED, [sku])
    candidates = [
        _Candidate(other, float(score), training.GOES_WITH, sku)
        for other, score in lists.get(sku, [])
    ]
    popular = repository.item_lists(session, model.id, ListKind.POPULAR, [""])
    candidates += _popular(popular.get("", []), at=None)
    items = _finish(
        session,
        candidates,
        excluded={sku},
        stock_location=location,
        limit=min(limit, MAX_LIMIT),
    )
    return Related(sku, model.version, items)


def person_rows(session: Session, *, profile_ids: Sequence[UUID]) -> Sequence[PersonList]:
    return repository.person_rows_of(session, profile_ids)


def erase_person_rows(session: Session, *, profile_ids: Sequence[UUID]) -> int:
    return repository.delete_person_rows(session, profile_ids)
