"""Journey analytics on real data: the H&M sample (store and online purchases of 1,364
customers over two years) and the REES46 clickstream slice (views, baskets and purchases
in one online store over three hours), loaded into a fresh hub and analysed there.

    PYTHONPATH=src python benchmarks/analytics_real.py \\
        [--data ../shared/data] [--out docs/analytics]

H&M's products and orders come in through the imports (``omnikanal import products`` and
``omnikanal import orders``, as a retailer's history would); REES46's events through the
hub's ingestion (a web source, history timestamps kept), its purchases as web orders
through the orders import, named by the same ``user_id``. The figures are printed as
Markdown (docs/analytics.md holds them) and the charts written as SVG files.

The data sets are for evaluation only (see their SOURCE.md): nothing of them is kept.
"""

import argparse
import csv
import gzip
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from omnikanal import migrate
from omnikanal.analytics import charts, funnels, journeys, paths, service, value
from omnikanal.analytics.charts import Bar, Series
from omnikanal.analytics.funnels import ChannelMode, Step
from omnikanal.auth import service as auth_service
from omnikanal.auth.models import Channel
from omnikanal.auth.service import SourceActor
from omnikanal.db import make_engine, make_session_factory
from omnikanal.events import service as events_service
from omnikanal.inventory import service as inventory_service
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from omnikanal.wiring import build_registry

STORE = "hm-store"
# H&M's prices are normalised (about 0.0-0.6); times 1000 they read as a price. The hub
# needs a currency: SEK stands for "H&M's unit" here, not for crowns.
HM_PRICE = 1000
HM_CHANNELS = {"1": "pos", "2": "web"}
REES46_EVENTS = {"view": "Product Viewed", "cart": "Product Added", "purchase": "Order Completed"}


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        yield from csv.DictReader(file)


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _import(kind: str, file: Path, env: dict[str, str], *extra: str) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "omnikanal", "import", kind, str(file), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"import {kind} failed:\n{done.stdout}\n{done.stderr}")
    print(f"  import {kind}: {time.perf_counter() - started:.0f} s", file=sys.stderr)


# -- H&M --


def hm_files(data: Path, work: Path) -> tuple[Path, Path]:
    """The products (every article bought; named and grouped where the partial article
    table knows it) and the orders: one per customer, day and channel (the data has no
    order id; H&M's own suggestion for a visit), a line per article with its units."""
    articles = {
        r["article_id"]: (r["prod_name"], r["product_group_name"])
        for r in _rows(data / "articles_partial.csv.gz")
    }
    lines: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(dict)
    for r in _rows(data / "transactions_sample.csv.gz"):
        key = (r["customer_id"], r["t_dat"], HM_CHANNELS[r["sales_channel_id"]])
        lines[key].setdefault(r["article_id"], []).append(float(r["price"]))
    bought = sorted({a for per in lines.values() for a in per})
    products = _write(
        work / "hm_products.csv",
        ["sku", "name", "category"],
        [[a, *articles.get(a, (f"Article {a}", "(not in the article sample)"))] for a in bought],
    )
    order_rows: list[list[Any]] = []
    for (customer, day, channel), per_article in sorted(lines.items()):
        number = f"{customer[:20]}-{day}-{channel}"
        for article, prices in sorted(per_article.items()):
            order_rows.append(
                [
                    number,
                    channel,
                    STORE if channel == "pos" else "",
                    f"{day}T12:00:00Z",
                    customer,
                    article,
                    len(prices),
                    f"{prices[0] * HM_PRICE:.2f}",
                    "SEK",
                ]
            )
    orders = _write(
        work / "hm_orders.csv",
        [
            "order_number",
            "channel",
            "location",
            "ordered_at",
            "external_id",
            "sku",
            "quantity",
            "unit_price",
            "currency",
        ],
        order_rows,
    )
    print(f"  H&M: {len(bought)} products, {len(lines)} orders", file=sys.stderr)
    return products, orders


# -- REES46 --


def rees46_load(data: Path, work: Path, factory: Any, env: dict[str, str]) -> None:
    """Events through the hub's ingestion; purchases as web orders through the import."""
    rows = list(_rows(data / "events_2019-10-01_head.csv.gz"))
    with unit_of_work(factory) as session:
        source, _ = auth_service.create_source(
            session, name="REES46 store", channel=Channel.WEB, location=None
        )
        actor = SourceActor(source.id, source.name, Channel.WEB, None)
        checked = []
        for n, r in enumerate(rows):
            raw = {
                "type": "track",
                "messageId": f"rees46-{n}",
                "userId": r["user_id"],
                "event": REES46_EVENTS[r["event_type"]],
                "properties": {
                    "sku": r["product_id"],
                    "category": r["category_code"] or r["category_id"],
                    "price": r["price"],
                    "session": r["user_session"],
                },
                "timestamp": r["event_time"].replace(" UTC", "+00:00").replace(" ", "T"),
            }
            valid = events_service.validate(raw, n)
            assert isinstance(valid, events_service.ValidMessage), valid
            checked.append(valid)
        for start in range(0, len(checked), 1000):
            job = events_service.IngestJob(
                source=actor, messages=checked[start : start + 1000], received_at=utcnow()
            )
            events_service.append(session, [job])
    while True:
        with unit_of_work(factory) as session:
            if not events_service.resolve(session, limit=2000):
                break
    bought = [r for r in rows if r["event_type"] == "purchase"]
    products = _write(
        work / "rees46_products.csv",
        ["sku", "name", "category"],
        [
            [sku, f"Product {sku}", category or "(none)"]
            for sku, category in sorted({(r["product_id"], r["category_code"]) for r in bought})
        ],
    )
    orders = _write(
        work / "rees46_orders.csv",
        ["order_number", "channel", "ordered_at", "user_id", "sku", "quantity", "unit_price"]
        + ["currency"],
        [
            [
                f"rees46-{n}",
                "web",
                r["event_time"].replace(" UTC", "Z").replace(" ", "T"),
                r["user_id"],
                r["product_id"],
                1,
                r["price"],
                "USD",
            ]
            for n, r in enumerate(bought)
        ],
    )
    _import("products", products, env)
    _import("orders", orders, env)
    print(f"  REES46: {len(rows)} events, {len(bought)} purchases", file=sys.stderr)


# -- the figures --


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _rate_cells(row: journeys.RateRow) -> str:
    cells = []
    for r in row.rates:
        ci = f" ({_pct(r.interval.low)}–{_pct(r.interval.high)})" if r.interval else ""
        cells.append(f"{r.count} · {_pct(r.rate)}{ci}")
    return " | ".join(cells)


def _save(out: Path, name: str, svg: str) -> str:
    (out / f"{name}.svg").write_text(svg, encoding="utf-8")
    return f"![{name}](analytics/{name}.svg)"


def hm_report(factory: Any, out: Path, end: date) -> list[str]:
    md: list[str] = ["### H&M sample", ""]
    with factory() as session, service.snapshot(session) as engine:
        show = journeys.showrooming(engine, limit=30)
        web = journeys.webrooming(engine, limit=5)
        spend = journeys.spend(engine)
        found = paths.paths(engine, limit=10)
        cohorts = value.cohorts(engine, months=24)
        clv = value.value(engine, end=end, horizon_weeks=52, limit=10)
        people = engine.scalar("SELECT count(DISTINCT person) FROM orders")
        sequences = engine.db.execute(
            "SELECT array_to_string(first3, ' > ') AS path, count(*) AS people FROM ("
            "  SELECT person, list(CASE channel WHEN 'pos' THEN 'store' ELSE channel END"
            "    ORDER BY ts, channel)[1:3] AS first3"
            "  FROM orders GROUP BY person HAVING count(*) >= 3) "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        by_channels = engine.db.execute(
            "SELECT channels, count(*) FROM (SELECT person, "
            "string_agg(DISTINCT channel, '+' ORDER BY channel) AS channels FROM orders "
            "GROUP BY person) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    md += [
        f"{people} customers; by the channels they bought in: "
        + ", ".join(f"{channels} {count}" for channels, count in by_channels)
        + ".",
        "",
        "**Showrooming** (online orders with a store purchase by the same customer in the "
        "N days before; counts, share and 95 % interval):",
        "",
        "| | orders | 7 days | 14 days | 30 days |",
        "|---|---|---|---|---|",
        f"| all | {show.overall.total} | {_rate_cells(show.overall)} |",
        "",
        "**Webrooming** cannot be measured on this sample: it holds purchases only, no "
        f"browsing (till purchases looked at: {web.overall.total}; viewed online before: "
        f"{web.overall.rates[-1].count}).",
        "",
        "**Spend of omnichannel against single-channel customers** (H&M's normalised price "
        "× 1000):",
        "",
        "| per | omnichannel: mean (n) | single channel: mean (n) | difference |",
        "|---|---|---|---|",
    ]
    for c in spend:
        o, s = c.omnichannel, c.single_channel
        md.append(
            f"| {c.measure.replace('_', ' ')} | {(o.mean or 0) / 100:.1f} ({o.n}) | "
            f"{(s.mean or 0) / 100:.1f} ({s.n}) | "
            f"{'–' if c.difference is None else f'{c.difference:+.1%}'} |"
        )
    md += [
        "",
        _save(
            out,
            "hm-showrooming-by-month",
            charts.bars(
                "H&M: showrooming within 30 days, by month",
                [
                    Bar(
                        r.key,
                        r.rates[-1].rate or 0.0,
                        r.rates[-1].interval.low if r.rates[-1].interval else None,
                        r.rates[-1].interval.high if r.rates[-1].interval else None,
                    )
                    for r in sorted(show.by["month"], key=lambda r: r.key)
                ],
                percent=True,
            ),
        ),
        "",
        "**Channel paths.** The sample holds purchases only, so each journey before a "
        "purchase is that purchase alone (the path is its channel) and the four attribution "
        "rules agree; the paths across purchases say more: the channels of the first three "
        f"purchases of the {sum(n for _, n in sequences)} customers with three or more:",
        "",
        "| first three purchases | customers |",
        "|---|---|",
        *(f"| {path} | {n} |" for path, n in sequences),
        "",
        "Journeys before a purchase and their attribution (the store a touchpoint):",
        "",
        "| path | journeys | converted | revenue |",
        "|---|---|---|---|",
        *(
            f"| {p.path} | {p.journeys} | {p.converted} | {p.revenue / 100:,.0f} |"
            for p in found.paths
        ),
        "",
        "| touchpoint | first | last | linear | 40/20/40 |",
        "|---|---|---|---|---|",
        *(
            f"| {a.touchpoint} | {a.first_touch:.1f} | {a.last_touch:.1f} | {a.linear:.1f} | "
            f"{a.position_based:.1f} |"
            for a in found.attribution
        ),
        "",
        _save(
            out,
            "hm-paths",
            charts.bars(
                "H&M: channels of the first three purchases (customers)",
                [Bar(path, n) for path, n in sequences],
            ),
        ),
        "",
    ]
    ages = 13
    by_channel: dict[str, tuple[list[float], list[float]]] = {}
    for cohort in cohorts:
        size, kept = by_channel.setdefault(cohort.first_channel, ([0.0] * ages, [0.0] * ages))
        for age in range(min(ages, len(cohort.retention))):
            size[age] += cohort.size
            kept[age] += cohort.retention[age] * cohort.size
    md += [
        "**Cohorts** by the month and channel of the first purchase; the share buying again "
        "n months later (cohorts weighted by size):",
        "",
        "| first channel | customers | " + " | ".join(f"m{a}" for a in range(1, 7)) + " |",
        "|---|---|" + "---|" * 6,
        *(
            f"| {ch} | {int(size[0])} | "
            + " | ".join(_pct(kept[a] / size[a] if size[a] else None) for a in range(1, 7))
            + " |"
            for ch, (size, kept) in sorted(by_channel.items())
        ),
        "",
        _save(
            out,
            "hm-retention",
            charts.lines(
                "H&M: retention by first channel (months after the first purchase)",
                [str(a) for a in range(1, ages)],
                [
                    Series(
                        ch, [k / s if s else None for k, s in zip(kept[1:], size[1:], strict=True)]
                    )
                    for ch, (size, kept) in sorted(by_channel.items())
                ],
                percent=True,
            ),
        ),
        "",
    ]
    if clv.bgnbd and clv.gamma_gamma:
        bg, gg = clv.bgnbd, clv.gamma_gamma
        md += [
            f"**Customer value** (fitted on the orders up to {end}, weeks): BG/NBD r "
            f"{bg.r:.3f}, α {bg.alpha:.3f}, a {bg.a:.3f}, b {bg.b:.3f}; Gamma-Gamma p "
            f"{gg.p:.3f}, q {gg.q:.3f}, γ {gg.gamma:.3f}. Expected over the next 52 weeks, "
            f"all {clv.people} customers: {clv.total_clv / 100:,.0f}; the ten most valuable:",
            "",
            "| customer | repeat purchases | P(alive) | expected purchases | value |",
            "|---|---|---|---|---|",
            *(
                f"| {p.person[-8:]} | {p.x} | {p.p_alive:.2f} | {p.expected_purchases:.2f} | "
                f"{p.clv / 100:,.0f} |"
                for p in clv.top
            ),
            "",
            _save(
                out,
                "hm-clv",
                charts.bars(
                    "H&M: expected value over 52 weeks, the most valuable customers",
                    [Bar(p.person[-8:], p.clv / 100) for p in clv.top],
                ),
            ),
            "",
        ]
    return md


def rees46_report(factory: Any, out: Path) -> list[str]:
    steps = [
        Step(event="Product Viewed"),
        Step(event="Product Added", within=3600),
        Step(kind="order", within=3600),
    ]
    direct = [Step(event="Product Viewed"), Step(kind="order", within=3600)]
    with factory() as session, service.snapshot(session) as engine:
        three = funnels.run(engine, steps, ChannelMode.ANY)
        two = funnels.run(engine, direct, ChannelMode.ANY)
        web = journeys.webrooming(engine, limit=5)
    md = [
        "### REES46 clickstream slice",
        "",
        "View → basket (within an hour) → order (within an hour), any channel:",
        "",
        "| step | entered | reached | conversion (95 %) | median minutes from the step before |",
        "|---|---|---|---|---|",
    ]
    for f in (three, two):
        for s in f.steps:
            ci = f" ({_pct(s.interval.low)}–{_pct(s.interval.high)})" if s.interval else ""
            median = "–" if s.median_seconds is None else f"{s.median_seconds / 60:.1f}"
            md.append(
                f"| {s.step}. {s.label} | {s.entered} | {s.reached} | {_pct(s.conversion)}{ci} "
                f"| {median} |"
            )
        md.append("| | | | | |")
    md += [
        "",
        f"Largest drop: before step {three.largest_drop}, {three.stalled_count} people "
        "(the audience a campaign would reach).",
        "",
        "Webrooming and showrooming are not measurable here: one online store, no tills "
        f"(till purchases: {web.overall.total}).",
        "",
        _save(
            out,
            "rees46-funnel",
            charts.bars(
                "REES46: people reaching each step",
                [Bar(f"{s.step}. {s.label}", s.reached) for s in three.steps],
            ),
        ),
        "",
    ]
    return md


def _hub(work: Path) -> tuple[Any, dict[str, str]]:
    """A fresh hub (SQLite) in ``work``: its sessions, and the environment its CLI needs."""
    work.mkdir(parents=True)
    url = f"sqlite:///{work / 'hub.db'}"
    env = {
        **os.environ,
        "OMNIKANAL_DATABASE_URL": url,
        "OMNIKANAL_DATA_DIR": str(work / "data"),
        "OMNIKANAL_EMBEDDED_WORKER": "false",
    }
    migrate.upgrade(url)
    return make_session_factory(make_engine(url), registry=build_registry()), env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("docs/analytics"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        # One hub per data set: their people and days have nothing to do with each other.
        started = time.perf_counter()
        factory, env = _hub(Path(folder) / "hm")
        with unit_of_work(factory) as session:
            inventory_service.upsert_location(
                session,
                code=STORE,
                # Where is not known: the data names no store.
                fields={
                    "name": "H&M store (all stores)",
                    "kind": "store",
                    "active": True,
                    "latitude": 0.0,
                    "longitude": 0.0,
                },
            )
        products, orders = hm_files(args.data / "hm-fashion-sample", Path(folder) / "hm")
        _import("products", products, env)
        _import("orders", orders, env, "--location", STORE)
        print(f"  H&M loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        md = hm_report(factory, args.out, end=date(2020, 9, 22))
        started = time.perf_counter()
        factory, env = _hub(Path(folder) / "rees46")
        rees46_load(args.data / "rees46-clickstream-slice", Path(folder) / "rees46", factory, env)
        print(f"  REES46 loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        md += rees46_report(factory, args.out)
    print("\n".join(md))
    print(f"\n(made {datetime.now(UTC):%Y-%m-%d} by benchmarks/analytics_real.py)")


if __name__ == "__main__":
    main()
