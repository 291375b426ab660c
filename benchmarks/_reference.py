"""The reference beside contention.py's throughput: the same orders written raw.

The orders a run placed are read back and written again into scratch copies of
``commerce_order``, ``commerce_order_line`` and ``inventory_stock``, one transaction per
order (the order row, its lines, and per line a conditional stock update in SKU order):
by many threads with a psycopg connection each, or by one sqlite3 connection (SQLite has
one writer). Imported by contention.py as ``_reference``, like ``_server``.
"""

import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from psycopg.types.json import Jsonb

from _server import Database, connect_postgres, connect_sqlite, progress_bar, query

SCRATCH = {
    "commerce_order": "bench_ref_order",
    "commerce_order_line": "bench_ref_order_line",
    "inventory_stock": "bench_ref_stock",
}


@dataclass(frozen=True)
class RawOrder:
    """One order as the reference writes it: its row, its lines, and per line the stock
    change (location, sku, column, quantity) conditional on enough being available."""

    row: dict[str, Any]
    lines: list[dict[str, Any]]
    stock: list[tuple[str, str, str, int]]


def _stock_column(fulfilment: str) -> str:
    return {"in_store": "on_hand", "click_and_collect": "reserved"}.get(fulfilment, "allocated")


def _jsonb(row: dict[str, Any]) -> dict[str, Any]:
    return {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in row.items()}


def raw_orders(
    database: Database, leave_out_sku: str
) -> tuple[list[RawOrder], list[str], list[str]]:
    """The orders, read back from the database with new ids (those holding
    ``leave_out_sku`` left out); and the columns of the order and line rows."""
    sqlite = database.kind == "sqlite"

    def new_uuid() -> Any:
        return uuid.uuid4().hex if sqlite else uuid.uuid4()

    theirs = "SELECT order_id FROM commerce_order_line WHERE sku = ?"
    order_columns, order_rows = query(
        database,
        f"SELECT * FROM commerce_order WHERE id NOT IN ({theirs}) ORDER BY placed_at",
        leave_out_sku,
    )
    line_columns, line_rows = query(
        database,
        f"SELECT * FROM commerce_order_line WHERE order_id NOT IN ({theirs})",
        leave_out_sku,
    )
    lines_of: dict[Any, list[dict[str, Any]]] = {}
    for values in line_rows:
        line = dict(zip(line_columns, values, strict=True))
        lines_of.setdefault(line["order_id"], []).append(line)
    orders: list[RawOrder] = []
    for number, values in enumerate(order_rows):
        row = dict(zip(order_columns, values, strict=True))
        old_id, new = row["id"], new_uuid()
        row.update(id=new, number=f"REF-{number:08d}", cart_id=None)
        lines = [{**line, "id": new_uuid(), "order_id": new} for line in lines_of[old_id]]
        if not sqlite:  # JSON documents (the delivery address) go back as JSONB
            row = _jsonb(row)
            lines = [_jsonb(line) for line in lines]
        column = _stock_column(row["fulfilment"])
        stock = sorted((ln["stock_location"], ln["sku"], column, ln["quantity"]) for ln in lines)
        orders.append(RawOrder(row, lines, stock))
    return orders, order_columns, line_columns


@dataclass(frozen=True)
class ReferenceSql:
    insert_order: str
    insert_line: str
    # The stock column a line changes -> its conditional update.
    updates: dict[str, str]


def reference_sql(
    order_columns: Sequence[str], line_columns: Sequence[str], param: Callable[[str], str]
) -> ReferenceSql:
    """The statements, with named parameters written by ``param`` (``:x`` or ``%(x)s``)."""

    def insert(table: str, columns: Sequence[str]) -> str:
        values = ", ".join(param(c) for c in columns)
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"

    stock = SCRATCH["inventory_stock"]
    quantity = param("quantity")
    updates = {
        column: f"UPDATE {stock} SET {column} = {column} {sign} {quantity}, "
        f"updated_at = {param('now')} WHERE location = {param('location')} "
        f"AND sku = {param('sku')} AND on_hand - reserved - allocated >= {quantity}"
        for column, sign in (("on_hand", "-"), ("reserved", "+"), ("allocated", "+"))
    }
    return ReferenceSql(
        insert(SCRATCH["commerce_order"], order_columns),
        insert(SCRATCH["commerce_order_line"], line_columns),
        updates,
    )


class Writer(Protocol):
    def write(self, order: RawOrder) -> None: ...

    def close(self) -> None: ...


def _stock_params(location: str, sku: str, quantity: int) -> dict[str, Any]:
    return {"location": location, "sku": sku, "quantity": quantity, "now": datetime.now(UTC)}


class PostgresWriter:
    """An order per transaction, on a connection of its own (psycopg 3)."""

    def __init__(self, database: Database, sql: ReferenceSql) -> None:
        self.connection = connect_postgres(database, autocommit=True)
        self.sql = sql

    def write(self, order: RawOrder) -> None:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(self.sql.insert_order, order.row)
            cursor.executemany(self.sql.insert_line, order.lines)
            for location, sku, column, quantity in order.stock:
                cursor.execute(self.sql.updates[column], _stock_params(location, sku, quantity))
                if cursor.rowcount != 1:
                    raise RuntimeError(f"not enough {sku} at {location} for the reference")

    def close(self) -> None:
        self.connection.close()


class SqliteWriter:
    """An order per ``BEGIN IMMEDIATE`` transaction, with the server's pragmas (sqlite3)."""

    def __init__(self, database: Database, sql: ReferenceSql) -> None:
        self.connection = connect_sqlite(database.sqlite_path())
        self.sql = sql

    def write(self, order: RawOrder) -> None:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(self.sql.insert_order, order.row)
            connection.executemany(self.sql.insert_line, order.lines)
            for location, sku, column, quantity in order.stock:
                params = _stock_params(location, sku, quantity)
                params["now"] = params["now"].strftime("%Y-%m-%d %H:%M:%S.%f")
                if connection.execute(self.sql.updates[column], params).rowcount != 1:
                    raise RuntimeError(f"not enough {sku} at {location} for the reference")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


def timed_writes(orders: Sequence[RawOrder], threads: int, writer: Callable[[], Writer]) -> float:
    """Every order written by ``threads`` threads, each with its own writer, pulling from
    one queue; the seconds from the start to the last commit."""
    todo: queue.SimpleQueue[RawOrder | None] = queue.SimpleQueue()
    for order in orders:
        todo.put(order)
    for _ in range(threads):
        todo.put(None)
    errors: list[BaseException] = []
    ready = threading.Barrier(threads + 1)
    with progress_bar() as progress:
        task = progress.add_task(f"reference: {len(orders):,} raw orders", total=len(orders))

        def run() -> None:
            try:
                own = writer()
            except BaseException as exc:
                errors.append(exc)
                ready.abort()
                return
            try:
                ready.wait()
                while (order := todo.get()) is not None:
                    own.write(order)
                    progress.advance(task)
            except BaseException as exc:
                errors.append(exc)
            finally:
                own.close()

        workers = [threading.Thread(target=run) for _ in range(threads)]
        for worker in workers:
            worker.start()
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            pass
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"the reference failed: {errors[0]!r}")
    return elapsed


def _sqlite_scratch(database: Database) -> None:
    """Copies of the tables (their indexes and constraints too), and of the stock."""
    connection = connect_sqlite(database.sqlite_path())
    try:
        for table in SCRATCH:
            schema = connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "ORDER BY type DESC",
                (table,),
            ).fetchall()
            for (statement,) in schema:
                for name, scratch in (
                    ("commerce_order", SCRATCH["commerce_order"]),
                    ("inventory_stock", SCRATCH["inventory_stock"]),
                ):
                    # commerce_order_line becomes bench_ref_order_line, and its reference.
                    statement = statement.replace(name, scratch)
                connection.execute(statement)
        connection.execute(
            f"INSERT INTO {SCRATCH['inventory_stock']} SELECT * FROM inventory_stock"
        )
    finally:
        connection.close()


def _postgres_scratch(database: Database) -> None:
    """Copies of the tables (indexes, defaults and checks; the line's foreign key added),
    and of the stock."""
    with connect_postgres(database, autocommit=True) as pg:
        for table, scratch in SCRATCH.items():
            pg.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
        pg.execute(
            f"ALTER TABLE {SCRATCH['commerce_order_line']} ADD FOREIGN KEY (order_id) "
            f"REFERENCES {SCRATCH['commerce_order']} (id) ON DELETE CASCADE"
        )
        pg.execute(f"INSERT INTO {SCRATCH['inventory_stock']} SELECT * FROM inventory_stock")


@dataclass(frozen=True)
class Reference:
    orders: int
    seconds: float
    how: str


def measure_reference(database: Database, threads: int, *, leave_out_sku: str) -> Reference:
    """The orders in the database (but those holding ``leave_out_sku``) written again, raw,
    into scratch copies of the tables."""
    orders, order_columns, line_columns = raw_orders(database, leave_out_sku)
    if database.kind == "sqlite":
        _sqlite_scratch(database)
        sqlite_sql = reference_sql(order_columns, line_columns, lambda name: f":{name}")
        # One writer at a time in SQLite: one connection, as ingest.py's floor.
        threads = 1
        how = "sqlite3, 1 connection"

        def writer() -> Writer:
            return SqliteWriter(database, sqlite_sql)
    else:
        _postgres_scratch(database)
        pg_sql = reference_sql(order_columns, line_columns, lambda name: f"%({name})s")
        how = f"psycopg, {threads} threads/connections"

        def writer() -> Writer:
            return PostgresWriter(database, pg_sql)

    return Reference(len(orders), timed_writes(orders, threads, writer), how)
