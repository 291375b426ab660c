"""Funnels, paths and attribution on a small history computed by hand (DuckDB only)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from omnikanal.analytics import engine, funnels, paths
from omnikanal.analytics.funnels import ChannelMode, Step

DAY = 86400
START = datetime(2026, 1, 1, tzinfo=UTC)


def _events(*rows: tuple[str, str, str, float]) -> pa.Table:
    """(person, channel, event, day)."""
    return pa.Table.from_pylist(
        [
            {
                "event_id": str(i),
                "profile_id": person,
                "channel": channel,
                "name": name,
                "timestamp": START + timedelta(days=day),
                "properties": "{}",
            }
            for i, (person, channel, name, day) in enumerate(rows)
        ],
        schema=engine.RAW_EVENTS,
    )


def _orders(*rows: tuple[str, str, str | None, float, int]) -> pa.Table:
    """(person, channel, store, day, total)."""
    found: list[dict[str, Any]] = [
        {
            "order_id": f"o{i}",
            "profile_id": person,
            "status": "completed",
            "channel": channel,
            "location": store,
            "fulfilment": "in_store" if store else "delivery",
            "total": total,
            "currency": "SEK",
            "placed_at": START + timedelta(days=day),
        }
        for i, (person, channel, store, day, total) in enumerate(rows)
    ]
    return pa.Table.from_pylist(found, schema=engine.RAW_ORDERS)


def _history() -> engine.Engine:
    events = _events(
        ("a", "web", "Product Viewed", 0),
        ("a", "web", "Checkout Started", 1),
        ("b", "app", "Product Viewed", 0),
        ("b", "web", "Checkout Started", 10),  # outside a 7-day window
        ("c", "web", "Product Viewed", 0),
        ("c2", "app", "Checkout Started", 2),  # c2 was merged into c
    )
    links = pa.Table.from_pylist(
        [{"profile_id": "c2", "merged_into": "c"}], schema=engine.MERGE_LINKS
    )
    orders = _orders(("a", "pos", "gbg", 3, 1000), ("c2", "web", None, 3, 500))
    return engine.from_tables(events=events, orders=orders, merge_links=links)


STEPS = [Step(event="Product Viewed"), Step(event="Checkout Started", within=7 * DAY)]


def _reached(result: funnels.FunnelResult) -> list[int]:
    return [s.reached for s in result.steps]


def test_modes_and_windows() -> None:
    history = _history()
    assert _reached(funnels.run(history, STEPS, ChannelMode.ANY)) == [3, 2]
    assert _reached(funnels.run(history, STEPS, ChannelMode.SAME)) == [3, 1]
    assert _reached(funnels.run(history, STEPS, ChannelMode.SWITCH)) == [3, 1]
    unlimited = [STEPS[0], Step(event="Checkout Started")]
    assert _reached(funnels.run(history, unlimited, ChannelMode.ANY)) == [3, 3]
    result = funnels.run(history, STEPS, ChannelMode.ANY)
    assert result.steps[1].median_seconds == 1.5 * DAY  # a: 1 day, c: 2 days
    assert result.stalled == ["b"]
    assert result.largest_drop == 2


def test_an_order_step_and_one_step_and_no_data() -> None:
    history = _history()
    till = [STEPS[0], Step(kind="order", channels=("pos",), within=7 * DAY)]
    result = funnels.run(history, till)
    assert _reached(result) == [3, 1]
    assert {b.key: b.completed for b in result.by_store} == {"gbg": 1, "(online only)": 0}
    assert _reached(funnels.run(history, [STEPS[0]])) == [3]
    empty = funnels.run(engine.from_tables(), STEPS)
    assert _reached(empty) == [0, 0]
    assert empty.overall is None
    assert empty.stalled == []


def test_paths_and_attribution() -> None:
    report = paths.paths(_history())
    by_path = {p.path: p for p in report.paths}
    assert by_path["web > store gbg"].converted == 1
    assert by_path["web > store gbg"].revenue == 1000
    assert by_path["web > app > web"].converted == 1  # c with c2's touches, merged
    credit = {c.touchpoint: c for c in report.attribution}
    assert credit["web"].first_touch == 2
    assert credit["web"].last_touch == 1
    assert credit["store gbg"].last_touch == 1
    # c's journey web > app > web: 40 % / 20 % / 40 %, so web 0.8 and app 0.2.
    assert credit["app"].position_based == 0.2
    assert abs(credit["web"].position_based - (0.5 + 0.8)) < 1e-9


def test_returns_and_staff_lookups_are_in_store_touches_for_showrooming() -> None:
    from omnikanal.analytics import journeys

    touches = pa.Table.from_pylist(
        [
            # d returned something in Göteborg 5 days before ordering online; e was looked
            # up by Stockholm's staff 20 days before; f2 (merged into f) 40 days before.
            {"kind": "return", "profile_id": "d", "location": "gbg", "at": START},
            {"kind": "lookup", "profile_id": "e", "location": "sthlm", "at": START},
            {"kind": "lookup", "profile_id": "f2", "location": "sthlm", "at": START},
        ],
        schema=engine.RAW_STORE_TOUCHES,
    )
    orders = _orders(
        ("d", "web", None, 5, 100), ("e", "app", None, 20, 100), ("f", "web", None, 40, 100)
    )
    links = pa.Table.from_pylist(
        [{"profile_id": "f2", "merged_into": "f"}], schema=engine.MERGE_LINKS
    )
    found = journeys.showrooming(
        engine.from_tables(orders=orders, store_touches=touches, merge_links=links)
    )
    assert found.overall.total == 3
    assert [r.count for r in found.overall.rates] == [1, 1, 2]
    assert {row.key: row.total for row in found.by["store"]} == {"gbg": 1, "sthlm": 2}
