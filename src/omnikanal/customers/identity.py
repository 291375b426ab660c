"""The identity rules: which identifiers make one person, and when two profiles become one.

The rules (see docs/identity.md for the reasoning):

1. An identifier (type and value) belongs to at most one profile.
2. Each type has a *priority* (1 is strongest) and a *limit*: the most identifiers of that
   type one profile may hold. By default a profile holds one ``user_id`` and one
   ``loyalty_card``, up to five emails and three phone numbers; anonymous ids are unlimited.
3. A message's identifiers are weighed strongest first. Each one that points at another
   profile merges that profile in, unless the merged profile would break a limit (two
   ``user_id``\\ s: two people); then the merge is refused and logged.
4. The message belongs to the profile of its strongest identifier (a new profile when that
   identifier is new). New identifiers join that profile while within their limits.
5. Device identifiers (``anonymous_id``) identify a device, not a person: when one is
   refused because its profile belongs to someone else, the device moves to the person
   the message identifies (whoever identified last on a shared tablet), and that person's
   later anonymous events follow it. The device's earlier events stay where they were.
"""

import dataclasses
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import phonenumbers

ANONYMOUS_ID = "anonymous_id"
USER_ID = "user_id"
# Another system's customer number (a CRM, a loyalty system, an old web shop). One per
# profile as the graph merges on its own: two records are two people until an agent accepts
# them as duplicates (``IdentityRules.for_agents``), and then the person keeps both numbers.
EXTERNAL_ID = "external_id"
EMAIL = "email"
PHONE = "phone"
LOYALTY_CARD = "loyalty_card"
SOCIAL_TYPES = ("instagram", "facebook", "tiktok", "x", "linkedin", "snapchat", "pinterest")


@dataclass(frozen=True, order=True)
class IdentifierKey:
    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True)
class TypeRule:
    priority: int
    limit: int | None
    device: bool = False


DEFAULT_RULES: dict[str, TypeRule] = {
    USER_ID: TypeRule(priority=1, limit=1),
    EXTERNAL_ID: TypeRule(priority=2, limit=1),
    LOYALTY_CARD: TypeRule(priority=2, limit=1),
    EMAIL: TypeRule(priority=3, limit=5),
    PHONE: TypeRule(priority=4, limit=3),
    **{social: TypeRule(priority=5, limit=3) for social in SOCIAL_TYPES},
    ANONYMOUS_ID: TypeRule(priority=9, limit=None, device=True),
}


@dataclass(frozen=True)
class IdentityRules:
    types: Mapping[str, TypeRule]
    default_phone_region: str = "SE"

    @classmethod
    def from_settings(
        cls, overrides: Mapping[str, Mapping[str, Any]], *, default_phone_region: str = "SE"
    ) -> "IdentityRules":
        types = dict(DEFAULT_RULES)
        for name, values in overrides.items():
            base = types.get(name, TypeRule(priority=5, limit=3))
            unknown = set(values) - {"priority", "limit", "device"}
            if unknown:
                raise ValueError(f"identity rule {name!r}: unknown keys {sorted(unknown)}")
            types[name] = TypeRule(
                priority=int(values.get("priority", base.priority)),
                limit=values["limit"] if "limit" in values else base.limit,
                device=bool(values.get("device", base.device)),
            )
        return cls(types=types, default_phone_region=default_phone_region)

    def rule(self, type_: str) -> TypeRule:
        return self.types[type_]

    def order(self, key: IdentifierKey) -> tuple[int, str, str]:
        return (self.types[key.type].priority, key.type, key.value)

    def is_device(self, type_: str) -> bool:
        return self.types[type_].device

    def is_tracked(self, type_: str) -> bool:
        """Types whose identifiers the graph keeps in memory to check limits and persons."""
        rule = self.types[type_]
        return rule.limit is not None or not rule.device

    def for_agents(self) -> "IdentityRules":
        """The rules for a merge an agent decides (an accepted duplicate): records of
        another system may become one person, each keeping its customer number; logins
        and loyalty cards stay within their limits."""
        types = dict(self.types)
        types[EXTERNAL_ID] = dataclasses.replace(types[EXTERNAL_ID], limit=None)
        return dataclasses.replace(self, types=types)

    def first_exceeded(self, held: Mapping[str, set[str]]) -> str | None:
        for type_, values in held.items():
            limit = self.types[type_].limit
            if limit is not None and len(values) > limit:
                return type_
        return None

    def identifies_person(self, held: Mapping[str, set[str]]) -> bool:
        return any(values and not self.types[t].device for t, values in held.items())


# -- reading identifiers out of a message --


def normalize(rules: IdentityRules, type_: str, raw: Any) -> str | None:
    """The canonical value of an identifier, or None when it cannot be one."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    # NFC: "josé" typed precomposed or as "e" + combining accent is one identifier.
    value = unicodedata.normalize("NFC", str(raw)).strip()
    # A NUL cannot be stored (PostgreSQL) and is no one's identifier.
    if not value or len(value) > 300 or "\x00" in value:
        return None
    if type_ == EMAIL:
        return value.lower() if "@" in value else None
    if type_ == PHONE:
        return normalize_phone(value, rules.default_phone_region)
    if type_ == LOYALTY_CARD:
        return value.replace(" ", "").replace("-", "")
    if type_ in SOCIAL_TYPES:
        return value.lstrip("@").lower() or None
    return value


def normalize_phone(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifiers_in(
    rules: IdentityRules,
    *,
    user_id: Any = None,
    anonymous_id: Any = None,
    traits: Mapping[str, Any] | None = None,
    previous_id: Any = None,
    previous_id_type: str = ANONYMOUS_ID,
) -> list[IdentifierKey]:
    """Every identifier a message carries: ids, identifying traits, an alias's previous id."""
    found: list[IdentifierKey] = []

    def add(type_: str, raw: Any) -> None:
        value = normalize(rules, type_, raw)
        if value is not None:
            key = IdentifierKey(type_, value)
            if key not in found:
                found.append(key)

    add(USER_ID, user_id)
    add(ANONYMOUS_ID, anonymous_id)
    if previous_id is not None:
        add(previous_id_type, previous_id)
    for name, raw in (traits or {}).items():
        if name in rules.types and name not in (USER_ID, ANONYMOUS_ID):
            add(name, raw)
    return found


# -- the graph, as one batch of messages sees and changes it --


@dataclass
class Decision:
    """Where one message belongs and what it changed in the graph."""

    profile_id: UUID
    anchor: IdentifierKey
    created: bool = False
    added: list[IdentifierKey] = field(default_factory=list)
    # (merged-away profile, the message's identifiers that pointed at it)
    merged: list[tuple[UUID, list[IdentifierKey]]] = field(default_factory=list)
    # (device identifier, the profile it left)
    moved: list[tuple[IdentifierKey, UUID]] = field(default_factory=list)
    # (identifier, its profile, the type whose limit a merge would break)
    refused: list[tuple[IdentifierKey, UUID, str]] = field(default_factory=list)
    # Per merged-away profile: the identifiers of this batch that went with it.
    carried: dict[UUID, list[IdentifierKey]] = field(default_factory=dict)


@dataclass
class GraphView:
    """The part of the identity graph a batch touches, kept current as messages apply.

    ``owners`` maps every identifier the batch mentions to its live profile; ``held`` has,
    per profile, the identifiers of tracked types (limited ones, and every person
    identifier) - what limit checks and the shared-device rule need. It must be loaded
    for every profile a message points at unless the message is ``settled`` (all its
    identifiers on one profile already), which decides nothing.
    """

    rules: IdentityRules
    new_profile_id: Callable[[], UUID]
    owners: dict[IdentifierKey, UUID] = field(default_factory=dict)
    held: dict[UUID, dict[str, set[str]]] = field(default_factory=dict)
    merged_into: dict[UUID, UUID] = field(default_factory=dict)

    def load(self, profile_id: UUID, keys: Iterable[IdentifierKey]) -> None:
        held = self.held.setdefault(profile_id, {})
        for key in keys:
            if self.rules.is_tracked(key.type):
                held.setdefault(key.type, set()).add(key.value)

    def live(self, profile_id: UUID) -> UUID:
        while profile_id in self.merged_into:
            profile_id = self.merged_into[profile_id]
        return profile_id

    def settled(self, keys: Sequence[IdentifierKey]) -> UUID | None:
        """The profile when every identifier already belongs to it: nothing to decide."""
        owners = {self.owners.get(key) for key in keys}
        return owners.pop() if len(owners) == 1 else None

    def decide(self, keys: Sequence[IdentifierKey]) -> Decision:
        ordered = sorted(set(keys), key=self.rules.order)
        known = self.settled(ordered)
        if known is not None:
            return Decision(profile_id=known, anchor=ordered[0])
        union: dict[str, set[str]] = {}
        accepted: list[UUID] = []
        links: dict[UUID, list[IdentifierKey]] = {}
        new: list[IdentifierKey] = []
        rejected: list[tuple[IdentifierKey, UUID | None, str]] = []
        for key in ordered:
            owner = self.owners.get(key)
            if owner is not None and owner in links:
                links[owner].append(key)
                continue
            addition = self.held[owner] if owner else self._tracked(key)
            candidate = _combine(union, addition)
            exceeded = self.rules.first_exceeded(candidate)
            if exceeded and (accepted or new):
                rejected.append((key, owner, exceeded))
                continue
            union = candidate
            if owner is None:
                new.append(key)
            else:
                accepted.append(owner)
                links[owner] = [key]

        decision = self._start(ordered[0], accepted)
        for merged in accepted[1:]:
            decision.merged.append((merged, links[merged]))
            decision.carried[merged] = self._merge(merged, into=decision.profile_id)
        for key in new:
            self._own(key, decision.profile_id)
            decision.added.append(key)
        person = bool(rejected) and self.rules.identifies_person(self.held[decision.profile_id])
        for key, owner, exceeded in rejected:
            if owner is None:
                continue  # a new identifier over its limit is simply not linked
            if person and self.rules.is_device(key.type):
                self._own(key, decision.profile_id)
                decision.moved.append((key, owner))
            else:
                decision.refused.append((key, owner, exceeded))
        return decision

    def _start(self, anchor: IdentifierKey, accepted: list[UUID]) -> Decision:
        if accepted:
            return Decision(profile_id=accepted[0], anchor=anchor)
        profile_id = self.new_profile_id()
        self.held[profile_id] = {}
        return Decision(profile_id=profile_id, anchor=anchor, created=True)

    def _tracked(self, key: IdentifierKey) -> dict[str, set[str]]:
        return {key.type: {key.value}} if self.rules.is_tracked(key.type) else {}

    def _own(self, key: IdentifierKey, profile_id: UUID) -> None:
        previous = self.owners.get(key)
        if previous is not None and previous != profile_id:
            self.held.get(previous, {}).get(key.type, set()).discard(key.value)
        self.owners[key] = profile_id
        if self.rules.is_tracked(key.type):
            self.held.setdefault(profile_id, {}).setdefault(key.type, set()).add(key.value)

    def _merge(self, merged: UUID, *, into: UUID) -> list[IdentifierKey]:
        carried = [key for key, owner in self.owners.items() if owner == merged]
        for key in carried:
            self.owners[key] = into
        self.held[into] = _combine(self.held.get(into, {}), self.held.pop(merged, {}))
        self.merged_into[merged] = into
        return carried


def _combine(a: Mapping[str, set[str]], b: Mapping[str, set[str]]) -> dict[str, set[str]]:
    combined = {type_: set(values) for type_, values in a.items()}
    for type_, values in b.items():
        combined.setdefault(type_, set()).update(values)
    return combined
