"""Evaluation, pure: a time holdout on the hub's own history (or any interactions).

Everything before ``until - holdout_days`` trains; the purchases after it are what each
buyer of the holdout actually bought. Each method ranks 12 SKUs per buyer, scored by
MAP@12 (the mean of average precision at 12, as H&M's competition scored it) and
recall@12. The methods:

- ALS on store + online history (every channel's purchases, cart adds and views), with the
  popularity fallback and exclusions the hub serves;
- ALS on online history only: what a web shop alone would know (till purchases left out of
  training, of its best sellers and of what the person is known to have bought);
- repurchase + popularity: what the person bought most (then most recently), then the best
  sellers of their store and overall;
- popularity: the overall best sellers of the last weeks.

Each method's difference to the first comes with a paired bootstrap 95 % interval:
buyers are resampled with replacement and the difference of the means recomputed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from omnikanal.recommendations import training
from omnikanal.recommendations.training import PURCHASE, Interactions, Lists, Params, Progress

K = 12
BOOTSTRAP = 2000
SEED = 20261130

ALS_ALL = "ALS, store + online"
ALS_ONLINE = "ALS, online only"
REPURCHASE = "repurchase + popularity"
POPULARITY = "popularity"
METHODS = (ALS_ALL, ALS_ONLINE, REPURCHASE, POPULARITY)


@dataclass(frozen=True)
class Row:
    method: str
    map_at_k: float
    recall_at_k: float
    # Difference of this method's mean to the first method's, with its 95 % interval
    # (zero, and no interval, for the first itself).
    map_diff: float
    map_low: float
    map_high: float
    recall_diff: float
    recall_low: float
    recall_high: float


@dataclass(frozen=True)
class Evaluation:
    cutoff: datetime | None
    until: datetime | None
    buyers: int
    train_interactions: int
    rows: list[Row]


def average_precision(ranked: Sequence[int], actual: set[int], k: int = K) -> float:
    if not actual:
        return 0.0
    hits, total = 0, 0.0
    for position, item in enumerate(ranked[:k], start=1):
        if item in actual:
            hits += 1
            total += hits / position
    return total / min(len(actual), k)


def recall(ranked: Sequence[int], actual: set[int], k: int = K) -> float:
    if not actual:
        return 0.0
    return len(set(ranked[:k]) & actual) / len(actual)


def bootstrap_interval(
    diffs: npt.NDArray[np.float64], *, samples: int = BOOTSTRAP, seed: int = SEED
) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the mean of ``diffs`` over resamples (paired:
    each value is one buyer's difference between two methods)."""
    n = len(diffs)
    if n == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    step = max(1, 2_000_000 // n)
    for start in range(0, samples, step):
        stop = min(start + step, samples)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diffs[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _ranked_from_lists(lists: Lists, person: int, k: int) -> list[int]:
    found: list[int] = []
    seen: set[int] = set()
    excluded = set(lists.bought[person]) if person < len(lists.bought) else set()

    def take(items: Sequence[int]) -> None:
        for item in items:
            if len(found) >= k:
                return
            if item >= 0 and item not in seen and item not in excluded:
                seen.add(item)
                found.append(item)

    if person < lists.candidates.shape[0]:
        take(lists.candidates[person].tolist())
    store = lists.favourite_store[person] if person < len(lists.favourite_store) else ""
    if store:
        take([item for item, _ in lists.popular.get(store, [])])
    take([item for item, _ in lists.popular.get("", [])])
    return found


def _repurchase(
    train: Interactions, lists: Lists, buyers: Sequence[int], k: int
) -> list[list[int]]:
    bought = train.kind == PURCHASE
    counts: dict[tuple[int, int], tuple[int, int]] = {}
    for person, item, at in zip(
        train.person[bought].tolist(),
        train.item[bought].tolist(),
        train.at[bought].tolist(),
        strict=True,
    ):
        times, last = counts.get((person, item), (0, 0))
        counts[(person, item)] = (times + 1, max(last, at))
    mine: dict[int, list[tuple[int, int, int]]] = {}
    for (person, item), (times, last) in counts.items():
        mine.setdefault(person, []).append((-times, -last, item))
    ranked = []
    for person in buyers:
        own = [item for _, _, item in sorted(mine.get(person, []))]
        found: list[int] = []
        for item in (
            own
            + [i for i, _ in lists.popular.get(lists.favourite_store[person], [])]
            + [i for i, _ in lists.popular.get("", [])]
        ):
            if item not in found:
                found.append(item)
            if len(found) >= k:
                break
        ranked.append(found)
    return ranked


def evaluate(
    inter: Interactions,
    *,
    holdout_days: int = 28,
    params: Params | None = None,
    k: int = K,
    samples: int = BOOTSTRAP,
    progress: Progress | None = None,
) -> Evaluation:
    params = params or Params()
    told = progress or (lambda step, done, total: None)
    until = inter.until()
    if until is None:
        return Evaluation(None, None, 0, 0, [])
    cutoff = until - timedelta(days=holdout_days)
    limit = int(cutoff.timestamp())
    train_inter = inter.subset(inter.at < limit)
    held = (inter.at >= limit) & (inter.kind == PURCHASE)
    actual: dict[int, set[int]] = {}
    for person, item in zip(inter.person[held].tolist(), inter.item[held].tolist(), strict=True):
        actual.setdefault(person, set()).add(item)
    buyers = sorted(actual)
    if not buyers or not len(train_inter):
        return Evaluation(cutoff, until, len(buyers), len(train_inter), [])

    ranked: dict[str, list[list[int]]] = {}
    told("ALS, store + online", 0, 4)
    every = training.train(train_inter, params, serving=False)
    ranked[ALS_ALL] = [_ranked_from_lists(every, p, k) for p in buyers]
    told("ALS, online only", 1, 4)
    online = training.train(train_inter.subset(train_inter.online), params, serving=False)
    ranked[ALS_ONLINE] = [_ranked_from_lists(online, p, k) for p in buyers]
    told("baselines", 2, 4)
    ranked[REPURCHASE] = _repurchase(train_inter, every, buyers, k)
    overall = [item for item, _ in every.popular.get("", [])][:k]
    ranked[POPULARITY] = [overall for _ in buyers]
    told("bootstrap", 3, 4)

    scores: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {
        method: (
            np.array(
                [average_precision(r, actual[p], k) for r, p in zip(lists, buyers, strict=True)]
            ),
            np.array([recall(r, actual[p], k) for r, p in zip(lists, buyers, strict=True)]),
        )
        for method, lists in ranked.items()
    }
    first_ap, first_recall = scores[ALS_ALL]
    rows = []
    for method in METHODS:
        ap, rec = scores[method]
        if method == ALS_ALL:
            rows.append(Row(method, ap.mean(), rec.mean(), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
            continue
        map_low, map_high = bootstrap_interval(ap - first_ap, samples=samples)
        rec_low, rec_high = bootstrap_interval(rec - first_recall, samples=samples)
        rows.append(
            Row(
                method,
                float(ap.mean()),
                float(rec.mean()),
                float((ap - first_ap).mean()),
                map_low,
                map_high,
                float((rec - first_recall).mean()),
                rec_low,
                rec_high,
            )
        )
    told("done", 4, 4)
    return Evaluation(cutoff, until, len(buyers), len(train_inter), rows)
