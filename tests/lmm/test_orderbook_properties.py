"""Property-based tests of the matching engine over random order streams.

Each example is a list of operations (limit and market orders of either side in a narrow
price band, partial cancels and deletes of resting orders). The test keeps its own record
of what it sent (arrival order, remaining sizes, shares submitted, cancelled and filled)
and after every operation checks the book's invariants against that record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from lmm.engine.orderbook import Fill, OrderBook, Side

LOW, HIGH = 95, 105  # price band in ticks
MAX_SIZE = 50

sides = st.sampled_from([Side.BUY, Side.SELL])
sizes = st.integers(1, MAX_SIZE)
# cancels and deletes pick a resting order by index (modulo the number resting), and a
# cancel size by a fraction of the remaining size, so they are valid by construction
BY_KIND = {
    "limit": st.tuples(st.just("limit"), sides, st.integers(LOW, HIGH), sizes),
    "market": st.tuples(st.just("market"), sides, st.integers(1, 2 * MAX_SIZE)),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 10**6), st.floats(0.0, 1.0)),
    "delete": st.tuples(st.just("delete"), st.integers(0, 10**6)),
}
# limit orders four times as often as each other kind, so the book builds up depth
operation = st.sampled_from(["limit"] * 4 + ["market", "cancel", "delete"]).flatmap(BY_KIND.get)
operations = st.lists(operation, min_size=5, max_size=80)


@dataclass
class Record:
    """What the test itself knows about the stream it sent."""

    next_id: int = 0
    arrival: dict[int, int] = field(default_factory=dict)  # order id -> arrival number
    resting: dict[int, tuple[Side, int, int]] = field(
        default_factory=dict
    )  # id -> side, price, size
    submitted: int = 0  # shares sent in limit orders
    taken_by_limits: int = 0  # shares limit orders traded on arrival (never rested)
    cancelled: int = 0
    traded: int = 0  # sum of all fill sizes received


def apply(book: OrderBook, op: tuple, rec: Record) -> list[Fill]:
    """Send one operation to the book, update the record, and return the fills."""
    kind = op[0]
    if kind in ("cancel", "delete"):
        if not rec.resting:
            return []
        ids = sorted(rec.resting)
        oid = ids[op[1] % len(ids)]
        side, price, remaining = rec.resting[oid]
        if kind == "cancel":
            size = max(1, round(op[2] * remaining))
            book.cancel(oid, size)
        else:
            size = remaining
            assert book.delete(oid) == remaining
        rec.cancelled += size
        if size == remaining:
            del rec.resting[oid]
        else:
            rec.resting[oid] = (side, price, remaining - size)
        return []

    oid = rec.next_id
    rec.next_id += 1
    if kind == "limit":
        _, side, price, size = op
        fills = book.add_limit(oid, side, price, size)
        filled = sum(f.size for f in fills)
        assert filled <= size
        rec.submitted += size
        rec.taken_by_limits += filled
        if filled < size:
            rec.resting[oid] = (side, price, size - filled)
            rec.arrival[oid] = oid
    else:
        _, side, size = op
        fills = book.add_market(oid, side, size)
        assert sum(f.size for f in fills) <= size  # never more than asked
    for f in fills:
        assert f.taker_id == oid
        m_side, m_price, m_size = rec.resting[f.maker_id]
        assert m_side == -side, "a fill against an order of the taker's own side"
        assert f.price == m_price
        assert 0 < f.size <= m_size
        if f.size == m_size:
            del rec.resting[f.maker_id]
        else:
            rec.resting[f.maker_id] = (m_side, m_price, m_size - f.size)
    rec.traded += sum(f.size for f in fills)
    return fills


def check_fills(op: tuple, fills: list[Fill], before: OrderBook, after: OrderBook) -> None:
    """Priority of one operation's fills; ``before`` is a copy of the book before it."""
    kind = op[0]
    if kind not in ("limit", "market") or not fills:
        return
    side = op[1]
    prices = [f.price for f in fills]
    # best price first: a buyer walks the asks up, a seller walks the bids down
    assert prices == sorted(prices, reverse=(side == Side.SELL))
    if kind == "limit":
        limit = op[2]
        assert (
            all(p <= limit for p in prices) if side == Side.BUY else all(p >= limit for p in prices)
        )
    # FIFO: at each price the makers are exactly the head of that level's queue as it
    # stood before the order arrived, in arrival order; only the last may be partial
    for price in dict.fromkeys(prices):
        at_price = [f for f in fills if f.price == price]
        queue = before.queue(-side, price)
        assert [f.maker_id for f in at_price] == [oid for oid, _ in queue[: len(at_price)]]
        for f, (_, resting) in zip(at_price[:-1], queue, strict=False):
            assert f.size == resting, "an order was skipped before it was fully filled"
        # all but the last level touched were swept completely
        if price != prices[-1]:
            assert sum(f.size for f in at_price) == before.depth(-side, price)
            assert after.depth(-side, price) == 0


def check_book(book: OrderBook, rec: Record) -> None:
    """Invariants of the book, and agreement with the record."""
    bid, ask = book.best_bid, book.best_ask
    if bid is not None and ask is not None:
        assert bid < ask, f"crossed book: bid {bid} >= ask {ask}"
        assert book.spread() == ask - bid
        assert book.mid_x2() == ask + bid

    seen: dict[int, tuple[Side, int, int]] = {}
    for side in (Side.BUY, Side.SELL):
        levels = book.levels(side, 1000)
        level_prices = [p for p, _ in levels]
        assert level_prices == sorted(level_prices, reverse=(side == Side.BUY))
        assert len(set(level_prices)) == len(level_prices)
        for price, depth in levels:
            assert LOW <= price <= HIGH
            assert depth > 0
            queue = book.queue(side, price)
            assert queue, f"empty level {price} listed"
            assert all(size > 0 for _, size in queue)
            assert depth == sum(size for _, size in queue) == book.depth(side, price)
            # time priority: the queue is in the order the test sent the orders
            arrivals = [rec.arrival[oid] for oid, _ in queue]
            assert arrivals == sorted(arrivals)
            ahead = 0
            for oid, size in queue:
                assert book.queue_ahead(oid) == ahead
                ahead += size
                seen[oid] = (side, price, size)

    assert seen == rec.resting
    assert len(book) == len(rec.resting)
    resting = sum(size for _, _, size in rec.resting.values())
    assert book.resting_volume == resting
    # the book's own accounting
    assert book.volume_added == book.resting_volume + book.volume_traded + book.volume_cancelled
    # ... and the same counted from what the test sent
    assert book.volume_traded == rec.traded
    assert book.volume_cancelled == rec.cancelled
    assert book.volume_added == rec.submitted - rec.taken_by_limits
    # every share sent in a limit order either traded on arrival, still rests, was
    # cancelled, or traded later as a maker (every fill has a resting maker)
    assert rec.submitted == rec.taken_by_limits + resting + rec.cancelled + rec.traded
    assert book.volume_hidden_traded == 0


def copy_book(book: OrderBook) -> OrderBook:
    """An independent copy of the visible book (queues in priority order)."""
    twin = OrderBook()
    for side in (Side.BUY, Side.SELL):
        for price, _ in book.levels(side, 1000):
            for oid, size in book.queue(side, price):
                twin.add_limit(oid, side, price, size)
    return twin


@settings(max_examples=200, deadline=None)
@given(operations)
def test_random_order_stream_keeps_invariants(ops: list[tuple]) -> None:
    book = OrderBook()
    rec = Record()
    for op in ops:
        before = copy_book(book)
        fills = apply(book, op, rec)
        check_fills(op, fills, before, book)
        if op[0] == "market":
            filled = sum(f.size for f in fills)
            if filled < op[2]:  # the remainder is dropped only when the other side ran out
                assert book.levels(-op[1], 1) == []
            assert op[2] - filled >= 0
        if op[0] == "limit":
            _, side, price, size = op
            oid = rec.next_id - 1
            filled = sum(f.size for f in fills)
            if filled < size:
                assert book.order(oid).size == size - filled
                assert book.order(oid).price == price
                assert not book.would_cross(side, price) or book.levels(-side, 1) == []
            else:
                assert oid not in book
        check_book(book, rec)


@settings(max_examples=100, deadline=None)
@given(operations, st.lists(st.integers(1, MAX_SIZE), min_size=1, max_size=5))
def test_market_orders_drain_book_exactly(ops: list[tuple], sweep: list[int]) -> None:
    """After any stream, market orders take exactly min(size, opposite depth)."""
    book = OrderBook()
    rec = Record()
    for op in ops:
        apply(book, op, rec)
    for size in sweep:
        for side in (Side.BUY, Side.SELL):
            available = sum(s for _, s in book.levels(-side, 1000))
            fills = apply(book, ("market", side, size), rec)
            assert sum(f.size for f in fills) == min(size, available)
            check_book(book, rec)
