"""Probabilistic record linkage of people (Splink on DuckDB): who is probably the same person
though no identifier joins them.

This module knows records, not the database: the hub feeds it live profiles
(``customers.service.recompute_duplicates``) and ``benchmarks/dedupe.py`` feeds it FEBRL,
through the same comparisons, blocking rules and training.

The model (Fellegi-Sunter) is fitted without labels: u by random sampling of record pairs
(almost all random pairs are different people), m by expectation maximisation over a few
blocking rules. Too few people to learn from, and the hand-set starting values below are used
as they are: they say what an agreement on each field is usually worth.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from omnikanal.customers.person_records import DEFAULT_THRESHOLD, Agreement, Match, PersonRecord
from omnikanal.customers.record_cleaning import COLUMNS, cleaned_rows

# Fewer people than this and the starting values are used as they are: EM over a handful of
# pairs learns noise.
MIN_RECORDS_TO_TRAIN = 500
# Random pairs for the u probabilities (Splink's default). Five million found the same
# pairs of FEBRL but one (6,443 against 6,442 in FEBRL3; FEBRL4 alike) in twice to five
# times the time: with emails on both sides, 33 s of a 4,000-person import's 36.
U_SAMPLE_PAIRS = 1e6
# A fixed seed: the same people give the same suggestions.
SEED = 15
# Splink's levels for a pair where either side lacks the field, and where both have it
# and no other level holds.
NULL_LEVEL = -1
ELSE_LEVEL = 0


# -- the model --


@dataclass(frozen=True)
class Field:
    """One compared field: its levels, the starting m and u of each (strongest first, the
    else level last), and from which level on (counted from the strongest) it is an
    agreement an agent is shown."""

    name: str
    comparison: Callable[[], ComparisonCreator]
    m: tuple[float, ...]
    u: tuple[float, ...]
    # Levels, strongest first, that count as a fuzzy agreement after the exact one.
    fuzzy_levels: int


def _name(column: str, other: str) -> ComparisonCreator:
    """A name, and the same name typed in the other name's field (first and last swapped)."""
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.JaroWinklerLevel(column, 0.92),
            cll.CustomLevel(
                f"{column}_l = {other}_r OR {other}_l = {column}_r",
                label_for_charts=f"{column} in {other}",
            ),
            cll.JaroWinklerLevel(column, 0.85),
            cll.JaroWinklerLevel(column, 0.7),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


def _text(column: str, other: str | None = None) -> ComparisonCreator:
    """Street names, cities: a typo, a space too many or too few; for the street lines,
    the same line typed in the other one."""
    swapped = (
        [
            cll.CustomLevel(
                f"{column}_l = {other}_r OR {other}_l = {column}_r",
                label_for_charts=f"{column} in {other}",
            )
        ]
        if other
        else []
    )
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.LevenshteinLevel(column, 1),
            *swapped,
            cll.JaroWinklerLevel(column, 0.88),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


def _one_typo(column: str, *, also: str = "") -> ComparisonLevelCreator:
    """At most one typo: a character added, dropped or changed, or two neighbours swapped
    (Damerau-Levenshtein 1). Plain Levenshtein is asked first: DuckDB's Damerau-Levenshtein
    costs ten times as much (9 s a million pairs of emails), and only a swap needs it."""
    left, right = f"{column}_l", f"{column}_r"
    distance = f"levenshtein({left}, {right})"
    swapped = f"({distance} = 2 AND damerau_levenshtein({left}, {right}) <= 1)"
    return cll.CustomLevel(
        f"({distance} <= 1 OR {swapped}){also}", label_for_charts=f"{column} one typo apart"
    )


def _code(column: str) -> ComparisonCreator:
    """Postcodes, house numbers, phone numbers: one typo is still them (not in a one-digit
    house number, where it is another house)."""
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            _one_typo(column, also=f" AND length({column}_l) > 1"),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


def _exact(column: str) -> ComparisonCreator:
    return cl.CustomComparison(
        comparison_levels=[cll.NullLevel(column), cll.ExactMatchLevel(column), cll.ElseLevel()],
        output_column_name=column,
    )


def _birth_date() -> ComparisonCreator:
    column = "birth_date"
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            # A typo or swapped digits (1985-03-12 / 1985-03-21, 1958 / 1985).
            _one_typo(column),
            cll.LevenshteinLevel(column, 2),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


def _email() -> ComparisonCreator:
    column = "email"
    return cl.CustomComparison(
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            # The same name before the @ at another provider.
            cll.ExactMatchLevel("email_user"),
            # One typo. Not a similarity of whole addresses: at one provider the shared
            # domain made user19@example.com and user67@example.com look alike.
            _one_typo(column),
            cll.ElseLevel(),
        ],
        output_column_name=column,
    )


MODEL_FIELDS: tuple[Field, ...] = (
    Field(
        "first_name",
        lambda: _name("first_name", "last_name"),
        m=(0.8, 0.08, 0.02, 0.06, 0.02, 0.02),
        u=(0.01, 0.002, 0.0005, 0.01, 0.1, 0.8775),
        fuzzy_levels=3,
    ),
    Field(
        "last_name",
        lambda: _name("last_name", "first_name"),
        m=(0.8, 0.08, 0.02, 0.06, 0.02, 0.02),
        u=(0.005, 0.001, 0.0005, 0.005, 0.05, 0.9385),
        fuzzy_levels=3,
    ),
    Field(
        "birth_date",
        _birth_date,
        m=(0.85, 0.08, 0.03, 0.04),
        u=(0.0002, 0.002, 0.01, 0.9878),
        fuzzy_levels=1,
    ),
    Field(
        "house_number",
        lambda: _code("house_number"),
        m=(0.85, 0.05, 0.1),
        u=(0.02, 0.05, 0.93),
        fuzzy_levels=1,
    ),
    Field(
        "street",
        lambda: _text("street", "street2"),
        m=(0.8, 0.08, 0.02, 0.05, 0.05),
        u=(0.005, 0.001, 0.0001, 0.01, 0.9839),
        fuzzy_levels=3,
    ),
    Field(
        "street2",
        lambda: _text("street2", "street"),
        m=(0.8, 0.08, 0.02, 0.05, 0.05),
        u=(0.002, 0.001, 0.0001, 0.01, 0.9869),
        fuzzy_levels=3,
    ),
    Field(
        "postcode",
        lambda: _code("postcode"),
        m=(0.85, 0.08, 0.07),
        u=(0.01, 0.03, 0.96),
        fuzzy_levels=1,
    ),
    Field(
        "city",
        lambda: _text("city"),
        m=(0.85, 0.05, 0.03, 0.07),
        u=(0.05, 0.001, 0.01, 0.939),
        fuzzy_levels=2,
    ),
    Field("region", lambda: _exact("region"), m=(0.9, 0.1), u=(0.2, 0.8), fuzzy_levels=0),
    Field(
        "phone",
        lambda: _code("phone"),
        m=(0.8, 0.05, 0.15),
        u=(0.0001, 0.0005, 0.9994),
        fuzzy_levels=1,
    ),
    Field(
        "email",
        _email,
        m=(0.6, 0.1, 0.05, 0.25),
        u=(0.0001, 0.0005, 0.0002, 0.9992),
        fuzzy_levels=2,
    ),
)


def comparisons() -> list[ComparisonCreator]:
    return [
        field.comparison().configure(m_probabilities=list(field.m), u_probabilities=list(field.u))
        for field in MODEL_FIELDS
    ]


def prediction_blocking_rules() -> list[BlockingRuleCreator | str]:
    """Which pairs are scored at all: a pair must agree exactly on one of these. Each keeps
    the pairs few at any size; together a typo in one field still finds the pair."""
    return [
        block_on("first_name", "last_name"),
        # First and last name typed in each other's field.
        "l.first_name = r.last_name AND l.last_name = r.first_name",
        block_on("last_name", "birth_date"),
        block_on("first_name", "birth_date"),
        block_on("birth_date", "postcode"),
        block_on("birth_date", "city"),
        block_on("birth_date", "house_number"),
        block_on("birth_date", "street2"),
        block_on("postcode", "house_number"),
        block_on("postcode", "street_key"),
        block_on("street_key", "house_number"),
        block_on("street_key", "city"),
        block_on("street2", "house_number"),
        block_on("first_name", "street_key"),
        block_on("last_name", "street_key"),
        block_on("last_name", "postcode"),
        block_on("first_name", "postcode"),
        block_on("last_name", "city"),
        block_on("first_name", "city"),
        block_on("email"),
        block_on("phone"),
    ]


def training_blocking_rules() -> list[BlockingRuleCreator]:
    """EM sessions: each learns the m of the fields it does not block on."""
    return [
        block_on("first_name", "last_name"),
        block_on("birth_date"),
        block_on("postcode", "house_number"),
    ]


def settings(link_type: str, prior: float) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        comparisons=comparisons(),  # type: ignore[arg-type]
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),  # type: ignore[arg-type]
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        additional_columns_to_retain=[],
    )


# -- running it --

Progress = Callable[[str], None]


def _quiet() -> None:
    # Splink logs each step, and warns of levels FEBRL-like data never fills (no email);
    # the hub reports its own progress.
    logging.getLogger("splink").setLevel(logging.ERROR)


def _table(records: Sequence[PersonRecord]) -> pa.Table:
    return pa.table(cleaned_rows(records), schema=_SCHEMA)


_SCHEMA = pa.schema([(name, pa.string()) for name in COLUMNS])


SCORING = "scoring candidate pairs"
# Steps reported: u, one EM session per training rule, scoring.
STAGES = 2 + len(training_blocking_rules())


def _train(
    linker: Linker,
    frames: Sequence[SplinkDataFrame],
    *,
    link_type: str,
    records: int,
    train_from: int,
    progress: Progress,
) -> None:
    if records < train_from:
        progress("too few people to learn from: using the starting values")
        return
    progress("estimating u by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=SEED)
    for rule in training_blocking_rules():
        progress("estimating m by expectation maximisation")
        if not _pairs_on(frames, rule, link_type):
            # No two people agree on this rule (all names different): nothing to learn
            # from it; its comparisons keep what the other rules taught them, or their
            # starting values. (Splink refuses to train on no pairs.)
            continue
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


def _pairs_on(frames: Sequence[SplinkDataFrame], rule: BlockingRuleCreator, link_type: str) -> int:
    (counted,) = count_comparisons_from_blocking_rules(
        frames if len(frames) > 1 else frames[0],
        blocking_rules=rule,
        link_type=link_type,  # type: ignore[arg-type]
        record_sample_proportion=1.0,
    )
    return counted["marginal_comparison_count"]


def _prior(pairs: float, expected_matches: float) -> float:
    return min(0.5, max(1e-9, expected_matches / pairs)) if pairs else 0.5


def _run(
    tables: Sequence[pa.Table],
    *,
    link_type: str,
    prior: float,
    records: int,
    threshold: float,
    train_from: int,
    progress: Progress,
) -> Iterator[Match]:
    _quiet()
    connection = duckdb.connect()
    try:
        api = DuckDBAPI(connection)
        frames = [api.register(t, table_name=f"people_{i}") for i, t in enumerate(tables)]
        linker = Linker(
            frames if len(frames) > 1 else frames[0],
            settings(link_type, prior),
            log_level=None,
        )
        _train(
            linker,
            frames,
            link_type=link_type,
            records=records,
            train_from=train_from,
            progress=progress,
        )
        progress(SCORING)
        predicted = linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        gamma_columns = [f"gamma_{field.name}" for field in MODEL_FIELDS]
        query = (
            f"SELECT unique_id_l, unique_id_r, match_probability, match_weight, "
            f"{', '.join(gamma_columns)} FROM {predicted.physical_name}"
        )
        levels = {f.name: len(f.m) - 1 for f in MODEL_FIELDS}
        for row in connection.execute(query).fetchall():
            left, right, probability, weight, *values = row
            gammas = dict(zip(levels, values, strict=True))
            agreed = _agreed(gammas, levels)
            if _household(gammas, agreed):
                continue
            yield Match(
                left_id=left,
                right_id=right,
                probability=float(probability),
                weight=float(weight),
                agreed=agreed,
            )
    finally:
        connection.close()


# What only one person has: agreeing on one of these is about the person, not the home.
PERSONAL_FIELDS = ("birth_date", "email", "phone")
# What a person of a household keeps as their own, unlike a birth date: FEBRL's generator
# replaces first name and birth date of one entity's records (matthew/kynan, 1960/1947,
# one address) and counts them as one person, so another birth date alone says nothing.
OWN_CONTACT_FIELDS = ("email", "phone")


def _household(gammas: dict[str, int], agreed: dict[str, Agreement]) -> bool:
    """Two people of one home, not one person typed twice: both first names given and
    unalike, an email or phone given on both sides and unlike, and nothing personal in
    common. Their address and surname agree on five or six fields, which the model counts
    as independent evidence (about 25 bits): without this, a couple at one address with
    their own emails was suggested at a probability of 1.0."""
    if gammas["first_name"] == NULL_LEVEL or "first_name" in agreed:
        return False
    if any(name in agreed for name in PERSONAL_FIELDS):
        return False
    return any(gammas[name] == ELSE_LEVEL for name in OWN_CONTACT_FIELDS)


def _agreed(gammas: dict[str, int], levels: dict[str, int]) -> dict[str, Agreement]:
    """Splink numbers a comparison's levels from the else level (0) up to the exact one."""
    agreed: dict[str, Agreement] = {}
    for field in MODEL_FIELDS:
        gamma = gammas[field.name]
        top = levels[field.name]
        if gamma == top:
            agreed[field.name] = Agreement.EXACT
        elif gamma > 0 and gamma >= top - field.fuzzy_levels:
            agreed[field.name] = Agreement.FUZZY
    return agreed


def _nothing(_: str) -> None:
    return None


def find_duplicates(
    records: Sequence[PersonRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    expected_duplicate_share: float = 0.05,
    train_from: int = MIN_RECORDS_TO_TRAIN,
    progress: Progress = _nothing,
) -> list[Match]:
    """Pairs of records that are probably one person, at or above ``threshold``."""
    if len(records) < 2:
        return []
    pairs = len(records) * (len(records) - 1) / 2
    prior = _prior(pairs, expected_duplicate_share * len(records))
    return list(
        _run(
            [_table(records)],
            link_type="dedupe_only",
            prior=prior,
            records=len(records),
            threshold=threshold,
            train_from=train_from,
            progress=progress,
        )
    )


def link(
    left: Sequence[PersonRecord],
    right: Sequence[PersonRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    expected_linked_share: float = 0.5,
    train_from: int = MIN_RECORDS_TO_TRAIN,
    progress: Progress = _nothing,
) -> list[Match]:
    """Pairs across two lists (no pairs within one) that are probably one person."""
    if not left or not right:
        return []
    prior = _prior(len(left) * len(right), expected_linked_share * min(len(left), len(right)))
    return list(
        _run(
            [_table(left), _table(right)],
            link_type="link_only",
            prior=prior,
            records=len(left) + len(right),
            threshold=threshold,
            train_from=train_from,
            progress=progress,
        )
    )
