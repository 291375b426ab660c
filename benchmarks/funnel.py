"""A three-step cross-channel funnel with windows over generated events (fixed seed):
the analytics engine beside the same funnel written by hand in DuckDB SQL, and the
webrooming report over the same data.

    PYTHONPATH=src python benchmarks/funnel.py [--events 10000000]
"""

import argparse
import time

from omnikanal.analytics import engine, funnels, journeys
from omnikanal.analytics.funnels import ChannelMode, Step

DAY = 86400

GENERATE = """
CREATE TABLE raw_events AS
SELECT i::VARCHAR AS event_id,
       'p' || (hash(i * 7 + 1) % $people)::VARCHAR AS profile_id,
       ['web', 'app', 'pos', 'email'][(1 + hash(i * 7 + 2) % 4)::BIGINT] AS channel,
       NULL::VARCHAR AS location,
       ['Product Viewed', 'Product Added', 'Checkout Started', 'Page Viewed']
           [(1 + hash(i * 7 + 3) % 4)::BIGINT] AS name,
       (TIMESTAMPTZ '2026-01-01 00:00:00+00'
           + to_seconds((hash(i * 7 + 4) % (90 * 86400))::BIGINT)) AS "timestamp",
       '{}' AS properties
FROM range($events) t(i)
"""

# The same funnel by hand: earliest-reachable touches per step with ASOF joins.
BY_HAND = """
WITH t AS (SELECT profile_id AS person, "timestamp"::TIMESTAMP AS ts, name FROM raw_events),
s1 AS (SELECT person, ts FROM t WHERE name = 'Product Viewed'),
s2 AS (
    SELECT m.person, m.ts FROM (SELECT person, ts FROM t WHERE name = 'Product Added') m
    ASOF JOIN s1 p ON m.person = p.person AND m.ts > p.ts
    WHERE epoch_us(m.ts) - epoch_us(p.ts) <= 604800000000),
s3 AS (
    SELECT m.person, m.ts FROM (SELECT person, ts FROM t WHERE name = 'Checkout Started') m
    ASOF JOIN s2 p ON m.person = p.person AND m.ts > p.ts
    WHERE epoch_us(m.ts) - epoch_us(p.ts) <= 86400000000)
SELECT (SELECT count(DISTINCT person) FROM s1), (SELECT count(DISTINCT person) FROM s2),
       (SELECT count(DISTINCT person) FROM s3)
"""

STEPS = [
    Step(event="Product Viewed"),
    Step(event="Product Added", within=7 * DAY),
    Step(event="Checkout Started", within=1 * DAY),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    hub = engine.Engine()
    hub.script("parquet_empty")
    hub.db.execute("DROP TABLE raw_events")
    hub.db.execute(GENERATE, {"events": args.events, "people": max(args.events // 20, 1)})
    hub.script("schema")
    print(f"{args.events:,} events generated and loaded in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    by_hand = hub.db.execute(BY_HAND).fetchone()
    hand_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = funnels.run(hub, STEPS, ChannelMode.ANY)
    engine_seconds = time.perf_counter() - started
    ours = tuple(s.reached for s in result.steps)
    print(f"people per step: engine {ours}, by hand {by_hand}")
    print(
        f"funnel: engine {engine_seconds:.2f} s, hand-written DuckDB SQL {hand_seconds:.2f} s, "
        f"ratio {engine_seconds / hand_seconds:.2f} (target <= 1.5)"
    )
    started = time.perf_counter()
    journeys.webrooming(hub)
    journeys.showrooming(hub)
    print(f"webrooming + showrooming: {time.perf_counter() - started:.2f} s (target < 10 s)")


if __name__ == "__main__":
    main()
