"""The realisation rules that turn a proposed order into what happens in the book."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmm.data.orderflow import OrderKind
from lmm.engine.market import NEWEST_CANCEL_PROBABILITY, apply_order, cancellable_levels
from lmm.engine.orderbook import OrderBook, Side


def _book() -> OrderBook:
    book = OrderBook()
    book.add_limit(1, Side.BUY, 99, 100)
    book.add_limit(2, Side.BUY, 98, 50)
    book.add_limit(3, Side.BUY, 98, 70)
    book.add_limit(4, Side.SELL, 101, 100)
    book.add_limit(5, Side.SELL, 103, 200)
    return book


RNG = np.random.default_rng(0)


def test_limit_order_rests_or_trades() -> None:
    book = _book()
    r = apply_order(book, OrderKind.LIMIT_BUY, 100, 10, 10, RNG)
    assert r is not None and r.fills == () and book.best_bid == 100
    r = apply_order(book, OrderKind.LIMIT_SELL, 99, 30, 11, RNG)  # crosses the 100 bid
    assert [f.size for f in r.fills] == [10, 20] and book.depth(Side.BUY, 99) == 80


def test_market_order_trades_at_the_touch_and_walks_only_as_far_as_proposed() -> None:
    book = _book()
    # proposed price below the ask: it still takes the touch, and stops there
    r = apply_order(book, OrderKind.MARKET_BUY, 95, 150, 10, RNG)
    assert r.price == 101 and r.size == 100 and book.best_ask == 103
    r = apply_order(book, OrderKind.MARKET_SELL, 98, 500, 11, RNG)
    assert r.price == 98 and r.size == 220 and book.best_bid is None
    assert apply_order(book, OrderKind.MARKET_SELL, 98, 5, 12, RNG) is None  # empty side


def test_cancel_hits_the_nearest_level_in_range_and_deletes_the_whole_order() -> None:
    book = _book()
    r = apply_order(book, OrderKind.CANCEL_BUY, 97, 1_000, 0, RNG, price_range=(90, 98))
    assert r.price == 98 and r.order_id in (2, 3) and r.order_id not in book
    assert r.size == {2: 50, 3: 70}[r.order_id]
    # a proposed size below the order's still deletes it: real cancels are deletes
    r = apply_order(book, OrderKind.CANCEL_SELL, 103, 30, 0, RNG, price_range=(102, None))
    assert (r.price, r.size, r.order_id) == (103, 200, 5) and 5 not in book
    assert book.best_ask == 101 and book.prices(Side.SELL) == [101]
    # nothing in range: the book cannot take it
    assert apply_order(book, OrderKind.CANCEL_SELL, 110, 1, 0, RNG, price_range=(104, 120)) is None


def test_cancel_never_touches_protected_orders() -> None:
    book = _book()
    rng = np.random.default_rng(3)
    r = apply_order(
        book, OrderKind.CANCEL_BUY, 98, 1, 0, rng, price_range=(98, 98), protected=frozenset({2})
    )
    assert r.order_id == 3
    # only the protected order is left at 98: nothing there can be cancelled
    assert apply_order(book, OrderKind.CANCEL_BUY, 98, 1, 0, rng, (98, 98), protected={2}) is None
    assert book.order(2).size == 50
    assert cancellable_levels(book, Side.BUY, frozenset({1})) == [98]
    assert cancellable_levels(book, Side.BUY, frozenset({2})) == [99]


@settings(max_examples=200, deadline=None)
@given(
    orders=st.lists(
        st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 6)), max_size=25
    ),
    protected=st.sets(st.integers(0, 30), max_size=8),
)
def test_cancellable_levels_are_the_levels_holding_an_unprotected_order(
    orders: list[tuple[Side, int]], protected: set[int]
) -> None:
    """Against the definition, on books whose levels often hold protected orders only
    (protected ids may rest on either side, or not at all)."""
    book = OrderBook()
    for oid, (side, offset) in enumerate(orders):
        book.add_limit(oid, side, 100 - offset if side == Side.BUY else 100 + offset, 1)
    for side in (Side.BUY, Side.SELL):
        expected = [
            p for p in book.prices(side) if any(o not in protected for o, _ in book.queue(side, p))
        ]
        assert cancellable_levels(book, side, frozenset(protected)) == expected


def test_cancel_choice_is_reproducible_from_the_generator() -> None:
    picks = []
    for _ in range(2):
        book, rng = OrderBook(), np.random.default_rng(42)
        for oid in range(8):
            book.add_limit(oid, Side.BUY, 98, 10)
        picks.append(
            [
                apply_order(book, OrderKind.CANCEL_BUY, 98, 1, 0, rng, (98, 98)).order_id
                for _ in range(8)
            ]
        )
    assert picks[0] == picks[1] and sorted(picks[0]) == list(range(8))


def test_cancel_takes_the_newest_order_of_its_level_as_often_as_real_traders_do() -> None:
    rng = np.random.default_rng(7)
    hits = np.zeros(4, dtype=int)
    for _ in range(4_000):
        book = OrderBook()
        for oid in range(4):  # ids 0..3 in time priority; 3 is the newest
            book.add_limit(oid, Side.SELL, 105, 10)
        hits[apply_order(book, OrderKind.CANCEL_SELL, 105, 10, 0, rng).order_id] += 1
    share = hits / hits.sum()
    assert abs(share[3] - NEWEST_CANCEL_PROBABILITY) < 0.03
    # the older ones share the rest uniformly
    assert np.allclose(share[:3], (1 - NEWEST_CANCEL_PROBABILITY) / 3, atol=0.03)
