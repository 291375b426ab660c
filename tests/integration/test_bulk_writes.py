"""``db.execute_stored``: bulk rows straight to the driver, on both databases."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.db import STORED_MIN_ROWS, execute_stored
from omnikanal.uow import unit_of_work

ROWS = STORED_MIN_ROWS * 3

scratch = Table(
    "test_bulk_scratch",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
)


@pytest.fixture
def table(session_factory: sessionmaker[Session]) -> Iterator[Table]:
    engine = session_factory.kw["bind"]
    scratch.create(engine)
    try:
        yield scratch
    finally:
        scratch.drop(engine)


def rows(start: int) -> list[dict[str, object]]:
    return [{"id": n, "name": f"row {n}"} for n in range(start, start + ROWS)]


def prepare_threshold(session: Session) -> object:
    """psycopg's setting for this connection (None: never prepared); sqlite3 has none."""
    driver = session.connection().connection.driver_connection
    return getattr(driver, "prepare_threshold", None)


def prepared_inserts(session: Session) -> int:
    query = text(
        "SELECT count(*) FROM pg_prepared_statements "
        "WHERE statement LIKE 'INSERT INTO test_bulk_scratch%'"
    )
    return int(session.scalar(query) or 0)


def test_bulk_rows_land_in_batch_after_batch_and_after_a_failed_one(
    session_factory: sessionmaker[Session], table: Table
) -> None:
    with unit_of_work(session_factory) as session:
        execute_stored(session, insert(table), rows(0))
        if session.get_bind().dialect.name == "postgresql":
            # Parsed and planned once for all its rows, not once a row.
            assert prepared_inserts(session) == 1
        # Prepared for the bulk statement only: look-ups stay unprepared.
        assert prepare_threshold(session) is None
    with pytest.raises(IntegrityError), unit_of_work(session_factory) as session:
        execute_stored(session, insert(table), rows(ROWS - 1))  # its first row exists
    with unit_of_work(session_factory) as session:
        execute_stored(session, insert(table), rows(ROWS))  # the same statement, again
        assert prepare_threshold(session) is None
    with session_factory() as session:
        names = session.scalars(select(table.c.name).order_by(table.c.id)).all()
        assert names == [f"row {n}" for n in range(2 * ROWS)]
        assert session.scalar(select(func.count()).select_from(table)) == 2 * ROWS
