"""Counting what a service did with each row of a batch into the kind's outcome."""

from omnikanal.imports.kinds import BatchOutcome, RowProblem


def count(outcome: BatchOutcome, number: int, status: str, field: str, reason: str) -> None:
    """``status`` is created, updated, unchanged or refused (then ``field`` and ``reason``
    say why, without the value)."""
    if status == "created":
        outcome.created += 1
    elif status == "updated":
        outcome.updated += 1
    elif status == "unchanged":
        outcome.unchanged += 1
    else:
        outcome.problems.append(RowProblem(number, field, reason))
