"""Duplicate customers: how well the hub's record linkage finds the same person, on FEBRL.

What it measures: precision, recall and F1 of the pairs the hub would suggest, at the
default threshold, with the model fitted unsupervised (u by random sampling, m by EM; the
labels are only used to count), through ``omnikanal.customers.duplicates`` - the same
comparisons, blocking rules and training the hub runs over its profiles:

- FEBRL4: dataset4a and dataset4b linked across (5,000 true pairs). Target F1 >= 0.999.
- FEBRL3: dataset3 deduplicated (6,538 true pairs among 5,000 records, up to 5 records of
  one person). Target F1 >= 0.995. Scored twice: the pairs as suggested, and the people as
  they are once every suggestion is accepted (merges join people transitively: A~B and
  B~C make A, B and C one person, so the pair A-C is found too).

The reference beside each figure is its target. The social security number of the files is
not used: the hub holds nothing like it (names, birth date, address, postcode, city,
region only). Reads ``../shared/data/febrl`` (or ``$OMNIKANAL_SHARED_DATA/febrl``); without
it the benchmark says so and exits 0, or 1 under CI=true.

Run from the project root:

    .venv/bin/python benchmarks/dedupe.py
"""

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from rich.console import Console
from rich.table import Table

from _febrl import febrl_dir, read, true_links, true_pairs
from omnikanal.customers.duplicates import find_duplicates, link
from omnikanal.customers.person_records import DEFAULT_THRESHOLD, Match

console = Console(width=120)

TARGET_FEBRL4 = 0.999
TARGET_FEBRL3 = 0.995


@dataclass(frozen=True)
class Score:
    name: str
    found: int
    truth: int
    precision: float
    recall: float
    f1: float
    seconds: float
    target: float


def score(
    name: str, found: set[frozenset[str]], truth: set[frozenset[str]], seconds: float, target: float
) -> Score:
    right = len(found & truth)
    precision = right / len(found) if found else 0.0
    recall = right / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(name, len(found), len(truth), precision, recall, f1, seconds, target)


def pairs(matches: Iterable[Match]) -> set[frozenset[str]]:
    return {frozenset((m.left_id, m.right_id)) for m in matches}


def people(matches: Iterable[Match]) -> set[frozenset[str]]:
    """Every pair within the groups that accepting every suggestion makes."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in matches:
        parent[root(m.left_id)] = root(m.right_id)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(root(x), []).append(x)
    return {frozenset(p) for g in groups.values() for p in combinations(sorted(g), 2)}


def main() -> int:
    folder = febrl_dir()
    if not (folder / "dataset3.csv").exists():
        console.print(f"FEBRL data not found at {folder}: nothing to measure.")
        return 1 if os.environ.get("CI") == "true" else 0
    scores: list[Score] = []

    left, right = read(folder / "dataset4a.csv"), read(folder / "dataset4b.csv")
    started = time.perf_counter()
    linked = link(left, right)
    seconds = time.perf_counter() - started
    scores.append(
        score("FEBRL4 (link 4a-4b)", pairs(linked), true_links(left, right), seconds, TARGET_FEBRL4)
    )

    records = read(folder / "dataset3.csv")
    started = time.perf_counter()
    found = find_duplicates(records)
    seconds = time.perf_counter() - started
    truth = true_pairs(records)
    scores.append(score("FEBRL3 (dedupe), pairs", pairs(found), truth, seconds, TARGET_FEBRL3))
    scores.append(score("FEBRL3 (dedupe), people", people(found), truth, seconds, TARGET_FEBRL3))

    table = Table(title=f"Duplicate customers on FEBRL, threshold {DEFAULT_THRESHOLD}")
    for column in ("data", "found", "true", "precision", "recall", "F1", "target F1", "time"):
        table.add_column(column, justify="left" if column == "data" else "right")
    for s in scores:
        met = "[green]met[/]" if s.f1 >= s.target else "[red]missed[/]"
        table.add_row(
            s.name,
            f"{s.found:,}",
            f"{s.truth:,}",
            f"{s.precision:.4f}",
            f"{s.recall:.4f}",
            f"{s.f1:.4f}",
            f"≥ {s.target} {met}",
            f"{s.seconds:.1f} s",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
