"""Satisfaction by store on a small history computed by hand (DuckDB only): a support
conversation names no store, so its answer counts for the store the person last bought in."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa  # type: ignore[import-untyped]

from omnikanal.analytics import engine, value

START = datetime(2026, 1, 1, tzinfo=UTC)


def _orders(*rows: tuple[str, str | None, int]) -> pa.Table:
    """(person, store or None for a delivery, day)."""
    return pa.Table.from_pylist(
        [
            {
                "order_id": f"o{i}",
                "profile_id": person,
                "status": "completed",
                "channel": "pos" if store else "web",
                "location": store,
                "fulfilment": "in_store" if store else "delivery",
                "total": 1000,
                "currency": "SEK",
                "placed_at": START + timedelta(days=day),
            }
            for i, (person, store, day) in enumerate(rows)
        ],
        schema=engine.RAW_ORDERS,
    )


def _answers(*rows: tuple[str, str, str | None, int, int]) -> pa.Table:
    """(kind, person, store named or None, score, day)."""
    return pa.Table.from_pylist(
        [
            {
                "kind": kind,
                "profile_id": person,
                "channel": "email",
                "location": store,
                "score": score,
                "at": START + timedelta(days=day),
            }
            for kind, person, store, score, day in rows
        ],
        schema=engine.RAW_SATISFACTION,
    )


def test_an_answer_counts_for_the_store_named_or_else_the_last_one_bought_in() -> None:
    history = engine.from_tables(
        orders=_orders(("a", "gbg", 1), ("a", "sthlm", 5), ("b", None, 1), ("c", "gbg", 9)),
        satisfaction=_answers(
            ("csat", "a", None, 5, 3),  # after buying in gbg, before sthlm
            ("csat", "a", None, 2, 7),  # after sthlm
            ("csat", "b", None, 4, 2),  # only a delivery: no store
            ("csat", "c", None, 1, 2),  # before c's first store purchase
            ("nps", "c", "sthlm", 9, 10),  # names its store
        ),
    )
    csat = {
        row.key: (row.answered, row.mean)
        for row in value.satisfaction(history, kind="csat", by="store")
    }
    assert csat == {"(none)": (2, 2.5), "gbg": (1, 5.0), "sthlm": (1, 2.0)}
    nps = value.satisfaction(history, kind="nps", by="store")
    assert [(row.key, row.answered) for row in nps] == [("sthlm", 1)]
