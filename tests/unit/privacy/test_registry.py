"""Every table has a domain that answers for the person it may hold (DESIGN.md, 15)."""

from uuid import uuid4

from omnikanal.kit.personal_data import ERASED, DomainPart, Person, PrivacyRegistry
from omnikanal.models import metadata
from omnikanal.wiring import build_privacy_registry


def test_every_table_is_claimed_by_a_domain() -> None:
    registry = build_privacy_registry()
    assert registry.unclaimed(metadata.tables) == []
    # Claims are real tables, not typos that would leave one unclaimed unnoticed.
    assert sorted(registry.claimed_tables() - set(metadata.tables)) == []


def test_a_table_no_domain_claims_is_found() -> None:
    registry = PrivacyRegistry()
    registry.register(DomainPart(domain="a", tables=frozenset({"a_one"})))
    assert registry.unclaimed(["a_one", "b_new"]) == ["b_new"]


def test_customers_erase_last() -> None:
    parts = [part.domain for part in build_privacy_registry().parts() if part.erase]
    assert parts[-1] == "customers"
    assert {"events", "commerce", "marketing", "outbox", "timers"} <= set(parts)


def person() -> Person:
    return Person(
        profile_ids=frozenset({uuid4()}),
        identifiers={
            "email": frozenset({"anna@example.com"}),
            "phone": frozenset({"+46701234567"}),
        },
        names=frozenset({"Anna", "Berg"}),
    )


def test_a_person_is_found_in_any_spelling_and_scrubbed() -> None:
    anna = person()
    for text in (
        "ANNA@example.com",
        "ring 070-123 45 67",
        "+46 70 123 45 67",
        "0046701234567",
        "Hej anna!",
    ):
        assert anna.mentions(text), text
    for text in ("Annabel Bergkvist", "ring 070-999 45 67", "0701234568"):
        assert not anna.mentions(text), text
    scrubbed = anna.scrub({"note": "Anna Berg, 070-123 45 67", "n": [1, "anna@example.com"]})
    assert scrubbed == {"note": f"{ERASED} {ERASED},{ERASED}", "n": [1, ERASED]}
    assert anna.mentions(str(next(iter(anna.profile_ids))))
    assert not anna.mentions(str(next(iter(anna.profile_ids))), ids=False)
