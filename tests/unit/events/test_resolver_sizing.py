"""On SQLite a resolver batch holds off every append while it runs: batches are sized by
time, from the pace of the last full batch, within [MIN_BATCH, batch_size]."""

from sqlalchemy.orm import sessionmaker

from omnikanal.events.resolver import MIN_BATCH, Resolver


def test_batches_grow_while_fast_and_shrink_when_slow() -> None:
    resolver = Resolver(sessionmaker(), batch_size=5000, batch_seconds=0.2)
    assert resolver._limit == MIN_BATCH
    resolver._size_next(
        MIN_BATCH, 0.01, appending=True
    )  # 20,000/s: room for 4,000, but at most doubled
    assert resolver._limit == 2 * MIN_BATCH
    for _ in range(10):
        resolver._size_next(resolver._limit, resolver._limit / 20_000, appending=True)
    assert resolver._limit == 4000  # 0.2 s at 20,000/s
    resolver._size_next(4000, 4.0, appending=True)  # a slow batch (1,000/s): 200 fit in 0.2 s
    assert resolver._limit == MIN_BATCH
    resolver._size_next(50, 0.001, appending=True)  # a short batch says nothing about the pace
    assert resolver._limit == MIN_BATCH


def test_batches_may_last_longer_while_nobody_appends() -> None:
    resolver = Resolver(sessionmaker(), batch_size=5000, batch_seconds=0.05)
    for _ in range(10):
        resolver._size_next(resolver._limit, resolver._limit / 10_000, appending=False)
    assert resolver._limit == 2000  # 4 x 0.05 s at 10,000/s
    resolver._size_next(2000, 0.2, appending=True)
    assert resolver._limit == 500  # channels append again: back to 0.05 s


def test_without_a_time_bound_every_batch_is_full_size() -> None:
    resolver = Resolver(sessionmaker(), batch_size=5000)
    resolver._size_next(5000, 30.0, appending=True)
    assert resolver._limit == 5000
