"""The DuckDB engine: loads the hub's events and orders (or the Parquet export) into an
in-memory DuckDB database and runs the analyses, which are SQL files in ``sql/``.

DuckDB's SQLite and PostgreSQL extensions need a download, so the hub's rows are handed
over as Arrow tables, read through each domain's read-only export functions (no other
domain's tables are read here). The Parquet export is read by DuckDB directly, so the
same SQL runs over a warehouse's files.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from omnikanal.auth import service as auth_service
from omnikanal.catalog import warehouse as catalog_warehouse
from omnikanal.commerce import warehouse as commerce_warehouse
from omnikanal.conversations import warehouse as conversations_warehouse
from omnikanal.customers import warehouse as customers_warehouse
from omnikanal.events import warehouse as events_warehouse
from omnikanal.marketing import warehouse as marketing_warehouse
from omnikanal.privacy import warehouse as privacy_warehouse

TIME = pa.timestamp("us", tz="UTC")
CHUNK_ROWS = 20_000
# Above every time-ordered id: "every event stored so far".
_EVERY_ID = UUID(int=(1 << 128) - 1)

RAW_EVENTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("profile_id", pa.string()),
        ("channel", pa.string()),
        ("location", pa.string()),
        ("name", pa.string()),
        ("timestamp", TIME),
        ("properties", pa.string()),
    ]
)
RAW_ORDERS = pa.schema(
    [
        ("order_id", pa.string()),
        ("profile_id", pa.string()),
        ("status", pa.string()),
        ("channel", pa.string()),
        ("location", pa.string()),
        ("pickup_location", pa.string()),
        ("fulfilment", pa.string()),
        ("total", pa.int64()),
        ("currency", pa.string()),
        ("placed_at", TIME),
        ("handed_over_at", TIME),
    ]
)
RAW_LINES = pa.schema(
    [
        ("order_id", pa.string()),
        ("sku", pa.string()),
        ("quantity", pa.int64()),
        ("line_total", pa.int64()),
    ]
)
MERGE_LINKS = pa.schema([("profile_id", pa.string()), ("merged_into", pa.string())])
CATEGORIES = pa.schema([("sku", pa.string()), ("category", pa.string())])
# In-store touches the orders and events do not show: a return taken at a store
# ("return"), a person looked up by that store's staff ("lookup").
RAW_STORE_TOUCHES = pa.schema(
    [
        ("kind", pa.string()),
        ("profile_id", pa.string()),
        ("location", pa.string()),
        ("at", TIME),
    ]
)
# Answers to satisfaction questions: kind "csat" (1-5) or "nps" (0-10).
RAW_SATISFACTION = pa.schema(
    [
        ("kind", pa.string()),
        ("profile_id", pa.string()),
        ("channel", pa.string()),
        ("location", pa.string()),
        ("score", pa.int64()),
        ("at", TIME),
    ]
)


@cache
def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (resources.files("omnikanal.analytics") / "sql" / f"{name}.sql").read_text("utf-8")


def _table(rows: Iterable[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    names = schema.names
    return pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows], schema=schema)


class Engine:
    """One DuckDB database holding one snapshot of the history, ready for analyses."""

    def __init__(self) -> None:
        self.db = duckdb.connect(":memory:")
        # Times are UTC throughout; TIMESTAMP (no zone) keeps the arithmetic plain.
        self.db.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        self.db.close()

    def script(
        self, name: str, params: dict[str, Any] | None = None, fill: dict[str, str] | None = None
    ) -> None:
        """Run every statement of ``sql/<name>.sql``; ``fill`` the ``{placeholders}`` of
        query text that code composed (never a caller's values: those are ``params``)."""
        for statement in _statements(sql(name)):
            text = statement.format(**fill) if fill else statement
            self.db.execute(text, params if params and "$" in text else None)

    def rows(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of the one query in ``sql/<name>.sql``, as dicts."""
        cursor = self.db.execute(sql(name), params or None)
        columns = [d[0] for d in cursor.description or ()]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.db.execute(query, params).to_arrow_table()

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        found = self.db.execute(query, params).fetchone()
        return None if found is None else found[0]

    def _load(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.db.register(f"_{name}", table)
            self.db.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}")
            self.db.unregister(f"_{name}")
        self.script("schema")


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _events(session: Session) -> pa.Table:
    batches = [
        _table(chunk, RAW_EVENTS)
        for chunk in events_warehouse.rows_for_export(
            session, from_id=None, before=_EVERY_ID, chunk=CHUNK_ROWS
        )
    ]
    return pa.concat_tables(batches) if batches else RAW_EVENTS.empty_table()


def _orders(session: Session, until: datetime) -> tuple[pa.Table, pa.Table]:
    orders: list[pa.Table] = []
    lines: list[pa.Table] = []
    for chunk in commerce_warehouse.rows_for_export(
        session, changed_after=None, changed_until=until, chunk=CHUNK_ROWS
    ):
        orders.append(_table(chunk.orders, RAW_ORDERS))
        lines.append(_table(chunk.lines, RAW_LINES))
    if not orders:
        return RAW_ORDERS.empty_table(), RAW_LINES.empty_table()
    return pa.concat_tables(orders), pa.concat_tables(lines)


def _store_touches(session: Session) -> pa.Table:
    lookups = privacy_warehouse.store_lookups(session)
    stores = auth_service.locations_of(session, {row["credential_id"] for row in lookups})
    rows = [{"kind": "return", **row} for row in commerce_warehouse.store_returns(session)]
    rows += [
        {"kind": "lookup", "location": stores.get(row["credential_id"]), **row} for row in lookups
    ]
    return _table(rows, RAW_STORE_TOUCHES)


def from_hub(session: Session) -> Engine:
    """A snapshot of the hub's history (SQLite or PostgreSQL), read through the domains."""
    orders, lines = _orders(session, datetime.now(UTC))
    engine = Engine()
    engine._load(
        {
            "raw_events": _events(session),
            "raw_orders": orders,
            "raw_lines": lines,
            "merge_links": _table(customers_warehouse.merge_links(session), MERGE_LINKS),
            "categories": _table(catalog_warehouse.categories(session), CATEGORIES),
            "raw_store_touches": _store_touches(session),
            "raw_satisfaction": _table(
                [
                    *(
                        {"kind": "csat", **row}
                        for row in conversations_warehouse.csat_rows(session)
                    ),
                    *({"kind": "nps", **row} for row in marketing_warehouse.nps_rows(session)),
                ],
                RAW_SATISFACTION,
            ),
        }
    )
    return engine


def from_tables(
    *,
    events: pa.Table | None = None,
    orders: pa.Table | None = None,
    lines: pa.Table | None = None,
    merge_links: pa.Table | None = None,
    categories: pa.Table | None = None,
    satisfaction: pa.Table | None = None,
    store_touches: pa.Table | None = None,
) -> Engine:
    """An engine over Arrow tables already in the raw shapes above (benchmarks, real data)."""
    engine = Engine()
    engine._load(
        {
            "raw_events": events if events is not None else RAW_EVENTS.empty_table(),
            "raw_orders": orders if orders is not None else RAW_ORDERS.empty_table(),
            "raw_lines": lines if lines is not None else RAW_LINES.empty_table(),
            "merge_links": merge_links if merge_links is not None else MERGE_LINKS.empty_table(),
            "categories": categories if categories is not None else CATEGORIES.empty_table(),
            "raw_satisfaction": (
                satisfaction if satisfaction is not None else RAW_SATISFACTION.empty_table()
            ),
            "raw_store_touches": (
                store_touches if store_touches is not None else RAW_STORE_TOUCHES.empty_table()
            ),
        }
    )
    return engine


def from_parquet(folder: Path) -> Engine:
    """A snapshot of a Parquet export folder (``omnikanal export ... --format parquet``):
    every event, the latest copy of each order, line and profile. A dataset not exported
    reads as empty."""
    engine = Engine()
    engine.script("parquet_empty")
    for name in ("events", "orders", "order_lines", "profiles"):
        if (folder / name).is_dir():
            engine.script(f"parquet_{name}", {"files": str(folder / name / "**" / "*.parquet")})
    engine.script("schema")
    return engine
