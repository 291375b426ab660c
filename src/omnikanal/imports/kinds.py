"""What every import kind implements: rows in, an outcome out.

The framework (``jobs.py``) reads a file, translates each row into hub fields (the format
and the column map) and hands a batch at a time to the kind's ``apply``, inside the
transaction that also advances the job. A kind validates each row, writes the good ones
set-based through the services of the domains that own them, and says per bad row which
field was wrong and why (never the value: it may be personal data).
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row number in the file
    field: str  # the hub field (after the column map), or "" for the row
    reason: str  # why, without the value


@dataclass
class FirstRows:
    """The row of a batch that first named each natural key (a SKU, a customer's email):
    a later row naming one again is refused. Both applied, the later would overwrite the
    earlier, which would overwrite it back on the next run of the same file."""

    what: str  # what a key names, for the reason: "product", "customer"
    first: dict[Hashable, int] = field(default_factory=dict)

    def repeated(self, number: int, keys: Sequence[tuple[str, Hashable]]) -> RowProblem | None:
        """The problem of row ``number`` when an earlier row named one of its keys (each
        with the field that gave it); else its keys are taken, and None."""
        for field_name, key in keys:
            earlier = self.first.get(key)
            if earlier is not None:
                reason = f"names the {self.what} of row {earlier} again: one row per {self.what}"
                return RowProblem(number, field_name, reason)
        for _, key in keys:
            self.first[key] = number
        return None


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    award_points: bool = False
    location: str | None = None  # default store for rows without one
    channel: str | None = None  # default channel for rows without one
    # The job's id, the same in each of its batches and its end: what the import made.
    import_id: UUID | None = None


class ImportKind(Protocol):
    name: str  # customers | products | prices | stock | orders
    # The hub fields it reads, and the prefixes of those it reads by name ("trait.x"):
    # a column named otherwise is ignored, and the job says so (``ignored_columns``).
    fields: frozenset[str]
    field_prefixes: tuple[str, ...]

    def apply(
        self,
        session: Session,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome: ...


@runtime_checkable
class FinishingKind(ImportKind, Protocol):
    """A kind with work to do once its whole file is in (orders: the buyers' computed
    traits, once per import rather than per batch). ``finish`` runs in the transaction of
    the last batch, so a job killed before it commits runs it again on resume; ``since``
    is when the job was created, so it covers every batch, resumed or not. It also runs
    when a job fails, for the batches it committed. Not on a dry run."""

    def finish(self, session: Session, *, options: ImportOptions, since: datetime) -> None: ...


@runtime_checkable
class FollowedKind(ImportKind, Protocol):
    """A kind whose ended import leads to more work, too long for the last batch's
    transaction (customers: duplicate customers looked for again, with Splink). ``follow_up``
    runs in a transaction of its own once the job is done, when it wrote anything and was
    not a dry run; ``follow_up_label`` says what it does, for the command line."""

    follow_up_label: str

    def follow_up(self, session: Session) -> None: ...


def ignored_columns(kind: ImportKind, columns: Sequence[str]) -> list[str]:
    """The columns (after the column map and the format) that ``kind`` does not read."""
    return [c for c in columns if c not in kind.fields and not c.startswith(kind.field_prefixes)]
