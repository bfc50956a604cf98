"""A seeded random order stream that exercises the matching path of the engine.

Replaying LOBSTER applies executions by order id, so it never runs the engine's matching
loop. This stream does: marketable limit orders and market orders walk the book, limit
orders rest around the mid, cancels and deletes hit resting orders. It needs no data, which
makes it the engine benchmark and check for a machine without LOBSTER files.

The flow is deliberately simple (uniform choices, no calibration); it is a workload, not a
market model.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from lmm.engine.orderbook import OrderBook

__all__ = ["FlowReport", "random_orders", "run_orders"]

# operation codes in the stream
LIMIT, MARKET, CANCEL, DELETE = 0, 1, 2, 3


@dataclass
class FlowReport:
    """Throughput and outcome of :func:`run_orders`."""

    orders: int
    fills: int
    shares_traded: int
    resting_orders: int
    seconds: float
    orders_per_second: float

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return asdict(self)


def random_orders(
    n: int, seed: int, *, mid: int = 10_000, band: int = 20, max_size: int = 500
) -> list[tuple[int, int, int, int]]:
    """``n`` operations ``(code, side, price_offset, size)`` drawn from ``seed``.

    Mix: 55% limit orders within ``band`` ticks of ``mid`` (a fifth of them marketable),
    10% market orders, 20% partial cancels, 15% deletes. ``price_offset`` is relative to
    ``mid``; cancel and delete rows carry a random draw that :func:`run_orders` maps to a
    resting order.
    """
    rng = np.random.default_rng(seed)
    code = rng.choice([LIMIT, MARKET, CANCEL, DELETE], size=n, p=[0.55, 0.10, 0.20, 0.15])
    side = rng.choice([1, -1], size=n)
    # passive limit prices sit on their own side of mid; marketable ones reach across it
    depth = rng.integers(1, band + 1, size=n)
    marketable = rng.random(n) < 0.2
    offset = np.where(marketable, side * depth // 4, -side * depth)
    size = rng.integers(1, max_size + 1, size=n)
    return list(zip(code.tolist(), side.tolist(), offset.tolist(), size.tolist(), strict=True))


def run_orders(
    ops: list[tuple[int, int, int, int]], *, mid: int = 10_000, book: OrderBook | None = None
) -> tuple[OrderBook, FlowReport]:
    """Apply a stream from :func:`random_orders` to ``book`` (a new one by default)."""
    book = OrderBook() if book is None else book
    resting: list[int] = []  # ids that may still rest; stale ones are skipped lazily
    next_id = 0
    fills = traded = 0
    start = time.perf_counter()
    for code, side, offset, size in ops:
        if code == LIMIT:
            result = book.add_limit(next_id, side, mid + offset, size)
            resting.append(next_id)
            next_id += 1
        elif code == MARKET:
            result = book.add_market(next_id, side, size)
            next_id += 1
        else:
            result = []
            while resting:
                # the draw picks a resting order; swap-remove keeps this O(1)
                i = size % len(resting)
                oid = resting[i]
                if oid in book:
                    resting_size = book.order(oid).size
                    if code == DELETE or resting_size == 1:
                        book.delete(oid)
                    else:
                        book.cancel(oid, 1 + size % (resting_size - 1))
                    break
                resting[i] = resting[-1]
                resting.pop()
        fills += len(result)
        traded += sum(f.size for f in result)
    seconds = time.perf_counter() - start
    report = FlowReport(
        orders=len(ops),
        fills=fills,
        shares_traded=traded,
        resting_orders=len(book),
        seconds=seconds,
        orders_per_second=len(ops) / seconds if seconds else 0.0,
    )
    return book, report
