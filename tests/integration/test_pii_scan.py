"""The PII scan reads the database's own catalog: a table nobody told it about is scanned,
every text-like column of it, and a hit names the table, the column and the row."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine

from omnikanal.models import metadata
from tests.pii import Needle, scan_database, scanned_tables

EMAIL = Needle.text("email", "Planted.Person@Example.org")
PHONE = Needle.phone("phone", "+46701234567")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = create_engine(database_url)
    yield made
    made.dispose()


@pytest.fixture
def probe(engine: Engine) -> Iterator[Table]:
    """A table made on the fly, as a migration of tomorrow would add one."""
    schema = MetaData()
    probe = Table(
        f"probe_{uuid.uuid4().hex[:8]}",
        schema,
        Column("id", Integer, primary_key=True),
        Column("note", Text),
        Column("label", String(50)),
        Column("doc", JSON().with_variant(JSONB(), "postgresql")),
        Column("blob", LargeBinary),
        Column("count", Integer),
    )
    schema.create_all(engine)
    try:
        yield probe
    finally:
        schema.drop_all(engine)


def test_every_table_the_models_know_is_in_the_catalog_scan(engine: Engine) -> None:
    columns = {t.name: set(t.columns) for t in scanned_tables(engine)}
    # Every text-like column the models declare is read, found through the catalog.
    for model_table in metadata.sorted_tables:
        for model_column in model_table.columns:
            if isinstance(model_column.type, String | JSON | LargeBinary):
                assert model_column.name in columns.get(model_table.name, ()), model_column
    assert {"traits", "computed_traits"} <= columns["customer_profile"]
    assert "response_body" in columns["idempotency_record"]  # bytes
    assert "payload" in columns["outbox_event"]  # JSON(B)


def test_a_value_planted_in_a_new_table_is_found_in_each_column(
    engine: Engine, probe: Table
) -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "note": "Mail PLANTED.person@example.org today", "count": 7},
        {"id": 2, "label": "call 070-123 45 67"},
        {"id": 3, "doc": {"contact": {"email": "planted.person@example.org"}}},
        {"id": 4, "blob": json.dumps({"phone": "+46 70 123 45 67"}).encode()},
        {"id": 5, "note": "someone else, 070-123 45 68", "doc": {"n": 701234568}},
    ]
    empty = dict.fromkeys(c.name for c in probe.columns)
    with engine.begin() as connection:
        connection.execute(insert(probe), [empty | row for row in rows])
        if engine.dialect.name == "sqlite":
            # SQLite keeps text in a column of a type nobody knows.
            connection.execute(text(f"ALTER TABLE {probe.name} ADD COLUMN extra MYSTERY"))
            connection.execute(text(f"UPDATE {probe.name} SET extra = '0701234567' WHERE id = 1"))

    hits = {(h.where, h.row, h.needle.label) for h in scan_database(engine, [EMAIL, PHONE])}

    name = probe.name
    expected = {
        (f"{name}.note", "id=1", "email"),
        (f"{name}.label", "id=2", "phone"),
        (f"{name}.doc", "id=3", "email"),
        (f"{name}.blob", "id=4", "phone"),
    }
    if engine.dialect.name == "sqlite":
        expected.add((f"{name}.extra", "id=1", "phone"))
    assert hits == expected


def test_a_hit_says_where_it_is(engine: Engine, probe: Table) -> None:
    with engine.begin() as connection:
        connection.execute(insert(probe).values(id=42, note="planted.person@example.org"))
    (hit,) = scan_database(engine, [EMAIL])
    assert str(hit) == f"{probe.name}.note (id=42): email 'planted.person@example.org'"
    assert hit.table == probe.name


def test_an_empty_database_holds_nobody(engine: Engine) -> None:
    assert scan_database(engine, [EMAIL, PHONE]) == []
