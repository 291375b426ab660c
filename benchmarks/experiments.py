"""Experiment assignment latency on a real server, and the statistics' simulations at scale.

**Assignment.** ``GET /v1/experiments/{key}/assignment`` of ``omnikanal serve --no-worker``
holding ``--profiles`` people (loaded through ``POST /v1/batch``), a running two-variant
experiment, and one keep-alive client with a channel's key asking sequentially: first a
person's first exposure (by ``user_id``, which records it), then the same people again (by
``user_id`` from the app's key: the recorded variant, which must be the same), then unknown
devices (by ``anonymous_id``). Every answer is checked. The reference, in the same run on
the same database, is the raw query that finds a recorded exposure. Target: p99 ≤ 5 ms.

**Simulations** (no server), seeded: ``--simulations`` A/A tests (false positives against
the nominal 5 %), the same A/A tests looked at every day for 30 days (naive test against
the always-valid interval), an injected effect found at the rate the power calculator
predicts, CUPED's variance ratio against 1 - rho^2, and store experiments' clustered
against naive false positives. Each figure is printed beside its reference, with the 99 %
binomial interval around it.

Run from the project root:

    .venv/bin/python benchmarks/experiments.py                      # both databases
    .venv/bin/python benchmarks/experiments.py --database sqlite --profiles 20000
    .venv/bin/python benchmarks/experiments.py --only simulations
"""

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import orjson

from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Batch,
    Database,
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
    running_server,
    selected_kinds,
    send_batches,
    upgrade,
    wait_until_resolved,
)
from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory
from omnikanal.experiments import service as experiments_service
from omnikanal.experiments import stats
from omnikanal.experiments.stats import Sample

TARGET_P99 = 0.005
BATCH_SIZE = 100
SEED = 20261130
KEY = "bench-offer"
REFERENCE_SQL = (
    "SELECT variant FROM experiment_exposure WHERE experiment_id = {p} AND profile_id = {p} "
    "ORDER BY exposed_at LIMIT 1"
)


# -- assignment over HTTP --


def identify_bodies(profiles: int) -> list[tuple[bytes, int]]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    bodies = []
    for start in range(0, profiles, BATCH_SIZE):
        batch = [
            {
                "type": "identify",
                "userId": f"u-{index:07d}",
                "messageId": f"identify-{index:07d}",
                "timestamp": now,
            }
            for index in range(start, min(start + BATCH_SIZE, profiles))
        ]
        bodies.append((orjson.dumps({"batch": batch, "sentAt": now}), len(batch)))
    return bodies


def timed(
    client: httpx.Client, who: Sequence[dict[str, str]], description: str, failures: list[str]
) -> tuple[list[float], list[dict[str, object]]]:
    latencies, answers = [], []
    with progress_bar() as progress:
        task = progress.add_task(description, total=len(who))
        for params in who:
            started = time.perf_counter()
            response = client.get(f"/v1/experiments/{KEY}/assignment", params=params)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(f"{params}: HTTP {response.status_code} {response.text[:200]}")
                answers.append({})
            else:
                answers.append(orjson.loads(response.content))
            progress.advance(task)
    return latencies, answers


def assignments(
    server: Server, web: str, app: str, marketer: str, people: int, count: int
) -> tuple[dict[str, list[float]], list[str], str]:
    failures: list[str] = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        made = client.post(
            "/v1/experiments",
            json={
                "key": KEY,
                "name": "Bench offer",
                "variants": [{"key": "a"}, {"key": "b"}],
            },
            headers={"Authorization": f"Bearer {marketer}"},
        )
        started = client.post(
            f"/v1/experiments/{KEY}/start", headers={"Authorization": f"Bearer {marketer}"}
        )
        if made.status_code != 201 or started.status_code != 200:
            raise RuntimeError(f"experiment not made: {made.text} {started.text}")
        experiment_id = str(made.json()["id"])
        rng = np.random.default_rng(SEED)
        chosen = rng.choice(people, size=min(count, people), replace=False)
        users = [{"user_id": f"u-{int(i):07d}"} for i in chosen]
        client.headers["Authorization"] = f"Bearer {web}"
        first, first_answers = timed(client, users, "first exposures (web)", failures)
        client.headers["Authorization"] = f"Bearer {app}"
        again, again_answers = timed(client, users, "the same people (app)", failures)
        devices = [{"anonymous_id": f"device-{n:07d}"} for n in range(len(users))]
        client.headers["Authorization"] = f"Bearer {web}"
        unknown, _ = timed(client, devices, "unknown devices (web)", failures)
        # The floor: an authenticated read of one row through the same edge.
        client.headers["Authorization"] = f"Bearer {marketer}"
        floor = []
        with progress_bar() as progress:
            task = progress.add_task("the floor: GET /v1/experiments/{key}", total=len(users))
            for _ in users:
                began = time.perf_counter()
                response = client.get(f"/v1/experiments/{KEY}")
                floor.append(time.perf_counter() - began)
                if response.status_code != 200:
                    failures.append(f"floor: HTTP {response.status_code}")
                progress.advance(task)
    for one, two in zip(first_answers, again_answers, strict=True):
        if not one.get("first_exposure") or two.get("first_exposure"):
            failures.append(f"first exposure recorded wrongly: {one} then {two}")
        if one.get("variant") != two.get("variant"):
            failures.append(f"variant changed between channels: {one} then {two}")
    timings = {"first": first, "again": again, "devices": unknown, "floor": floor}
    return timings, failures, experiment_id


def reference(database: Database, experiment_id: str, profile_ids: list[str]) -> list[float]:
    if database.kind == "sqlite":
        connection = connect_sqlite(database.sqlite_path())
        sql = REFERENCE_SQL.format(p="?")
        experiment = experiment_id.replace("-", "")
        ids = [p.replace("-", "") for p in profile_ids]
    else:
        connection = connect_postgres(database, autocommit=True)  # type: ignore[assignment]
        sql = REFERENCE_SQL.format(p="%s")
        experiment, ids = experiment_id, profile_ids
    latencies = []
    try:
        for profile in ids:
            started = time.perf_counter()
            connection.execute(sql, (experiment, profile)).fetchone()
            latencies.append(time.perf_counter() - started)
    finally:
        connection.close()
    return latencies


def in_process(database: Database, people: int, count: int) -> list[float]:
    """The repeated assignment of the same people through the service in this process (a
    read session each, as a GET has): what the answer costs without the HTTP edge."""
    settings = Settings(database_url=database.url)
    factory = make_session_factory(make_engine(database.url), read_only=True, settings=settings)
    rng = np.random.default_rng(SEED)
    chosen = rng.choice(people, size=min(count, people), replace=False)
    latencies = []
    for i in chosen:
        started = time.perf_counter()
        with factory() as session:
            found = experiments_service.assign(session, key=KEY, user_id=f"u-{int(i):07d}")
            session.rollback()
        latencies.append(time.perf_counter() - started)
        if found.first_exposure:
            raise RuntimeError(f"u-{int(i):07d} was not exposed over HTTP")
    return latencies


def exposed_profiles(database: Database) -> list[str]:
    sql = "SELECT profile_id FROM experiment_exposure WHERE profile_id IS NOT NULL"
    if database.kind == "sqlite":
        connection = connect_sqlite(database.sqlite_path())
        rows = connection.execute(sql).fetchall()
        connection.close()
        return [str(r[0]) for r in rows]
    with connect_postgres(database, autocommit=True) as pg:
        return [str(r[0]) for r in pg.execute(sql).fetchall()]


def run_on(database: Database, args: argparse.Namespace) -> bool:
    upgrade(database)
    write_key = create_source(database, "Web", "web")
    web = create_key(database, "channel", channel="web", name="web back end")
    app = create_key(database, "channel", channel="app", name="app back end")
    marketer = create_key(database, "marketer")
    with tempfile.TemporaryDirectory(prefix="omnikanal-bench-log-") as logs:
        with running_server(database, Path(logs)) as server:
            console.print(f"server pid {server.pid} at {server.base_url} ({database.kind})")
            batches = [
                Batch(basic_auth(write_key), body, size)
                for body, size in identify_bodies(args.profiles)
            ]
            loaded = send_batches(server, batches, clients=4, description="loading people")
            wait_until_resolved(database)
            console.print(f"loaded {loaded.stored:,} people in {loaded.elapsed:.1f} s")
            latencies, failures, experiment_id = assignments(
                server, web, app, marketer, args.profiles, args.assignments
            )
    raw = reference(database, experiment_id, exposed_profiles(database))
    alone = in_process(database, args.profiles, args.assignments)
    rows = []
    for label, values in (
        ("first exposure (records it)", latencies["first"]),
        ("again, another channel", latencies["again"]),
        ("unknown device (records it)", latencies["devices"]),
    ):
        p99 = percentile(values, 99)
        verdict = " [green]met[/green]" if p99 <= TARGET_P99 else " [red]missed[/red]"
        rows.append(
            (
                f"{label}: p50 / p99",
                f"{ms(percentile(values, 50))} / {ms(p99)}{verdict}",
                f"{ms(percentile(raw, 50))} / {ms(percentile(raw, 99))}",
            )
        )
    rows.append(
        (
            "the service alone, in process, again (p50 / p99)",
            f"{ms(percentile(alone, 50))} / {ms(percentile(alone, 99))}",
            "",
        )
    )
    floor = latencies["floor"]
    rows.append(
        (
            "floor: GET /v1/experiments/{key} (p50 / p99)",
            f"{ms(percentile(floor, 50))} / {ms(percentile(floor, 99))}",
            "",
        )
    )
    rows.append(("target p99", f"≤ {ms(TARGET_P99)}", ""))
    rows.append(("wrong answers", str(len(failures)), ""))
    print_table(
        f"Assignment on {database.kind}: {args.profiles:,} people, "
        f"{len(latencies['first']):,} sequential requests of each kind",
        rows,
        headers=("HTTP", "raw SQL (exposure look-up)"),
    )
    for failure in failures[:5]:
        console.print(f"[red]failure:[/red] {failure}")
    return not failures


# -- simulations --


def _within(count: int, trials: int, expected: float) -> str:
    low, high = stats.binomial_interval(count, trials)
    ok = low <= expected <= high
    mark = "[green]inside[/green]" if ok else "[red]outside[/red]"
    return f"{count / trials:.2%} ({low:.2%}–{high:.2%}, {mark})"


def simulations(n: int) -> None:
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    # A/A on a 10 % conversion rate, 2,000 a variant.
    positives = 0
    for _ in range(n):
        c, t = rng.binomial(1, 0.1, 2000), rng.binomial(1, 0.1, 2000)
        positives += stats.welch(Sample.of(c), Sample.of(t)).absolute.significant
    rows = [("A/A false positives (fixed horizon)", _within(positives, n, 0.05), "5.00 %")]
    # Daily peeking for 30 days, 100 units a variant a day.
    days, daily = 30, 100
    units = np.arange(1, days + 1) * daily
    naive = sequential = 0
    peeking = max(n // 5, 200)
    for _ in range(peeking):
        y = rng.normal(0, 1, (2, days * daily))
        sums, squares = y.cumsum(axis=1)[:, units - 1], (y * y).cumsum(axis=1)[:, units - 1]
        means = sums / units
        variances = (squares - units * means * means) / (units - 1)
        z = (means[1] - means[0]) / np.sqrt((variances[0] + variances[1]) / units)
        naive += bool((np.abs(z) > 1.96).any())
        for day in range(days):
            interval = stats.sequential(
                Sample(int(units[day]), float(means[0, day]), float(variances[0, day])),
                Sample(int(units[day]), float(means[1, day]), float(variances[1, day])),
                planned_n=2 * days * daily,
            )
            if not interval.low <= 0 <= interval.high:
                sequential += 1
                break
    rows.append(
        ("A/A looked at daily, naive t-test: ever significant", f"{naive / peeking:.2%}", "> 5 %")
    )
    rows.append(
        ("A/A looked at daily, always-valid interval", f"{sequential / peeking:.2%}", "≤ 5.00 %")
    )
    # Power: +2 points on 10 %, the planned sample.
    sd = math.sqrt((0.10 * 0.90 + 0.12 * 0.88) / 2)  # both arms' spread
    plan = stats.sample_size(effect=0.02, sd=sd)
    predicted = stats.power(effect=0.02, sd=sd, per_variant=plan.per_variant)
    found = 0
    for _ in range(n):
        c = rng.binomial(1, 0.10, plan.per_variant)
        t = rng.binomial(1, 0.12, plan.per_variant)
        found += stats.welch(Sample.of(c), Sample.of(t)).absolute.significant
    rows.append(
        (
            f"+2 points found at {plan.per_variant:,} a variant",
            _within(found, n, predicted),
            f"{predicted:.2%} predicted",
        )
    )
    # CUPED at rho = 0.6.
    rho = 0.6
    x = rng.normal(0, 1, 200_000)
    y = rho * x + math.sqrt(1 - rho * rho) * rng.normal(0, 1, 200_000)
    cuped = stats.cuped([y[:100_000], y[100_000:]], [x[:100_000], x[100_000:]])
    rows.append(("CUPED variance ratio (rho 0.6)", f"{cuped.variance_ratio:.4f}", "0.6400"))
    # Store experiments: 20 stores, 50 units each, store effects as large as the noise.
    clustered = naive_store = 0
    store_runs = max(n // 5, 200)
    for _ in range(store_runs):
        effect = rng.normal(0, 1, 20)
        yy = effect[:, None] + rng.normal(0, 1, (20, 50))
        ids = np.repeat(np.arange(20)[:, None], 50, axis=1)
        treated = np.arange(20) % 2 == 1
        result = stats.clustered(
            yy[~treated].ravel(), yy[treated].ravel(), ids[~treated].ravel(), ids[treated].ravel()
        )
        clustered += result.comparison.absolute.significant
        naive_store += stats.welch(
            Sample.of(yy[~treated].ravel()), Sample.of(yy[treated].ravel())
        ).absolute.significant
    rows.append(
        ("store A/A false positives, clustered", _within(clustered, store_runs, 0.05), "5.00 %")
    )
    rows.append(
        ("store A/A false positives, naive", f"{naive_store / store_runs:.2%}", "5 % if valid")
    )
    print_table(
        f"Simulations ({n:,} experiments; peeking and stores {peeking:,}), "
        f"{time.perf_counter() - started:.1f} s",
        rows,
        headers=("measured (99 % binomial interval)", "reference"),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="both")
    parser.add_argument("--profiles", type=int, default=50_000)
    parser.add_argument("--assignments", type=int, default=2_000, help="requests of each kind")
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--only", choices=("assignment", "simulations"), default=None)
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    ok = True
    if args.only != "simulations":
        for kind in selected_kinds(args.database, args.pg_url):
            with fresh_database(kind, args.pg_url) as database:
                ok = run_on(database, args) and ok
    if args.only != "assignment":
        simulations(args.simulations)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
