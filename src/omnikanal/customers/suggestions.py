"""Duplicate customers: computing suggestions over live profiles, and an agent's decision.

A suggestion is two profiles that are probably one person though no identifier joins them
(``duplicates.py`` scores them). It never merges by itself: an agent accepts it (a merge with
rule ``probabilistic`` in the merge log, undone like any merge) or rejects it (remembered:
the pair is never suggested again). Part of the customers service, which re-exports it.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from omnikanal.customers import repository
from omnikanal.customers.identity import EMAIL, PHONE
from omnikanal.customers.models import DuplicateSuggestion, MergeAction, Profile, SuggestionStatus
from omnikanal.customers.person_records import DEFAULT_THRESHOLD, Match, PersonRecord
from omnikanal.customers.placement import ProfilesMerged, rules
from omnikanal.customers.projection import ProfileProjection
from omnikanal.db import long_read
from omnikanal.errors import Conflict, NotFound, RuleViolation
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import record_event

# Profiles read per query while gathering people.
PAGE = 2000
# The rule's name in the merge log; the words after it say who decided and why.
PROBABILISTIC = "probabilistic"

# (step, done, total): what the computation is doing, for a progress bar.
Progress = Callable[[str, int, int], None]


class SuggestionErrorCode(StrEnum):
    NOT_FOUND = "duplicate_suggestion_not_found"
    DECIDED = "duplicate_suggestion_decided"
    ALREADY_ONE_PERSON = "duplicate_already_one_person"
    LIMIT_EXCEEDED = "duplicate_merge_exceeds_limit"
    TOO_MANY_FOR_A_REQUEST = "duplicates_too_many_for_a_request"


@dataclass(frozen=True)
class Recomputed:
    people: int
    found: int
    added: int
    updated: int
    dropped: int


# -- a profile as record linkage sees it --

_NAME_TRAITS = (("first_name", "firstName"), ("last_name", "lastName"))
_POSTCODE_KEYS = ("postalCode", "postal_code", "postcode", "zip", "zipcode")
_STREET_KEYS = ("street", "street1", "address1", "line1")
_STREET2_KEYS = ("street2", "address2", "line2")
_REGION_KEYS = ("state", "region")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        found = str(value).strip()
        return found or None
    return None


def _first(source: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        found = _text(source.get(key))
        if found:
            return found
    return None


def _birth_date(traits: Mapping[str, Any]) -> str | None:
    raw = _first(traits, ("birthday", "birth_date", "birthDate", "date_of_birth"))
    match = _ISO_DATE.match(raw or "")
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups())).isoformat()
    except ValueError:
        return None


def _names(traits: Mapping[str, Any]) -> tuple[str | None, str | None]:
    first, last = (_first(traits, keys) for keys in _NAME_TRAITS)
    full = _text(traits.get("name"))
    if full and not (first or last):
        parts = full.split()
        first, last = parts[0], " ".join(parts[1:]) or None
    return first, last


def person_record(
    profile_id: UUID, traits: Mapping[str, Any], held: Mapping[str, Sequence[str]]
) -> PersonRecord:
    """What the profile says of the person: traits (Segment's spec and common spellings,
    an ``address`` object or flat fields) and their email and phone identifiers."""
    address = traits.get("address")
    place: Mapping[str, Any] = address if isinstance(address, Mapping) else traits
    first, last = _names(traits)
    emails = held.get(EMAIL) or []
    phones = held.get(PHONE) or []
    return PersonRecord(
        id=str(profile_id),
        first_name=first,
        last_name=last,
        birth_date=_birth_date(traits),
        street=_first(place, _STREET_KEYS) or (_text(address) if address is not place else None),
        street2=_first(place, _STREET2_KEYS),
        postcode=_first(place, _POSTCODE_KEYS),
        city=_first(place, ("city",)),
        region=_first(place, _REGION_KEYS),
        phone=_text(traits.get(PHONE)) or (min(phones) if phones else None),
        email=_text(traits.get(EMAIL)) or (min(emails) if emails else None),
    )


def _people(session: Session, progress: Progress) -> list[PersonRecord]:
    """Every live profile, a page at a time: a person without identifiers counts too."""
    total = repository.count_live_profiles(session)
    people: list[PersonRecord] = []
    after: UUID | None = None
    while True:
        page = repository.live_people(session, after=after, limit=PAGE)
        if not page:
            break
        held: dict[UUID, dict[str, list[str]]] = {}
        for profile_id, key in repository.identifiers_of_types(
            session, [p for p, _ in page], [EMAIL, PHONE]
        ):
            held.setdefault(profile_id, {}).setdefault(key.type, []).append(key.value)
        people += [person_record(p, traits, held.get(p, {})) for p, traits in page]
        after = page[-1][0]
        progress("reading profiles", len(people), total)
    return people


# -- computing --


def _pair(a: UUID, b: UUID) -> tuple[UUID, UUID]:
    return (a, b) if a < b else (b, a)


def _exceeded(session: Session, pairs: Sequence[tuple[UUID, UUID]]) -> list[str | None]:
    """Per pair, the identifier type whose limit the two together would pass when an agent
    makes them one (two user ids are two people), or None when they may become one."""
    identity_rules = rules(session).for_agents()
    tracked = [t for t in identity_rules.types if identity_rules.is_tracked(t)]
    ids = sorted({profile_id for pair in pairs for profile_id in pair})
    held: dict[UUID, dict[str, set[str]]] = {}
    for profile_id, key in repository.identifiers_of_types(session, ids, tracked):
        held.setdefault(profile_id, {}).setdefault(key.type, set()).add(key.value)
    found: list[str | None] = []
    for pair in pairs:
        together: dict[str, set[str]] = {}
        for side in pair:
            for type_, values in held.get(side, {}).items():
                together.setdefault(type_, set()).update(values)
        found.append(identity_rules.first_exceeded(together))
    return found


def _still_live(session: Session, matches: Sequence[Match]) -> list[Match]:
    """The pairs whose two profiles are still live: one merged away since they were read
    is no longer anyone's duplicate."""
    ids = sorted({UUID(i) for m in matches for i in (m.left_id, m.right_id)})
    live = {p for p, parent in repository.merge_parents(session, ids).items() if parent is None}
    return [m for m in matches if UUID(m.left_id) in live and UUID(m.right_id) in live]


def _mergeable(session: Session, matches: Sequence[Match]) -> list[Match]:
    """Pairs the identity rules would let an agent make one."""
    pairs = [(UUID(m.left_id), UUID(m.right_id)) for m in matches]
    return [
        m for m, exceeded in zip(matches, _exceeded(session, pairs), strict=True) if not exceeded
    ]


def recompute_duplicates(
    session: Session,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
    most_people: int | None = None,
) -> Recomputed:
    """Score every live profile against the others and bring the open suggestions up to
    date: new pairs become open suggestions, open ones get their new score, open ones no
    longer found (merged since, or changed) go. Decided pairs are left alone: a rejected
    pair is never suggested again. Call it after an import, or on demand; ``most_people``
    refuses a hub larger than that (a request computes in its own time; the command does
    not)."""
    # Splink, DuckDB and pyarrow: imported on the first scoring, not with the hub.
    from omnikanal.customers import duplicates

    report = progress or (lambda step, done, total: None)
    stages = iter(range(1, duplicates.STAGES + 1))

    def splink_step(step: str) -> None:
        done = duplicates.STAGES if step == duplicates.SCORING else next(stages)
        report(step, done, duplicates.STAGES)

    # Read and score before the caller's write transaction begins (db.long_read): on
    # SQLite it holds the one write lock from its first statement, and every write of the
    # hub (a key's last use included) would wait for the scoring.
    with long_read(session) as reader:
        if most_people is not None:
            people_now = repository.count_live_profiles(reader)
            if people_now > most_people:
                raise RuleViolation(
                    SuggestionErrorCode.TOO_MANY_FOR_A_REQUEST,
                    f"{people_now} profiles are more than {most_people} computed in a "
                    "request; run `omnikanal duplicates compute` on the server instead.",
                )
        people = _people(reader, report)
        matches = duplicates.find_duplicates(people, threshold=threshold, progress=splink_step)
    matches = _mergeable(session, _still_live(session, matches))
    report("storing suggestions", 0, len(matches))
    repository.lock_suggestions(session)
    result = _store(session, matches, people=len(people))
    report("storing suggestions", len(matches), len(matches))
    return result


def _store(session: Session, matches: Sequence[Match], *, people: int) -> Recomputed:
    now = utcnow()
    known = {(s.profile_id, s.other_profile_id): s for s in repository.all_suggestions(session)}
    found: dict[tuple[UUID, UUID], Match] = {}
    for match in matches:
        found.setdefault(_pair(UUID(match.left_id), UUID(match.right_id)), match)
    added: list[dict[str, Any]] = []
    updated = 0
    for pair, match in found.items():
        existing = known.get(pair)
        if existing is None:
            added.append(
                {
                    "id": new_id(),
                    "profile_id": pair[0],
                    "other_profile_id": pair[1],
                    "probability": match.probability,
                    "weight": match.weight,
                    "agreed": {k: v.value for k, v in match.agreed.items()},
                    "status": SuggestionStatus.OPEN,
                    "decided_by": None,
                    "decided_at": None,
                    "merge_id": None,
                    "computed_at": now,
                }
            )
        elif existing.status == SuggestionStatus.OPEN:
            existing.probability = match.probability
            existing.weight = match.weight
            existing.agreed = {k: v.value for k, v in match.agreed.items()}
            existing.computed_at = now
            updated += 1
    stale = [
        s.id for pair, s in known.items() if s.status == SuggestionStatus.OPEN and pair not in found
    ]
    repository.delete_suggestions(session, stale)
    repository.add_suggestions(session, added)
    session.flush()
    return Recomputed(
        people=people, found=len(found), added=len(added), updated=updated, dropped=len(stale)
    )


# -- reading --


@dataclass(frozen=True)
class PersonSummary:
    id: UUID
    name: str | None
    email: str | None
    phone: str | None
    city: str | None


@dataclass(frozen=True)
class SuggestionView:
    suggestion: DuplicateSuggestion
    profile: PersonSummary
    other: PersonSummary


def summaries(session: Session, profile_ids: Sequence[UUID]) -> dict[UUID, PersonSummary]:
    """Who these profiles are, as a suggestion shows them: two queries for any number."""
    found = {p.id: p for p in repository.profiles(session, profile_ids)}
    held: dict[UUID, dict[str, list[str]]] = {}
    for owner, key in repository.identifiers_of_types(session, list(found), [EMAIL, PHONE]):
        held.setdefault(owner, {}).setdefault(key.type, []).append(key.value)
    shown: dict[UUID, PersonSummary] = {}
    for profile_id in profile_ids:
        profile = found.get(profile_id)
        if profile is None:
            shown[profile_id] = PersonSummary(
                id=profile_id, name=None, email=None, phone=None, city=None
            )
            continue
        record = person_record(profile_id, profile.traits, held.get(profile_id, {}))
        name = " ".join(p for p in (record.first_name, record.last_name) if p) or None
        shown[profile_id] = PersonSummary(
            id=profile_id, name=name, email=record.email, phone=record.phone, city=record.city
        )
    return shown


def suggestion_views(
    session: Session, suggestions: Sequence[DuplicateSuggestion]
) -> list[SuggestionView]:
    people = summaries(
        session, [i for s in suggestions for i in (s.profile_id, s.other_profile_id)]
    )
    return [
        SuggestionView(suggestion=s, profile=people[s.profile_id], other=people[s.other_profile_id])
        for s in suggestions
    ]


def suggestion_view(session: Session, suggestion: DuplicateSuggestion) -> SuggestionView:
    (view,) = suggestion_views(session, [suggestion])
    return view


def get_duplicate(session: Session, *, suggestion_id: UUID) -> SuggestionView:
    found = repository.get_suggestion(session, suggestion_id)
    if found is None:
        raise NotFound(SuggestionErrorCode.NOT_FOUND, f"No duplicate suggestion {suggestion_id}.")
    return suggestion_view(session, found)


def list_duplicates(
    session: Session,
    *,
    status: str = SuggestionStatus.OPEN,
    min_probability: float = 0.0,
    after: tuple[float, UUID] | None = None,
    limit: int = 50,
) -> list[SuggestionView]:
    found = repository.suggestions_page(
        session, status=status, min_probability=min_probability, after=after, limit=limit
    )
    return suggestion_views(session, found)


def _open_suggestion(session: Session, suggestion_id: UUID) -> DuplicateSuggestion:
    found = repository.get_suggestion(session, suggestion_id)
    if found is None:
        raise NotFound(SuggestionErrorCode.NOT_FOUND, f"No duplicate suggestion {suggestion_id}.")
    if found.status != SuggestionStatus.OPEN:
        raise Conflict(
            SuggestionErrorCode.DECIDED,
            f"Duplicate suggestion {suggestion_id} was {found.status} already.",
        )
    return found


# -- deciding --


@dataclass(frozen=True)
class AcceptedDuplicate:
    suggestion_id: UUID
    # The profile that stayed, the one merged into it, and the merge log entry.
    profile_id: UUID
    merged_profile_id: UUID
    merge_id: UUID


def _live(session: Session, profile_id: UUID) -> Profile:
    profile = repository.surviving_profile(session, profile_id)
    if profile is None:
        raise NotFound(SuggestionErrorCode.NOT_FOUND, f"No profile {profile_id}.")
    return profile


def _agreed_words(agreed: Mapping[str, str]) -> str:
    return ", ".join(f"{field.replace('_', ' ')} ({how})" for field, how in agreed.items())


def accept_duplicate(session: Session, *, suggestion_id: UUID, actor: str) -> AcceptedDuplicate:
    """Merge the pair (the older profile stays), logged with rule ``probabilistic`` and the
    probability; undone by the unmerge like any merge. The caller moves the events (the
    events domain owns them)."""
    repository.lock_identity_graph(session)
    suggestion = _open_suggestion(session, suggestion_id)
    one = _live(session, suggestion.profile_id)
    two = _live(session, suggestion.other_profile_id)
    if one.id == two.id:
        raise Conflict(
            SuggestionErrorCode.ALREADY_ONE_PERSON,
            "The two profiles are one person already (merged since the suggestion was made).",
        )
    survivor, merged = sorted((one, two), key=lambda p: (p.created_at, p.id))
    _check_limits(session, survivor.id, merged.id)
    moved = repository.identifier_ids_by_profile(session, [merged.id]).get(merged.id, set())
    repository.repoint_identifiers(session, [(merged.id, survivor.id)])
    repository.set_merged_into(session, [(merged.id, survivor.id)])
    projections = {
        row[0]: ProfileProjection.from_row(row)
        for row in repository.projection_rows(session, [survivor.id, merged.id])
    }
    projections[survivor.id].absorb(projections[merged.id])
    repository.update_projections(session, [projections[survivor.id].row()])
    session.expire_all()
    rule = (
        f"{PROBABILISTIC}: duplicate suggestion accepted by {actor}; match probability "
        f"{suggestion.probability:.1%}; agreed: {_agreed_words(suggestion.agreed) or 'nothing'}"
    )[:500]
    merge_id = new_id()
    repository.add_log_entries(
        session,
        [
            {
                "id": merge_id,
                "action": MergeAction.MERGED,
                "profile_id": survivor.id,
                "other_profile_id": merged.id,
                "rule": rule,
                "linking": [
                    {"type": "match_probability", "value": f"{suggestion.probability:.6f}"},
                    *({"type": f, "value": how} for f, how in suggestion.agreed.items()),
                ],
                "moved_identifier_ids": [str(i) for i in sorted(moved)],
                "message_id": None,
                "source_id": None,
                "channel": None,
                "actor": actor[:200],
                "created_at": utcnow(),
                "unmerged_at": None,
            }
        ],
    )
    suggestion = _open_suggestion(session, suggestion_id)
    suggestion.status = SuggestionStatus.ACCEPTED
    suggestion.decided_by = actor[:200]
    suggestion.decided_at = utcnow()
    suggestion.merge_id = merge_id
    session.flush()
    record_event(
        session,
        ProfilesMerged(
            profile_id=survivor.id, merged_profile_id=merged.id, rule=rule, message_id=None
        ),
    )
    return AcceptedDuplicate(
        suggestion_id=suggestion_id,
        profile_id=survivor.id,
        merged_profile_id=merged.id,
        merge_id=merge_id,
    )


def _check_limits(session: Session, survivor: UUID, merged: UUID) -> None:
    (exceeded,) = _exceeded(session, [(survivor, merged)])
    if exceeded is not None:
        limit = rules(session).for_agents().rule(exceeded).limit
        raise RuleViolation(
            SuggestionErrorCode.LIMIT_EXCEEDED,
            f"Together the profiles would hold more than {limit} "
            f"{exceeded} identifier(s): they are two people. Reject the suggestion.",
        )


def reject_duplicate(session: Session, *, suggestion_id: UUID, actor: str) -> DuplicateSuggestion:
    """Not one person: remembered, so the pair is not suggested again."""
    suggestion = _open_suggestion(session, suggestion_id)
    suggestion.status = SuggestionStatus.REJECTED
    suggestion.decided_by = actor[:200]
    suggestion.decided_at = utcnow()
    session.flush()
    return suggestion


def suggestions_of(
    session: Session, *, profile_ids: Sequence[UUID]
) -> Sequence[DuplicateSuggestion]:
    return repository.suggestions_of(session, profile_ids)
