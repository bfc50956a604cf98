"""Unit tests for the price-time-priority matching engine in :mod:`lmm.engine.orderbook`."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.engine.orderbook import EMPTY_PRICE, Fill, OrderBook, OrderBookError, OrderState, Side

BUY, SELL = Side.BUY, Side.SELL


def counters(book: OrderBook) -> tuple[int, int, int, int]:
    return (
        book.volume_added,
        book.volume_traded,
        book.volume_cancelled,
        book.volume_hidden_traded,
    )


def state(book: OrderBook) -> tuple:
    """Everything observable about a book, to check that a failed operation changed nothing."""
    queues = {
        (side, price): book.queue(side, price)
        for side in (BUY, SELL)
        for price, _ in book.levels(side, 1000)
    }
    orders = sorted(
        (book.order(oid) for queue in queues.values() for oid, _ in queue),
        key=lambda o: o.order_id,
    )
    return (
        book.snapshot(10).tolist(),
        len(book),
        counters(book),
        book.resting_volume,
        orders,
        queues,
    )


@pytest.fixture
def ladder() -> OrderBook:
    """Asks 101 (ids 1, 2), 102 (id 3), 104 (id 4); bids 99 (id 5), 98 (ids 6, 7)."""
    book = OrderBook()
    book.add_limit(1, SELL, 101, 10)
    book.add_limit(2, SELL, 101, 5)
    book.add_limit(3, SELL, 102, 20)
    book.add_limit(4, SELL, 104, 7)
    book.add_limit(5, BUY, 99, 8)
    book.add_limit(6, BUY, 98, 3)
    book.add_limit(7, BUY, 98, 4)
    return book


# --------------------------------------------------------------------------- add_limit
def test_limit_order_rests_on_empty_book() -> None:
    book = OrderBook()
    assert book.best_bid is None and book.best_ask is None
    assert book.spread() is None and book.mid_x2() is None

    assert book.add_limit(10, BUY, 100, 25) == []
    assert book.best_bid == 100
    assert book.best_ask is None
    assert book.spread() is None
    assert book.mid_x2() is None
    assert book.levels(BUY, 5) == [(100, 25)]
    assert book.levels(SELL, 5) == []
    assert book.depth(BUY, 100) == 25
    assert book.depth(SELL, 100) == 0
    assert book.depth(BUY, 101) == 0
    assert book.snapshot(2).tolist() == [
        [EMPTY_PRICE, 0, 100, 25],
        [EMPTY_PRICE, 0, EMPTY_PRICE, 0],
    ]
    assert book.snapshot_row(2) == [EMPTY_PRICE, 0, 100, 25, EMPTY_PRICE, 0, EMPTY_PRICE, 0]
    assert len(book) == 1 and 10 in book and 11 not in book
    assert book.order(10) == OrderState(10, BUY, 100, 25, 0)
    assert book.volume_added == 25 and book.resting_volume == 25

    assert book.add_limit(11, SELL, 103, 4) == []
    assert book.best_ask == 103
    assert book.spread() == 3
    assert book.mid_x2() == 203
    assert book.snapshot(1).tolist() == [[103, 4, 100, 25]]


def test_levels_are_best_first_on_both_sides(ladder: OrderBook) -> None:
    assert ladder.levels(SELL, 10) == [(101, 15), (102, 20), (104, 7)]
    assert ladder.levels(BUY, 10) == [(99, 8), (98, 7)]
    assert ladder.levels(SELL, 2) == [(101, 15), (102, 20)]
    assert ladder.levels(BUY, 1) == [(99, 8)]
    assert ladder.levels(BUY, 0) == []
    assert ladder.best_ask == 101 and ladder.best_bid == 99
    assert ladder.spread() == 2 and ladder.mid_x2() == 200
    assert ladder.resting_volume == 15 + 20 + 7 + 8 + 7


def test_would_cross(ladder: OrderBook) -> None:
    assert ladder.would_cross(BUY, 101) is True
    assert ladder.would_cross(BUY, 100) is False
    assert ladder.would_cross(SELL, 99) is True
    assert ladder.would_cross(SELL, 100) is False
    assert OrderBook().would_cross(BUY, 10**6) is False


def test_buy_limit_walks_several_levels_and_rests_remainder(ladder: OrderBook) -> None:
    fills = ladder.add_limit(100, BUY, 103, 40)
    assert fills == [
        Fill(maker_id=1, taker_id=100, price=101, size=10),
        Fill(maker_id=2, taker_id=100, price=101, size=5),
        Fill(maker_id=3, taker_id=100, price=102, size=20),
    ]
    # 40 - 35 = 5 shares rest at the limit price 103: not at the last fill price 102,
    # and the ask at 104 (beyond the limit) is left alone
    assert ladder.order(100) == OrderState(100, BUY, 103, 5, 0)
    assert ladder.best_bid == 103
    assert ladder.best_ask == 104
    assert ladder.spread() == 1
    assert ladder.levels(SELL, 10) == [(104, 7)]
    assert ladder.levels(BUY, 10) == [(103, 5), (99, 8), (98, 7)]
    for maker in (1, 2, 3):
        assert maker not in ladder
    assert ladder.volume_traded == 35
    assert ladder.volume_added == 15 + 20 + 7 + 8 + 7 + 5


def test_sell_limit_partially_fills_inside_level_and_rests(ladder: OrderBook) -> None:
    fills = ladder.add_limit(200, SELL, 98, 10)
    assert fills == [Fill(5, 200, 99, 8), Fill(6, 200, 98, 2)]
    # the limit is not exhausted: 10 - 10 = 0 left, nothing rests
    assert 200 not in ladder
    assert ladder.queue(BUY, 98) == [(6, 1), (7, 4)]
    assert ladder.best_bid == 98 and ladder.depth(BUY, 98) == 5

    fills = ladder.add_limit(201, SELL, 98, 9)
    assert fills == [Fill(6, 201, 98, 1), Fill(7, 201, 98, 4)]
    assert ladder.order(201) == OrderState(201, SELL, 98, 4, 0)
    assert ladder.best_bid is None
    assert ladder.best_ask == 98
    assert ladder.queue_length(SELL, 98) == 1
    assert ladder.queue_length(BUY, 98) == ladder.queue_length(BUY, 50) == 0


def test_limit_order_that_fills_completely_does_not_rest(ladder: OrderBook) -> None:
    before_added = ladder.volume_added
    assert ladder.add_limit(300, BUY, 101, 12) == [Fill(1, 300, 101, 10), Fill(2, 300, 101, 2)]
    assert 300 not in ladder
    assert ladder.volume_added == before_added
    assert ladder.queue(SELL, 101) == [(2, 3)]


# -------------------------------------------------------------------------- add_market
def test_market_order_exhausts_opposite_side_and_drops_remainder(ladder: OrderBook) -> None:
    fills = ladder.add_market(400, BUY, 100)
    assert fills == [
        Fill(1, 400, 101, 10),
        Fill(2, 400, 101, 5),
        Fill(3, 400, 102, 20),
        Fill(4, 400, 104, 7),
    ]
    assert sum(f.size for f in fills) == 42  # 58 shares of the 100 are dropped
    assert ladder.best_ask is None
    assert ladder.levels(SELL, 5) == []
    assert ladder.spread() is None and ladder.mid_x2() is None
    assert 400 not in ladder  # a market order never rests
    assert ladder.levels(BUY, 5) == [(99, 8), (98, 7)]  # other side untouched
    assert ladder.volume_traded == 42
    assert ladder.resting_volume == 15


def test_market_order_on_empty_side_fills_nothing() -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 50, 5)
    assert book.add_market(2, BUY, 10) == []
    assert book.levels(BUY, 2) == [(50, 5)] and book.volume_traded == 0


def test_market_sell_partial_level(ladder: OrderBook) -> None:
    assert ladder.add_market(401, SELL, 10) == [Fill(5, 401, 99, 8), Fill(6, 401, 98, 2)]
    assert ladder.levels(BUY, 5) == [(98, 5)]
    assert ladder.queue(BUY, 98) == [(6, 1), (7, 4)]


# ---------------------------------------------------------------------------- cancel
def test_partial_cancel_keeps_queue_position(ladder: OrderBook) -> None:
    ladder.add_limit(8, SELL, 101, 6)
    ladder.cancel(1, 4)
    assert ladder.order(1).size == 6
    assert ladder.queue(SELL, 101) == [(1, 6), (2, 5), (8, 6)]
    assert ladder.depth(SELL, 101) == 17
    assert ladder.queue_ahead(1) == 0
    assert ladder.queue_ahead(8) == 11
    assert ladder.volume_cancelled == 4


def test_cancel_of_full_remaining_size_removes_order(ladder: OrderBook) -> None:
    ladder.cancel(2, 5)
    assert 2 not in ladder
    assert ladder.queue(SELL, 101) == [(1, 10)]
    ladder.cancel(4, 7)  # the only order at 104: the level goes too
    assert ladder.levels(SELL, 5) == [(101, 10), (102, 20)]
    assert ladder.depth(SELL, 104) == 0
    assert ladder.volume_cancelled == 12
    assert len(ladder) == 5


def test_cancel_more_than_remaining_raises_and_changes_nothing(ladder: OrderBook) -> None:
    before = state(ladder)
    with pytest.raises(OrderBookError, match=r"cannot cancel 11 shares of order 1: only 10 remain"):
        ladder.cancel(1, 11)
    assert state(ladder) == before


# ---------------------------------------------------------------------------- delete
def test_delete_returns_size_and_removes_empty_level(ladder: OrderBook) -> None:
    ladder.cancel(3, 5)
    assert ladder.delete(3) == 15
    assert 3 not in ladder
    assert ladder.levels(SELL, 5) == [(101, 15), (104, 7)]
    assert ladder.queue(SELL, 102) == []
    assert ladder.volume_cancelled == 20

    assert ladder.delete(6) == 3  # level 98 keeps order 7
    assert ladder.queue(BUY, 98) == [(7, 4)]
    assert ladder.depth(BUY, 98) == 4


def test_delete_last_bid_clears_best_bid() -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 10, 3)
    assert book.delete(1) == 3
    assert book.best_bid is None and len(book) == 0 and book.resting_volume == 0
    assert book.snapshot(1).tolist() == [[EMPTY_PRICE, 0, EMPTY_PRICE, 0]]


# ------------------------------------------------------------------------------ FIFO
def test_fifo_at_one_price() -> None:
    book = OrderBook()
    book.add_limit(30, SELL, 100, 4)
    book.add_limit(10, SELL, 100, 6)  # ids deliberately not in arrival order
    book.add_limit(20, SELL, 100, 5)
    assert book.queue(SELL, 100) == [(30, 4), (10, 6), (20, 5)]
    assert [book.queue_ahead(i) for i in (30, 10, 20)] == [0, 4, 10]

    book.cancel(30, 3)  # partial cancel of the head keeps it first
    assert [book.queue_ahead(i) for i in (30, 10, 20)] == [0, 1, 7]
    book.cancel(10, 2)
    assert [book.queue_ahead(i) for i in (30, 10, 20)] == [0, 1, 5]

    fills = book.add_market(99, BUY, 7)
    assert fills == [Fill(30, 99, 100, 1), Fill(10, 99, 100, 4), Fill(20, 99, 100, 2)]
    assert book.queue(SELL, 100) == [(20, 3)]
    assert book.queue_ahead(20) == 0


def test_new_order_joins_back_of_queue_after_partial_fill() -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 50, 10)
    book.add_limit(2, BUY, 50, 10)
    assert book.add_market(3, SELL, 4) == [Fill(1, 3, 50, 4)]
    book.add_limit(4, BUY, 50, 1)
    assert book.queue(BUY, 50) == [(1, 6), (2, 10), (4, 1)]
    assert book.queue_ahead(4) == 16


# --------------------------------------------------------------------- execute by id
def test_execute_specific_order_out_of_priority(ladder: OrderBook) -> None:
    # LOBSTER type 4: the data names the maker, even if it is not first in the queue
    assert ladder.execute(2, 3) == Fill(2, -1, 101, 3)
    assert ladder.queue(SELL, 101) == [(1, 10), (2, 2)]
    assert ladder.execute(2, 2, taker_id=77) == Fill(2, 77, 101, 2)
    assert 2 not in ladder
    assert ladder.execute(4, 7) == Fill(4, -1, 104, 7)
    assert ladder.levels(SELL, 5) == [(101, 10), (102, 20)]
    assert ladder.volume_traded == 12
    assert ladder.volume_cancelled == 0


def test_execute_more_than_remaining_raises_and_changes_nothing(ladder: OrderBook) -> None:
    before = state(ladder)
    with pytest.raises(OrderBookError, match=r"cannot execute 6 shares of order 2: only 5 remain"):
        ladder.execute(2, 6)
    assert state(ladder) == before


def test_execute_hidden_only_counts(ladder: OrderBook) -> None:
    before_snapshot = ladder.snapshot(5).tolist()
    before_len = len(ladder)
    ladder.execute_hidden(100, 30)
    ladder.execute_hidden(101, 2)
    assert ladder.volume_hidden_traded == 32
    assert ladder.volume_traded == 0
    assert ladder.volume_cancelled == 0
    assert ladder.volume_added == 57
    assert ladder.snapshot(5).tolist() == before_snapshot
    assert len(ladder) == before_len


# ---------------------------------------------------------------------- add_anonymous
def test_add_anonymous_gives_negative_ids_and_owner_minus_one() -> None:
    book = OrderBook()
    a = book.add_anonymous(BUY, 99, 10)
    b = book.add_anonymous(SELL, 101, 20)
    c = book.add_anonymous(BUY, 99, 5)
    assert (a, b, c) == (-1, -2, -3)
    assert book.order(a) == OrderState(-1, BUY, 99, 10, -1)
    assert book.order(b) == OrderState(-2, SELL, 101, 20, -1)
    assert book.queue(BUY, 99) == [(-1, 10), (-3, 5)]  # at the back of its price
    assert book.volume_added == 35
    assert [o.order_id for o in book.orders_of(-1)] == [-1, -2, -3]
    # anonymous volume trades like any other
    assert book.add_market(1, SELL, 12) == [Fill(-1, 1, 99, 10), Fill(-3, 1, 99, 2)]


@pytest.mark.parametrize(("side", "price"), [(BUY, 101), (BUY, 102), (SELL, 99), (SELL, 98)])
def test_add_anonymous_refuses_crossing_volume(side: Side, price: int) -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 99, 10)
    book.add_limit(2, SELL, 101, 10)
    before = state(book)
    with pytest.raises(OrderBookError, match=r"would cross the book"):
        book.add_anonymous(side, price, 5)
    assert state(book) == before
    # the refused call did not consume an anonymous id
    assert book.add_anonymous(BUY, 98, 1) == -1


# ------------------------------------------------------------------------ owner tags
def test_orders_of_returns_only_that_owners_orders() -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 99, 10, owner=7)
    book.add_limit(2, BUY, 98, 10)  # owner 0, the background market
    book.add_limit(3, SELL, 105, 4, owner=7)
    book.add_limit(4, SELL, 106, 4, owner=8)
    assert book.orders_of(7) == [
        OrderState(1, BUY, 99, 10, 7),
        OrderState(3, SELL, 105, 4, 7),
    ]
    assert book.orders_of(8) == [OrderState(4, SELL, 106, 4, 8)]
    assert book.orders_of(0) == [OrderState(2, BUY, 98, 10, 0)]
    assert book.orders_of(9) == []
    book.add_market(5, SELL, 12)  # fills 1 fully and 2 partly
    assert book.orders_of(7) == [OrderState(3, SELL, 105, 4, 7)]
    assert book.orders_of(0) == [OrderState(2, BUY, 98, 8, 0)]


# ---------------------------------------------------------------- invalid operations
INVALID_OPERATIONS = [
    # (description, call, message regex)
    ("cancel unknown id", lambda b: b.cancel(999, 1), r"unknown order id 999"),
    ("delete unknown id", lambda b: b.delete(999), r"unknown order id 999"),
    ("execute unknown id", lambda b: b.execute(999, 1), r"unknown order id 999"),
    ("queue_ahead unknown id", lambda b: b.queue_ahead(999), r"unknown order id 999"),
    ("order unknown id", lambda b: b.order(999), r"unknown order id 999"),
    ("limit size 0", lambda b: b.add_limit(50, BUY, 100, 0), r"size must be > 0, got 0"),
    ("limit size -3", lambda b: b.add_limit(50, BUY, 100, -3), r"size must be > 0, got -3"),
    ("limit price 0", lambda b: b.add_limit(50, BUY, 0, 5), r"price must be > 0, got 0"),
    ("limit price -1", lambda b: b.add_limit(50, SELL, -1, 5), r"price must be > 0, got -1"),
    (
        "limit price off grid",
        lambda b: b.add_limit(50, BUY, 100.5, 5),
        r"price must be an integer number of ticks, got 100\.5 \(float\)",
    ),
    (
        "limit integral float price",
        lambda b: b.add_limit(50, BUY, 100.0, 5),
        r"price must be an integer number of ticks, got 100\.0",
    ),
    (
        "limit float size",
        lambda b: b.add_limit(50, BUY, 100, 2.5),
        r"size must be an integer number of shares, got 2\.5",
    ),
    (
        "marketable limit float size",
        lambda b: b.add_limit(50, BUY, 101, 2.0),
        r"size must be an integer number of shares",
    ),
    ("market size 0", lambda b: b.add_market(50, BUY, 0), r"size must be > 0, got 0"),
    ("market size -5", lambda b: b.add_market(50, SELL, -5), r"size must be > 0, got -5"),
    ("market float size", lambda b: b.add_market(50, BUY, 1.5), r"integer number of shares"),
    ("cancel size 0", lambda b: b.cancel(1, 0), r"size must be > 0, got 0"),
    ("cancel size -2", lambda b: b.cancel(1, -2), r"size must be > 0, got -2"),
    ("cancel float size", lambda b: b.cancel(1, 1.5), r"integer number of shares"),
    ("execute size 0", lambda b: b.execute(1, 0), r"size must be > 0, got 0"),
    ("execute float size", lambda b: b.execute(1, 2.0), r"integer number of shares"),
    ("hidden size 0", lambda b: b.execute_hidden(100, 0), r"size must be > 0, got 0"),
    ("hidden price off grid", lambda b: b.execute_hidden(100.5, 3), r"integer number of ticks"),
    ("anonymous size 0", lambda b: b.add_anonymous(BUY, 90, 0), r"size must be > 0, got 0"),
    ("anonymous float price", lambda b: b.add_anonymous(BUY, 90.5, 1), r"integer number of ticks"),
    (
        "duplicate id",
        lambda b: b.add_limit(1, BUY, 90, 5),
        r"order id 1 is already resting in the book",
    ),
    (
        "duplicate id, marketable",
        lambda b: b.add_limit(5, BUY, 104, 5),
        r"order id 5 is already resting in the book",
    ),
    (
        "negative id",
        lambda b: b.add_limit(-4, BUY, 90, 5),
        r"order id must be >= 0 \(negative ids are reserved\), got -4",
    ),
    ("limit side 0", lambda b: b.add_limit(50, 0, 90, 5), r"side must be Side\.BUY \(\+1\) or"),
    ("limit side 2", lambda b: b.add_limit(50, 2, 90, 5), r"got 2"),
    ("market side 0", lambda b: b.add_market(50, 0, 5), r"side must be Side\.BUY"),
    ("market side 2", lambda b: b.add_market(50, 2, 5), r"side must be Side\.BUY"),
    ("anonymous side 0", lambda b: b.add_anonymous(0, 90, 5), r"side must be Side\.BUY"),
    ("depth side 2", lambda b: b.depth(2, 101), r"side must be Side\.BUY"),
    ("levels side 0", lambda b: b.levels(0, 3), r"side must be Side\.BUY"),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [pytest.param(call, msg, id=desc) for desc, call, msg in INVALID_OPERATIONS],
)
def test_invalid_operation_raises_and_leaves_book_unchanged(
    ladder: OrderBook, call, message: str
) -> None:
    before = state(ladder)
    with pytest.raises(OrderBookError, match=message):
        call(ladder)
    assert state(ladder) == before


def test_order_book_error_is_a_value_error() -> None:
    assert issubclass(OrderBookError, ValueError)


def test_numpy_integers_are_accepted() -> None:
    book = OrderBook()
    book.add_limit(1, np.int8(1), np.int64(100), np.int32(7))
    assert book.levels(BUY, 1) == [(100, 7)]
    assert type(book.levels(BUY, 1)[0][0]) is int


def test_unknown_id_after_fill_or_delete(ladder: OrderBook) -> None:
    ladder.add_market(9, BUY, 10)  # fills order 1 completely
    with pytest.raises(OrderBookError, match="unknown order id 1"):
        ladder.cancel(1, 1)
    ladder.delete(2)
    with pytest.raises(OrderBookError, match="unknown order id 2"):
        ladder.delete(2)


# ------------------------------------------------------------------------- snapshot
def test_snapshot_pads_empty_levels_and_is_int64(ladder: OrderBook) -> None:
    snap = ladder.snapshot(4)
    assert snap.dtype == np.int64
    assert snap.shape == (4, 4)
    expected = np.array(
        [
            [101, 15, 99, 8],
            [102, 20, 98, 7],
            [104, 7, EMPTY_PRICE, 0],
            [EMPTY_PRICE, 0, EMPTY_PRICE, 0],
        ],
        dtype=np.int64,
    )
    np.testing.assert_array_equal(snap, expected)
    assert ladder.snapshot_row(4) == expected.ravel().tolist()
    assert OrderBook().snapshot(3).tolist() == [[EMPTY_PRICE, 0, EMPTY_PRICE, 0]] * 3
    assert OrderBook().snapshot(3).dtype == np.int64


def test_snapshot_truncates_to_n_levels(ladder: OrderBook) -> None:
    np.testing.assert_array_equal(ladder.snapshot(1), [[101, 15, 99, 8]])
    assert ladder.snapshot(0).shape == (0, 4)


# --------------------------------------------------------- known gaps (reported bugs)
def test_float_order_id_is_rejected() -> None:
    book = OrderBook()
    with pytest.raises(OrderBookError):
        book.add_limit(1.5, BUY, 100, 10)


def test_would_cross_rejects_invalid_side() -> None:
    book = OrderBook()
    book.add_limit(1, BUY, 100, 10)
    with pytest.raises(OrderBookError):
        book.would_cross(0, 100)


def test_booleans_and_negative_level_counts_are_rejected() -> None:
    book = OrderBook()
    with pytest.raises(OrderBookError, match="price"):
        book.add_limit(1, Side.BUY, True, 10)
    with pytest.raises(OrderBookError, match="levels must be >= 0"):
        book.levels(Side.BUY, -1)
    assert len(book) == 0
