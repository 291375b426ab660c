"""One price, one stock, one cart: checkout under contention through a real server.

What it measures, on PostgreSQL (and SQLite for comparison), through the HTTP API of
``omnikanal serve --no-worker --workers 2`` (``--workers``: API processes on one port;
each answers with the SQL statements it ran, ``OMNIKANAL_COUNT_STATEMENTS``, and the
order's reactions run after the answer):

1. **The last units.** One SKU with 10 units at one store that offers pickup, and 200
   buyers at once, split over the web shop's and the app's channel keys and the store's
   till key. Web and app buyers open a cart first (``POST /v1/carts``); then every
   buyer is released together: web and app check out click-and-collect at that store
   (``POST /v1/carts/{id}/checkout``), tills ring up a sale (``POST /v1/orders``).
   Afterwards the stock row and the orders are read from the database itself. Exactly 10
   must be sold, none oversold (units promised beyond the 10 on hand: reserved +
   allocated + sold at the till), and every other buyer refused with 409
   ``insufficient_stock``. It prints those counts and the p50/p99 checkout latency.

2. **Throughput.** 1,000 SKUs with ample stock in a warehouse and in the store, and 50
   concurrent buyers, each over and over: web and app open a cart with 1 to 3 random
   SKUs and check out (delivery or click-and-collect, mixed), tills ring up sales of 1 to
   3 SKUs. It runs for 3,000 orders (or ``--seconds``) and prints orders placed per
   second (cart checkouts and till sales: the checkouts/s of the target), the p50/p99 of
   each call, the server's CPU, and beside them the **reference** measured in the same
   run on the same database: the same orders written raw, one transaction each (the order
   row, its lines and a conditional stock update per line), by as many threads with their
   own connections as there were buyers (PostgreSQL, psycopg 3) or by one connection
   (SQLite has one writer; sqlite3). The targets: at least 300 checkouts/s on PostgreSQL
   and 200 on SQLite, p99 open cart ≤ 100 ms and p99 checkout ≤ 250 ms. It also prints
   the web/app purchases per second (a cart call and a checkout each), the till sales per
   second, and the mean SQL statements per checkout, till sale and open cart as the
   server counted them (an SQLAlchemy event hook; the goal is ≤ 15 per checkout).

Each scenario gets a server of its own on the same database, so requests still stuck in
one never slow the next. Every answer is checked (the order's lines, prices from the
price book, where the stock came from; refusals by their problem code); a wrong or
missing answer exits non-zero, a missed target does not. The throughput run stops after
50 failed answers; the most frequent exceptions in the server's log are printed. Random
choices use a fixed seed.

Run from the project root:

    .venv/bin/python benchmarks/contention.py                     # PostgreSQL
    .venv/bin/python benchmarks/contention.py --database both
    .venv/bin/python benchmarks/contention.py --scenario throughput --seconds 20
"""

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from _reference import measure_reference
from _server import (
    DATABASE_CHOICES,
    DEFAULT_PG_URL,
    Database,
    Server,
    console,
    create_key,
    exit_cleanly_on_sigterm,
    fetch,
    fresh_database,
    ms,
    percentile,
    print_table,
    progress_bar,
    run_jobs,
    running_server,
    selected_kinds,
    upgrade,
)

# Orders placed per second (checkouts + till sales), by database; p99 of the calls.
TARGET_CHECKOUTS = {"postgresql": 300, "sqlite": 200}
TARGET_P99_CART = 0.100
TARGET_P99_CHECKOUT = 0.250
# Statements a checkout may run (the request's own; its reactions run after the answer).
GOAL_STATEMENTS = 15
SEED = 20261201
CURRENCY = "SEK"
STORE = "sthlm-drottninggatan"
WAREHOUSE = "wh-boras"
LAST_SKU = "LAST-COAT-WOOL-38"
LAST_PRICE = 249_900
VAT_BP = 2500
CARD = [{"type": "card", "reference": "tok_visa_4242"}]
CASH = [{"type": "cash"}]
ADDRESS = {
    "name": "Anna Svensson",
    "street": "Storgatan 1",
    "postal_code": "411 38",
    "city": "Göteborg",
    "country": "SE",
}
# The store that offers pickup and the warehouse, as PUT /v1/locations/{code} takes them.
LOCATIONS = {
    STORE: {
        "name": "Stockholm Drottninggatan",
        "kind": "store",
        "address": {
            "street": "Drottninggatan 53",
            "postal_code": "111 21",
            "city": "Stockholm",
            "country": "SE",
        },
        "latitude": 59.3326,
        "longitude": 18.0649,
        "offers_pickup": True,
    },
    WAREHOUSE: {
        "name": "Borås warehouse",
        "kind": "warehouse",
        "address": {
            "street": "Viaredsvägen 10",
            "postal_code": "504 64",
            "city": "Borås",
            "country": "SE",
        },
        "latitude": 57.7210,
        "longitude": 12.9401,
        "offers_pickup": False,
    },
}
# The buyers of the throughput run, in turn: two web shops' and two apps' for each till.
MIX_CHANNELS = ("web", "app", "web", "app", "pos")
# Each throughput buyer serves its own shoppers (no two buyers share a person, so no two
# requests change one cart); a shopper may come back for another order.
SHOPPERS_PER_BUYER = 100
SCENARIOS = ("last-units", "throughput", "both")
# The throughput run stops once this many answers were wrong or failed: its rate would
# mean nothing, and a server that stalls on a pool timeout would keep it going for long.
MAX_FAILURES = 50


# -- setting up: keys, the catalog, locations and stock --


@dataclass(frozen=True)
class Keys:
    admin: str
    web: str
    app: str
    store: str

    def headers(self, channel: str) -> dict[str, str]:
        key = {"web": self.web, "app": self.app, "pos": self.store, "admin": self.admin}[channel]
        return {"Authorization": f"Bearer {key}"}


def create_keys(database: Database) -> Keys:
    return Keys(
        admin=create_key(database, "admin", name="bench admin"),
        web=create_key(database, "channel", channel="web", name="bench web shop"),
        app=create_key(database, "channel", channel="app", name="bench app"),
        store=create_key(database, "store", location=STORE, name="bench tills"),
    )


async def load_catalog(
    client: httpx.AsyncClient, keys: Keys, prices: dict[str, int], clients: int
) -> list[str]:
    """Each product and its SEK price through the admin API; the failures."""
    failures: list[str] = []
    admin = keys.headers("admin")

    def job(sku: str, amount: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            product = {
                "family": sku.rsplit("-", 1)[0],
                "name": f"Bench product {sku}",
                "category": "bench",
                "vat_rate_bp": VAT_BP,
            }
            put = await client.put(f"/v1/products/{sku}", json=product, headers=admin)
            if put.status_code not in (200, 201):
                failures.append(f"PUT /v1/products/{sku}: HTTP {put.status_code} {put.text[:200]}")
                return
            body = {"currency": CURRENCY, "amount": amount}
            price = await client.post(f"/v1/products/{sku}/prices", json=body, headers=admin)
            if price.status_code != 201:
                failures.append(f"price of {sku}: HTTP {price.status_code} {price.text[:200]}")

        return run

    jobs = [job(sku, amount) for sku, amount in prices.items()]
    await run_jobs(jobs, clients, f"catalog: {len(prices):,} products and prices")
    return failures


async def load_stock(
    client: httpx.AsyncClient, keys: Keys, stock: dict[tuple[str, str], int], clients: int
) -> list[str]:
    """The store and the warehouse, then each SKU's stock received there, through the admin
    API (after the catalog: stock is only kept for known SKUs); the failures."""
    admin = keys.headers("admin")
    for code, location in LOCATIONS.items():
        put = await client.put(f"/v1/locations/{code}", json=location, headers=admin)
        if put.status_code not in (200, 201):
            return [f"PUT /v1/locations/{code}: HTTP {put.status_code} {put.text[:200]}"]
    failures: list[str] = []

    def job(location: str, sku: str, quantity: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            path = f"/v1/inventory/{location}/{sku}/adjustments"
            body = {"reason": "receipt", "quantity": quantity}
            received = await client.post(path, json=body, headers=admin)
            if received.status_code != 201:
                failures.append(f"{path}: HTTP {received.status_code} {received.text[:200]}")

        return run

    jobs = [job(location, sku, quantity) for (location, sku), quantity in sorted(stock.items())]
    await run_jobs(jobs, clients, f"stock: {len(stock):,} rows received")
    return failures


# -- checking answers --


def _problem_code(response: httpx.Response) -> str:
    try:
        return str(orjson.loads(response.content).get("code"))
    except orjson.JSONDecodeError:
        return "(no problem body)"


def order_problem(
    order: dict[str, Any],
    items: dict[str, int],
    prices: dict[str, int],
    *,
    fulfilment: str,
    channel: str,
) -> str | None:
    """Why a placed order is not what was asked for; None when it is."""
    lines = {line["sku"]: line for line in order["lines"]}
    if {sku: line["quantity"] for sku, line in lines.items()} != items:
        return f"order {order['number']} holds {order['lines']}, not {items}"
    if order["channel"] != channel or order["fulfilment"] != fulfilment:
        return f"order {order['number']} is {order['channel']}/{order['fulfilment']}"
    expected_status = "completed" if fulfilment == "in_store" else "placed"
    if order["status"] != expected_status:
        return f"order {order['number']} is {order['status']}, not {expected_status}"
    source = WAREHOUSE if fulfilment == "delivery" else STORE
    for sku, line in lines.items():
        if line["unit_price"]["amount"] != prices[sku]:
            return f"{sku} charged {line['unit_price']['amount']}, the book says {prices[sku]}"
        if line["stock_location"] != source:
            return f"{sku} taken from {line['stock_location']}, not {source}"
    total = sum(prices[sku] * quantity for sku, quantity in items.items())
    if order["total"]["amount"] != total:
        return f"order {order['number']} totals {order['total']['amount']}, not {total}"
    if fulfilment == "click_and_collect" and order["pickup_location"] != STORE:
        return f"order {order['number']} is collected at {order['pickup_location']}"
    return None


def cart_problem(cart: dict[str, Any], items: dict[str, int]) -> str | None:
    got = {line["sku"]: line["quantity"] for line in cart["lines"]}
    return None if got == items else f"cart {cart['id']} holds {got}, not {items}"


def cart_body(anonymous_id: str, items: dict[str, int]) -> dict[str, Any]:
    return {
        "currency": CURRENCY,
        "anonymous_id": anonymous_id,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in items.items()],
    }


def checkout_body(fulfilment: str) -> dict[str, Any]:
    if fulfilment == "delivery":
        return {"fulfilment": {"type": "delivery", "address": ADDRESS}, "tenders": CARD}
    return {"fulfilment": {"type": "click_and_collect", "location": STORE}, "tenders": CARD}


def till_body(items: dict[str, int]) -> dict[str, Any]:
    lines = [{"sku": sku, "quantity": quantity} for sku, quantity in items.items()]
    return {"currency": CURRENCY, "lines": lines, "tenders": CASH}


def idempotent(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


# -- scenario 1: the last units --


@dataclass
class LastUnits:
    buyers_by_channel: Counter[str]
    statuses: Counter[int] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    sold_by_channel: Counter[str] = field(default_factory=Counter)
    # Requests that got no answer, by the client's exception (ReadTimeout after 120 s...).
    unanswered: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    carts_seconds: float = math.nan
    burst_seconds: float = math.nan
    on_hand: int = 0
    reserved: int = 0
    allocated: int = 0
    sold_at_till: int = 0
    orders: int = 0
    units_ordered: int = 0
    initial: int = 0

    @property
    def promised(self) -> int:
        return self.reserved + self.allocated + self.sold_at_till

    @property
    def oversold(self) -> int:
        return max(0, self.promised - self.initial)


async def last_units(
    server: Server, keys: Keys, *, units: int, buyers: int, setup_clients: int
) -> LastUnits:
    channels = [("web", "app", "pos")[index % 3] for index in range(buyers)]
    result = LastUnits(buyers_by_channel=Counter(channels), initial=units)
    async with server.client(buyers) as client:
        carts: dict[int, str] = {}

        def open_cart(index: int, channel: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                items = {LAST_SKU: 1}
                response = await client.post(
                    "/v1/carts",
                    json=cart_body(f"last-units-{index}", items),
                    headers=keys.headers(channel),
                )
                if response.status_code != 201:
                    result.failures.append(
                        f"open cart: HTTP {response.status_code} {response.text[:200]}"
                    )
                    return
                cart = orjson.loads(response.content)
                problem = cart_problem(cart, items)
                if problem:
                    result.failures.append(problem)
                carts[index] = cart["id"]

            return run

        jobs = [open_cart(i, c) for i, c in enumerate(channels) if c != "pos"]
        result.carts_seconds = await run_jobs(jobs, setup_clients, "last units: open carts")
        # One connection per buyer before the start, so all of them go at once.
        await asyncio.gather(*(client.get("/health") for _ in range(buyers)))

        go = asyncio.Event()
        prices = {LAST_SKU: LAST_PRICE}

        async def buy(index: int, channel: str) -> None:
            await go.wait()
            items = {LAST_SKU: 1}
            if channel == "pos":
                fulfilment = "in_store"
                path, body = "/v1/orders", till_body(items)
            else:
                fulfilment = "click_and_collect"
                cart_id = carts.get(index)
                if cart_id is None:
                    return
                path, body = f"/v1/carts/{cart_id}/checkout", checkout_body(fulfilment)
            sent = time.perf_counter()
            try:
                response = await client.post(
                    path, json=body, headers=idempotent(keys.headers(channel))
                )
            except httpx.HTTPError as exc:
                # A buyer left waiting counts with how long they waited.
                result.latencies.append(time.perf_counter() - sent)
                result.unanswered[type(exc).__name__] += 1
                result.failures.append(f"{channel}: {type(exc).__name__}: {exc}")
                return
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[response.status_code] += 1
            if response.status_code == 201:
                order = orjson.loads(response.content)
                problem = order_problem(
                    order, items, prices, fulfilment=fulfilment, channel=channel
                )
                if problem:
                    result.failures.append(problem)
                result.sold_by_channel[channel] += 1
            elif response.status_code == 409:
                code = _problem_code(response)
                result.refused[code] += 1
                if code != "insufficient_stock":
                    result.failures.append(
                        f"{channel}: refused with {code}, not insufficient_stock"
                    )
            else:
                result.failures.append(
                    f"{channel}: HTTP {response.status_code} {response.text[:200]}"
                )

        tasks = [asyncio.ensure_future(buy(i, c)) for i, c in enumerate(channels)]
        await asyncio.sleep(0.2)  # every buyer is waiting at the start
        console.print(f"last units: {buyers} buyers released at once")
        started = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        result.burst_seconds = time.perf_counter() - started
    return result


def read_last_units(database: Database, result: LastUnits) -> None:
    """What the database holds for the SKU after the run: the stock row, the till's sales
    (adjustments), and the orders and units ordered."""
    ((on_hand, reserved, allocated),) = fetch(
        database,
        "SELECT on_hand, reserved, allocated FROM inventory_stock WHERE location = ? AND sku = ?",
        STORE,
        LAST_SKU,
    )
    ((sold,),) = fetch(
        database,
        "SELECT coalesce(-sum(quantity), 0) FROM inventory_adjustment "
        "WHERE location = ? AND sku = ? AND reason = 'sale'",
        STORE,
        LAST_SKU,
    )
    ((orders, ordered),) = fetch(
        database,
        "SELECT count(DISTINCT o.id), coalesce(sum(l.quantity), 0) FROM commerce_order o "
        "JOIN commerce_order_line l ON l.order_id = o.id WHERE l.sku = ?",
        LAST_SKU,
    )
    result.on_hand, result.reserved, result.allocated = int(on_hand), int(reserved), int(allocated)
    result.sold_at_till, result.orders, result.units_ordered = int(sold), int(orders), int(ordered)
    created = result.statuses[201]
    if result.orders != created:
        result.failures.append(f"{result.orders} orders stored, {created} answered 201")
    if result.units_ordered != result.promised:
        result.failures.append(
            f"{result.units_ordered} units ordered, {result.promised} taken from the stock"
        )
    if result.on_hand != result.initial - result.sold_at_till:
        result.failures.append(
            f"on hand {result.on_hand}, but {result.initial} received and "
            f"{result.sold_at_till} sold at the till"
        )


def last_units_ok(result: LastUnits) -> bool:
    return (
        not result.failures
        and result.orders == result.initial
        and result.oversold == 0
        and set(result.statuses) <= {201, 409}
        and not result.unanswered
    )


def report_last_units(database: Database, result: LastUnits) -> None:
    buyers = sum(result.buyers_by_channel.values())
    split = ", ".join(f"{n} {c}" for c, n in sorted(result.buyers_by_channel.items()))
    refused = sum(result.refused.values())
    codes = ", ".join(f"{code} {n}" for code, n in result.refused.most_common()) or "-"
    sold_split = ", ".join(f"{c} {n}" for c, n in sorted(result.sold_by_channel.items())) or "-"
    others = {s: n for s, n in result.statuses.items() if s not in (201, 409)}
    opened = result.buyers_by_channel["web"] + result.buyers_by_channel["app"]
    ok = "[green]ok[/green]"
    bad = "[red]wrong[/red]"
    print_table(
        f"The last units on {database.kind}: {result.initial} units of {LAST_SKU} at {STORE}, "
        f"{buyers} buyers at once ({split})",
        [
            (
                "sold (orders stored)",
                f"{result.orders} {ok if result.orders == result.initial else bad}",
                f"must be {result.initial}",
            ),
            (
                "oversold",
                f"{result.oversold} {ok if result.oversold == 0 else bad}",
                "must be 0",
            ),
            ("sold by channel", sold_split, "201 answers"),
            ("refused", f"{refused}", f"expected {buyers - result.initial}"),
            ("refusal codes", codes, "expected insufficient_stock"),
            ("other answers", f"{others or 0}", "expected 0"),
            ("no answer", f"{dict(result.unanswered) or 0}", "client timeout 120 s; expected 0"),
            (
                "stock after (on hand / reserved / allocated)",
                f"{result.on_hand} / {result.reserved} / {result.allocated}",
                f"sold at the till {result.sold_at_till}",
            ),
            ("p50 checkout latency", ms(percentile(result.latencies, 50)), "send to answer"),
            ("p99 checkout latency", ms(percentile(result.latencies, 99)), ""),
            ("max checkout latency", ms(max(result.latencies, default=math.nan)), ""),
            ("all answered in", f"{result.burst_seconds:.2f} s", "from the release"),
            (
                "carts opened before",
                f"{opened} in {result.carts_seconds:.1f} s",
                f"{opened / result.carts_seconds:,.0f}/s" if result.carts_seconds else "-",
            ),
        ],
    )
    console.print(
        f"sold: {result.orders}  oversold: {result.oversold}  refused: {refused} ({codes})  "
        f"p50 {ms(percentile(result.latencies, 50))}  p99 {ms(percentile(result.latencies, 99))}"
    )
    for failure in result.failures[:5]:
        console.print(f"[red]failure:[/red] {failure}")


# -- scenario 2: throughput --


@dataclass
class Throughput:
    buyers_by_channel: Counter[str]
    elapsed: float = 0.0
    carts: int = 0
    checkouts: int = 0
    till_sales: int = 0
    fulfilments: Counter[str] = field(default_factory=Counter)
    cart_latencies: list[float] = field(default_factory=list)
    checkout_latencies: list[float] = field(default_factory=list)
    till_latencies: list[float] = field(default_factory=list)
    # SQL statements each answer said it ran (Omnikanal-Statements), by call.
    statements: dict[str, list[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    server_cpu: float = math.nan
    client_cpu: float = math.nan
    reference_seconds: float = math.nan
    reference_orders: int = 0
    reference_how: str = ""
    stopped_early: bool = False

    @property
    def orders(self) -> int:
        return self.checkouts + self.till_sales

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.elapsed if self.elapsed else math.nan

    @property
    def reference_per_second(self) -> float:
        return self.reference_orders / self.reference_seconds if self.reference_seconds else 0.0


async def throughput(
    server: Server,
    keys: Keys,
    prices: dict[str, int],
    *,
    clients: int,
    checkouts: int,
    seconds: float | None,
) -> Throughput:
    channels = [MIX_CHANNELS[index % len(MIX_CHANNELS)] for index in range(clients)]
    result = Throughput(buyers_by_channel=Counter(channels))
    skus = sorted(prices)
    claimed = 0
    deadline = math.inf

    def claim() -> bool:
        nonlocal claimed
        if claimed >= checkouts or time.perf_counter() >= deadline:
            return False
        if len(result.failures) >= MAX_FAILURES:
            result.stopped_early = True
            return False
        claimed += 1
        return True

    async with server.client(clients) as client:
        with progress_bar() as progress:
            total = None if seconds else checkouts
            task = progress.add_task(f"throughput: {clients} buyers", total=total)

            async def post(
                path: str, body: dict[str, Any], headers: dict[str, str], call: str
            ) -> Any:
                """The answer's body when it is the expected 201; None (and a failure) else."""
                try:
                    response = await client.post(path, json=body, headers=headers)
                except httpx.HTTPError as exc:
                    result.failures.append(f"{path}: {type(exc).__name__}: {exc}")
                    return None
                counted = response.headers.get("omnikanal-statements")
                if counted is not None:
                    result.statements.setdefault(call, []).append(int(counted))
                if response.status_code != 201:
                    result.failures.append(
                        f"{path}: HTTP {response.status_code} {response.text[:200]}"
                    )
                    return None
                return orjson.loads(response.content)

            async def buyer(index: int, channel: str) -> None:
                rng = random.Random(SEED * 1_000 + index)
                headers = keys.headers(channel)
                while claim():
                    chosen = rng.sample(skus, rng.randint(1, 3))
                    items = {sku: rng.randint(1, 2) for sku in chosen}
                    if channel == "pos":
                        sent = time.perf_counter()
                        order = await post(
                            "/v1/orders", till_body(items), idempotent(headers), "till"
                        )
                        result.till_latencies.append(time.perf_counter() - sent)
                        fulfilment = "in_store"
                    else:
                        shopper = f"shopper-{index}-{rng.randrange(SHOPPERS_PER_BUYER)}"
                        sent = time.perf_counter()
                        cart = await post("/v1/carts", cart_body(shopper, items), headers, "cart")
                        result.cart_latencies.append(time.perf_counter() - sent)
                        if cart is None:
                            continue
                        result.carts += 1
                        problem = cart_problem(cart, items)
                        if problem:
                            result.failures.append(problem)
                            continue
                        fulfilment = rng.choice(("delivery", "click_and_collect"))
                        sent = time.perf_counter()
                        order = await post(
                            f"/v1/carts/{cart['id']}/checkout",
                            checkout_body(fulfilment),
                            idempotent(headers),
                            "checkout",
                        )
                        result.checkout_latencies.append(time.perf_counter() - sent)
                    if order is None:
                        continue
                    problem = order_problem(
                        order, items, prices, fulfilment=fulfilment, channel=channel
                    )
                    if problem:
                        result.failures.append(problem)
                        continue
                    if channel == "pos":
                        result.till_sales += 1
                    else:
                        result.checkouts += 1
                    result.fulfilments[fulfilment] += 1
                    progress.advance(task)

            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            started = time.perf_counter()
            if seconds:
                deadline = started + seconds
            await asyncio.gather(*(buyer(i, c) for i, c in enumerate(channels)))
            result.elapsed = time.perf_counter() - started
            result.server_cpu = (server.cpu_seconds() - cpu_before) / result.elapsed
            result.client_cpu = (time.process_time() - client_before) / result.elapsed
    return result


def report_throughput(database: Database, result: Throughput, clients: int) -> None:
    rate = result.orders_per_second
    reference_rate = result.reference_per_second
    target = TARGET_CHECKOUTS[database.kind]
    met = rate >= target
    verdict = "[green]met[/green]" if met else "[red]missed[/red]"
    split = ", ".join(f"{n} {c}" for c, n in sorted(result.buyers_by_channel.items()))
    calls = result.carts + len(result.checkout_latencies) + len(result.till_latencies)
    fulfilled = ", ".join(f"{f} {n:,}" for f, n in sorted(result.fulfilments.items()))
    print_table(
        f"Throughput on {database.kind}: {result.orders:,} orders by {clients} buyers "
        f"({split}), {result.elapsed:.1f} s",
        [
            (
                "checkouts/s (checkouts + till sales)",
                f"{rate:,.1f} {verdict}",
                f"target ≥ {target}/s",
            ),
            (
                "reference: raw orders/s",
                f"{reference_rate:,.0f}",
                f"{result.reference_how}",
            ),
            (
                "checkouts / reference",
                f"{rate / reference_rate:.1%}" if reference_rate else "-",
                "100% = raw write speed",
            ),
            (
                "full purchases/s: web + app",
                f"{result.checkouts / result.elapsed:,.1f}",
                "each: open a cart, then check out",
            ),
            ("till sales/s", f"{result.till_sales / result.elapsed:,.1f}", "one call each"),
            ("HTTP calls/s", f"{calls / result.elapsed:,.0f}", f"{calls:,} calls"),
            ("orders", f"{result.checkouts:,} checkouts + {result.till_sales:,} till", fulfilled),
            (
                "p50 / p99 checkout",
                _p50_p99(result.checkout_latencies),
                f"POST /v1/carts/{{id}}/checkout; p99 target ≤ {ms(TARGET_P99_CHECKOUT)}",
            ),
            ("p50 / p99 till sale", _p50_p99(result.till_latencies), "POST /v1/orders"),
            (
                "p50 / p99 open cart",
                _p50_p99(result.cart_latencies),
                f"POST /v1/carts; p99 target ≤ {ms(TARGET_P99_CART)}",
            ),
            (
                "SQL statements per checkout",
                _mean(result.statements.get("checkout", [])),
                f"goal ≤ {GOAL_STATEMENTS}; counted by the server",
            ),
            ("SQL statements per till sale", _mean(result.statements.get("till", [])), ""),
            ("SQL statements per open cart", _mean(result.statements.get("cart", [])), ""),
            ("server CPU (mean)", f"{result.server_cpu:.0%} of a core", "machine: 2 cores"),
            ("client CPU (mean)", f"{result.client_cpu:.0%} of a core", "this process"),
            (
                "wall time",
                f"{result.elapsed:.1f} s",
                f"reference {result.reference_seconds:.1f} s",
            ),
            ("failed or wrong answers", f"{len(result.failures)}", "expected 0"),
        ],
    )
    console.print(
        f"checkouts/s: {rate:,.1f} (target ≥ {target}: {'met' if met else 'missed'})  "
        f"reference: {reference_rate:,.0f} orders/s  "
        f"checkout p99 {ms(percentile(result.checkout_latencies, 99))}  "
        f"statements per checkout {_mean(result.statements.get('checkout', []))}"
    )
    if result.stopped_early:
        console.print(f"[red]stopped early:[/red] {MAX_FAILURES} failed or wrong answers")
    for failure in result.failures[:5]:
        console.print(f"[red]failure:[/red] {failure}")


def _mean(counts: Sequence[int]) -> str:
    return f"{sum(counts) / len(counts):.1f}" if counts else "-"


def _p50_p99(latencies: Sequence[float]) -> str:
    return f"{ms(percentile(latencies, 50))} / {ms(percentile(latencies, 99))}"


# -- one run --


def make_prices(skus: int) -> dict[str, int]:
    rng = random.Random(SEED)
    return {f"BENCH-{index:05d}": rng.randrange(49, 2_999) * 100 for index in range(skus)}


async def set_up(
    server: Server,
    keys: Keys,
    catalog: dict[str, int],
    stock: dict[tuple[str, str], int],
    clients: int,
) -> list[str]:
    """The catalog, then the locations and their stock, through the admin API; the failures."""
    async with server.client(clients) as client:
        failures = await load_catalog(client, keys, catalog, clients)
        return failures or await load_stock(client, keys, stock, clients)


def run_on(database: Database, args: argparse.Namespace) -> bool:
    """The scenarios on one fresh database, each with a server of its own (requests still
    stuck in one never slow the next); True when every answer was right."""
    run_last = args.scenario in ("last-units", "both")
    run_mix = args.scenario in ("throughput", "both")
    prices = make_prices(args.skus) if run_mix else {}
    stock: dict[tuple[str, str], int] = {}
    if run_last:
        stock[(STORE, LAST_SKU)] = args.units
    for sku in prices:
        stock[(WAREHOUSE, sku)] = args.stock
        stock[(STORE, sku)] = args.stock
    catalog = {**({LAST_SKU: LAST_PRICE} if run_last else {}), **prices}

    upgrade(database)
    keys = create_keys(database)
    ok = True
    # The scenarios' servers: --workers API processes, each answer saying how many SQL
    # statements it ran.
    serving: dict[str, Any] = {
        "workers": args.workers,
        "settings": {"OMNIKANAL_COUNT_STATEMENTS": "true"},
    }
    with tempfile.TemporaryDirectory(prefix="omnikanal-bench-log-") as logs:
        with running_server(database, Path(logs)) as server:
            console.print(f"server pid {server.pid} at {server.base_url} ({database.kind})")
            failures = asyncio.run(set_up(server, keys, catalog, stock, args.setup_clients))
        if failures:
            console.print(f"[red]failure:[/red] {failures[0]}")
            server.print_errors()
            return False
        if run_last:
            with running_server(database, Path(logs), **serving) as server:
                console.print(f"server pid {server.pid} for the last units")
                last = asyncio.run(
                    last_units(
                        server,
                        keys,
                        units=args.units,
                        buyers=args.buyers,
                        setup_clients=args.setup_clients,
                    )
                )
            read_last_units(database, last)
            report_last_units(database, last)
            server.print_errors()
            ok = last_units_ok(last) and ok
        if run_mix:
            with running_server(database, Path(logs), **serving) as server:
                console.print(f"server pid {server.pid} for the throughput run")
                mix = asyncio.run(
                    throughput(
                        server,
                        keys,
                        prices,
                        clients=args.clients,
                        checkouts=args.checkouts,
                        seconds=args.seconds,
                    )
                )
            reference = measure_reference(database, args.clients, leave_out_sku=LAST_SKU)
            if reference.orders != mix.orders:
                mix.failures.append(f"{reference.orders} orders stored, {mix.orders} answered 201")
            mix.reference_orders = reference.orders
            mix.reference_seconds = reference.seconds
            mix.reference_how = reference.how
            report_throughput(database, mix, args.clients)
            server.print_errors()
            ok = not mix.failures and ok
    return ok


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=DATABASE_CHOICES, default="postgresql")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="a PostgreSQL server to create a database on"
    )
    parser.add_argument("--scenario", choices=SCENARIOS, default="both")
    last = parser.add_argument_group("the last units")
    last.add_argument("--units", type=int, default=10, help="units of the SKU at the store")
    last.add_argument("--buyers", type=int, default=200, help="buyers released at once")
    mix = parser.add_argument_group("throughput")
    mix.add_argument("--skus", type=int, default=1_000)
    mix.add_argument("--stock", type=int, default=1_000, help="units per SKU and location")
    mix.add_argument("--clients", type=int, default=50, help="concurrent buyers")
    mix.add_argument("--checkouts", type=int, default=3_000, help="orders to place")
    mix.add_argument(
        "--seconds", type=float, default=None, help="run this long instead of --checkouts"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="API processes (omnikanal serve --workers)"
    )
    parser.add_argument(
        "--setup-clients", type=int, default=8, help="concurrent clients for the catalog and carts"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    exit_cleanly_on_sigterm()
    args = parse_args(argv)
    kinds = selected_kinds(args.database, args.pg_url)
    ok = True
    for kind in kinds:
        with fresh_database(kind, args.pg_url) as database:
            ok = run_on(database, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
