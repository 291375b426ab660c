"""Engine, sessions and the declarative base shared by every domain."""

import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, Engine, Row, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql._typing import _ColumnExpressionArgument
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeDecorator

from omnikanal import wal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON documents: JSONB on PostgreSQL (indexable), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UuidText(FunctionElement[str]):
    """A UUID column read as its canonical text (``8-4-4-4-12``, lower case) by the
    database itself: bulk reads (exports) skip building a ``uuid.UUID`` per value only to
    print it again. SQLite stores UUIDs as 32 hex digits; PostgreSQL as ``uuid``."""

    type = String()
    inherit_cache = True


@compiles(UuidText, "sqlite")
def _uuid_text_sqlite(element: UuidText, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(next(iter(element.clauses)), **kw)
    parts = " || '-' || ".join(
        f"substr({value}, {start}, {length})"
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    )
    return f"lower({parts})"


@compiles(UuidText, "postgresql")
def _uuid_text_postgresql(element: UuidText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(next(iter(element.clauses)), **kw)} AS TEXT)"


class _TextList(TypeDecorator[list[str]]):
    """A list of texts as one parameter: a JSON array on SQLite, an array on PostgreSQL."""

    impl = String()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(String()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return orjson.dumps(value).decode()


class _OneOf(FunctionElement[bool]):
    type = Boolean()
    inherit_cache = True
    # A condition in itself: without this, SQLite's WHERE reads ``(x IN (...)) = 1``,
    # which no index serves (every look-up scanned its whole table).
    _is_implicitly_boolean = True


def one_of(column: "_ColumnExpressionArgument[str]", values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (values)`` for a text column and many values, with the values as one
    parameter: SQLAlchemy's expanding ``IN`` handles each value in Python, which cost more
    than the look-ups themselves in bulk imports (5,000 SKUs a batch)."""
    return _OneOf(column, bindparam(None, sorted(set(values)), type_=_TextList()))


@compiles(_OneOf, "sqlite")
def _one_of_sqlite(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(_OneOf, "postgresql")
def _one_of_postgresql(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} = ANY({values})"


def as_stored(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A column read as the driver gives it, without the type's conversion (a UUID: 32
    hex digits on SQLite, the driver's UUID on PostgreSQL): for values only matched
    against others read the same way, never shown or written back."""
    return type_coerce(column, NullType())


class JsonText(FunctionElement[str]):
    """A member of a JSON document (``JsonText(column, "context", "traits")``) read as JSON
    text by the database, or NULL where it is missing or null: bulk reads skip parsing the whole
    document and serialising the member again."""

    type = String()
    inherit_cache = True

    def __init__(self, column: "_ColumnExpressionArgument[Any]", *path: str) -> None:
        self.path = path
        super().__init__(column)


@compiles(JsonText, "sqlite")
def _json_text_sqlite(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"NULLIF({column} -> '$.{'.'.join(element.path)}', 'null')"


@compiles(JsonText, "postgresql")
def _json_text_postgresql(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"NULLIF(CAST(({column} #> '{{{','.join(element.path)}}}') AS TEXT), 'null')"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def from_sqlite(value: Any) -> datetime | None:
            # SQLite keeps the UTC time as naive text: read it as UTC in one C call, a
            # sixth of the general path's cost (bulk reads of history read thousands).
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value + "+00:00")
            except (TypeError, ValueError):  # not the stored text form: the general path
                return general(value)

        return from_sqlite


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONDocument}


def _json_serializer(value: Any) -> str:
    return orjson.dumps(value).decode()


BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the one writer; NORMAL is durable across application
    # crashes (only an OS crash can lose the last transactions); foreign keys are off
    # by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # A 64 MB page cache and memory-mapped reads: indexes of a busy event store stay hot.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    # The log is copied into the database by a thread of the process (wal.py); a writer
    # does it only should that fall behind.
    cursor.execute(f"PRAGMA wal_autocheckpoint={wal.FALLBACK_PAGES}")
    cursor.close()


READ_ONLY_OPTION = "omnikanal_read_only"


def is_read_only(session: Session) -> bool:
    """Whether the session came from a read-only factory (a GET's, the resolver's peeks)."""
    return bool(session.get_bind().get_execution_options().get(READ_ONLY_OPTION))


@contextmanager
def long_read(session: Session) -> Iterator[Session]:
    """Where a write job does a long read (a model's training history): ``session`` itself
    once its transaction has begun (its own uncommitted changes are seen, and on SQLite it
    holds the write lock already); before that, a read-only session of its own on the
    same database with the same ``info``, so the job's transaction, which on SQLite takes
    the one write lock at its first statement, does not hold it through the read."""
    if session.in_transaction():
        yield session
        return
    engine = session.get_bind().engine
    with Session(
        bind=engine.execution_options(**{READ_ONLY_OPTION: True}), info=dict(session.info)
    ) as twin:
        yield twin


# How long a writer waits for SQLite's write lock, and how often it looks while waiting.
WRITE_LOCK_TIMEOUT_SECONDS = 30.0
WRITE_LOCK_POLL_SECONDS = 0.001


def _begin(conn: Any) -> None:
    # Writers take SQLite's write lock at BEGIN, so two writers queue for it instead of
    # one failing when it upgrades a read to a write; readers never block.
    if conn.get_execution_options().get(READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN")
    else:
        _begin_immediate(conn)


def _begin_immediate(conn: Any) -> None:
    """BEGIN IMMEDIATE, looking for the lock every millisecond. SQLite's own busy handler
    sleeps up to 100 ms between looks, so a writer that commits and begins again at once
    (the resolver) would take the lock back before any waiting append had looked."""
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT_SECONDS
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(WRITE_LOCK_POLL_SECONDS)
    finally:
        # Readers sharing this pooled connection keep SQLite's own patience.
        conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


# (pool size, overflow) of each engine: the connections one process may hold.
SQLITE_POOL = (8, 8)
POSTGRESQL_POOL = (10, 20)
# Connections kept for the ingest writer, the embedded worker and its timers.
BACKGROUND_CONNECTIONS = 4


def request_capacity(url: str) -> int:
    """How many requests may use the database at once in one process: the pool, less the
    connections the background work needs."""
    size, overflow = SQLITE_POOL if is_sqlite(url) else POSTGRESQL_POOL
    return size + overflow - BACKGROUND_CONNECTIONS


def _checkpoint_after_commits(path: str) -> Callable[[Any], None]:
    def committed(conn: Any) -> None:
        if not conn.get_execution_options().get(READ_ONLY_OPTION):  # a reader wrote nothing
            wal.CHECKPOINTS.committed(path)

    return committed


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if is_sqlite(url):
        database = make_url(url).database
        path = Path(database).resolve() if database and database != ":memory:" else None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=_json_serializer,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=SQLITE_POOL[0],
            max_overflow=SQLITE_POOL[1],
        )
        event.listen(engine, "connect", _configure_sqlite)
        # Hand transaction control to SQLAlchemy so BEGIN IMMEDIATE is ours to issue.
        event.listen(
            engine,
            "connect",
            lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
        )
        event.listen(engine, "begin", _begin)
        if path is not None:
            event.listen(engine, "commit", _checkpoint_after_commits(str(path)))
            # Closed, the engine's connections leave the database whole in its file.
            event.listen(engine, "engine_disposed", lambda _: wal.CHECKPOINTS.settled())
        return engine
    return create_engine(
        url,
        echo=echo,
        json_serializer=_json_serializer,
        json_deserializer=orjson.loads,
        # No server-side prepared statements: a generic plan made before a growing table
        # has statistics scans a whole identifier type instead of probing the unique
        # index (measured: 36 ms instead of 0.05 ms per look-up).
        connect_args={"prepare_threshold": None},
        pool_size=POSTGRESQL_POOL[0],
        max_overflow=POSTGRESQL_POOL[1],
        pool_pre_ping=True,
    )


def make_session_factory(
    engine: Engine, *, read_only: bool = False, **info: Any
) -> sessionmaker[Session]:
    """Sessions carry shared context (settings, event handler registry) in ``info``."""
    bind = engine.execution_options(**{READ_ONLY_OPTION: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False, info=info)


# Rows per multi-row INSERT statement. SQLAlchemy's default (1,000) builds statements so
# long that psycopg parses each anew in Python; measured on 20,000 inbox rows: 7,237 rows/s
# at 1,000 against 11,561 at 100 on PostgreSQL, and 32,656 against 42,571 on SQLite.
INSERT_PAGE_ROWS = 100


def insert_ignoring_duplicates(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """Insert many rows; a row whose ``keys`` already exist is skipped (both dialects).
    With ``returning``, those columns of the rows actually inserted (in no set order)."""
    if not rows:
        return []
    statement = ignoring_duplicates(session, table, keys=keys)
    if not returning:
        session.execute(statement, rows)
        return []
    columns = [table.c[name] for name in returning]
    return list(session.execute(statement.returning(*columns), rows))


def ignoring_duplicates(session: Session, table: Table, *, keys: Sequence[str]) -> Insert:
    """An INSERT into ``table`` that skips a row whose ``keys`` exist (both dialects)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=list(keys))
        .execution_options(insertmanyvalues_page_size=INSERT_PAGE_ROWS)
    )


# Rows from which ``execute_stored`` compiles its statement itself: below, compiling
# (about a millisecond) costs more than SQLAlchemy's handling of the rows.
STORED_MIN_ROWS = 20


def execute_stored(
    session: Session, statement: Insert | Update, rows: Sequence[Mapping[str, Any]]
) -> None:
    """``session.execute(statement, rows)`` for bulk loads, without SQLAlchemy's work per
    row: each column's values are converted by its type for this database, a value that
    repeats down a column (an order's id and time on its lines) once, and the rows go to
    the driver's executemany as they are (measured: the per-row parameter handling cost
    more than SQLite's inserting). Every row has the same keys, among them every column
    with a Python-side default and every parameter ``statement`` names; ``statement`` is
    an INSERT (ON CONFLICT allowed) or an UPDATE."""
    if len(rows) < STORED_MIN_ROWS:  # SQLAlchemy's cached statement is quicker for a few
        if rows:
            session.execute(statement, rows)
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    compiled = statement.compile(dialect=dialect, column_keys=names)
    missing = set(compiled.binds) - set(names)
    if missing:
        raise ValueError(f"rows lack {sorted(missing)}: parameters or columns with defaults")
    table = statement.table
    pick = operator.itemgetter(*names)  # a row's values in order, in one C call
    as_tuples = map(pick, rows) if len(names) > 1 else ((pick(row),) for row in rows)
    values = zip(*as_tuples, strict=True)  # column by column
    columns = {
        name: _stored(
            column,
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            unique=name in table.c and table.c[name].primary_key,
        )
        for name, column in zip(names, values, strict=True)
    }
    if compiled.positiontup is not None:  # SQLite: ``?`` placeholders, in this order
        params: list[Any] = list(
            zip(*[columns[name] for name in compiled.positiontup], strict=True)
        )
    else:  # psycopg: named placeholders
        params = [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    connection = session.connection()
    if dialect.name != "postgresql":
        connection.exec_driver_sql(compiled.string, params)
        return
    with _prepared(connection.connection.driver_connection):
        connection.exec_driver_sql(compiled.string, params)


@contextmanager
def _prepared(psycopg_connection: Any) -> Iterator[None]:
    """The statement prepared once for all its rows: without, PostgreSQL parses and plans
    each row's INSERT again (measured: three times the raw insert's time for an import's
    lines). Prepared statements are off otherwise (``make_engine``), for look-ups' sake;
    an INSERT or UPDATE by primary key has no plan to get wrong."""
    before = psycopg_connection.prepare_threshold
    psycopg_connection.prepare_threshold = 0
    try:
        yield
    finally:
        psycopg_connection.prepare_threshold = before


def _stored(
    values: Sequence[Any], process: Callable[[Any], Any] | None, *, unique: bool
) -> Sequence[Any]:
    """A column's values as the driver takes them; each distinct value converted once
    (``unique``: no value repeats, each is converted)."""
    if process is None:
        return values
    if unique:
        return list(map(process, values))
    memo: dict[Any, Any] = {}
    try:
        return [memo[v] if v in memo else memo.setdefault(v, process(v)) for v in values]
    except TypeError:  # unhashable values (JSON documents): each converted
        return [process(v) for v in values]
