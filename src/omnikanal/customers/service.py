"""The identity graph: placing every message's person, merging, unmerging, reading profiles.

``observe`` is the ingestion path: one call per batch of messages, a handful of bulk
statements whatever the batch size. Identity changes are serialized (one transaction at a
time), so concurrent batches never create one person twice.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.config import Settings
from omnikanal.customers import repository
from omnikanal.customers.identity import (
    ANONYMOUS_ID,
    USER_ID,
    Decision,
    GraphView,
    IdentifierKey,
    IdentityRules,
    identifiers_in,
    normalize,
)
from omnikanal.customers.models import Identifier, MergeAction, MergeLogEntry, Profile
from omnikanal.customers.projection import ProfileProjection, Seen
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event

RULES_INFO_KEY = "omnikanal.identity_rules"


class CustomerErrorCode(StrEnum):
    PROFILE_NOT_FOUND = "profile_not_found"
    NO_MERGE_TO_UNDO = "no_merge_to_undo"
    UNKNOWN_IDENTIFIER_TYPE = "unknown_identifier_type"
    INVALID_IDENTIFIER = "invalid_identifier"


@dataclasses.dataclass(frozen=True)
class ProfilesMerged(DomainEvent):
    type: ClassVar[str] = "profile.merged"
    profile_id: UUID
    merged_profile_id: UUID
    rule: str
    message_id: str | None


@dataclasses.dataclass(frozen=True)
class ProfileUnmerged(DomainEvent):
    type: ClassVar[str] = "profile.unmerged"
    profile_id: UUID
    restored_profile_id: UUID
    merge_id: UUID
    actor: str


@dataclass(frozen=True)
class Sighting:
    """One message as the identity graph sees it."""

    identifiers: list[IdentifierKey]
    traits: Mapping[str, Any]
    channel: str
    seen_at: datetime
    message_id: str | None = None
    source_id: UUID | None = None
    # An alias's previousId: a user_id if one is known by that value, else an anonymous_id.
    previous_id: str | None = None


@dataclass(frozen=True)
class Placement:
    profile_id: UUID
    # The identifier that decided where the message went (its strongest); an unmerge
    # moves the message with it.
    anchor_id: UUID


@dataclass(frozen=True)
class Observation:
    placements: list[Placement]
    # (merged-away profile, the profile it joined), in the order they happened.
    merges: list[tuple[UUID, UUID]]


@dataclass(frozen=True)
class Unmerge:
    profile_id: UUID
    restored_profile_id: UUID
    merge_id: UUID
    returned_identifier_ids: list[UUID]


def rules(session: Session) -> IdentityRules:
    cached: IdentityRules | None = session.info.get(RULES_INFO_KEY)
    if cached is None:
        settings: Settings = session.info.get("settings") or Settings()
        cached = IdentityRules.from_settings(
            settings.identity_rules, default_phone_region=settings.default_phone_region
        )
        session.info[RULES_INFO_KEY] = cached
    return cached


def identifiers_for(
    session: Session,
    *,
    user_id: Any = None,
    anonymous_id: Any = None,
    traits: Mapping[str, Any] | None = None,
) -> list[IdentifierKey]:
    return identifiers_in(rules(session), user_id=user_id, anonymous_id=anonymous_id, traits=traits)


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


# -- placing messages --


def serialize_identity_changes(session: Session) -> None:
    """Take the identity graph's transaction lock now (before reading what to change)."""
    repository.lock_identity_graph(session)


@dataclass
class _Batch:
    """Bookkeeping while a batch's decisions become rows."""

    graph: GraphView
    known_ids: dict[IdentifierKey, UUID]
    new_ids: dict[IdentifierKey, UUID] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    merges: list[tuple[UUID, UUID]] = field(default_factory=list)
    # Profiles this batch created: written once, at the end, with what they show.
    created: set[UUID] = field(default_factory=set)

    def identifier_id(self, key: IdentifierKey) -> UUID:
        return self.known_ids.get(key) or self.new_ids[key]


def observe(session: Session, sightings: Sequence[Sighting]) -> Observation:
    """Place each message with its person, linking, merging and moving identifiers."""
    repository.lock_identity_graph(session)
    identity_rules = rules(session)
    sightings = _resolve_previous_ids(session, identity_rules, sightings)
    keys = [key for sighting in sightings for key in sighting.identifiers]
    owned = repository.owners(session, keys)
    graph = GraphView(rules=identity_rules, new_profile_id=new_id)
    graph.owners = {key: profile_id for key, profile_id, _ in owned}
    # Limits only matter where a message brings a new identifier or links two profiles.
    deciding = sorted(
        {
            graph.owners[key]
            for sighting in sightings
            if graph.settled(sighting.identifiers) is None
            for key in sighting.identifiers
            if key in graph.owners
        }
    )
    for profile_id in deciding:
        graph.load(profile_id, ())
    tracked = [t for t in identity_rules.types if identity_rules.is_tracked(t)]
    for profile_id, key in repository.identifiers_of_types(session, deciding, tracked):
        graph.load(profile_id, [key])
    batch = _Batch(graph=graph, known_ids={key: id_ for key, _, id_ in owned})

    now = utcnow()
    decisions = [graph.decide(sighting.identifiers) for sighting in sightings]
    batch.created = {d.profile_id for d in decisions if d.created}
    added_by: dict[IdentifierKey, str | None] = {}
    for decision, sighting in zip(decisions, sightings, strict=True):
        for key in decision.added:
            if key not in batch.new_ids:
                batch.new_ids[key] = new_id()
                added_by[key] = sighting.message_id
        _log_moves_and_refusals(batch, decision, sighting)
    _write_merges(session, batch, decisions, sightings)
    repository.insert_identifiers(
        session,
        [
            {
                "id": id_,
                "type": key.type,
                "value": key.value,
                "profile_id": graph.owners[key],
                "added_at": now,
                "added_by_message": added_by[key],
            }
            for key, id_ in batch.new_ids.items()
        ],
    )
    moved = {key for d in decisions for key, _ in d.moved if key not in batch.new_ids}
    repository.move_identifiers(session, [(key, graph.owners[key]) for key in sorted(moved)])
    repository.add_log_entries(session, batch.log)
    _write_projections(session, batch, decisions, sightings, now)
    return Observation(
        placements=[
            Placement(profile_id=graph.live(d.profile_id), anchor_id=batch.identifier_id(d.anchor))
            for d in decisions
        ],
        merges=batch.merges,
    )


def _resolve_previous_ids(
    session: Session, identity_rules: IdentityRules, sightings: Sequence[Sighting]
) -> list[Sighting]:
    previous = [s.previous_id for s in sightings if s.previous_id is not None]
    if not previous:
        return list(sightings)
    candidates = [
        key
        for raw in previous
        if (value := normalize(identity_rules, USER_ID, raw)) is not None
        for key in [IdentifierKey(USER_ID, value)]
    ]
    known_users = {key for key, _, _ in repository.owners(session, candidates)}
    resolved: list[Sighting] = []
    for sighting in sightings:
        if sighting.previous_id is None:
            resolved.append(sighting)
            continue
        value = normalize(identity_rules, USER_ID, sighting.previous_id)
        type_ = USER_ID if value and IdentifierKey(USER_ID, value) in known_users else ANONYMOUS_ID
        extra = identifiers_in(
            identity_rules, previous_id=sighting.previous_id, previous_id_type=type_
        )
        merged = sighting.identifiers + [k for k in extra if k not in sighting.identifiers]
        resolved.append(dataclasses.replace(sighting, identifiers=merged, previous_id=None))
    return resolved


def _linking(keys: Sequence[IdentifierKey]) -> list[dict[str, str]]:
    return [{"type": k.type, "value": k.value} for k in keys]


def _log_row(
    action: str, profile_id: UUID, other: UUID, rule: str, sighting: Sighting, **extra: Any
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "action": action,
        "profile_id": profile_id,
        "other_profile_id": other,
        "rule": rule,
        "linking": extra.pop("linking", []),
        "moved_identifier_ids": extra.pop("moved_identifier_ids", []),
        "message_id": sighting.message_id,
        "source_id": sighting.source_id,
        "channel": sighting.channel,
        "actor": None,
        "created_at": utcnow(),
        "unmerged_at": None,
    }


def _write_merges(
    session: Session, batch: _Batch, decisions: Sequence[Decision], sightings: Sequence[Sighting]
) -> None:
    """All of a batch's merges in a few statements, applied in the order they happened."""
    steps = [
        (merged, links, decision, sighting)
        for decision, sighting in zip(decisions, sightings, strict=True)
        for merged, links in decision.merged
    ]
    if not steps:
        return
    # What each profile holds, so each merge logs what it brought (for an unmerge).
    holds = repository.identifier_ids_by_profile(session, [merged for merged, *_ in steps])
    for merged, links, decision, sighting in steps:
        brought = holds.pop(merged, set()) | {
            batch.new_ids[key] for key in decision.carried.get(merged, []) if key in batch.new_ids
        }
        holds.setdefault(decision.profile_id, set()).update(brought)
        rule = (
            "shared identifier: the message carried "
            + ", ".join(str(k) for k in [decision.anchor, *links])
            + "; no identifier limit is exceeded by the merge"
        )
        batch.log.append(
            _log_row(
                MergeAction.MERGED,
                decision.profile_id,
                merged,
                rule,
                sighting,
                linking=_linking([decision.anchor, *links]),
                moved_identifier_ids=[str(i) for i in sorted(brought)],
            )
        )
        batch.merges.append((merged, decision.profile_id))
        record_event(
            session,
            ProfilesMerged(
                profile_id=decision.profile_id,
                merged_profile_id=merged,
                rule=rule,
                message_id=sighting.message_id,
            ),
        )
    repository.repoint_identifiers(session, batch.merges)
    repository.set_merged_into(
        session, [(merged, into) for merged, into in batch.merges if merged not in batch.created]
    )


def _log_moves_and_refusals(batch: _Batch, decision: Decision, sighting: Sighting) -> None:
    for key, previous in decision.moved:
        rule = (
            f"shared device: {key} was last used by the person identified as "
            f"{decision.anchor}; the device follows them, earlier events stay"
        )
        batch.log.append(
            _log_row(
                MergeAction.DEVICE_MOVED,
                decision.profile_id,
                previous,
                rule,
                sighting,
                linking=_linking([decision.anchor, key]),
            )
        )
    for key, owner, exceeded in decision.refused:
        limit = batch.graph.rules.rule(exceeded).limit
        rule = (
            f"merge refused: together the profiles would hold more than {limit} "
            f"{exceeded} identifier(s); {key} stays with its profile"
        )
        batch.log.append(
            _log_row(
                MergeAction.MERGE_REFUSED,
                decision.profile_id,
                owner,
                rule,
                sighting,
                linking=_linking([decision.anchor, key]),
            )
        )


def _write_projections(
    session: Session,
    batch: _Batch,
    decisions: Sequence[Decision],
    sightings: Sequence[Sighting],
    now: datetime,
) -> None:
    """Traits, channels and first/last seen: merged histories combined, messages added."""
    graph = batch.graph
    involved = {d.profile_id for d in decisions} | {p for merge in batch.merges for p in merge}
    existing = sorted(involved - batch.created)
    projections = {
        profile_id: ProfileProjection.from_row(row)
        for profile_id, row in repository.profile_rows(session, existing).items()
    }
    projections |= {profile_id: ProfileProjection(id=profile_id) for profile_id in batch.created}
    for merged, into in batch.merges:
        projections[into].absorb(projections[merged])
    for decision, sighting in zip(decisions, sightings, strict=True):
        projections[graph.live(decision.profile_id)].see(sighting)
    repository.insert_profiles(
        session,
        [
            {
                **projections[p].row(),
                "created_at": now,
                "merged_into": graph.merged_into.get(p),
            }
            for p in sorted(batch.created)
        ],
    )
    live = sorted({graph.live(p) for p in existing} - batch.created)
    repository.update_projections(session, [projections[p].row() for p in live])


def rebuild_projection(session: Session, *, profile_id: UUID, history: Sequence[Seen]) -> None:
    """Replace what a profile shows with what its messages say (after an unmerge)."""
    projection = ProfileProjection(id=profile_id)
    for message in history:
        projection.see(message)
    repository.update_projections(session, [projection.row()])


def place(
    session: Session,
    *,
    identifiers: list[IdentifierKey],
    channel: str,
    traits: Mapping[str, Any] | None = None,
    seen_at: datetime | None = None,
    message_id: str | None = None,
) -> Placement:
    """Place one person seen by another domain (a till sale, a chat message)."""
    sighting = Sighting(
        identifiers=identifiers,
        traits=traits or {},
        channel=channel,
        seen_at=seen_at or utcnow(),
        message_id=message_id,
    )
    return observe(session, [sighting]).placements[0]


# -- reading profiles --


@dataclass(frozen=True)
class ProfileView:
    profile: Profile
    identifiers: Sequence[Identifier]
    merged_ids: list[UUID]


def live_profile(session: Session, profile_id: UUID) -> Profile:
    """The profile, or the one it was merged into (merged-away ids keep answering)."""
    profile = repository.get_profile(session, profile_id)
    seen: set[UUID] = set()
    while profile is not None and profile.merged_into is not None and profile.id not in seen:
        seen.add(profile.id)
        profile = repository.get_profile(session, profile.merged_into)
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


def get_profile(session: Session, *, profile_id: UUID) -> ProfileView:
    profile = live_profile(session, profile_id)
    return ProfileView(
        profile=profile,
        identifiers=repository.identifiers(session, profile.id),
        merged_ids=merged_descendants(session, profile.id),
    )


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
            profile_id=survivor.id, restored_profile_id=restored, merge_id=entry.id, actor=actor
        ),
    )
    return Unmerge(
        profile_id=survivor.id,
        restored_profile_id=restored,
        merge_id=entry.id,
        returned_identifier_ids=returned,
    )
