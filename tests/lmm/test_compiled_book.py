"""The compiled book equals the reference OrderBook exactly, operation by operation.

Differential tests: one random stream of operations (valid and invalid) goes to both engines;
after every operation the results (fills, returned values, error messages) and the whole
visible state (every level, every queue in priority order, counters, each order) must agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmm.data import read_lobster
from lmm.engine.compiled.book import CompiledBooks, CompiledOrderBook
from lmm.engine.compiled.replay import replay_compiled
from lmm.engine.orderbook import OrderBook, OrderBookError, Side
from lmm.engine.replay import replay

LOW, HIGH = 95, 105
ids = st.integers(-4, 40)  # small: duplicates, unknown and anonymous ids all occur
sides = st.sampled_from([Side.BUY, Side.SELL])
prices = st.one_of(st.integers(LOW, HIGH), st.sampled_from([0, -3]))
sizes = st.one_of(st.integers(1, 60), st.sampled_from([0, -1, 500]))
BY_KIND = {
    "add_limit": st.tuples(st.just("add_limit"), ids, sides, prices, sizes, st.integers(0, 2)),
    "add_market": st.tuples(st.just("add_market"), ids, sides, sizes),
    "add_ioc": st.tuples(st.just("add_ioc"), ids, sides, prices, sizes),
    "cancel": st.tuples(st.just("cancel"), ids, sizes),
    "delete": st.tuples(st.just("delete"), ids),
    "execute": st.tuples(st.just("execute"), ids, sizes, ids),
    "execute_hidden": st.tuples(st.just("execute_hidden"), prices, sizes),
    "add_anonymous": st.tuples(st.just("add_anonymous"), sides, prices, sizes),
}
operation = st.sampled_from(["add_limit"] * 6 + ["cancel", "delete"] * 2 + list(BY_KIND)).flatmap(
    BY_KIND.get
)
operations = st.lists(operation, min_size=1, max_size=60)

#: shared across examples (compiling and allocating once); each example resets market 1 and
#: checks that markets 0 and 2 never change
BOOKS = CompiledBooks(3, max_orders=256, max_levels=32)
SMALL = CompiledBooks(1, max_orders=6, max_levels=3)


def apply(book: OrderBook | CompiledOrderBook, op: tuple) -> object:
    """Run one operation; returns its result or the error message."""
    try:
        return getattr(book, op[0])(*op[1:])
    except OrderBookError as error:
        return f"error: {error}"


def state(book: OrderBook | CompiledOrderBook) -> dict:
    """Everything visible about a book."""
    sides_state = {}
    for side in (Side.BUY, Side.SELL):
        levels = book.levels(side, 1000)
        sides_state[side] = [
            (p, s, book.depth(side, p), book.queue_length(side, p), book.queue(side, p))
            for p, s in levels
        ]
        assert book.prices(side) == [p for p, _ in levels]
    orders = {
        oid: (book.order(oid), book.queue_ahead(oid))
        for side in sides_state.values()
        for *_, queue in side
        for oid, _ in queue
    }
    return {
        "best": (book.best_bid, book.best_ask, book.spread(), book.mid_x2()),
        "sides": sides_state,
        "orders": orders,
        "row": book.snapshot_row(4),
        "snapshot": book.snapshot(3).tolist(),
        "len": len(book),
        "resting": book.resting_volume,
        "owners": [book.orders_of(owner) for owner in (-1, 0, 1, 2)],
        "cross": [book.would_cross(s, p) for s in (Side.BUY, Side.SELL) for p in (LOW, 100, HIGH)],
        "volumes": (
            book.volume_added,
            book.volume_traded,
            book.volume_cancelled,
            book.volume_hidden_traded,
        ),
    }


@settings(max_examples=150, deadline=None)
@given(operations)
def test_random_streams_match_reference(ops: list[tuple]) -> None:
    BOOKS.reset(1)
    compiled, reference = BOOKS[1], OrderBook()
    others = [(BOOKS.arrays.stats[i].copy(), BOOKS.arrays.n_levels[i].copy()) for i in (0, 2)]
    for op in ops:
        assert apply(compiled, op) == apply(reference, op), op
        assert state(compiled) == state(reference), op
    for i, (stats, n_levels) in zip((0, 2), others, strict=True):
        assert (BOOKS.arrays.stats[i] == stats).all()
        assert (BOOKS.arrays.n_levels[i] == n_levels).all()


@settings(max_examples=100, deadline=None)
@given(operations)
def test_full_book_raises_and_stays_unchanged(ops: list[tuple]) -> None:
    """With room for 6 orders and 3 levels a side, capacity errors are common: each leaves
    the compiled book as it was; every other operation still matches the reference."""
    SMALL.reset(0)
    compiled, reference = SMALL[0], OrderBook()
    for op in ops:
        before = state(compiled)
        result = apply(compiled, op)
        if isinstance(result, str) and "is full" in result:
            assert state(compiled) == before
            continue
        assert result == apply(reference, op), op
        assert state(compiled) == state(reference), op


def test_sweep_larger_than_the_book_and_bad_arguments() -> None:
    compiled, reference = CompiledOrderBook(CompiledBooks(1, 64, 16)), OrderBook()
    stream = [("add_limit", i, Side.SELL, 100 + i % 5, 10 + i) for i in range(20)]
    stream += [
        ("add_anonymous", Side.SELL, 99, 7),
        ("add_anonymous", Side.BUY, 99, 7),  # crosses
        ("add_market", 50, Side.BUY, 10**6),
        ("add_limit", 51, Side.BUY, 100.5, 3),
        ("add_limit", 52, 0, 100, 3),
        ("add_limit", True, Side.BUY, 100, 3),
        ("add_limit", np.int64(53), Side.BUY, np.int64(90), np.int64(3)),
        ("cancel", 53, 4),
        ("execute", 53, 2, 77),
        ("delete", 53),
        ("levels", Side.BUY, -1),
    ]
    for op in stream:
        assert apply(compiled, op) == apply(reference, op), op
        assert state(compiled) == state(reference), op
    with pytest.raises(IndexError):
        CompiledBooks(2)[2]
    with pytest.raises(ValueError, match="max_orders"):
        CompiledBooks(1, max_orders=0)


def test_id_index_survives_heavy_churn() -> None:
    """Many more insertions and removals than slots: backward-shift deletion keeps every
    lookup right (ids collide on purpose: multiples of the table size)."""
    rng = np.random.default_rng(0)
    compiled, reference = CompiledOrderBook(CompiledBooks(1, 64, 64)), OrderBook()
    table = compiled.books.arrays.index.shape[1]
    live: list[int] = []
    for step in range(3000):
        if live and (len(live) >= 60 or rng.random() < 0.5):
            oid = live.pop(int(rng.integers(len(live))))
            assert compiled.delete(oid) == reference.delete(oid)
        else:
            oid = step * table if step % 3 else step
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = int(rng.integers(1, 40)) if side == Side.BUY else int(rng.integers(41, 80))
            compiled.add_limit(oid, side, price, 5)
            reference.add_limit(oid, side, price, 5)
            live.append(oid)
    assert state(compiled) == state(reference)
    assert all(oid in compiled for oid in live)
    assert not any(oid in compiled for oid in range(3000) if oid not in live)


def test_replay_matches_python_replay(lobster_dir: Path) -> None:
    """The compiled replay of the GOOG level-10 day verifies every row with exactly the
    Python replay's reconciliations, and ends in the same book."""
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
    reference, expected = replay(day, verify=True)
    compiled, report = replay_compiled(day, verify=True)
    assert report.rows_matched == report.rows_compared == len(day) - 1
    timing = {"seconds", "messages_per_second"}
    got = {k: v for k, v in report.to_dict().items() if k not in timing}
    assert got == {k: v for k, v in expected.to_dict().items() if k not in timing}
    for side in (Side.BUY, Side.SELL):
        assert compiled.levels(side, 10**6) == reference.levels(side, 10**6)
        for price in reference.prices(side):
            assert compiled.queue(side, price) == reference.queue(side, price)
