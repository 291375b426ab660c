"""Training, pure: interactions in, ranked lists out (no database here).

The model is implicit-feedback collaborative filtering (``implicit``'s alternating least
squares) on a person x SKU confidence matrix: each purchase line adds ``purchase``, each
cart add ``cart`` and each product view ``view`` to the cell, times ``alpha``; purchases on
every channel count the same. From the factors come

- per person, the best ``candidates`` SKUs with a reason: the item of their own history
  most like it (cosine of the item factors), bought or looked at; what they bought and
  will not buy again is left out (``rebuyable``);
- per SKU, the ``related`` SKUs most like it ("goes with");
- per store and overall, the best sellers of the last ``popular_days`` (the fallback for
  people with little or no history, and for people who gave no consent).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scipy import sparse  # type: ignore[import-untyped]

PURCHASE, CART, VIEW = 0, 1, 2
KINDS = ("purchase", "cart", "view")

# Reasons, as stored and served.
BOUGHT_WITH = "bought_with"
VIEWED_WITH = "viewed_with"
BOUGHT_BEFORE = "bought_before"
VIEWED_BEFORE = "viewed_before"
POPULAR_AT_STORE = "popular_at_store"
POPULAR = "popular"
GOES_WITH = "goes_with"
GOES_WITH_CART = "goes_with_cart"

# Told progress: (step, done, total).
Progress = Callable[[str, int, int], None]
# People (and items) ranked per call of the top-k.
PEOPLE_BATCH = 10_000
# Bought items left out of one person's list at most (the top-k is asked for this many more).
MOST_EXCLUDED = 200
FEW_EXCLUDED = 16


def _quiet(step: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Params:
    # Chosen on the H&M sample's 28-day holdout (benchmarks/recommendations.py): 128
    # factors with regularization 0.1 beat 32 and 64 factors and 0.05 or 0.5; 256 did
    # not help, nor did 15 or 30 iterations over 10 (MAP@12 within 0.0004). Tuned on that
    # holdout, so its figure is an optimistic one.
    factors: int = 128
    iterations: int = 10
    regularization: float = 0.1
    alpha: float = 10.0
    purchase: float = 1.0
    cart: float = 0.5
    view: float = 0.25
    candidates: int = 40
    # Below this predicted preference a SKU is no one's suggestion (best sellers fill in).
    min_score: float = 0.01
    related: int = 20
    popular: int = 100
    popular_days: int = 28
    # A SKU is bought again when at least this share of its buyers (and 3 of them)
    # bought it on two or more occasions; a person's own repeat counts for them.
    rebuy_share: float = 0.2
    threads: int = 2
    seed: int = 7

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Interactions:
    """Columnar: row ``i`` is one interaction of ``people[person[i]]`` with
    ``items[item[i]]`` of ``kind[i]`` at ``at[i]`` (Unix seconds); a purchase names its
    store (``location``, -1 for none: an online order delivered) and whether its channel
    is online."""

    people: list[str]
    items: list[str]
    locations: list[str]
    person: npt.NDArray[np.int32]
    item: npt.NDArray[np.int32]
    kind: npt.NDArray[np.int8]
    at: npt.NDArray[np.int64]
    location: npt.NDArray[np.int32]
    online: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.person.shape[0])

    def subset(self, mask: npt.NDArray[np.bool_]) -> "Interactions":
        return Interactions(
            people=self.people,
            items=self.items,
            locations=self.locations,
            person=self.person[mask],
            item=self.item[mask],
            kind=self.kind[mask],
            at=self.at[mask],
            location=self.location[mask],
            online=self.online[mask],
        )

    def until(self) -> datetime | None:
        if not len(self):
            return None
        return datetime.fromtimestamp(int(self.at.max()), tz=UTC)


class Builder:
    """Collects interactions one at a time, naming people, SKUs and stores once."""

    def __init__(self) -> None:
        self._people: dict[str, int] = {}
        self._items: dict[str, int] = {}
        self._locations: dict[str, int] = {}
        self._rows: list[tuple[int, int, int, int, int, bool]] = []

    @staticmethod
    def _index(names: dict[str, int], name: str) -> int:
        found = names.get(name)
        if found is None:
            found = names[name] = len(names)
        return found

    def add(
        self,
        *,
        person: str,
        sku: str,
        kind: int,
        at: datetime,
        location: str | None = None,
        online: bool = True,
        times: int = 1,
    ) -> None:
        where = self._index(self._locations, location) if location else -1
        row = (
            self._index(self._people, person),
            self._index(self._items, sku),
            kind,
            int(at.timestamp()),
            where,
            online,
        )
        self._rows.extend([row] * max(times, 1))

    def build(self) -> Interactions:
        rows = np.array(self._rows, dtype=np.int64).reshape(-1, 6)
        return Interactions(
            people=list(self._people),
            items=list(self._items),
            locations=list(self._locations),
            person=rows[:, 0].astype(np.int32),
            item=rows[:, 1].astype(np.int32),
            kind=rows[:, 2].astype(np.int8),
            at=rows[:, 3],
            location=rows[:, 4].astype(np.int32),
            online=rows[:, 5].astype(bool),
        )


@dataclass
class Lists:
    """What a training run produced, before it is stored."""

    params: Params
    until: datetime | None
    people: list[str]
    items: list[str]
    # Per person (row): candidate item indexes (-1: none), scores, and the reason's
    # item index with whether the person bought it.
    candidates: npt.NDArray[np.int32]
    scores: npt.NDArray[np.float32]
    reason_item: npt.NDArray[np.int32]
    reason_bought: npt.NDArray[np.bool_]
    # Per person: item indexes bought and not to be bought again.
    bought: list[list[int]]
    # Per item (row): related item indexes and their similarity.
    related: npt.NDArray[np.int32]
    related_scores: npt.NDArray[np.float32]
    # Store code ("" for everywhere) -> best sellers (item index, units).
    popular: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Per person: their favourite store (most purchases), or "".
    favourite_store: list[str] = field(default_factory=list)
    interactions: int = 0

    def person_items(self, row: int) -> list[list[object]]:
        """The stored form of a person's list: ``[[sku, score, reason, reason_sku]]``."""
        return next(self.people_items(row, row + 1))

    def people_items(self, start: int, stop: int) -> Iterator[list[list[object]]]:
        """``person_items`` of rows ``start:stop``, converted a block at a time."""
        skus = self.items
        picked = self.candidates[start:stop].tolist()
        scores = np.round(self.scores[start:stop], 4).tolist()
        reasons = self.reason_item[start:stop].tolist()
        bought = self.reason_bought[start:stop].tolist()
        for items, values, reason_items, owned in zip(picked, scores, reasons, bought, strict=True):
            found: list[list[object]] = []
            for item, score, reason_item, was_bought in zip(
                items, values, reason_items, owned, strict=True
            ):
                if item < 0:
                    break
                if reason_item == item:
                    found.append(
                        [skus[item], score, BOUGHT_BEFORE if was_bought else VIEWED_BEFORE, None]
                    )
                elif reason_item < 0:
                    found.append([skus[item], score, POPULAR, None])
                else:
                    reason = BOUGHT_WITH if was_bought else VIEWED_WITH
                    found.append([skus[item], score, reason, skus[reason_item]])
            yield found

    def related_items(self, item: int) -> list[list[object]]:
        return [
            [self.items[int(other)], round(float(score), 4)]
            for other, score in zip(self.related[item], self.related_scores[item], strict=True)
            if other >= 0
        ]

    def popular_items(self, store: str) -> list[list[object]]:
        return [[self.items[item], units] for item, units in self.popular.get(store, [])]


def _summed(
    values: npt.NDArray[Any],
    rows: npt.NDArray[Any],
    columns: npt.NDArray[Any],
    shape: tuple[int, int],
) -> "sparse.csr_matrix":
    """A sparse matrix of ``values`` summed at (row, column). SciPy is imported on the
    first training, not with the hub: about 0.4 s that serving and the other commands do
    not need."""
    from scipy import sparse

    matrix = sparse.coo_matrix((values, (rows, columns)), shape=shape).tocsr()
    matrix.sum_duplicates()
    return matrix


def confidence(inter: Interactions, params: Params) -> "sparse.csr_matrix":
    """People x items: the summed weights of each person's interactions with each item."""
    weights = np.array([params.purchase, params.cart, params.view], dtype=np.float32)
    return _summed(
        weights[inter.kind], inter.person, inter.item, (len(inter.people), len(inter.items))
    )


def fit(
    matrix: "sparse.csr_matrix", params: Params, progress: Progress = _quiet
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(person factors, item factors) of ALS on the confidence matrix, ``params.threads``
    threads and one BLAS thread each (as ``implicit`` asks)."""
    from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    people, items = matrix.shape
    if people == 0 or items == 0:
        empty = np.zeros((0, params.factors), dtype=np.float32)
        return empty.reshape(people, params.factors), empty.reshape(items, params.factors)

    def told(iteration: int, elapsed: float, loss: float) -> None:
        progress("fit", iteration + 1, params.iterations)

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            num_threads=params.threads,
            random_state=params.seed,
            calculate_training_loss=False,
        )
        model.fit(matrix, show_progress=False, callback=told)
    users = np.asarray(model.user_factors, dtype=np.float32)
    factors = np.asarray(model.item_factors, dtype=np.float32)
    return users, factors


def _normalised(factors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(factors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    found: npt.NDArray[np.float32] = (factors / norms).astype(np.float32)
    return found


def _purchase_occasions(inter: Interactions) -> "sparse.csr_matrix":
    """People x items: on how many distinct days the person bought the item."""
    bought = inter.kind == PURCHASE
    days = inter.at[bought] // 86_400
    pairs = np.unique(
        np.stack([inter.person[bought], inter.item[bought], days], axis=1).astype(np.int64),
        axis=0,
    )
    return _summed(
        np.ones(len(pairs), np.int32),
        pairs[:, 0],
        pairs[:, 1],
        (len(inter.people), len(inter.items)),
    )


def _rebuyable(occasions: "sparse.csr_matrix", params: Params) -> npt.NDArray[np.bool_]:
    buyers = np.asarray((occasions > 0).sum(axis=0)).ravel()
    repeaters = np.asarray((occasions > 1).sum(axis=0)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(buyers > 0, repeaters / np.maximum(buyers, 1), 0.0)
    result: npt.NDArray[np.bool_] = (buyers >= 3) & (share >= params.rebuy_share)
    return result


def rebuyable_items(inter: Interactions, params: Params) -> npt.NDArray[np.bool_]:
    """Per item: bought again by enough of its buyers (occasions: distinct days)."""
    return _rebuyable(_purchase_occasions(inter), params)


def excluded_purchases(inter: Interactions, params: Params) -> "sparse.csr_matrix":
    """People x items, 1 where the person bought the item and will not buy it again: the
    item is not one people buy again and they bought it on one occasion only."""
    occasions = _purchase_occasions(inter)
    again = _rebuyable(occasions, params)
    once = occasions.multiply(occasions == 1).tocsr()
    once.data[again[once.indices]] = 0
    once.eliminate_zeros()
    return (once > 0).astype(np.int8).tocsr()


def popular(inter: Interactions, params: Params) -> dict[str, list[tuple[int, int]]]:
    """Best sellers by units: of the last ``popular_days`` first, then of all time; per
    store (the orders' store) and overall ("")."""
    bought = inter.kind == PURCHASE
    if not bought.any():
        return {"": []}
    newest = int(inter.at[bought].max())
    recent = inter.at >= newest - params.popular_days * 86_400
    found: dict[str, list[tuple[int, int]]] = {}
    stores = [("", bought)] + [
        (name, bought & (inter.location == index)) for index, name in enumerate(inter.locations)
    ]
    items = len(inter.items)
    for name, mask in stores:
        if not mask.any():
            continue
        recent_units = np.bincount(inter.item[mask & recent], minlength=items)
        all_units = np.bincount(inter.item[mask], minlength=items)
        order = np.lexsort((np.arange(items), -all_units, -recent_units))
        kept = [int(i) for i in order[: params.popular] if all_units[i] > 0]
        found[name] = [(i, int(recent_units[i] or all_units[i])) for i in kept]
    return found


def favourite_stores(inter: Interactions) -> list[str]:
    """Per person, the store they bought in most (ties: the first store named), or ""."""
    stored = (inter.kind == PURCHASE) & (inter.location >= 0)
    found = [""] * len(inter.people)
    if not stored.any():
        return found
    counts = _summed(
        np.ones(int(stored.sum()), np.int32),
        inter.person[stored],
        inter.location[stored],
        (len(inter.people), len(inter.locations)),
    )
    best = np.asarray(counts.argmax(axis=1)).ravel()
    has = np.asarray(counts.sum(axis=1)).ravel() > 0
    for person in np.flatnonzero(has):
        found[int(person)] = inter.locations[int(best[person])]
    return found


def train(
    inter: Interactions, params: Params, progress: Progress = _quiet, *, serving: bool = True
) -> Lists:
    """Everything a model serves, from these interactions; with ``serving`` false (an
    evaluation) only the people's ranked lists, without reasons or related SKUs."""
    matrix = confidence(inter, params)
    users, factors = fit(matrix, params, progress)
    excluded = excluded_purchases(inter, params)
    bought_matrix = _bought(inter)
    unit = _normalised(factors)
    people, items = matrix.shape
    k = min(params.candidates, items)
    candidates = np.full((people, k), -1, np.int32)
    scores = np.zeros((people, k), np.float32)
    reason_item = np.full((people, k), -1, np.int32)
    reason_bought = np.zeros((people, k), bool)
    # People and items of the index with nothing in these interactions (a holdout's
    # training part): no list for them, never recommended.
    known_people = np.diff(matrix.indptr) > 0
    unknown_items = np.bincount(inter.item, minlength=items) == 0
    unknown_ids = np.flatnonzero(unknown_items).astype(np.int32)
    history = strongest(matrix, REASON_HISTORY) if serving else np.zeros((people, 0), np.int32)
    for start in range(0, people, PEOPLE_BATCH):
        stop = min(start + PEOPLE_BATCH, people)
        best, best_scores = _best(
            factors,
            users[start:stop],
            k,
            excluded=excluded[start:stop],
            unknown=unknown_ids,
            min_score=params.min_score,
            threads=params.threads,
        )
        best[~known_people[start:stop]] = -1
        candidates[start:stop] = best
        scores[start:stop] = np.where(best >= 0, best_scores, 0)
        if serving:
            _reasons(
                start, stop, history, bought_matrix, unit, candidates, reason_item, reason_bought
            )
        progress("people", stop, people)
    if serving:
        related, related_scores = _related(unit, params, unknown_ids, progress)
    else:
        related, related_scores = np.zeros((items, 0), np.int32), np.zeros((items, 0), np.float32)
    bought = [
        excluded.indices[excluded.indptr[row] : excluded.indptr[row + 1]].tolist()
        for row in range(people)
    ]
    return Lists(
        params=params,
        until=inter.until(),
        people=inter.people,
        items=inter.items,
        candidates=candidates,
        scores=scores,
        reason_item=reason_item,
        reason_bought=reason_bought,
        bought=bought,
        related=related,
        related_scores=related_scores,
        popular=popular(inter, params),
        favourite_store=favourite_stores(inter),
        interactions=len(inter),
    )


def _bought(inter: Interactions) -> "sparse.csr_matrix":
    bought = inter.kind == PURCHASE
    return _summed(
        np.ones(int(bought.sum()), np.int8),
        inter.person[bought],
        inter.item[bought],
        (len(inter.people), len(inter.items)),
    )


# A person's history items weighed for a reason: their strongest ones.
REASON_HISTORY = 20
# People whose reasons are computed in one batched product (memory: k x factors each).
REASON_BATCH = 1000


def strongest(matrix: "sparse.csr_matrix", n: int) -> npt.NDArray[np.int32]:
    """Per row, its ``n`` strongest columns (highest value first), -1 padded."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((-matrix.data, rows))
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    kept = rank < n
    found = np.full((matrix.shape[0], n), -1, np.int32)
    found[rows[order][kept], rank[kept]] = matrix.indices[order][kept]
    return found


def _member(
    rows: npt.NDArray[np.int64], columns: npt.NDArray[np.int64], matrix: "sparse.csr_matrix"
) -> npt.NDArray[np.bool_]:
    """Whether each (row, column) is stored in ``matrix`` (vectorised: a binary search in
    the stored (row, column) keys, which a CSR matrix with sorted indices keeps sorted)."""
    if matrix.nnz == 0:
        return np.zeros(rows.shape, bool)
    if not matrix.has_sorted_indices:
        matrix = matrix.sorted_indices()
    width = np.int64(matrix.shape[1])
    stored = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = stored * width + matrix.indices.astype(np.int64)
    wanted = rows * width + columns
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found: npt.NDArray[np.bool_] = keys[at] == wanted
    return found


def _reasons(
    start: int,
    stop: int,
    history: npt.NDArray[np.int32],
    bought: "sparse.csr_matrix",
    unit: npt.NDArray[np.float32],
    candidates: npt.NDArray[np.int32],
    reason_item: npt.NDArray[np.int32],
    reason_bought: npt.NDArray[np.bool_],
) -> None:
    """For each candidate of people ``start:stop``, the item of the person's history most
    like it (cosine of the item factors), and whether they bought it."""
    for at in range(start, stop, REASON_BATCH):
        end = min(at + REASON_BATCH, stop)
        picked = candidates[at:end]
        own = history[at:end]
        similar = np.matmul(
            unit[np.maximum(picked, 0)], unit[np.maximum(own, 0)].transpose(0, 2, 1)
        )
        similar[np.broadcast_to((own < 0)[:, None, :], similar.shape)] = -np.inf
        best = np.take_along_axis(own, np.argmax(similar, axis=2), axis=1)
        best[(picked < 0) | (own[:, :1] < 0)] = -1
        reason_item[at:end] = best
        rows = np.broadcast_to(np.arange(end - at, dtype=np.int64)[:, None], best.shape)
        reason_bought[at:end] = (best >= 0) & _member(
            rows.ravel(), np.maximum(best, 0).ravel().astype(np.int64), bought[at:end]
        ).reshape(best.shape)


def _best(
    items: npt.NDArray[np.float32],
    query: npt.NDArray[np.float32],
    k: int,
    *,
    excluded: "sparse.csr_matrix",
    unknown: npt.NDArray[np.int32],
    min_score: float,
    threads: int,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Per query row, the ``k`` items of highest dot product, best first, leaving out the
    row's ``excluded`` items, the ``unknown`` ones and any scoring under ``min_score``
    (-1 where fewer are left): implicit's top-k in C, ``threads`` threads. The excluded
    items are taken out afterwards (the top-k's own per-row filter slices the matrix row
    by row in Python): it is asked for as many more as a row excludes, at most
    ``MOST_EXCLUDED``."""
    from implicit.cpu.topk import topk  # type: ignore[import-untyped]

    rows = query.shape[0]
    if k == 0 or rows == 0:
        return np.full((rows, k), -1, np.int32), np.zeros((rows, k), np.float32)
    counts = np.diff(excluded.indptr)
    few = counts <= FEW_EXCLUDED
    if few.any() and not few.all():
        # Most people leave out a few items: asking the top-k for as many more as the
        # heaviest buyer leaves out would cost them all (the partial sort grows with k).
        best = np.full((rows, k), -1, np.int32)
        best_scores = np.zeros((rows, k), np.float32)
        for part in (few, ~few):
            best[part], best_scores[part] = _best(
                items,
                query[part],
                k,
                excluded=excluded[np.flatnonzero(part)],
                unknown=unknown,
                min_score=min_score,
                threads=threads,
            )
        return best, best_scores
    extra = int(min(counts.max(initial=0), MOST_EXCLUDED))
    wanted = min(k + extra, items.shape[0])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, "blas"):
        ids, found = topk(
            items,
            np.ascontiguousarray(query),
            wanted,
            filter_items=unknown if len(unknown) else None,
            num_threads=threads,
        )
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(found, dtype=np.float32)
    keep = np.isfinite(scores) & (scores >= min_score) & (ids >= 0)
    if excluded.nnz:
        row_of = np.broadcast_to(np.arange(rows, dtype=np.int64)[:, None], ids.shape)
        keep &= ~_member(row_of.ravel(), np.maximum(ids, 0).ravel(), excluded).reshape(ids.shape)
    # Kept ones first, in their order.
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(ids, order, axis=1).astype(np.int32)
    best_scores = np.take_along_axis(scores, order, axis=1)
    best[~np.take_along_axis(keep, order, axis=1)] = -1
    if best.shape[1] < k:
        pad = k - best.shape[1]
        best = np.pad(best, ((0, 0), (0, pad)), constant_values=-1)
        best_scores = np.pad(best_scores, ((0, 0), (0, pad)))
    return best, best_scores


def _related(
    unit: npt.NDArray[np.float32],
    params: Params,
    unknown: npt.NDArray[np.int32],
    progress: Progress,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """Per item, the items most like it (cosine of their factors), itself left out."""
    items = unit.shape[0]
    k = min(params.related, max(items - 1, 0))
    related = np.full((items, k), -1, np.int32)
    related_scores = np.zeros((items, k), np.float32)
    for start in range(0, items, PEOPLE_BATCH):
        stop = min(start + PEOPLE_BATCH, items)
        itself = _summed(
            np.ones(stop - start, np.float32),
            np.arange(stop - start),
            np.arange(start, stop),
            (stop - start, items),
        )
        best, best_scores = _best(
            unit,
            unit[start:stop],
            k,
            excluded=itself,
            unknown=unknown,
            min_score=-1.0,
            threads=params.threads,
        )
        related[start:stop] = best
        related_scores[start:stop] = np.where(best >= 0, best_scores, 0)
        progress("related", stop, items)
    return related, related_scores


def cutoff_of(until: datetime, days: int) -> datetime:
    return until - timedelta(days=days)
