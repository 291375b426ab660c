"""Audiences: a small rule language over traits, computed traits and behaviour, evaluated
on demand over every person.

A rule is one condition or ``{"all": [...]}`` / ``{"any": [...]}`` of rules:

- ``{"trait": "city", "equals": "Göteborg"}``, ``{"trait": "city", "in": [...]}``,
  ``{"trait": "email", "exists": true}``; ``computed_trait`` likewise
  (``favourite_store``, ``preferred_channel``...);
- ``{"bought_on": "pos"}`` — ordered on that channel at least once;
  ``{"never_bought_on": ["web", "app"]}`` — never ordered there ("never bought online");
- ``{"viewed": "COAT-WOOL-GREY-38", "at_least": 3, "without_buying": true}`` — ``Product
  Viewed`` that SKU at least N times (and, with ``without_buying``, never ordered it).

An unknown field is refused with 422 naming it.

An audience may instead be a fixed list of people (``create_listed``: e.g. the people a
funnel lost at one step); its rule is ``{"listed": true}`` and is not written by hand.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.commerce import orders as commerce_orders
from omnikanal.customers import service as customers_service
from omnikanal.errors import NotFound, RuleViolation
from omnikanal.events import service as events_service
from omnikanal.marketing import repository
from omnikanal.marketing.models import LISTED_RULE, Audience, AudienceMember
from omnikanal.marketing.service import MarketingErrorCode

_OPERATORS = ("equals", "in", "exists")
# How deep "all"/"any" groups may nest: enough for any real audience, and evaluated by
# recursion, so it must stay small.
MAX_RULE_DEPTH = 8
_HISTORY_LIMIT = 5000


def _error(path: str, code: MarketingErrorCode, message: str) -> RuleViolation:
    return RuleViolation(code, message, errors=[{"field": path, "message": message}])


def validate(rule: Any, path: str = "rule", depth: int = 1) -> None:
    if not isinstance(rule, dict) or not rule:
        raise _error(path, MarketingErrorCode.INVALID_RULE, f"{path} must be a non-empty object")
    for group in ("all", "any"):
        if group in rule:
            extra = [k for k in rule if k != group]
            if extra:
                raise _error(
                    f"{path}.{extra[0]}",
                    MarketingErrorCode.UNKNOWN_RULE_FIELD,
                    f"Unknown rule field {extra[0]!r} beside {group!r}.",
                )
            items = rule[group]
            if not isinstance(items, list) or not items:
                raise _error(
                    f"{path}.{group}", MarketingErrorCode.INVALID_RULE, "must be a non-empty list"
                )
            if depth >= MAX_RULE_DEPTH:
                raise _error(
                    f"{path}.{group}",
                    MarketingErrorCode.INVALID_RULE,
                    f"groups nest at most {MAX_RULE_DEPTH} levels deep",
                )
            for index, item in enumerate(items):
                validate(item, f"{path}.{group}[{index}]", depth + 1)
            return
    if "trait" in rule or "computed_trait" in rule:
        kind = "trait" if "trait" in rule else "computed_trait"
        allowed = {kind, *_OPERATORS}
        _no_unknown(rule, allowed, path)
        ops = [op for op in _OPERATORS if op in rule]
        if len(ops) != 1 or not isinstance(rule[kind], str):
            raise _error(
                path, MarketingErrorCode.INVALID_RULE, f"{kind} needs one of equals, in, exists"
            )
        if ops[0] == "in" and not isinstance(rule["in"], list):
            raise _error(f"{path}.in", MarketingErrorCode.INVALID_RULE, "must be a list")
        return
    if "bought_on" in rule or "never_bought_on" in rule:
        kind = "bought_on" if "bought_on" in rule else "never_bought_on"
        _no_unknown(rule, {kind}, path)
        value = rule[kind]
        if not (isinstance(value, str) or (isinstance(value, list) and value)):
            raise _error(
                f"{path}.{kind}", MarketingErrorCode.INVALID_RULE, "a channel or list of channels"
            )
        return
    if "viewed" in rule:
        _no_unknown(rule, {"viewed", "at_least", "without_buying"}, path)
        if not isinstance(rule["viewed"], str) or not isinstance(rule.get("at_least", 1), int):
            raise _error(path, MarketingErrorCode.INVALID_RULE, "viewed: a SKU; at_least: a count")
        return
    name = next(iter(rule))
    raise _error(
        f"{path}.{name}", MarketingErrorCode.UNKNOWN_RULE_FIELD, f"Unknown rule field {name!r}."
    )


def _no_unknown(rule: dict[str, Any], allowed: set[str], path: str) -> None:
    for name in rule:
        if name not in allowed:
            raise _error(
                f"{path}.{name}",
                MarketingErrorCode.UNKNOWN_RULE_FIELD,
                f"Unknown rule field {name!r}.",
            )


@dataclass
class _Person:
    """What rules look at, loaded when a rule first needs it."""

    session: Session
    profile_id: UUID
    _orders: list[tuple[str, set[str]]] | None = None
    _views: dict[str, int] | None = field(default=None)

    def orders(self) -> list[tuple[str, set[str]]]:
        if self._orders is None:
            _, found = commerce_orders.of_person(
                self.session, profile_id=self.profile_id, before=None, limit=_HISTORY_LIMIT
            )
            self._orders = [
                (view.order.channel, {line.sku for line in view.lines})
                for view in commerce_orders.views(self.session, found)
            ]
        return self._orders

    def views(self) -> dict[str, int]:
        if self._views is None:
            _, events = events_service.timeline(
                self.session, profile_id=self.profile_id, before=None, limit=_HISTORY_LIMIT
            )
            counts: dict[str, int] = {}
            for entry in events:
                if entry.event.name != "Product Viewed":
                    continue
                props = entry.event.message.get("properties") or {}
                sku = props.get("sku") or props.get("product_id")
                if isinstance(sku, str):
                    counts[sku] = counts.get(sku, 0) + 1
            self._views = counts
        return self._views


def _compare(values: dict[str, Any], name: str, rule: dict[str, Any]) -> bool:
    if "exists" in rule:
        return (values.get(name) is not None) == bool(rule["exists"])
    if "equals" in rule:
        return bool(values.get(name) == rule["equals"])
    return values.get(name) in rule["in"]


def _channels(value: str | list[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def matches(
    rule: dict[str, Any], person: _Person, traits: dict[str, Any], computed: dict[str, Any]
) -> bool:
    if "all" in rule:
        return all(matches(r, person, traits, computed) for r in rule["all"])
    if "any" in rule:
        return any(matches(r, person, traits, computed) for r in rule["any"])
    if "trait" in rule:
        return _compare(traits, rule["trait"], rule)
    if "computed_trait" in rule:
        return _compare(computed, rule["computed_trait"], rule)
    if "bought_on" in rule:
        wanted = _channels(rule["bought_on"])
        return any(channel in wanted for channel, _ in person.orders())
    if "never_bought_on" in rule:
        unwanted = _channels(rule["never_bought_on"])
        return not any(channel in unwanted for channel, _ in person.orders())
    sku = rule["viewed"]
    if person.views().get(sku, 0) < int(rule.get("at_least", 1)):
        return False
    if rule.get("without_buying"):
        return not any(sku in skus for _, skus in person.orders())
    return True


def members(session: Session, *, audience: Audience, after: UUID | None = None) -> Iterator[UUID]:
    """Every person on the audience: its list, or whom its rule matches, in id order
    (those after ``after``)."""
    if audience.rule == LISTED_RULE:
        yield from (p for p in _listed(session, audience.id) if after is None or p > after)
        return
    yield from _matching(session, audience.rule, after)


def includes(session: Session, *, audience_id: UUID, profile_id: UUID) -> bool:
    """Whether the person (any of their merged profiles) is on the audience now."""
    audience = get(session, audience_id=audience_id)
    live = customers_service.live_profile(session, profile_id)
    if audience.rule == LISTED_RULE:
        family = set(customers_service.family(session, profile_id=live.id))
        return any(p in family for p in repository.audience_member_ids(session, audience_id))
    person = _Person(session, live.id)
    return matches(audience.rule, person, live.traits or {}, live.computed_traits or {})


def _listed(session: Session, audience_id: UUID) -> Iterator[UUID]:
    """The list's people as they are now: a merged-away one as the person it joined, an
    erased one not at all."""
    found: set[UUID] = set()
    for profile_id in repository.audience_member_ids(session, audience_id):
        try:
            found.add(customers_service.live_profile(session, profile_id).id)
        except NotFound:
            continue
    yield from sorted(found)


def _matching(session: Session, rule: dict[str, Any], after: UUID | None) -> Iterator[UUID]:
    while True:
        page = customers_service.live_profile_ids(session, after=after, limit=500)
        if not page:
            return
        for profile_id in page:
            profile = customers_service.live_profile(session, profile_id)
            person = _Person(session, profile_id)
            if matches(rule, person, profile.traits or {}, profile.computed_traits or {}):
                yield profile_id
        after = page[-1]


def create(session: Session, *, name: str, rule: dict[str, Any]) -> Audience:
    validate(rule)
    audience = Audience(name=name, rule=rule)
    session.add(audience)
    session.flush()
    return audience


def create_listed(session: Session, *, name: str, profile_ids: Iterable[UUID]) -> Audience:
    """An audience of exactly these people (the ids as given; duplicates once)."""
    audience = Audience(name=name, rule=dict(LISTED_RULE))
    session.add(audience)
    session.flush()
    session.add_all(
        AudienceMember(audience_id=audience.id, profile_id=p) for p in sorted(set(profile_ids))
    )
    session.flush()
    return audience


def get(session: Session, *, audience_id: UUID) -> Audience:
    audience = repository.get_audience(session, audience_id)
    if audience is None:
        raise NotFound(MarketingErrorCode.AUDIENCE_NOT_FOUND, f"No audience {audience_id}.")
    return audience
