"""Reading a file a row at a time: CSV or JSON Lines, gzip or not, never all at once.

What a file is is seen from its first bytes (gzip's magic number; a JSON object's brace),
so ``-`` (standard input, spooled first) and uploads need no name. CSV rows are numbered
from 1 after the header (a quoted field may span lines); JSON Lines rows by line.
"""

import codecs
import csv
import gzip
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, cast

import orjson

from omnikanal.kit.ids import new_id

GZIP_MAGIC = b"\x1f\x8b"
SPOOL_FOLDER = "imports"
CHUNK = 1 << 20
# A CSV field may be long (a product description in HTML).
FIELD_LIMIT_MIB = 16
csv.field_size_limit(FIELD_LIMIT_MIB * 1024 * 1024)


# The text encodings a file may be in: UTF-8 (the default; a byte order mark is skipped)
# and what older systems and spreadsheets write: Excel's CSV on Windows in Western Europe
# (cp1252), ISO 8859-1 and -15, the DOS Nordic code page (cp850), Mac Roman, UTF-16.
UTF8 = "utf-8"
ENCODINGS = (UTF8, "utf-16", "cp1252", "iso8859-1", "iso8859-15", "cp850", "mac-roman")


def encoding_named(name: str) -> str:
    """The encoding's name as ``ENCODINGS`` spells it (``windows-1252`` is ``cp1252``,
    ``latin-1`` is ``iso8859-1``); ValueError for any other."""
    try:
        found = codecs.lookup(name.strip()).name
    except LookupError:
        found = ""
    found = UTF8 if found == "utf-8-sig" else found
    if found not in ENCODINGS:
        raise ValueError(f"unknown encoding {name!r}; one of {', '.join(ENCODINGS)}")
    return found


class ImportFileError(Exception):
    """The file as a whole cannot be read; ``str()`` says why, without its contents."""


class RawRow(NamedTuple):  # a tuple: made once per row, cheaper than a dataclass
    number: int
    # The row's columns as text, names and values without surrounding whitespace; None
    # when the row itself cannot be read.
    values: dict[str, str] | None
    problem: str | None = None


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes taken from it (what drives a progress bar)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.taken += size
        return size

    def close(self) -> None:
        self.inner.close()
        super().close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _blank(cells: list[str]) -> bool:
    """Whether every cell is empty or whitespace (one joined string: C, not a loop)."""
    joined = "".join(cells)
    return not joined or joined.isspace()


def _delimiter(header: str) -> str:
    # Spreadsheets in much of Europe write ";" (the comma is their decimal mark).
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


class RowFile:
    """An open file and its rows, in ``encoding`` (one of ``ENCODINGS``); ``bytes_read``
    of the file as stored (compressed)."""

    def __init__(self, path: Path, encoding: str = UTF8) -> None:
        try:
            raw = path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"the file cannot be opened ({type(exc).__name__})") from exc
        self.size = os.fstat(raw.fileno()).st_size
        self._counting = _Counting(raw)
        buffered: io.BufferedReader[Any] = io.BufferedReader(self._counting, CHUNK)
        stream: io.BufferedReader[Any] | gzip.GzipFile = buffered
        if buffered.peek(2)[:2] == GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=buffered, mode="rb")
        self._binary = stream
        self.encoding = encoding
        self.text = io.TextIOWrapper(
            cast(BinaryIO, stream),
            encoding="utf-8-sig" if encoding == UTF8 else encoding,
            newline="",
        )
        self.json_lines = self._looks_like_json()
        # A CSV file's column names, once its header has been read.
        self.header: list[str] | None = None

    @property
    def bytes_read(self) -> int:
        return self._counting.taken

    def _looks_like_json(self) -> bool:
        try:
            first = self._binary.peek(64)
        except (OSError, EOFError) as exc:
            raise ImportFileError("the file is not valid gzip") from exc
        return first.decode(self.encoding, errors="ignore").lstrip("\ufeff \t\r\n")[:1] == "{"

    def rows(self) -> Iterator[RawRow]:
        last = 0  # the last row read, for where the file went wrong
        try:
            for row in self._json_rows() if self.json_lines else self._csv_rows():
                last = row.number
                yield row
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"the file is not {self.encoding} text after data row {last} (save it as "
                "UTF-8, or name its encoding: Excel on Windows writes cp1252)"
            ) from exc
        except (OSError, EOFError) as exc:  # gzip's errors: truncated or corrupt
            if isinstance(self._binary, gzip.GzipFile):
                reason = f"the gzip file is cut short or corrupt after data row {last}"
            else:
                reason = f"the file cannot be read after data row {last} ({type(exc).__name__})"
            raise ImportFileError(reason) from exc

    def _json_rows(self) -> Iterator[RawRow]:
        for number, line in enumerate(self.text, start=1):
            if not line.strip():
                continue
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield RawRow(number, None, "not a JSON object")
                continue
            if not isinstance(parsed, dict):
                yield RawRow(number, None, "not a JSON object")
                continue
            yield RawRow(number, {str(k).strip(): _cell(v).strip() for k, v in parsed.items()})

    def _csv_rows(self) -> Iterator[RawRow]:
        header_line = self.text.readline()
        if not header_line.strip():
            raise ImportFileError("the file has no header row")
        delimiter = _delimiter(header_line)
        header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
        named = [name for name in header if name]
        if len(set(named)) < len(named):
            twice = sorted({name for name in named if named.count(name) > 1})
            raise ImportFileError(f"the header names the column {twice[0]!r} twice")
        self.header = named
        reader = csv.reader(self.text, delimiter=delimiter)
        width, unnamed = len(header), "" in header
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    reason = f"data row {number + 1} has a cell longer than {FIELD_LIMIT_MIB} MiB"
                else:
                    reason = f"not valid CSV after data row {number}"
                raise ImportFileError(reason) from exc
            if _blank(cells):
                continue
            number += 1
            if len(cells) > width and not _blank(cells[width:]):
                # A cell too many (an unquoted delimiter in a name?): its columns are askew.
                reason = f"has {len(cells)} cells where the header has {width} columns"
                yield RawRow(number, None, reason)
                continue
            if len(cells) < width:  # trailing empty cells left out
                cells += [""] * (width - len(cells))
            # Stripped in a C loop (map): a per-cell comprehension was most of reading.
            values = dict(zip(header, map(str.strip, cells), strict=False))
            if unnamed:
                del values[""]
            yield RawRow(number, values)

    def close(self) -> None:
        self.text.close()


@dataclass(frozen=True)
class Spooled:
    path: Path
    size: int
    sha256: str


def spool(stream: BinaryIO, data_dir: Path) -> Spooled:
    """Copy a stream (standard input, an upload) into the data folder, readable by its
    owner only, so its job can read it again after a crash."""
    folder = data_dir / SPOOL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{new_id()}.upload"
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path=path, size=size, sha256=digest.hexdigest())
