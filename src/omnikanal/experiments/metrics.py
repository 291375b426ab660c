"""An experiment's units and what each did, from the unified history of every channel.

Orders come from commerce (web, app, tills, imported: every channel), satisfaction answers
from conversations (CSAT, 1-5), people's merges from customers; each through that domain's
read-only warehouse functions. Nothing is stored: the results are computed when asked.

**Units.** For a person experiment, one unit per person (the surviving profile of every
profile and device that was shown a variant), in the variant the assignment rule gives
them (``service``), from their earliest exposure. For a store experiment, one unit per
store, from its exposure.

**Observations.** Person metrics (conversion, revenue, orders) have one value per person:
what they did within ``window_days`` after their first exposure, every channel counted;
the same metric in the ``window_days`` before exposure is the CUPED covariate. Order
metrics (AOV, return rate) and CSAT have one value per order or answer, clustered by
person. Store experiments observe each store-day (revenue, orders) or each order there
(AOV, return rate), clustered by store.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from omnikanal.commerce import warehouse as commerce_warehouse
from omnikanal.conversations import warehouse as conversations_warehouse
from omnikanal.customers import service as customers_service
from omnikanal.customers import warehouse as customers_warehouse
from omnikanal.experiments.models import Experiment, Exposure, Metric, Unit
from omnikanal.kit.time import utcnow

PERSON_LEVEL = (Metric.CONVERSION, Metric.REVENUE, Metric.ORDERS)
STORE_METRICS = (Metric.REVENUE, Metric.ORDERS, Metric.AOV, Metric.RETURN_RATE)
SATISFIED = 4


@dataclass
class UnitRecord:
    unit: str
    variant: str
    exposed_at: datetime
    # Whether the variant is the unit's own exposure's (not a merged profile's or device's).
    own: bool = False


@dataclass(frozen=True)
class Observations:
    """Per variant: the values, their clusters, and (person metrics) the pre-period values."""

    values: dict[str, list[float]]
    clusters: dict[str, list[str]]
    before: dict[str, list[float]] | None
    # Whether the values are clustered (several per unit): analysed with CR1 variance.
    clustered: bool


def _root(links: dict[str, str], profile: str) -> str:
    seen = 0
    while profile in links and seen < 100:
        profile, seen = links[profile], seen + 1
    return profile


def _merge_links(session: Session) -> dict[str, str]:
    return {
        str(row["profile_id"]): str(row["merged_into"])
        for row in customers_warehouse.merge_links(session)
    }


def person_units(
    session: Session, exposures: Sequence[Exposure], links: dict[str, str]
) -> dict[str, UnitRecord]:
    """One unit per surviving profile (devices followed to their profile), with the
    variant the assignment rule gives: the survivor's own exposure, else the earliest."""
    units: dict[str, UnitRecord] = {}
    devices: dict[str, str | None] = {}
    for exposure in exposures:
        if exposure.profile_id is not None:
            profile = str(exposure.profile_id)
        elif exposure.anonymous_id is not None:
            if exposure.anonymous_id not in devices:
                found = customers_service.find_profile_id(
                    session, type_="anonymous_id", raw_value=exposure.anonymous_id
                )
                devices[exposure.anonymous_id] = str(found) if found else None
            profile = devices[exposure.anonymous_id] or f"anonymous_id:{exposure.anonymous_id}"
        else:
            continue
        root = _root(links, profile)
        own = exposure.profile_id is not None and profile == root
        unit = units.get(root)
        if unit is None:
            units[root] = UnitRecord(root, exposure.variant, exposure.exposed_at, own)
            continue
        unit.exposed_at = min(unit.exposed_at, exposure.exposed_at)
        if own and not unit.own:
            unit.variant, unit.own = exposure.variant, True
    return units


def store_units(exposures: Sequence[Exposure]) -> dict[str, UnitRecord]:
    units: dict[str, UnitRecord] = {}
    for exposure in exposures:
        if exposure.location is None or exposure.profile_id or exposure.anonymous_id:
            continue
        units.setdefault(
            exposure.location,
            UnitRecord(exposure.location, exposure.variant, exposure.exposed_at, True),
        )
    return units


@dataclass(frozen=True)
class History:
    """What the units did: orders and satisfaction answers, by person or store."""

    orders_by_person: dict[str, list[dict[str, Any]]]
    orders_by_store: dict[str, list[dict[str, Any]]]
    answers_by_person: dict[str, list[dict[str, Any]]]


def history(session: Session, *, since: datetime, links: dict[str, str]) -> History:
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_store: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in commerce_warehouse.orders_for_experiments(session, since=since):
        if order["profile_id"] is not None:
            by_person[_root(links, str(order["profile_id"]))].append(order)
        if order["location"]:
            by_store[order["location"]].append(order)
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for answer in conversations_warehouse.csat_rows(session):
        at = answer["at"]
        if answer["profile_id"] and at is not None and _aware(at) >= since:
            answers[_root(links, str(answer["profile_id"]))].append({**answer, "at": _aware(at)})
    return History(dict(by_person), dict(by_store), dict(answers))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _end(experiment: Experiment, now: datetime) -> datetime:
    return experiment.stopped_at or now


def _person_values(
    metric: str, orders: list[dict[str, Any]], start: datetime, end: datetime
) -> float:
    inside = [o for o in orders if start <= o["placed_at"] < end]
    if metric == Metric.CONVERSION:
        return 1.0 if inside else 0.0
    if metric == Metric.REVENUE:
        return float(sum(o["total"] for o in inside))
    return float(len(inside))


def observe(
    experiment: Experiment,
    units: dict[str, UnitRecord],
    found: History,
    metric: str,
    *,
    until: datetime | None = None,
) -> Observations:
    """The observations of ``metric`` per variant, with what happened up to ``until``
    (now, or the stop) counted."""
    now = until or _end(experiment, utcnow())
    window = timedelta(days=experiment.window_days)
    values: dict[str, list[float]] = defaultdict(list)
    clusters: dict[str, list[str]] = defaultdict(list)
    before: dict[str, list[float]] = defaultdict(list)
    for variant in experiment.variants:
        values[variant["key"]], clusters[variant["key"]] = [], []
        before[variant["key"]] = []
    if experiment.unit == Unit.STORE:
        return _observe_stores(experiment, units, found, metric, now)
    for unit in units.values():
        if unit.exposed_at > now or unit.variant not in values:
            continue
        start, end = unit.exposed_at, min(unit.exposed_at + window, now)
        orders = found.orders_by_person.get(unit.unit, [])
        if metric in PERSON_LEVEL:
            values[unit.variant].append(_person_values(metric, orders, start, end))
            clusters[unit.variant].append(unit.unit)
            before[unit.variant].append(_person_values(metric, orders, start - window, start))
        elif metric in (Metric.AOV, Metric.RETURN_RATE):
            for order in orders:
                if start <= order["placed_at"] < end:
                    value = (
                        float(order["total"])
                        if metric == Metric.AOV
                        else order["returned"] / order["units"]
                        if order["units"]
                        else 0.0
                    )
                    values[unit.variant].append(value)
                    clusters[unit.variant].append(unit.unit)
        else:  # CSAT
            for answer in found.answers_by_person.get(unit.unit, []):
                if start <= answer["at"] < end:
                    values[unit.variant].append(1.0 if answer["score"] >= SATISFIED else 0.0)
                    clusters[unit.variant].append(unit.unit)
    person_level = metric in PERSON_LEVEL
    return Observations(
        dict(values), dict(clusters), dict(before) if person_level else None, not person_level
    )


def _observe_stores(
    experiment: Experiment,
    units: dict[str, UnitRecord],
    found: History,
    metric: str,
    now: datetime,
) -> Observations:
    window = timedelta(days=experiment.window_days)
    values: dict[str, list[float]] = {v["key"]: [] for v in experiment.variants}
    clusters: dict[str, list[str]] = {v["key"]: [] for v in experiment.variants}
    before: dict[str, list[float]] = {v["key"]: [] for v in experiment.variants}
    daily = metric in (Metric.REVENUE, Metric.ORDERS)
    for unit in units.values():
        if unit.exposed_at > now or unit.variant not in values:
            continue
        orders = found.orders_by_store.get(unit.unit, [])
        start = unit.exposed_at
        if daily:
            days = max(1, int((now - start).total_seconds() // 86400))
            per_day = [0.0] * days
            pre = 0.0
            for order in orders:
                amount = float(order["total"]) if metric == Metric.REVENUE else 1.0
                if start <= order["placed_at"] < now:
                    day = min(int((order["placed_at"] - start).total_seconds() // 86400), days - 1)
                    per_day[day] += amount
                elif start - window <= order["placed_at"] < start:
                    pre += amount
            values[unit.variant] += per_day
            clusters[unit.variant] += [unit.unit] * days
            before[unit.variant] += [pre / experiment.window_days] * days
        else:
            for order in orders:
                if start <= order["placed_at"] < now:
                    if metric == Metric.AOV:
                        values[unit.variant].append(float(order["total"]))
                    else:
                        share = order["returned"] / order["units"] if order["units"] else 0.0
                        values[unit.variant].append(share)
                    clusters[unit.variant].append(unit.unit)
    return Observations(values, clusters, before if daily else None, True)


def collect(
    session: Session, experiment: Experiment, exposures: Sequence[Exposure]
) -> tuple[dict[str, UnitRecord], History]:
    """The experiment's units and their history (from the window before the first
    exposure on)."""
    links = _merge_links(session)
    if experiment.unit == Unit.STORE:
        units = store_units(exposures)
    else:
        units = person_units(session, exposures, links)
    first = min((u.exposed_at for u in units.values()), default=utcnow())
    since = first - timedelta(days=experiment.window_days)
    return units, history(session, since=since, links=links)
