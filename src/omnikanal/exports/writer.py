"""Part files, partitioned by date, written under temporary names and renamed into place.

A file is written as ``.part-<run>.<ext>.tmp`` beside its final name: engines skip hidden
files (DuckDB's ``*.parquet`` glob, Spark and Trino skip names starting with a dot), so a
half-written file is never read; the runner renames it once the run is recorded.
"""

import os
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pa_csv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from omnikanal.exports.datasets import Dataset
from omnikanal.exports.schemas import Format

TEMP_SUFFIX = ".tmp"
# Open files per run: rows of many days (an import of old orders) close the oldest first;
# a day reopened later gets a second part file.
MAX_OPEN_FILES = 32


@dataclass(frozen=True)
class WrittenFile:
    dataset: str
    # Relative to the export folder, with forward slashes: the final name.
    path: str
    rows: int
    bytes: int


def temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{TEMP_SUFFIX}")


def is_temp(path: Path) -> bool:
    return path.name.startswith(".part-") and path.name.endswith(TEMP_SUFFIX)


def _json(value: Any) -> str | None:
    """A JSON column's text; a domain that read it as text from the database gives it so."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _Part:
    """One file being written."""

    def __init__(self, final: Path, schema: pa.Schema, fmt: Format, gzip: bool) -> None:
        self.final = final
        self.temp = temp_path(final)
        self.temp.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self._sink: pa.NativeFile | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pa_csv.CSVWriter | None = None
        if fmt is Format.PARQUET:
            # No Arrow schema blob in the footer: the Parquet types alone say everything.
            self._parquet = pq.ParquetWriter(
                str(self.temp), schema, compression="zstd", store_schema=False
            )
        else:
            self._sink = (
                pa.CompressedOutputStream(str(self.temp), "gzip")
                if gzip
                else pa.OSFile(str(self.temp), "wb")
            )
            self._csv = pa_csv.CSVWriter(self._sink, schema)

    def write(self, table: pa.Table) -> None:
        if self._parquet is not None:
            self._parquet.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self._sink is not None:
            self._sink.close()
        _fsync(self.temp)


class PartitionedWriter:
    """Rows of one run into ``<root>/<dataset>/date=<day>/part-<run>.<ext>`` files.

    Rows wait in per-day buffers until ``flush_rows`` of them are waiting in all, then
    every buffer is written (one row group per day in Parquet): memory stays about one
    chunk, whatever the export's size.
    """

    def __init__(
        self,
        root: Path,
        *,
        run: str,
        fmt: Format,
        gzip: bool,
        exported_at: datetime,
        flush_rows: int,
    ) -> None:
        self.root = root
        self.run = run
        self.fmt = fmt
        self.gzip = gzip and fmt is Format.CSV
        self.exported_at = exported_at
        self.flush_rows = flush_rows
        self.flushes = 0
        self._datasets: dict[str, Dataset] = {}
        self._buffers: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._buffered = 0
        self._open: OrderedDict[tuple[str, str], _Part] = OrderedDict()
        self._closed: list[_Part] = []
        self._opened: dict[tuple[str, str], int] = defaultdict(int)

    @property
    def extension(self) -> str:
        if self.fmt is Format.PARQUET:
            return "parquet"
        return "csv.gz" if self.gzip else "csv"

    def add(self, dataset: Dataset, rows: list[dict[str, Any]]) -> None:
        self._datasets[dataset.name] = dataset
        for row in rows:
            for column in dataset.json_columns:
                row[column] = _json(row[column])
            row["exported_at"] = self.exported_at
            moment: datetime = row[dataset.date_column]
            day = moment.astimezone(UTC).date().isoformat()
            self._buffers[(dataset.name, day)].append(row)
        self._buffered += len(rows)
        if self._buffered >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buffered:
            return
        for key, rows in self._buffers.items():
            table = pa.Table.from_pylist(rows, schema=self._datasets[key[0]].schema)
            self._part(key).write(table)
        self._buffers.clear()
        self._buffered = 0
        self.flushes += 1

    def _part(self, key: tuple[str, str]) -> _Part:
        part = self._open.get(key)
        if part is not None:
            self._open.move_to_end(key)
            return part
        if len(self._open) >= MAX_OPEN_FILES:
            _, oldest = self._open.popitem(last=False)
            oldest.close()
            self._closed.append(oldest)
        dataset, day = key
        sequence = self._opened[key]
        self._opened[key] += 1
        suffix = f"-{sequence}" if sequence else ""
        final = self.root / dataset / f"date={day}" / f"part-{self.run}{suffix}.{self.extension}"
        part = _Part(final, self._datasets[dataset].schema, self.fmt, self.gzip)
        self._open[key] = part
        return part

    def close(self) -> list[WrittenFile]:
        """Write what waits and close every file (still under its temporary name)."""
        self.flush()
        for part in self._open.values():
            part.close()
            self._closed.append(part)
        self._open.clear()
        return [
            WrittenFile(
                dataset=part.final.parent.parent.name,
                path=part.final.relative_to(self.root).as_posix(),
                rows=part.rows,
                bytes=part.temp.stat().st_size,
            )
            for part in self._closed
        ]

    def abort(self) -> None:
        """Close and delete every file of this run (after a failure)."""
        for part in [*self._open.values(), *self._closed]:
            try:
                part.close()
            except Exception:  # a broken file is deleted just below
                pass
            part.temp.unlink(missing_ok=True)
        self._open.clear()
        self._closed.clear()
