"""Placing messages with their people: the identity graph's write path.

``observe`` takes one batch of messages and changes the graph with a handful of bulk
statements, whatever the batch size. Identity changes are serialized (one transaction at a
time), so concurrent batches never create one person twice.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from omnikanal.customers.models import MergeAction
from omnikanal.customers.projection import ProfileProjection
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import DomainEvent, record_event

RULES_INFO_KEY = "omnikanal.identity_rules"


@dataclasses.dataclass(frozen=True)
class ProfilesMerged(DomainEvent):
    type: ClassVar[str] = "profile.merged"
    profile_id: UUID
    merged_profile_id: UUID
    rule: str
    message_id: str | None


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
    # False for history told in bulk later (imported orders): the message's identifiers
    # and traits count now; its channel and time are left to ``add_visits``.
    visit: bool = True


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


def rules(session: Session) -> IdentityRules:
    cached: IdentityRules | None = session.info.get(RULES_INFO_KEY)
    if cached is None:
        settings: Settings = session.info.get("settings") or Settings()
        cached = IdentityRules.from_settings(
            settings.identity_rules, default_phone_region=settings.default_phone_region
        )
        session.info[RULES_INFO_KEY] = cached
    return cached


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
        # Long identifiers can outgrow the words' column; `linking` holds them in full.
        "rule": rule[:500],
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
    # A profile only named by messages told later, bringing no traits, is left as it is.
    shown = [(d, s) for d, s in zip(decisions, sightings, strict=True) if s.visit or s.traits]
    involved = {d.profile_id for d, _ in shown} | {p for merge in batch.merges for p in merge}
    existing = sorted(involved - batch.created)
    projections = {
        row[0]: ProfileProjection.from_row(row)
        for row in repository.projection_rows(session, existing)
    }
    projections |= {profile_id: ProfileProjection(id=profile_id) for profile_id in batch.created}
    for merged, into in batch.merges:
        projections[into].absorb(projections[merged])
    for decision, sighting in shown:
        projection = projections[graph.live(decision.profile_id)]
        if sighting.visit:
            projection.see(sighting)
        else:
            projection.take_traits(sighting)
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
