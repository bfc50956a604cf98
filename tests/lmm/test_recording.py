"""Tests of the session recorder: LOBSTER messages and the book after each, event by event.

All orders below are invented for these tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmm.data.lobster import EventType
from lmm.data.orderflow import OrderKind
from lmm.engine.market import apply_order, cancel_order
from lmm.engine.orderbook import OrderBook, Side
from lmm.engine.recording import SessionRecorder

RNG = np.random.default_rng(0)


def start_book() -> OrderBook:
    """Asks 101 (30 + 20 in two orders), 102 (40), 103 (10); bids 99 (50, anonymous), 98."""
    book = OrderBook()
    book.add_limit(1, Side.SELL, 101, 30)
    book.add_limit(2, Side.SELL, 101, 20)
    book.add_limit(3, Side.SELL, 102, 40)
    book.add_limit(4, Side.SELL, 103, 10)
    book.add_anonymous(Side.BUY, 99, 50)
    book.add_limit(5, Side.BUY, 98, 60)
    return book


def test_a_crossing_limit_order_is_executions_then_its_remainder() -> None:
    book, expected = start_book(), start_book()
    recorder = SessionRecorder(levels=3)
    realized = apply_order(book, OrderKind.LIMIT_BUY, 102, 100, 10, RNG)
    recorder.record(7, realized, book)
    day = recorder.to_day()
    m = day.messages
    assert m["type"].tolist() == [EventType.EXECUTE] * 3 + [EventType.SUBMIT]
    assert m["order_id"].tolist() == [1, 2, 3, 10]
    assert m["size"].tolist() == [30, 20, 40, 10]
    assert m["price"].tolist() == [101, 101, 102, 102]
    assert m["direction"].tolist() == [-1, -1, -1, 1]  # makers' side, then the order's own
    assert (m["time"] == 7).all()
    assert (m["price_raw"] == m["price"] * 100).all()
    # the book after every message, rebuilt here by LOBSTER's own events
    for k, (oid, size) in enumerate([(1, 30), (2, 20), (3, 40)]):
        expected.execute(oid, size)
        assert day.book[k].ravel().tolist() == expected.snapshot_row(3), k
    expected.add_limit(10, Side.BUY, 102, 10)
    assert day.book[3].ravel().tolist() == expected.snapshot_row(3)
    assert recorder.complete_start


def test_cancels_are_partial_or_deletes_and_anonymous_ids_become_fresh() -> None:
    book = start_book()
    recorder = SessionRecorder(levels=3)
    recorder.record(1, cancel_order(book, OrderKind.CANCEL_SELL, 3, 15), book)
    recorder.record(2, cancel_order(book, OrderKind.CANCEL_BUY, -1, 80), book)
    recorder.record(3, apply_order(book, OrderKind.MARKET_SELL, 1, 10, 11, RNG), book)
    m = recorder.to_day().messages
    assert m["type"].tolist() == [EventType.CANCEL, EventType.DELETE, EventType.EXECUTE]
    assert m["size"].tolist() == [15, 50, 10]  # a delete reports what the order held
    assert m["order_id"].tolist() == [3, 6, 5]  # anonymous -1 -> above every id in the file
    assert m["direction"].tolist() == [-1, 1, 1]


def test_a_start_deeper_than_the_levels_is_flagged() -> None:
    book = start_book()
    recorder = SessionRecorder(levels=2)
    recorder.record(1, apply_order(book, OrderKind.LIMIT_BUY, 97, 5, 10, RNG), book)
    assert not recorder.complete_start  # three ask levels: the file's first row hides one


@pytest.mark.parametrize(
    ("levels", "tick_size", "field"),
    [(0, 100, "levels"), (2.0, 100, "levels"), (2, 0, "tick_size"), (2, 1.5, "tick_size")],
)
def test_bad_settings_name_the_field(levels: object, tick_size: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SessionRecorder(levels, tick_size)  # type: ignore[arg-type]
