"""Where a person's data lies: a scan of every table and every file for their values.

The tables and columns come from the database's own catalog (``inspect(engine)``), not
from the models, so a table added tomorrow is scanned without anyone editing this file.
Every text-like column is read: text, varchar and char, JSON and JSONB, bytes (bytea,
BLOB), any type not known to hold only numbers, times or UUIDs; on SQLite every column,
since SQLite types each value rather than the column. Files: everything under a folder
(the data folder), ``.eml`` files decoded as MIME, ZIP and gzip files opened.

A value is looked for case-insensitively in each stored text and in its decoded forms
(JSON escapes, percent-encoding, HTML entities), so ``Zelda.Quist@Example.org`` stored as
``zelda.quist\\u0040example.org`` is found. Phone numbers are compared on digits: the
national number's digits are looked for in the text's digit runs once phone separators
(spaces, hyphens, dots, slashes, brackets) are taken out, so ``+46701234567``,
``0046701234567``, ``070-123 45 67`` and ``(070) 123 45 67`` all count.
"""

import gzip
import html
import io
import json
import re
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import phonenumbers
from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.sql.expression import ColumnClause
from sqlalchemy.types import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Interval,
    Numeric,
    Time,
    TypeEngine,
    Uuid,
)


@dataclass(frozen=True)
class Needle:
    """One value that names the person: ``label`` says which (email, phone, last name ...)."""

    label: str
    value: str
    # Compared on digits (phone numbers); otherwise as case-insensitive text.
    digits: bool = False

    @classmethod
    def text(cls, label: str, value: str) -> "Needle":
        if not value.strip():
            raise ValueError(f"{label}: an empty needle would match everything")
        return cls(label=label, value=value.casefold())

    @classmethod
    def phone(cls, label: str, number: str, region: str = "SE") -> "Needle":
        """The national significant number's digits: what every spelling has in common."""
        parsed = phonenumbers.parse(number, region)
        national = phonenumbers.national_significant_number(parsed)
        if len(national) < 6:
            raise ValueError(f"{label}: {number!r} is too short to look for safely")
        return cls(label=label, value=national, digits=True)

    @classmethod
    def number(cls, label: str, number: str) -> "Needle":
        """A number people write with separators (a loyalty card): compared on digits."""
        digits = "".join(c for c in number if c.isdigit())
        if len(digits) < 6:
            raise ValueError(f"{label}: {number!r} is too short to look for safely")
        return cls(label=label, value=digits, digits=True)


@dataclass(frozen=True)
class Hit:
    """Where a needle was found: ``table.column`` with the row's primary key, or a file."""

    where: str
    row: str
    needle: Needle

    @property
    def table(self) -> str:
        """The table (or ``file``) part of ``where``."""
        return self.where.split(".", 1)[0] if not self.where.startswith("file:") else "file"

    def __str__(self) -> str:
        return f"{self.where} ({self.row}): {self.needle.label} {self.needle.value!r}"


# -- matching text --

_PHONE_SEPARATORS = re.compile(r"[\s\-./()\u00a0\u2010-\u2015]+")
_DIGIT_RUNS = re.compile(r"\d+")
_JSON_UNICODE = re.compile(r"\\u([0-9a-fA-F]{4})")
_JSON_SIMPLE = re.compile(r"\\([\\/\"])")


def _json_unescaped(text: str) -> str:
    # Surrogate pairs come out as two lone surrogates; enough for the BMP, where names are.
    unicode_done = _JSON_UNICODE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return _JSON_SIMPLE.sub(lambda m: m.group(1), unicode_done)


def readings(text: str) -> set[str]:
    """The text and each decoded form a stored value may hide a needle in, case-folded."""
    found = {text}
    if "\\" in text:
        found.add(_json_unescaped(text))
    if "%" in text:
        found |= {unquote(t) for t in list(found)}
    if "&" in text:
        found |= {html.unescape(t) for t in list(found)}
    return {t.casefold() for t in found}


def _digit_runs(text: str) -> list[str]:
    return _DIGIT_RUNS.findall(_PHONE_SEPARATORS.sub("", text))


def matches(text: str, needles: Sequence[Needle]) -> list[Needle]:
    """The needles found in ``text`` (in any of its readings)."""
    if not text:
        return []
    forms = readings(text)
    runs: list[str] | None = None
    found: list[Needle] = []
    for needle in needles:
        if needle.digits:
            if runs is None:
                runs = [run for form in forms for run in _digit_runs(form)]
            hit = any(needle.value in run for run in runs)
        else:
            hit = any(needle.value in form for form in forms)
        if hit:
            found.append(needle)
    return found


def as_text(value: Any) -> str:
    """A stored value as text: bytes decoded (after gunzip or inflate when compressed), JSON
    documents (psycopg hands them over parsed) serialised without escaping."""
    if value is None:
        return ""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return _bytes_as_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _bytes_as_text(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    elif data[:1] == b"\x78":
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass
    return data.decode("utf-8", errors="replace")


# -- the database --


# Types that cannot hold text; every other type is read (text, varchar, char, JSON, JSONB,
# bytea, and whatever a later migration adds: citext, xml, hstore ...).
_NOT_TEXT = (Boolean, Date, DateTime, Float, Integer, Interval, Numeric, Time, Uuid)


def _is_text_like(type_: TypeEngine[Any], dialect: str) -> bool:
    # SQLite types each value, not the column: text fits in a column of any declared type.
    return dialect == "sqlite" or not isinstance(type_, _NOT_TEXT)


@dataclass(frozen=True)
class ScannedTable:
    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]


def scanned_tables(engine: Engine) -> list[ScannedTable]:
    """Every table in the connection's schema with its text-like columns, from the catalog."""
    inspector = inspect(engine)
    dialect = engine.dialect.name
    found = []
    for name in sorted(inspector.get_table_names()):
        columns = inspector.get_columns(name)
        text_like = tuple(c["name"] for c in columns if _is_text_like(c["type"], dialect))
        key = tuple(inspector.get_pk_constraint(name).get("constrained_columns") or ())
        if text_like:
            found.append(ScannedTable(name=name, key=key, columns=text_like))
    return found


def _rows(engine: Engine, scanned: ScannedTable) -> Iterator[tuple[str, dict[str, Any]]]:
    wanted = list(dict.fromkeys((*scanned.key, *scanned.columns)))
    columns: list[ColumnClause[Any]] = [column(c) for c in wanted]
    query = select(*columns).select_from(table(scanned.name))
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=500).execute(query)
        for number, row in enumerate(result.mappings(), start=1):
            if scanned.key:
                row_id = ", ".join(f"{k}={row[k]}" for k in scanned.key)
            else:
                row_id = f"row {number}"
            yield row_id, {c: row[c] for c in scanned.columns}


def scan_database(engine: Engine, needles: Sequence[Needle]) -> list[Hit]:
    hits = []
    for scanned in scanned_tables(engine):
        for row_id, values in _rows(engine, scanned):
            for name, value in values.items():
                for needle in matches(as_text(value), needles):
                    hits.append(Hit(where=f"{scanned.name}.{name}", row=row_id, needle=needle))
    return hits


# -- files --


def _eml_text(data: bytes) -> str:
    """Headers and every part's decoded content: quoted-printable and base64 bodies and
    RFC 2047 headers hide addresses and names from a byte search."""
    mail = message_from_bytes(data, policy=policy.default)
    pieces = [f"{name}: {value}" for name, value in mail.items()]
    for part in mail.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            pieces.append(payload.decode(charset, errors="replace"))
        pieces.extend(f"{name}: {value}" for name, value in part.items())
    return "\n".join(pieces)


def _file_texts(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(where inside the file, its text) for the file and anything packed in it."""
    yield "", _bytes_as_text(data)
    if name.endswith(".eml"):
        yield "(decoded)", _eml_text(data)
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                for inner, text in _file_texts(member, archive.read(member)):
                    yield f"!{member}{inner}", text


def scan_folder(
    folder: Path, needles: Sequence[Needle], *, skip: Collection[Path] = ()
) -> list[Hit]:
    """Every file under ``folder`` but those in ``skip`` (the database, scanned by its
    catalog instead)."""
    skipped = {path.resolve() for path in skip}
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.resolve() in skipped:
            continue
        relative = path.relative_to(folder).as_posix()
        for inner, text in _file_texts(path.name, path.read_bytes()):
            for needle in matches(text, needles):
                hits.append(Hit(where=f"file:{relative}{inner}", row="file", needle=needle))
    return hits


def sqlite_files(url: str) -> list[Path]:
    """An SQLite database's file and its journals: not scanned as files (their free pages
    may keep deleted rows; that is the database's business, not the data folder's)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return []
    database = Path(parsed.database)
    journals = ("-wal", "-shm", "-journal")
    return [database, *(database.with_name(database.name + suffix) for suffix in journals)]


# -- reading the results --


def tables_naming(hits: Iterable[Hit]) -> dict[str, set[str]]:
    """table (or ``file``) -> the labels of the needles found in it."""
    found: dict[str, set[str]] = {}
    for hit in hits:
        found.setdefault(hit.table, set()).add(hit.needle.label)
    return found


def report(hits: Sequence[Hit], *, limit: int = 60) -> str:
    lines = [str(hit) for hit in hits[:limit]]
    if len(hits) > limit:
        lines.append(f"... and {len(hits) - limit} more")
    return "\n".join(lines)
