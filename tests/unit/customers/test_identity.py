"""The identity rules, on the in-memory graph a batch works with."""

import itertools
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnikanal.customers.identity import (
    GraphView,
    IdentifierKey,
    IdentityRules,
    identifiers_in,
    normalize,
)

RULES = IdentityRules.from_settings({})


def user(value: str) -> IdentifierKey:
    return IdentifierKey("user_id", value)


def anon(value: str) -> IdentifierKey:
    return IdentifierKey("anonymous_id", value)


def email(value: str) -> IdentifierKey:
    return IdentifierKey("email", value)


def graph(rules: IdentityRules = RULES) -> GraphView:
    counter = itertools.count(1)
    return GraphView(rules=rules, new_profile_id=lambda: UUID(int=next(counter)))


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("email", "  Anna.S@Example.COM ", "anna.s@example.com"),
        ("email", "not-an-email", None),
        ("phone", "070-123 45 67", "+46701234567"),
        ("phone", "+45 32 12 34 56", "+4532123456"),
        ("phone", "0046 70 123 45 67", "+46701234567"),
        ("phone", "12", None),
        ("loyalty_card", "7001 2345-6789", "700123456789"),
        ("instagram", "@Norrsken.Fan", "norrsken.fan"),
        ("user_id", 12345, "12345"),
        ("user_id", "   ", None),
        ("user_id", True, None),
        ("user_id", {"id": 1}, None),
    ],
)
def test_identifiers_are_normalized(type_: str, raw: object, expected: str | None) -> None:
    assert normalize(RULES, type_, raw) == expected


def test_phone_numbers_use_the_default_region() -> None:
    danish = IdentityRules.from_settings({}, default_phone_region="DK")
    assert normalize(danish, "phone", "32 12 34 56") == "+4532123456"


def test_identifiers_come_from_ids_and_identifying_traits() -> None:
    found = identifiers_in(
        RULES,
        user_id="u-1",
        anonymous_id="a-1",
        traits={"email": "A@B.se", "name": "Anna", "instagram": "@anna", "phone": "bad"},
    )
    assert found == [user("u-1"), anon("a-1"), email("a@b.se"), IdentifierKey("instagram", "anna")]


def test_overrides_change_a_rule_and_refuse_unknown_keys() -> None:
    rules = IdentityRules.from_settings({"email": {"limit": 1}, "whatsapp": {"priority": 4}})
    assert rules.rule("email").limit == 1
    assert rules.rule("email").priority == 3
    assert rules.rule("whatsapp").limit == 3
    with pytest.raises(ValueError, match="unknown keys"):
        IdentityRules.from_settings({"email": {"max": 1}})


def test_a_new_person_gets_a_new_profile_anchored_on_the_strongest_identifier() -> None:
    view = graph()
    decision = view.decide([anon("laptop"), email("anna@example.com")])
    assert decision.created
    assert decision.anchor == email("anna@example.com")
    assert set(decision.added) == {anon("laptop"), email("anna@example.com")}
    assert view.owners[anon("laptop")] == decision.profile_id


def test_a_shared_identifier_links_a_new_device_to_the_person() -> None:
    view = graph()
    laptop = view.decide([anon("laptop"), email("anna@example.com")]).profile_id
    phone = view.decide([user("u-anna"), anon("phone"), email("anna@example.com")])
    assert phone.profile_id == laptop
    assert not phone.created
    assert set(phone.added) == {user("u-anna"), anon("phone")}


def test_two_profiles_linked_by_one_message_merge_into_the_strongest() -> None:
    view = graph()
    anonymous = view.decide([anon("laptop")]).profile_id
    known = view.decide([user("u-anna")]).profile_id
    decision = view.decide([anon("laptop"), user("u-anna")])
    assert decision.profile_id == known
    assert decision.merged == [(anonymous, [anon("laptop")])]
    assert decision.carried[anonymous] == [anon("laptop")]
    assert view.live(anonymous) == known
    assert view.owners[anon("laptop")] == known


def test_two_people_never_merge_the_merge_is_refused() -> None:
    view = graph()
    anna = view.decide([user("anna"), email("shared@example.com")]).profile_id
    bo = view.decide([user("bo")]).profile_id
    decision = view.decide([user("bo"), email("shared@example.com")])
    assert decision.profile_id == bo
    assert decision.merged == []
    assert decision.refused == [(email("shared@example.com"), anna, "user_id")]
    assert view.owners[email("shared@example.com")] == anna


def test_a_shared_tablet_follows_whoever_identified_last() -> None:
    view = graph()
    anna = view.decide([user("anna"), anon("tablet")]).profile_id
    bo = view.decide([user("bo"), anon("tablet")])
    assert bo.profile_id != anna
    assert bo.moved == [(anon("tablet"), anna)]
    assert view.decide([anon("tablet")]).profile_id == bo.profile_id
    back = view.decide([user("anna"), anon("tablet")])
    assert back.profile_id == anna
    assert back.moved == [(anon("tablet"), bo.profile_id)]


def test_an_anonymous_message_never_moves_a_device() -> None:
    view = graph()
    anna = view.decide([user("anna"), anon("tablet")]).profile_id
    decision = view.decide([anon("tablet"), anon("other-browser")])
    assert decision.profile_id == anna
    assert decision.moved == []


def test_a_new_identifier_over_its_limit_is_not_linked() -> None:
    view = graph(IdentityRules.from_settings({"email": {"limit": 1}}))
    anna = view.decide([user("anna"), email("a@example.com")]).profile_id
    decision = view.decide([user("anna"), email("second@example.com")])
    assert decision.profile_id == anna
    assert decision.added == []
    assert email("second@example.com") not in view.owners


# -- invariants over any sequence of messages --

UNIVERSE = (
    [user(f"u{i}") for i in range(3)]
    + [email(f"e{i}@x.se") for i in range(4)]
    + [anon(f"d{i}") for i in range(4)]
    + [IdentifierKey("loyalty_card", f"{i}") for i in range(2)]
)
messages = st.lists(
    st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=4, unique=True),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_the_graph_keeps_its_invariants(sequence: list[list[IdentifierKey]]) -> None:
    view = graph()
    for keys in sequence:
        decision = view.decide(keys)
        live = view.live(decision.profile_id)
        # The message's strongest identifier always belongs to where the message went.
        assert view.owners[decision.anchor] == live
        # Every identifier belongs to exactly one live (not merged-away) profile.
        assert all(owner not in view.merged_into for owner in view.owners.values())
        # No profile ever breaks a limit, so two user ids never share a profile.
        for held in view.held.values():
            assert RULES.first_exceeded(held) is None
        # Nothing a profile holds is owned by another profile.
        for profile_id, held in view.held.items():
            for type_, values in held.items():
                for value in values:
                    assert view.owners[IdentifierKey(type_, value)] == profile_id
