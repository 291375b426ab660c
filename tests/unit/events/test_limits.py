"""The limits ingestion checks agree with the columns and with kit.limits."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String

from omnikanal.customers.models import Identifier
from omnikanal.events import service
from omnikanal.events.models import Event
from omnikanal.events.schemas import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_ID_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    MAX_NAME_LENGTH,
    corrected_timestamp,
)
from omnikanal.kit.limits import MAX_JSON_DEPTH, json_problem


def column_length(model: Any, name: str) -> int | None:
    kind = model.__table__.c[name].type
    assert isinstance(kind, String)
    return kind.length


def test_string_limits_fit_their_columns() -> None:
    assert column_length(Event, "message_id") == MAX_MESSAGE_ID_LENGTH
    assert column_length(Event, "user_id") == MAX_ID_LENGTH
    assert column_length(Event, "anonymous_id") == MAX_ID_LENGTH
    assert column_length(Event, "name") == MAX_NAME_LENGTH
    assert (column_length(Identifier, "value") or 0) >= MAX_ID_LENGTH
    assert (column_length(Identifier, "added_by_message") or 0) >= MAX_MESSAGE_ID_LENGTH


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        (EARLIEST_TIME, LATEST_TIME),
        (LATEST_TIME, EARLIEST_TIME),
        (EARLIEST_TIME, EARLIEST_TIME),
        (LATEST_TIME, LATEST_TIME),
    ],
)
def test_the_skew_correction_never_overflows(timestamp: datetime, sent_at: datetime) -> None:
    for received_at in (EARLIEST_TIME, datetime.now(UTC), LATEST_TIME):
        corrected = corrected_timestamp(timestamp, sent_at, received_at)
        assert corrected is None or EARLIEST_TIME <= corrected <= LATEST_TIME


def test_the_skew_correction_is_segments() -> None:
    received = datetime(2026, 11, 30, 12, tzinfo=UTC)
    device = datetime(1970, 1, 1, tzinfo=UTC)
    assert corrected_timestamp(device, device + timedelta(seconds=10), received) == (
        received - timedelta(seconds=10)
    )
    assert corrected_timestamp(None, device, received) == received
    assert corrected_timestamp(device, None, received) == device


def nested(levels: int) -> Any:
    """Objects and lists in turn, ``levels`` deep."""
    value: Any = {}
    for level in range(levels - 1):
        value = [value] if level % 2 else {"a": value}
    return value


@pytest.mark.parametrize(
    "levels", [1, 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 300]
)
def test_the_quick_depth_check_agrees_with_kit_limits(levels: int) -> None:
    value = nested(levels)
    assert service._nests_deeper(value, MAX_JSON_DEPTH) == (json_problem(value) is not None)
