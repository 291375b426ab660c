"""Profile lookup by email at 200,000 profiles: ``GET /v1/profiles?email=...`` of a real server.

What it measures: the p50/p99/max latency of 2,000 sequential lookups by email, through
one keep-alive client with an agent's secret key, against ``omnikanal serve --no-worker``
holding 200,000 profiles, on SQLite and on PostgreSQL. The emails are existing ones
picked at random and written in varied case and whitespace (upper-cased, padded...), so
the server's normalization is exercised; every answer must hold exactly one profile whose
identifiers include the email (lower-cased), or the run fails. The reference, measured in
the same run on the same database, is the same lookup as one raw SQL query
(``SELECT profile_id FROM customer_identifier WHERE type='email' AND value=?``) with the
already-normalized email. The target is p99 ≤ 10 ms.

The profiles are loaded first through ``POST /v1/batch`` (one identify per profile with
its own userId and email, 100 per batch, 4 concurrent clients); the loading time is
printed too. 100 warm-up lookups are not counted.

Run from the project root:

    .venv/bin/python benchmarks/lookup.py                      # both databases
    .venv/bin/python benchmarks/lookup.py --database sqlite --profiles 20000
"""

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Batch,
    Database,
    SendResult,
    Server,
    basic_auth,
    connect_postgres,
    connect_sqlite,
    console,
    create_key,
    create_source,
    exit_cleanly_on_sigterm,
    fresh_database,
    ms,
    percentile,
    print_table,
    progress_bar,
    rate,
    running_server,
    selected_kinds,
    send_batches,
    upgrade,
    wait_until_resolved,
)

TARGET_P99 = 0.010
BATCH_SIZE = 100
SEED = 20261124
FIRST_NAMES = ("Anna", "Erik", "Maja", "Lars", "Sara", "Johan", "Elin", "Oskar", "Ida", "Nils")
LAST_NAMES = ("Lind", "Berg", "Nilsson", "Holm", "Ek", "Sandberg", "Falk", "Strand", "Wik")
# How a person might type their email into a till or a support form.
SPELLINGS: tuple[Callable[[str], str], ...] = (
    str.upper,
    lambda e: f"  {e}  ",
    lambda e: e.title(),
    lambda e: f"\t{e.upper()} ",
    str.swapcase,
    lambda e: e,
)
REFERENCE_SQL = "SELECT profile_id FROM customer_identifier WHERE type = 'email' AND value = {}"


# -- the profiles --


def email_of(index: int) -> str:
    first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
    return f"{first}.{last}.{index}@example.com".lower()


def identify_bodies(profiles: int) -> list[tuple[bytes, int]]:
    """One identify per profile (distinct userId and email), 100 a body, prebuilt."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    bodies = []
    for start in range(0, profiles, BATCH_SIZE):
        batch = [
            {
                "type": "identify",
                "userId": f"u-{index:07d}",
                "traits": {"email": email_of(index), "name": f"Customer {index}"},
                "messageId": f"identify-{index:07d}",
                "timestamp": now,
            }
            for index in range(start, min(start + BATCH_SIZE, profiles))
        ]
        bodies.append((orjson.dumps({"batch": batch, "sentAt": now}), len(batch)))
    return bodies


def load_profiles(
    server: Server, write_key: str, bodies: Sequence[tuple[bytes, int]], clients: int
) -> SendResult:
    authorization = basic_auth(write_key)
    batches = [Batch(authorization, body, size) for body, size in bodies]
    return send_batches(server, batches, clients=clients, description="loading profiles")


# -- the lookups --


@dataclass
class Lookups:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def pick_emails(profiles: int, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(as typed, as stored) for ``count`` random existing profiles."""
    picked = []
    for n in range(count):
        email = email_of(rng.randrange(profiles))
        picked.append((SPELLINGS[n % len(SPELLINGS)](email), email))
    return picked


def _verify(response: httpx.Response, email: str) -> str | None:
    """Why the answer is wrong, or None."""
    if response.status_code != 200:
        return f"{email}: HTTP {response.status_code} {response.text[:200]}"
    items = orjson.loads(response.content)["items"]
    if len(items) != 1:
        return f"{email}: {len(items)} profiles"
    found = {(i["type"], i["value"]) for i in items[0]["identifiers"]}
    return None if ("email", email) in found else f"{email}: not among {sorted(found)[:4]}"


def http_lookups(
    server: Server, secret_key: str, emails: Sequence[tuple[str, str]], warmup: int
) -> Lookups:
    """Sequential lookups with one keep-alive client; the first ``warmup`` are not timed."""
    result = Lookups()
    headers = {"Authorization": f"Bearer {secret_key}"}
    with (
        httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client,
        progress_bar() as progress,
    ):
        task = progress.add_task("lookups over HTTP", total=len(emails))
        for n, (typed, stored) in enumerate(emails):
            started = time.perf_counter()
            response = client.get("/v1/profiles", params={"email": typed})
            elapsed = time.perf_counter() - started
            failure = _verify(response, stored)
            if failure:
                result.failures.append(failure)
            elif n >= warmup:
                result.latencies.append(elapsed)
            progress.advance(task)
    return result


def sql_lookups(database: Database, emails: Sequence[tuple[str, str]], warmup: int) -> Lookups:
    """The same lookups as one raw query each, with the stored (normalized) email."""
    result = Lookups()
    if database.kind == "sqlite":
        connection: Any = connect_sqlite(database.sqlite_path())
        query = REFERENCE_SQL.format("?")
    else:
        connection = connect_postgres(database, autocommit=True)
        query = REFERENCE_SQL.format("%s")
    try:
        with progress_bar() as progress:
            task = progress.add_task("lookups in raw SQL", total=len(emails))
            for n, (_, stored) in enumerate(emails):
                started = time.perf_counter()
                row = connection.execute(query, (stored,)).fetchone()
                elapsed = time.perf_counter() - started
                if row is None:
                    result.failures.append(f"{stored}: no row")
                elif n >= warmup:
                    result.latencies.append(elapsed)
                progress.advance(task)
    finally:
        connection.close()
    return result


# -- one run --


def run_on(
    database: Database, args: argparse.Namespace, bodies: Sequence[tuple[bytes, int]]
) -> bool:
    """Load the profiles on a fresh database, look them up, then run the reference query."""
    upgrade(database)
    write_key = create_source(database, "Web", "web")
    secret_key = create_key(database, "agent")
    emails = pick_emails(args.profiles, args.warmup + args.lookups, random.Random(SEED))
    with tempfile.TemporaryDirectory(prefix="omnikanal-bench-log-") as logs:
        with running_server(database, Path(logs)) as server:
            console.print(f"server pid {server.pid} at {server.base_url} ({database.kind})")
            loaded = load_profiles(server, write_key, bodies, args.load_clients)
            resolved_in = wait_until_resolved(database)
            console.print(
                f"loaded {loaded.stored:,} profiles in {loaded.elapsed:.1f} s "
                f"({rate(loaded.stored, loaded.elapsed)}, {len(loaded.failures)} failures), "
                f"resolved {resolved_in:.1f} s after the last answer"
            )
            over_http = http_lookups(server, secret_key, emails, args.warmup)
    in_sql = sql_lookups(database, emails, args.warmup)
    report(database, args, loaded, over_http, in_sql)
    return not (loaded.failures or over_http.failures or in_sql.failures)


def report(
    database: Database,
    args: argparse.Namespace,
    loaded: SendResult,
    over_http: Lookups,
    in_sql: Lookups,
) -> None:
    p99 = percentile(over_http.latencies, 99)
    verdict = " [green]met[/green]" if p99 <= TARGET_P99 else " [red]missed[/red]"
    http, sql = over_http.latencies, in_sql.latencies
    print_table(
        f"Lookup by email on {database.kind}: {args.profiles:,} profiles, "
        f"{len(http):,} timed sequential lookups",
        [
            ("p50 GET /v1/profiles?email=", ms(percentile(http, 50)), ms(percentile(sql, 50))),
            ("p99", ms(p99) + verdict, ms(percentile(sql, 99))),
            ("max", ms(max(http, default=float("nan"))), ms(max(sql, default=float("nan")))),
            ("target p99", f"≤ {ms(TARGET_P99)}", ""),
            ("wrong answers", str(len(over_http.failures)), str(len(in_sql.failures))),
            (
                "loading (identify batches)",
                f"{loaded.elapsed:.1f} s, {rate(loaded.stored, loaded.elapsed)}",
                "",
            ),
        ],
        headers=("HTTP", "raw SQL"),
    )
    for failure in (loaded.failures + over_http.failures + in_sql.failures)[:5]:
        console.print(f"[red]failure:[/red] {failure}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="both")
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=2_000, help="timed lookups")
    parser.add_argument("--warmup", type=int, default=100, help="untimed lookups first")
    parser.add_argument(
        "--load-clients", type=int, default=4, help="concurrent clients while loading"
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    kinds = selected_kinds(args.database, args.pg_url)
    started = time.perf_counter()
    bodies = identify_bodies(args.profiles)
    console.print(
        f"built {args.profiles:,} identifies into {len(bodies):,} bodies "
        f"in {time.perf_counter() - started:.1f} s"
    )
    ok = True
    for kind in kinds:
        with fresh_database(kind, args.pg_url) as database:
            ok = run_on(database, args, bodies) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
