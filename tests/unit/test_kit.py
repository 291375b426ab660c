import copy
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects import sqlite

from omnikanal.db import UTCDateTime
from omnikanal.errors import BadRequest
from omnikanal.kit.ids import new_id, new_ids
from omnikanal.kit.leases import retry_delay
from omnikanal.kit.pagination import decode_cursor, encode_cursor


def test_ids_are_time_ordered() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert ids[0].version == 7


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor("01a2-b")) == "01a2-b"
    with pytest.raises(BadRequest):
        decode_cursor("%%%not base64")


def test_retry_delay_doubles_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(30) == timedelta(hours=1)


def test_utc_type_rejects_naive_datetimes() -> None:
    column_type = UTCDateTime()
    dialect = sqlite.dialect()
    aware = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert column_type.process_bind_param(aware, dialect) == aware
    with pytest.raises(ValueError, match="naive"):
        column_type.process_bind_param(datetime(2026, 1, 1), dialect)  # noqa: DTZ001


@pytest.mark.parametrize(
    "stored",
    [
        "2026-01-01 12:00:00.000000",  # as SQLAlchemy writes it
        "2026-01-01 12:00:00",  # CURRENT_TIMESTAMP
        "2026-01-01T13:00:00+01:00",  # written with its offset
        "2026-01-01T12:00:00Z",
    ],
)
def test_utc_type_reads_sqlites_stored_text_as_utc(stored: str) -> None:
    dialect = sqlite.dialect()
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert read is not None
    value = read(stored)
    assert value == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)
    assert read(None) is None


def test_ids_made_in_one_millisecond_stay_in_order() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids[:10])


def test_ids_made_in_bulk_are_ordered_unique_and_before_the_next_one() -> None:
    before = new_id()
    ids = new_ids(10_000)  # more than one millisecond's 4,096 counter values
    after = new_id()
    assert [before, *ids, after] == sorted([before, *ids, after])
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    # The random part differs: ids are not guessable from their neighbours.
    assert len({i.int & 0x3FFF_FFFF_FFFF_FFFF for i in ids}) == len(ids)
    # Built without UUID's constructor, they are UUIDs in every way that matters.
    again = uuid.UUID(str(ids[0]))
    assert again == ids[0]
    assert {ids[0]: 1}[again] == 1
    assert copy.copy(ids[0]) == again
    assert new_ids(0) == []
