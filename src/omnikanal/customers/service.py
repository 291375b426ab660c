"""The identity graph's rules applied: identifiers, reading profiles, undoing merges.

Placing messages (``observe``) lives in ``placement.py``; it is part of this service.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import repository

# People placed in bulk from another system's export (imports) are part of it too.
from omnikanal.customers.bulk import KnownPerson as KnownPerson
from omnikanal.customers.bulk import PersonPlaced as PersonPlaced
from omnikanal.customers.bulk import PersonStatus as PersonStatus
from omnikanal.customers.bulk import canonical_identifier as canonical_identifier
from omnikanal.customers.bulk import import_people as import_people
from omnikanal.customers.identity import (
    ANONYMOUS_ID,
    EMAIL,
    IdentifierKey,
    identifiers_in,
    normalize,
)
from omnikanal.customers.models import Identifier, MergeAction, MergeLogEntry, Profile

# Placing messages is part of this service; other domains call it from here.
from omnikanal.customers.placement import Observation as Observation
from omnikanal.customers.placement import Placement as Placement
from omnikanal.customers.placement import Sighting as Sighting
from omnikanal.customers.placement import observe as observe
from omnikanal.customers.placement import rules
from omnikanal.customers.placement import (
    serialize_identity_changes as serialize_identity_changes,
)
from omnikanal.customers.projection import ProfileProjection, Seen

# Duplicate suggestions are part of this service too.
from omnikanal.customers.suggestions import AcceptedDuplicate as AcceptedDuplicate
from omnikanal.customers.suggestions import Recomputed as Recomputed
from omnikanal.customers.suggestions import SuggestionView as SuggestionView
from omnikanal.customers.suggestions import accept_duplicate as accept_duplicate
from omnikanal.customers.suggestions import get_duplicate as get_duplicate
from omnikanal.customers.suggestions import list_duplicates as list_duplicates
from omnikanal.customers.suggestions import recompute_duplicates as recompute_duplicates
from omnikanal.customers.suggestions import reject_duplicate as reject_duplicate
from omnikanal.customers.suggestions import suggestion_view as suggestion_view
from omnikanal.customers.suggestions import suggestions_of as suggestions_of
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.personal_data import Person
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event


class CustomerErrorCode(StrEnum):
    PROFILE_NOT_FOUND = "profile_not_found"
    NO_MERGE_TO_UNDO = "no_merge_to_undo"
    UNKNOWN_IDENTIFIER_TYPE = "unknown_identifier_type"
    INVALID_IDENTIFIER = "invalid_identifier"


@dataclasses.dataclass(frozen=True)
class ProfileUnmerged(DomainEvent):
    type: ClassVar[str] = "profile.unmerged"
    profile_id: UUID
    restored_profile_id: UUID
    merge_id: UUID
    actor: str
    # What went back to the restored profile: each domain gives back what these placed
    # (a cart's or a conversation's anchor).
    returned_identifier_ids: list[UUID]


@dataclass(frozen=True)
class Unmerge:
    profile_id: UUID
    restored_profile_id: UUID
    merge_id: UUID
    returned_identifier_ids: list[UUID]


def identifiers_for(
    session: Session,
    *,
    user_id: Any = None,
    anonymous_id: Any = None,
    traits: Mapping[str, Any] | None = None,
) -> list[IdentifierKey]:
    return identifiers_in(rules(session), user_id=user_id, anonymous_id=anonymous_id, traits=traits)


def place(
    session: Session, *, identifiers: Sequence[IdentifierKey], channel: str, at: datetime
) -> Placement:
    """The person these identifiers name, linked or created as a message would be
    (a till's loyalty card, a cart's anonymous id)."""
    owned = repository.owners(session, identifiers)
    known = _already_placed(session, identifiers, owned, channel)
    if known is not None:
        return known
    if not owned and len(set(identifiers)) == 1:
        new = _new_person(session, identifiers[0], channel=channel, at=at)
        if new is not None:
            return new
    sighting = Sighting(identifiers=list(identifiers), traits={}, channel=channel, seen_at=at)
    return observe(session, [sighting]).placements[0]


def sole_owner(session: Session, *, identifiers: Sequence[IdentifierKey]) -> UUID | None:
    """The one profile that has every one of these identifiers already (one indexed read
    per identifier type); None when any is new or they name different profiles."""
    owned = repository.owners(session, identifiers)
    profiles = {profile_id for _, profile_id, _ in owned}
    if len(owned) != len(set(identifiers)) or len(profiles) != 1:
        return None
    return profiles.pop()


def _already_placed(
    session: Session,
    identifiers: Sequence[IdentifierKey],
    owned: Sequence[tuple[IdentifierKey, UUID, UUID]],
    channel: str,
) -> Placement | None:
    """The person, when every identifier is already theirs and they were seen on this
    channel before: nothing would change, so the identity graph's lock is not taken (a
    returning customer's cart or order does not wait for other people's)."""
    if not identifiers or len(owned) != len(set(identifiers)):
        return None
    if len({profile_id for _, profile_id, _ in owned}) != 1:
        return None
    profile_id = owned[0][1]
    profile = repository.get_profile(session, profile_id)
    if profile is None or profile.merged_into is not None or channel not in profile.channels:
        return None
    order = rules(session).order
    _, _, anchor_id = min(owned, key=lambda found: order(found[0]))
    return Placement(profile_id=profile_id, anchor_id=anchor_id)


def _new_person(
    session: Session, key: IdentifierKey, *, channel: str, at: datetime
) -> Placement | None:
    """A new person with one identifier nobody has: nothing to link or merge, so the
    graph is not read and its lock is only shared (new shoppers' carts do not queue
    behind each other). None when a concurrent request made the identifier first (after
    waiting for its commit): the caller then places it under the exclusive lock, which
    also keeps the rest of two such requests apart, as before."""
    profile_id, identifier_id = new_id(), new_id()
    row = {
        "id": identifier_id,
        "type": key.type,
        "value": key.value,
        "profile_id": profile_id,
        "added_at": utcnow(),
        "added_by_message": None,
    }
    # The identifier first, then the shared lock: holding the lock while waiting for
    # another request's identifier would deadlock with it taking the exclusive one.
    if not repository.insert_identifier_if_new(session, row):
        return None
    repository.share_identity_graph(session)
    projection = ProfileProjection(id=profile_id)
    projection.see(Sighting(identifiers=[key], traits={}, channel=channel, seen_at=at))
    repository.insert_profiles(
        session, [{**projection.row(), "created_at": row["added_at"], "merged_into": None}]
    )
    return Placement(profile_id=profile_id, anchor_id=identifier_id)


def clean_traits(session: Session, traits: Mapping[str, Any]) -> dict[str, Any]:
    """Traits as the profile shows them: identifying ones in their canonical form."""
    identity_rules = rules(session)
    cleaned = dict(traits)
    for name, raw in traits.items():
        if name in identity_rules.types:
            value = normalize(identity_rules, name, raw)
            if value is not None:
                cleaned[name] = value
    return cleaned


def rebuild_projection(session: Session, *, profile_id: UUID, history: Sequence[Seen]) -> None:
    """Replace what a profile shows with what its messages say (after an unmerge)."""
    projection = ProfileProjection(id=profile_id)
    for message in history:
        projection.see(message)
    repository.update_projections(session, [projection.row()])


def update_computed_traits(
    session: Session, *, profile_id: UUID, traits: Mapping[str, Any]
) -> None:
    """Replace the computed traits ``traits`` names (others are kept) on the live profile."""
    profile = live_profile(session, profile_id)
    repository.set_computed_traits(session, profile.id, {**profile.computed_traits, **traits})
    session.expire(profile, ["computed_traits"])


def update_many_computed_traits(
    session: Session, *, traits: Mapping[UUID, Mapping[str, Any]]
) -> None:
    """``update_computed_traits`` for many live profiles at once (bulk imports): the
    computed traits each names are replaced, others kept; two statements in all."""
    current = repository.computed_traits_of(session, list(traits))
    repository.set_many_computed_traits(
        session,
        {p: {**current[p], **found} for p, found in traits.items() if p in current},
    )
    # The session's own copies, if any, are read again (a few objects, not one per person).
    for cached in list(session.identity_map.values()):
        if isinstance(cached, Profile) and cached.id in traits:
            session.expire(cached, ["computed_traits"])


@dataclass(frozen=True)
class Visits:
    """A person's messages on one channel, told at once (imported history)."""

    profile_id: UUID
    channel: str
    first: datetime
    last: datetime
    count: int


def add_visits(session: Session, visits: Sequence[Visits]) -> None:
    """Channels and first/last seen of messages placed with ``Sighting(visit=False)``,
    for many people in two statements; a merged-away profile's go to the one it joined."""
    if not visits:
        return
    repository.lock_identity_graph(session)
    live_of = {
        member: live
        for live, family in families(session, profile_ids=[v.profile_id for v in visits]).items()
        for member in family
    }
    projections = {
        row[0]: ProfileProjection.from_row(row)
        for row in repository.projection_rows(session, sorted(set(live_of.values())))
    }
    for seen in visits:
        live = live_of.get(seen.profile_id)
        if live is not None:  # not erased meanwhile
            projections[live].add_visits(seen.channel, seen.first, seen.last, seen.count)
    repository.update_projections(session, [p.row() for p in projections.values()])


def families(session: Session, *, profile_ids: Sequence[UUID]) -> dict[UUID, list[UUID]]:
    """For these profiles, set-based: each live profile they lead to (merged-away ids
    lead to their survivor) with the ids merged into it, itself first."""
    parents: dict[UUID, UUID | None] = {}
    todo = set(profile_ids)
    while todo:
        found = repository.merge_parents(session, sorted(todo))
        parents |= found
        todo = {q for q in found.values() if q is not None and q not in parents}
    live_of: dict[UUID, UUID] = {}
    for profile_id in profile_ids:
        if profile_id not in parents:
            continue  # no such profile (erased)
        live, seen = profile_id, {profile_id}
        while (
            (parent := parents.get(live)) is not None and parent in parents and parent not in seen
        ):
            seen.add(parent)
            live = parent
        live_of[profile_id] = live
    roots = sorted(set(live_of.values()))
    family = {root: [root] for root in roots}
    root_of = {root: root for root in roots}
    frontier = roots
    while frontier:
        pairs = [
            (c, p) for c, p in repository.merged_child_pairs(session, frontier) if c not in root_of
        ]
        for child, parent in pairs:
            root_of[child] = root_of[parent]
            family[root_of[parent]].append(child)
        frontier = [child for child, _ in pairs]
    return family


# -- reading profiles --


@dataclass(frozen=True)
class ProfileView:
    profile: Profile
    identifiers: Sequence[Identifier]
    merged_ids: list[UUID]


def live_profile(session: Session, profile_id: UUID) -> Profile:
    """The profile, or the one it was merged into (merged-away ids keep answering)."""
    profile = repository.surviving_profile(session, profile_id)
    if profile is None:
        raise NotFound(CustomerErrorCode.PROFILE_NOT_FOUND, f"No profile {profile_id}.")
    return profile


def merged_descendants(session: Session, profile_id: UUID) -> list[UUID]:
    found: list[UUID] = []
    frontier = [profile_id]
    while frontier:
        frontier = [p for p in repository.merged_children(session, frontier) if p not in found]
        found += frontier
    return found


def family(session: Session, *, profile_id: UUID) -> list[UUID]:
    """The live profile this id leads to, then every profile merged into it; one query
    when the id is live and nothing merged into it had others merged into it first."""
    rows = repository.profile_and_children(session, profile_id)
    return _family_of(session, profile_id, rows)


def _family_of(
    session: Session, profile_id: UUID, rows: Sequence[tuple[UUID, UUID | None]]
) -> list[UUID]:
    """``family`` from the profile's and its direct children's (id, merged_into)."""
    parent = next((p for found, p in rows if found == profile_id), profile_id)
    if parent == profile_id:
        raise NotFound(CustomerErrorCode.PROFILE_NOT_FOUND, f"No profile {profile_id}.")
    if parent is not None:  # merged away: follow it to the survivor
        live = live_profile(session, profile_id).id
        return [live, *merged_descendants(session, live)]
    children = [found for found, p in rows if p == profile_id]
    found = list(children)
    while children:
        children = [p for p in repository.merged_children(session, children) if p not in found]
        found += children
    return [profile_id, *found]


def family_by_identifier(session: Session, *, type_: str, raw_value: str) -> list[UUID] | None:
    """``family`` of whoever holds this identifier (the live profile first), None when
    nobody does: one statement when the holder is live and nothing merged into it had
    others merged into it first."""
    identity_rules = rules(session)
    value = normalize(identity_rules, type_, raw_value) if type_ in identity_rules.types else None
    if value is None:
        owner = find_profile_id(session, type_=type_, raw_value=raw_value)  # says what is wrong
        return None if owner is None else family(session, profile_id=owner)
    rows = repository.owner_and_children(session, IdentifierKey(type_, value))
    ids = {found for found, _ in rows}
    holder = next((found for found, parent in rows if parent not in ids), None)
    return None if holder is None else _family_of(session, holder, rows)


def live_profile_ids(
    session: Session, *, after: UUID | None = None, limit: int = 1000
) -> list[UUID]:
    """Every person once (profiles not merged away), in id order, a page at a time."""
    return repository.live_profile_ids(session, after=after, limit=limit)


def get_profile(session: Session, *, profile_id: UUID) -> ProfileView:
    profile = live_profile(session, profile_id)
    return ProfileView(
        profile=profile,
        identifiers=repository.identifiers(session, profile.id),
        merged_ids=merged_descendants(session, profile.id),
    )


def attach_identifier(
    session: Session, *, profile_id: UUID, type_: str, raw_value: str, channel: str
) -> Placement:
    """Give a known person one more identifier (the loyalty card issued to them), as a
    message carrying their strongest identifier and the new one would."""
    view = get_profile(session, profile_id=profile_id)
    anchor = strongest_identifier(session, view.identifiers)
    value = normalize(rules(session), type_, raw_value)
    if anchor is None or value is None:
        raise RuleViolation(
            CustomerErrorCode.INVALID_IDENTIFIER,
            f"{raw_value!r} cannot be given to profile {view.profile.id}.",
        )
    known = next(i for i in view.identifiers if i.id == anchor)
    keys = [IdentifierKey(known.type, known.value), IdentifierKey(type_, value)]
    return place(session, identifiers=keys, channel=channel, at=utcnow())


def email_of(session: Session, *, profile_id: UUID) -> str | None:
    """The person's most recently added email address, if they gave one."""
    view = get_profile(session, profile_id=profile_id)
    emails = [i for i in view.identifiers if i.type == EMAIL]
    return max(emails, key=lambda i: i.added_at).value if emails else None


def latest_identifier(
    session: Session, *, profile_id: UUID, types: Sequence[str]
) -> tuple[str, str] | None:
    """The type and value of the person's most recently added identifier of these types
    (where a reply reaches them: a phone number, a social handle)."""
    view = get_profile(session, profile_id=profile_id)
    found = [i for i in view.identifiers if i.type in types]
    if not found:
        return None
    latest = max(found, key=lambda i: i.added_at)
    return latest.type, latest.value


def person_of_device(session: Session, *, anonymous_id: str) -> UUID | None:
    """The live profile of a device when that profile is someone's (it holds a person
    identifier: a user id, an email, a card ...); None for a new or anonymous-only device."""
    identity_rules = rules(session)
    value = normalize(identity_rules, ANONYMOUS_ID, anonymous_id)
    owner = repository.find_by_identifier(session, IdentifierKey(ANONYMOUS_ID, value or ""))
    if owner is None:
        return None
    profile = live_profile(session, owner)
    held = repository.identifiers(session, profile.id)
    if any(not identity_rules.is_device(i.type) for i in held if i.type in identity_rules.types):
        return profile.id
    return None


def strongest_identifier(session: Session, identifiers: Sequence[Identifier]) -> UUID | None:
    """The identifier that speaks for a profile most surely (a user id before an email)."""
    if not identifiers:
        return None
    order = rules(session).order
    return min(identifiers, key=lambda i: order(IdentifierKey(i.type, i.value))).id


def find_profile_id(session: Session, *, type_: str, raw_value: str) -> UUID | None:
    identity_rules = rules(session)
    if type_ not in identity_rules.types:
        raise RuleViolation(
            CustomerErrorCode.UNKNOWN_IDENTIFIER_TYPE,
            f"Unknown identifier type {type_!r}; known: {', '.join(sorted(identity_rules.types))}.",
        )
    value = normalize(identity_rules, type_, raw_value)
    if value is None:
        raise RuleViolation(
            CustomerErrorCode.INVALID_IDENTIFIER,
            f"{raw_value!r} is not a valid {type_}.",
            errors=[{"field": type_, "message": f"not a valid {type_}"}],
        )
    return repository.find_by_identifier(session, IdentifierKey(type_, value))


def merge_log(session: Session, *, profile_id: UUID, limit: int = 200) -> Sequence[MergeLogEntry]:
    profile = live_profile(session, profile_id)
    return repository.log_for(
        session, [profile.id, *merged_descendants(session, profile.id)], limit
    )


# -- undoing a merge --


def unmerge(session: Session, *, profile_id: UUID, merge_id: UUID | None, actor: str) -> Unmerge:
    """Split a merged profile back out: it returns with the identifiers it brought.

    The caller moves the messages that belong to the restored side and rebuilds both
    projections (the events domain owns the messages)."""
    repository.lock_identity_graph(session)
    survivor = live_profile(session, profile_id)
    tree = [survivor.id, *merged_descendants(session, survivor.id)]
    entry = repository.open_merge(session, survivors=tree, merge_id=merge_id)
    if entry is None:
        raise Conflict(
            CustomerErrorCode.NO_MERGE_TO_UNDO,
            f"Profile {survivor.id} has no merge {merge_id} to undo."
            if merge_id
            else f"Profile {survivor.id} has no merge to undo.",
        )
    restored = entry.other_profile_id
    returned = repository.return_identifiers(
        session,
        identifier_ids=[UUID(i) for i in entry.moved_identifier_ids],
        from_profile=survivor.id,
        to_profile=restored,
    )
    repository.set_merged_into(session, [(restored, None)])
    entry.unmerged_at = utcnow()
    repository.add_log_entries(
        session,
        [
            {
                "id": new_id(),
                "action": MergeAction.UNMERGED,
                "profile_id": survivor.id,
                "other_profile_id": restored,
                "rule": f"unmerged by {actor}: merge {entry.id} undone",
                "linking": entry.linking,
                "moved_identifier_ids": [str(i) for i in returned],
                "message_id": None,
                "source_id": None,
                "channel": None,
                "actor": actor,
                "created_at": utcnow(),
                "unmerged_at": None,
            }
        ],
    )
    record_event(
        session,
        ProfileUnmerged(
            profile_id=survivor.id,
            restored_profile_id=restored,
            merge_id=entry.id,
            actor=actor,
            returned_identifier_ids=returned,
        ),
    )
    return Unmerge(
        profile_id=survivor.id,
        restored_profile_id=restored,
        merge_id=entry.id,
        returned_identifier_ids=returned,
    )


# -- the person, for export and erasure --

# Traits that carry a person's name (Segment's spec and common spellings).
NAME_TRAITS = ("name", "first_name", "last_name", "firstName", "lastName", "full_name")


def person(session: Session, *, profile_id: UUID, also: Sequence[UUID] = ()) -> Person | None:
    """Everything that names the person of ``profile_id`` (a merged-away id names its
    survivor): the live profile and every profile merged into it (and ``also``, ids an
    erasure gathered before), their identifiers and the names in their traits. None once
    no profile of theirs is left."""
    try:
        live = live_profile(session, profile_id)
        family = [live.id, *merged_descendants(session, live.id)]
    except NotFound:
        family = []
    ids = list(dict.fromkeys([*family, *also]))
    found = repository.profiles(session, ids) if ids else []
    if not found:
        return None
    identifiers: dict[str, set[str]] = {}
    for identifier in repository.identifiers_of(session, ids):
        identifiers.setdefault(identifier.type, set()).add(identifier.value)
    return Person(
        profile_ids=frozenset(ids),
        identifiers={t: frozenset(v) for t, v in identifiers.items()},
        names=frozenset(_names(found)),
    )


def _names(profiles: Sequence[Profile]) -> set[str]:
    names: set[str] = set()
    for profile in profiles:
        for trait in NAME_TRAITS:
            value = profile.traits.get(trait)
            if isinstance(value, str) and value.strip():
                names.add(value.strip())
                names.update(part for part in value.split() if len(part) > 1)
    return names


def people_rows(
    session: Session, *, profile_ids: Sequence[UUID]
) -> tuple[Sequence[Profile], Sequence[Identifier]]:
    return repository.profiles(session, profile_ids), repository.identifiers_of(
        session, profile_ids
    )


def erase_people(session: Session, *, profile_ids: Sequence[UUID]) -> int:
    return repository.delete_people(session, profile_ids)
