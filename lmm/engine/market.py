"""Turning a generated order into what happens in the book: the documented realisation rules.

A generator (the LMM, or a baseline) proposes an order kind, a price, a size; the book then
decides what actually happens. These rules are shared by every generator, so that model and
baselines are compared on equal terms:

* **limit**: submitted as is; a marketable part trades (price-time priority), the rest rests.
* **market**: an immediate-or-cancel order limited at the proposed (worst) price, but never
  less aggressive than the best opposite quote: it always trades at the touch and walks
  deeper only as far as proposed. It needs a non-empty opposite side.
* **cancel**: it must hit a real resting order of the background market, never one of the
  ids it is told to leave alone (an agent's orders). Among the occupied levels of that side
  inside the proposed price range, the level nearest the proposed price is taken (the
  better-priced one on a tie); in it, the newest cancellable order is taken with
  probability :data:`NEWEST_CANCEL_PROBABILITY`, otherwise one of the older ones uniformly
  at random (both draws from the given generator). Real traders mostly withdraw what they
  have just placed: in the LOBSTER sample days a cancel in a level holding several orders
  hits its newest order 0.71 (GOOG) and 0.73 (AMZN) of the time, where a uniform choice
  would give 0.35 and 0.18 (``python scripts/cancel_priority.py``). The chosen order is
  deleted whole, whatever size was proposed: real cancels almost always are (partial
  cancels are 0.03% (GOOG) and 0.7% (AMZN) of the sample days' cancels, same script).
  Cancelling the proposed size instead left 29% of the LMM's cancels partial, and with
  them price levels that real traders would have emptied.

What happened comes back as a :class:`Realized` order whose fields describe the event as it
would appear in data (a market order's price is its worst fill), so it can be tokenized
into the model's context exactly like a real order.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from lmm.data.orderflow import CANCEL_KINDS, LIMIT_KINDS, MARKET_KINDS, OrderKind
from lmm.engine.orderbook import Fill, OrderBook

__all__ = [
    "NEWEST_CANCEL_PROBABILITY",
    "Realized",
    "apply_order",
    "cancel_order",
    "cancellable_levels",
]

#: chance that a cancel takes the newest cancellable order of its level (when it holds
#: several); measured on the LOBSTER sample days by ``scripts/cancel_priority.py``.
NEWEST_CANCEL_PROBABILITY = 0.72


@dataclass(frozen=True)
class Realized:
    """An order as it happened.

    Attributes:
        kind: the OrderKind.
        price: ticks (limit price; worst fill for a market order; cancelled order's price).
        size: shares (submitted; traded for a market order; cancelled).
        fills: trades it caused (limit and market orders).
        order_id: the id of the new or cancelled order.
    """

    kind: OrderKind
    price: int
    size: int
    fills: tuple[Fill, ...] = ()
    order_id: int = -1


def apply_order(
    book: OrderBook,
    kind: OrderKind | int,
    price: int,
    size: int,
    order_id: int,
    rng: np.random.Generator,
    price_range: tuple[int | None, int | None] | None = None,
    owner: int = 0,
    protected: AbstractSet[int] = frozenset(),
) -> Realized | None:
    """Apply one proposed order to ``book`` by the module's rules.

    Args:
        book: the market's book.
        kind: what is proposed.
        price: proposed price in ticks (> 0 for limit orders).
        size: proposed shares (> 0); a cancel ignores it and deletes the whole order.
        order_id: id for a new order (limit or market).
        rng: draws the cancelled order within its level (see the module's rules).
        price_range: for a cancel, the inclusive range of prices it may hit (None ends are
            open); by default only ``price`` itself.
        owner: owner tag of a new limit order.
        protected: ids a cancel must not touch (the agents' resting orders).

    Returns:
        What happened, or None when the book cannot take the order (a market order facing
        an empty side, a cancel with no background order in range, a limit price <= 0).
    """
    if not isinstance(kind, OrderKind):
        kind = OrderKind(kind)
    side = kind.side
    if kind in LIMIT_KINDS:
        if price <= 0:
            return None
        fills = book.add_limit(order_id, side, price, size, owner)
        return Realized(kind, price, size, tuple(fills), order_id)
    if kind in MARKET_KINDS:
        touch = book.best_ask if side == 1 else book.best_bid
        if touch is None:
            return None
        limit = max(price, touch) if side == 1 else min(price, touch)
        fills = book.add_ioc(order_id, side, limit, size)
        return Realized(kind, fills[-1].price, sum(f.size for f in fills), tuple(fills), order_id)
    low, high = price_range if price_range is not None else (price, price)
    level = _nearest_level(book, side, price, low, high, protected)
    if level is None:
        return None
    candidates = [oid for oid, _ in book.queue(side, level) if oid not in protected]
    chosen = _pick_cancelled(candidates, rng)
    return cancel_order(book, kind, chosen, book.order(chosen).size)


def _pick_cancelled(candidates: list[int], rng: np.random.Generator) -> int:
    """The order a cancel hits among a level's cancellable ids (oldest first): the newest
    with probability NEWEST_CANCEL_PROBABILITY, else one of the older ones uniformly."""
    if len(candidates) == 1 or rng.random() < NEWEST_CANCEL_PROBABILITY:
        return candidates[-1]
    return candidates[int(rng.integers(len(candidates) - 1))]


def cancel_order(
    book: OrderBook, kind: OrderKind | int, order_id: int, size: int
) -> Realized | None:
    """Cancel ``size`` shares (the whole order if it holds no more) of a known order;
    None if it is no longer in the book (it traded) or ``kind`` does not match its side."""
    kind = OrderKind(kind)
    if kind not in CANCEL_KINDS:
        raise ValueError(f"cancel_order needs a cancel kind, got {kind.name}")
    if order_id not in book:
        return None
    state = book.order(order_id)
    if state.side != kind.side:
        return None
    if size >= state.size:
        book.delete(order_id)
        size = state.size
    else:
        book.cancel(order_id, size)
    return Realized(kind, state.price, size, (), order_id)


def cancellable_levels(
    book: OrderBook, side: int, protected: AbstractSet[int] = frozenset()
) -> list[int]:
    """Prices on ``side``, best first, holding at least one order not in ``protected``."""
    prices = book.prices(side)
    if not protected:
        return prices
    # a level lacks a cancellable order only when every order in it is protected: count the
    # protected orders per level of this side (rarely more than one or two levels)
    held: dict[int, int] = {}
    for oid in protected:
        if oid in book:
            state = book.order(oid)
            if state.side == side:
                held[state.price] = held.get(state.price, 0) + 1
    blocked = {p for p, n in held.items() if book.queue_length(side, p) == n}
    return [p for p in prices if p not in blocked] if blocked else prices


def _nearest_level(
    book: OrderBook,
    side: int,
    price: int,
    low: int | None,
    high: int | None,
    protected: AbstractSet[int],
) -> int | None:
    best: tuple[int, int] | None = None
    chosen = None
    for level in cancellable_levels(book, side, protected):
        if (low is not None and level < low) or (high is not None and level > high):
            continue
        # nearest to the proposed price; on a tie the better-priced (closer to the mid)
        key = (abs(level - price), -level if side == 1 else level)
        if best is None or key < best:
            best, chosen = key, level
    return chosen
