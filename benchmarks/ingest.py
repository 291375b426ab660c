"""Ingestion throughput: Segment-style batches through ``POST /v1/batch`` of a real server.

What it measures: 200,000 events (identify, track and page, from 20,000 people on three
channels: web, app, and a store's tills) sent as 100-message batches by 8 concurrent
keep-alive clients to ``omnikanal serve --no-worker``, on SQLite and on PostgreSQL. It
prints events/s and the p50/p99 batch latency (send to answer) beside the floor measured
in the same run on the same database: the same event rows inserted raw, 100 rows per
transaction, into a scratch table with ``events_event``'s columns and indexes
(SQLite: sqlite3 ``executemany``; PostgreSQL: psycopg 3 ``executemany``, which pipelines).
The target is at least 20,000 events/s on SQLite.

All request bodies are built (orjson) before the clock starts, with a fixed seed, so the
client costs little CPU on a machine it shares with the server. Every answer is checked
(``stored + duplicates == received``, nothing rejected); any failure exits non-zero.

Run from the project root:

    .venv/bin/python benchmarks/ingest.py                      # both databases
    .venv/bin/python benchmarks/ingest.py --database sqlite --events 50000
"""

import argparse
import contextlib
import math
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Batch,
    Database,
    SendResult,
    basic_auth,
    connect_postgres,
    connect_sqlite,
    console,
    create_source,
    exit_cleanly_on_sigterm,
    fetch,
    fresh_database,
    inbox_lag,
    ms,
    percentile,
    print_table,
    progress_bar,
    running_server,
    running_worker,
    selected_kinds,
    send_batches,
    upgrade,
)
from omnikanal.kit.ids import new_id

TARGET_SQLITE = 20_000
TARGET_POSTGRES = 15_000  # with --workers 2
TARGET_P99_SECONDS = 0.100
TARGET_RESOLVER_SQLITE = 15_000
# How long the resolver may take to empty the inbox after the last answer.
DRAIN_TIMEOUT = 900.0
BATCH_SIZE = 100
SEED = 20261123
CHANNELS = ("web", "app", "pos")
STORE = "sthlm"
# Which channels a person uses, and how many people use each combination.
CHANNEL_MIXES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("web",), 35),
    (("web", "app"), 25),
    (("web", "pos"), 15),
    (("app",), 5),
    (("pos",), 5),
    (("app", "pos"), 5),
    (("web", "app", "pos"), 10),
)
CATEGORIES = ("Coats", "Knitwear", "Shoes", "Trousers", "Shirts", "Accessories", "Sale", "New In")
TRACKED = (
    ("Product Viewed", 50),
    ("Product Added", 20),
    ("Products Searched", 15),
    ("Checkout Started", 8),
    ("Order Completed", 7),
)
FIRST_NAMES = ("Anna", "Erik", "Maja", "Lars", "Sara", "Johan", "Elin", "Oskar", "Ida", "Nils")
LAST_NAMES = ("Lind", "Berg", "Nilsson", "Holm", "Ek", "Sandberg", "Falk", "Strand", "Wik")


# -- the people and their events --


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    name: str
    loyalty_card: str | None
    devices: dict[str, str]  # channel -> the anonymous id of their device there
    profile_id: uuid.UUID  # for the floor's rows only


@dataclass(frozen=True)
class Message:
    """One message as sent, with what the floor's row needs to know about it."""

    channel: str
    raw: dict[str, Any]
    person: Person


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def make_people(count: int, rng: random.Random) -> list[Person]:
    mixes = [mix for mix, _ in CHANNEL_MIXES]
    weights = [weight for _, weight in CHANNEL_MIXES]
    people = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        channels = rng.choices(mixes, weights)[0]
        card = f"7{index:09d}" if "pos" in channels and rng.random() < 0.9 else None
        people.append(
            Person(
                user_id=f"u-{index:06d}",
                email=f"{first}.{last}{index}@example.com".lower(),
                name=f"{first} {last}",
                loyalty_card=card,
                devices={channel: f"a-{_uuid(rng)}" for channel in channels},
                profile_id=_uuid(rng),
            )
        )
    return people


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message(person: Person, channel: str, rng: random.Random) -> dict[str, Any]:
    """An identify now and then, else what the channel mostly sends: pages and tracks."""
    device = person.devices[channel]
    if rng.random() < 0.06:
        raw: dict[str, Any] = {
            "type": "identify",
            "userId": person.user_id,
            "anonymousId": device,
            "traits": {"email": person.email, "name": person.name},
        }
    elif channel == "pos":
        raw = {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": device,
            "properties": {
                "order_id": f"T-{rng.getrandbits(40):010x}",
                "total": rng.randrange(99, 4999),
                "currency": "SEK",
                "store": STORE,
            },
        }
    elif rng.random() < 0.45:
        category = rng.choice(CATEGORIES)
        raw = {
            "type": "page",
            "name": category,
            "anonymousId": device,
            "properties": {"path": f"/c/{category.lower().replace(' ', '-')}", "title": category},
        }
    else:
        event = rng.choices([e for e, _ in TRACKED], [w for _, w in TRACKED])[0]
        raw = {
            "type": "track",
            "event": event,
            "anonymousId": device,
            "properties": {
                "sku": f"SKU-{rng.randrange(5000):05d}",
                "price": rng.randrange(99, 2999),
                "currency": "SEK",
            },
        }
    if channel == "pos" and person.loyalty_card:
        raw["context"] = {"traits": {"loyalty_card": person.loyalty_card}}
    elif channel == "app":
        raw["context"] = {"app": {"name": "omnikanal-shop", "version": "4.2.0"}}
    return raw


def make_messages(events: int, people: Sequence[Person], rng: random.Random) -> list[Message]:
    """``events`` messages in time order over the last 30 days; some people are busier."""
    activity = [rng.lognormvariate(0, 1) for _ in people]
    senders = rng.choices(people, weights=activity, k=events)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(events, 1)
    messages = []
    for index, person in enumerate(senders):
        channel = rng.choice(list(person.devices))
        raw = _message(person, channel, rng)
        raw["messageId"] = f"m-{index:07d}-{rng.getrandbits(32):08x}"
        raw["timestamp"] = _iso(start + step * index)
        messages.append(Message(channel, raw, person))
    return messages


def make_batches(messages: Sequence[Message], sent_at: str) -> list[tuple[str, bytes, int]]:
    """100-message bodies per channel (a write key speaks for one channel), interleaved in
    time order, as (channel, body, number of messages)."""
    by_channel: dict[str, list[tuple[int, dict[str, Any]]]] = {c: [] for c in CHANNELS}
    for index, message in enumerate(messages):
        by_channel[message.channel].append((index, message.raw))
    chunks: list[tuple[int, str, list[dict[str, Any]]]] = []
    for channel, items in by_channel.items():
        for at in range(0, len(items), BATCH_SIZE):
            chunk = items[at : at + BATCH_SIZE]
            chunks.append((chunk[0][0], channel, [raw for _, raw in chunk]))
    chunks.sort(key=lambda c: c[0])
    return [
        (channel, orjson.dumps({"batch": batch, "sentAt": sent_at}), len(batch))
        for _, channel, batch in chunks
    ]


# -- the floor: the same rows, inserted raw --


@dataclass(frozen=True)
class Workload:
    messages: list[Message]
    bodies: list[tuple[str, bytes, int]]
    sent_at: datetime
    source_ids: dict[str, uuid.UUID]


def event_rows(workload: Workload) -> Iterator[dict[str, Any]]:
    """The rows ``events_event`` gets for the workload's messages (as Python values)."""
    received_at = datetime.now(UTC)
    for message in workload.messages:
        raw = message.raw
        yield {
            "id": new_id(),
            "source_id": workload.source_ids[message.channel],
            "channel": message.channel,
            "location": STORE if message.channel == "pos" else None,
            "type": raw["type"],
            "name": raw.get("event") or raw.get("name"),
            "message_id": raw["messageId"],
            "profile_id": message.person.profile_id,
            "anchor_id": message.person.profile_id,
            "user_id": raw.get("userId"),
            "anonymous_id": raw.get("anonymousId"),
            "timestamp": datetime.fromisoformat(raw["timestamp"]),
            "sent_at": workload.sent_at,
            "received_at": received_at,
            "message": orjson.dumps(raw).decode(),
        }


COLUMNS = (
    "id",
    "source_id",
    "channel",
    "location",
    "type",
    "name",
    "message_id",
    "profile_id",
    "anchor_id",
    "user_id",
    "anonymous_id",
    "timestamp",
    "sent_at",
    "received_at",
    "message",
)
SCRATCH = "bench_floor_event"


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them on SQLite: UUIDs as 32 hex digits, times as naive UTC text.
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _chunks(rows: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    for at in range(0, len(rows), BATCH_SIZE):
        yield rows[at : at + BATCH_SIZE]


def _timed_inserts(
    rows: Sequence[tuple[Any, ...]], insert: Callable[[Sequence[tuple[Any, ...]]], None]
) -> float:
    with progress_bar() as progress:
        task = progress.add_task("floor: raw insert", total=len(rows))
        started = time.perf_counter()
        for chunk in _chunks(rows):
            insert(chunk)
            progress.advance(task, len(chunk))
        return time.perf_counter() - started


def sqlite_floor(database: Database, workload: Workload) -> float:
    """Seconds to insert the rows with sqlite3 executemany, one transaction per 100 rows."""
    connection = connect_sqlite(database.sqlite_path())
    schema = connection.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'events_event' AND sql IS NOT NULL"
    ).fetchall()
    for (statement,) in schema:
        connection.execute(statement.replace("events_event", SCRATCH))
    rows = [tuple(_sqlite_value(row[c]) for c in COLUMNS) for row in event_rows(workload)]
    sql = f"INSERT INTO {SCRATCH} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def insert(chunk: Sequence[tuple[Any, ...]]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, chunk)
        connection.execute("COMMIT")

    try:
        return _timed_inserts(rows, insert)
    finally:
        connection.close()


def postgres_floor(database: Database, workload: Workload) -> float:
    """Seconds to insert the rows with psycopg executemany, one transaction per 100 rows."""
    with connect_postgres(database, autocommit=True) as connection:
        connection.execute(f"CREATE TABLE {SCRATCH} (LIKE events_event INCLUDING ALL)")
        rows = [tuple(row[c] for c in COLUMNS) for row in event_rows(workload)]
        values = ", ".join("%s::jsonb" if c == "message" else "%s" for c in COLUMNS)
        sql = f"INSERT INTO {SCRATCH} ({', '.join(COLUMNS)}) VALUES ({values})"

        def insert(chunk: Sequence[tuple[Any, ...]]) -> None:
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(sql, chunk)

        return _timed_inserts(rows, insert)


def stored_events(database: Database) -> int:
    ((count,),) = fetch(database, "SELECT count(*) FROM events_event")
    return int(count)


# -- resolution behind the answers --


@dataclass
class LagSamples:
    """The resolver's lag, sampled every ``interval`` seconds from the start of ingestion
    until the inbox is empty."""

    interval: float = 0.25
    messages: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    started: float = 0.0
    acknowledged_at: float = 0.0  # the last answer
    backlog_at_ack: int = 0
    drained_at: float = math.nan

    def run(self, database: Database, stop: threading.Event) -> None:
        self.started = time.perf_counter()
        while True:
            waiting, waited = inbox_lag(database)
            self.messages.append(waiting)
            self.seconds.append(waited)
            if stop.is_set() and waiting == 0:
                self.drained_at = time.perf_counter()
                return
            if stop.is_set() and time.perf_counter() - self.acknowledged_at > DRAIN_TIMEOUT:
                return
            time.sleep(self.interval)

    def acknowledged(self, database: Database) -> None:
        self.acknowledged_at = time.perf_counter()
        self.backlog_at_ack = inbox_lag(database)[0]


def sample_lag_while(
    database: Database, ingest: Callable[[], SendResult]
) -> tuple[SendResult, LagSamples]:
    """Run ``ingest`` while sampling the lag; return once the resolver has emptied the inbox."""
    samples = LagSamples()
    stop = threading.Event()
    sampler = threading.Thread(target=samples.run, args=(database, stop), daemon=True)
    sampler.start()
    try:
        result = ingest()
        samples.acknowledged(database)
    finally:
        stop.set()
    with progress_bar() as progress:
        task = progress.add_task("resolver: emptying the inbox", total=None)
        while sampler.is_alive():
            sampler.join(timeout=0.5)
            progress.update(task, description=f"resolver: {samples.messages[-1]:,} waiting")
    return result, samples


# -- one run --


def run_on(database: Database, workload: Workload, run: "Run") -> bool:
    """Ingest the workload on a fresh database, wait for the resolver to place every
    message, then measure the floor; prints a table."""
    clients, workers, rate = run.clients, run.workers, run.rate
    upgrade(database)
    keys = {
        "web": create_source(database, "Web", "web"),
        "app": create_source(database, "App", "app"),
        "pos": create_source(database, "Tills Stockholm", "pos", STORE),
    }
    batches = [Batch(basic_auth(keys[c]), body, n) for c, body, n in workload.bodies]
    with tempfile.TemporaryDirectory(prefix="omnikanal-bench-log-") as logs:
        separate = run.resolver == "worker"
        with (
            running_server(database, Path(logs), workers=workers, resolver=not separate) as server,
            running_worker(database, Path(logs)) if separate else contextlib.nullcontext(),
        ):
            console.print(
                f"server pid {server.pid} at {server.base_url} ({database.kind}, "
                f"{workers} API process{'es' if workers > 1 else ''}, resolver: "
                f"{'omnikanal worker' if separate else 'in the API process'})"
            )
            result, lag = sample_lag_while(
                database,
                lambda: send_batches(
                    server,
                    batches,
                    clients=clients,
                    description=f"ingest ({database.kind})",
                    rate=rate,
                ),
            )
            server.print_errors()
    stored = stored_events(database)
    floor = sqlite_floor if database.kind == "sqlite" else postgres_floor
    floor_seconds = floor(database, workload)
    report(run, workload, result, lag, floor_seconds, stored)
    return not result.failures and stored == len(workload.messages)


@dataclass(frozen=True)
class Run:
    kind: str
    clients: int
    workers: int
    rate: float | None
    resolver: str  # "worker": an omnikanal worker process; "inline": the API process


def _verdict(value: float, target: float, *, at_most: bool = False) -> str:
    met = value <= target if at_most else value >= target
    return " [green]met[/green]" if met else " [red]missed[/red]"


def report(
    run: Run,
    workload: Workload,
    result: SendResult,
    lag: LagSamples,
    floor_seconds: float,
    stored_rows: int,
) -> None:
    events = len(workload.messages)
    ingest_rate = result.messages_per_second
    floor_rate = events / floor_seconds
    how = "sqlite3" if run.kind == "sqlite" else "psycopg"
    target = TARGET_SQLITE if run.kind == "sqlite" else TARGET_POSTGRES
    target_note = f"target ≥ {target:,}/s" + ("" if run.kind == "sqlite" else " (--workers 2)")
    p99 = percentile(result.latencies, 99)
    resolved_seconds = lag.drained_at - lag.started
    resolved_rate = events / resolved_seconds
    catch_up = lag.drained_at - lag.acknowledged_at
    catch_up_rate = lag.backlog_at_ack / catch_up if lag.backlog_at_ack and catch_up > 0 else None
    resolver_note = (
        f"target ≥ {TARGET_RESOLVER_SQLITE:,}/s" if run.kind == "sqlite" else "(no target set)"
    )
    resolver_verdict = (
        _verdict(resolved_rate, TARGET_RESOLVER_SQLITE) if run.kind == "sqlite" else ""
    )
    paced = f", paced at {run.rate:,.0f}/s" if run.rate else ""
    print_table(
        f"Ingest on {run.kind}: {events:,} events, {len(workload.bodies):,} batches of "
        f"≤{BATCH_SIZE}, {run.clients} clients, {run.workers} API process(es), resolver "
        f"{'in an omnikanal worker' if run.resolver == 'worker' else 'in the API process'}"
        f"{paced}",
        [
            (
                "acknowledged events/s (POST /v1/batch)",
                f"{ingest_rate:,.0f}{_verdict(ingest_rate, target)}",
                target_note,
            ),
            (
                "floor: raw insert rows/s",
                f"{floor_rate:,.0f}",
                f"{how} executemany, {BATCH_SIZE}-row txns, events_event's indexes",
            ),
            ("acknowledged / floor", f"{ingest_rate / floor_rate:.1%}", "100% = raw insert speed"),
            ("p50 batch latency", ms(percentile(result.latencies, 50)), ""),
            (
                "p99 batch latency",
                ms(p99) + _verdict(p99, TARGET_P99_SECONDS, at_most=True),
                f"target ≤ {ms(TARGET_P99_SECONDS)}",
            ),
            ("max batch latency", ms(max(result.latencies, default=float("nan"))), ""),
            (
                "resolved events/s (all placed)",
                f"{resolved_rate:,.0f}{resolver_verdict}",
                f"{resolver_note}; first send to an empty inbox",
            ),
            (
                "resolver catch-up after the last answer",
                f"{catch_up:.1f} s for {lag.backlog_at_ack:,}"
                + (f" ({catch_up_rate:,.0f}/s)" if catch_up_rate else ""),
                "the backlog left when ingestion stopped",
            ),
            (
                "lag p50 / p99 / max (events)",
                " / ".join(f"{percentile(lag.messages, p):,.0f}" for p in (50, 99, 100)),
                f"sampled every {lag.interval} s",
            ),
            (
                "lag p50 / p99 / max (seconds)",
                " / ".join(f"{percentile(lag.seconds, p):.1f}" for p in (50, 99, 100)),
                "how long the oldest waiting event had waited",
            ),
            ("wall time", f"{result.elapsed:.1f} s", f"floor {floor_seconds:.1f} s"),
            ("server CPU (mean)", f"{result.server_cpu:.0%} of a core", "machine: 2 cores"),
            (
                "stored / duplicates",
                f"{result.stored:,} / {result.duplicates:,}",
                f"{stored_rows:,} rows in events_event after resolution",
            ),
            ("failed requests", f"{len(result.failures)}", "expected 0"),
        ],
    )
    for failure in result.failures[:5]:
        console.print(f"[red]failure:[/red] {failure}")


def build_workload(events: int, people: int) -> Workload:
    started = time.perf_counter()
    rng = random.Random(SEED)
    everyone = make_people(people, rng)
    messages = make_messages(events, everyone, rng)
    sent_at = datetime.now(UTC)
    bodies = make_batches(messages, _iso(sent_at))
    source_ids = {channel: _uuid(rng) for channel in CHANNELS}
    size = sum(len(body) for _, body, _ in bodies)
    console.print(
        f"built {len(messages):,} messages from {people:,} people into {len(bodies):,} bodies "
        f"({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
    )
    return Workload(messages, bodies, sent_at, source_ids)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="both")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--workers", type=int, default=1, help="API processes (omnikanal serve --workers)"
    )
    parser.add_argument(
        "--resolver",
        choices=("worker", "inline"),
        default="worker",
        help="where the resolver runs: an `omnikanal worker` process beside the API (as in "
        "production), or inside the API process (as `make run` does)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="send at most this many events/s (a sustained load, to watch the resolver's lag)",
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    kinds = selected_kinds(args.database, args.pg_url)
    workload = build_workload(args.events, args.people)
    ok = True
    for kind in kinds:
        with fresh_database(kind, args.pg_url) as database:
            run = Run(kind, args.clients, args.workers, args.rate, args.resolver)
            ok = run_on(database, workload, run) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
