"""A price-time-priority limit order book and matching engine in integer ticks.

One engine serves two masters: replaying LOBSTER data to build the model's training set
(:mod:`lmm.engine.replay`) and simulating a market in the Gymnasium environments. Both need exact
mechanics and both sit in a hot loop, so the design is the simplest one that is fast in
CPython:

* every price level is a ``dict`` mapping order id to remaining size; Python dicts keep
  insertion order, which *is* time priority, and give O(1) cancel by id;
* per side, the aggregate size of each level is kept in a second dict, so snapshots never
  sum queues;
* per side, the occupied prices are kept in an ascending ``list`` maintained with
  :mod:`bisect`; a real book has tens to a few hundred occupied levels, so the occasional
  O(levels) insert or delete is a short ``memmove``.

Units: prices are positive integer ticks, sizes positive integer shares. Order ids are
integers chosen by the caller; negative ids are reserved for anonymous volume (resting
volume whose owner is unknown, e.g. the book a LOBSTER file starts with).

Invalid operations raise :class:`OrderBookError` and leave the book unchanged.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, insort
from enum import IntEnum
from typing import NamedTuple

import numpy as np

__all__ = [
    "EMPTY_PRICE",
    "Fill",
    "OrderBook",
    "OrderBookError",
    "OrderState",
    "Side",
]

#: Price reported for an empty level in :meth:`OrderBook.snapshot` (its size is 0 too).
EMPTY_PRICE = 0


class Side(IntEnum):
    """Side of an order, with LOBSTER's sign convention (``direction`` column)."""

    BUY = 1
    SELL = -1


class Fill(NamedTuple):
    """One trade between a resting (maker) order and an incoming (taker) order."""

    maker_id: int
    taker_id: int
    price: int
    size: int


class OrderState(NamedTuple):
    """A resting order as the book holds it."""

    order_id: int
    side: Side
    price: int
    size: int
    owner: int


class OrderBookError(ValueError):
    """An operation the book cannot perform; the book is left unchanged."""


def _positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` if it is an integer > 0, else raise OrderBookError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        ivalue = operator.index(value)  # accepts int and numpy integers, rejects floats
    except TypeError:
        raise OrderBookError(
            f"{name} must be an integer number of {'ticks' if name == 'price' else 'shares'}, "
            f"got {value!r} ({type(value).__name__}); prices off the integer tick grid are invalid"
        ) from None
    if ivalue <= 0:
        raise OrderBookError(f"{name} must be > 0, got {ivalue}")
    return ivalue


class OrderBook:
    """Price-time-priority limit order book for one instrument.

    Attributes:
        volume_added: shares that entered the book as resting volume (limit orders'
            resting parts and anonymous volume).
        volume_traded: shares of resting volume that traded (visible executions).
        volume_cancelled: shares removed by cancels and deletes.
        volume_hidden_traded: shares traded against hidden liquidity (never in the book).

    Resting volume always equals ``volume_added - volume_traded - volume_cancelled``.
    """

    def __init__(self) -> None:
        # index 0: bids, index 1: asks (see _side_index)
        self._queues: tuple[dict[int, dict[int, int]], dict[int, dict[int, int]]] = ({}, {})
        self._depth: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._prices: tuple[list[int], list[int]] = ([], [])  # ascending on both sides
        self._orders: dict[int, tuple[Side, int, int]] = {}  # id -> (side, price, owner)
        self._next_anonymous_id = -1
        self.volume_added = 0
        self.volume_traded = 0
        self.volume_cancelled = 0
        self.volume_hidden_traded = 0

    # ------------------------------------------------------------------ queries
    @property
    def best_bid(self) -> int | None:
        """Highest bid price in ticks, or None when there are no bids."""
        prices = self._prices[0]
        return prices[-1] if prices else None

    @property
    def best_ask(self) -> int | None:
        """Lowest ask price in ticks, or None when there are no asks."""
        prices = self._prices[1]
        return prices[0] if prices else None

    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None when a side is empty."""
        bids, asks = self._prices
        return asks[0] - bids[-1] if bids and asks else None

    def mid_x2(self) -> int | None:
        """Twice the mid price in ticks (an exact integer), or None when a side is empty."""
        bids, asks = self._prices
        return asks[0] + bids[-1] if bids and asks else None

    def would_cross(self, side: Side | int, price: int) -> bool:
        """Whether a limit order of ``side`` at ``price`` would trade on arrival."""
        if _side_index(side) == 0:
            asks = self._prices[1]
            return bool(asks) and price >= asks[0]
        bids = self._prices[0]
        return bool(bids) and price <= bids[-1]

    def depth(self, side: Side | int, price: int) -> int:
        """Total resting size at ``price`` on ``side`` (0 for an empty level)."""
        return self._depth[_side_index(side)].get(price, 0)

    def prices(self, side: Side | int) -> list[int]:
        """Every occupied price level of ``side`` in ticks, best first (a new list)."""
        index = _side_index(side)
        return self._prices[index][::-1] if index == 0 else self._prices[index][:]

    def levels(self, side: Side | int, n: int) -> list[tuple[int, int]]:
        """The best ``n`` occupied levels of ``side`` as ``(price, size)``, best first."""
        if n < 0:
            raise OrderBookError(f"number of levels must be >= 0, got {n}")
        index = _side_index(side)
        prices = self._prices[index]
        depth = self._depth[index]
        chosen = prices[: -n - 1 : -1] if index == 0 else prices[:n]
        return [(p, depth[p]) for p in chosen]

    def snapshot(self, n: int) -> np.ndarray:
        """Top-``n`` book as an ``(n, 4)`` int64 array.

        Columns follow LOBSTER's orderbook files: ask price, ask size, bid price, bid size;
        row 0 is the best level. Empty levels are ``(EMPTY_PRICE, 0)``.
        """
        out = np.zeros((n, 4), dtype=np.int64)
        asks = self.levels(Side.SELL, n)
        bids = self.levels(Side.BUY, n)
        if asks:
            out[: len(asks), 0:2] = asks
        if bids:
            out[: len(bids), 2:4] = bids
        return out

    def snapshot_row(self, n: int) -> list[int]:
        """Top-``n`` book flattened as one LOBSTER orderbook row (a list of 4n ints)."""
        if n < 0:
            raise OrderBookError(f"number of levels must be >= 0, got {n}")
        row = [EMPTY_PRICE, 0, EMPTY_PRICE, 0] * n
        # strided slice assignment: the engine's replay and the generation loop call this
        # once per order
        asks = self._prices[1][:n]
        bids = self._prices[0][: -n - 1 : -1]
        row[0 : 4 * len(asks) : 4] = asks
        row[1 : 4 * len(asks) : 4] = map(self._depth[1].__getitem__, asks)
        row[2 : 4 * len(bids) : 4] = bids
        row[3 : 4 * len(bids) : 4] = map(self._depth[0].__getitem__, bids)
        return row

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        """Number of resting orders (anonymous volume included)."""
        return len(self._orders)

    @property
    def resting_volume(self) -> int:
        """Total resting shares on both sides."""
        return sum(self._depth[0].values()) + sum(self._depth[1].values())

    def order(self, order_id: int) -> OrderState:
        """The resting order ``order_id``; raises OrderBookError if it is not in the book."""
        side, price, owner = self._lookup(order_id)
        size = self._queues[_side_index(side)][price][order_id]
        return OrderState(order_id, side, price, size, owner)

    def queue_ahead(self, order_id: int) -> int:
        """Shares resting ahead of ``order_id`` at its price (its queue position in shares)."""
        side, price, _ = self._lookup(order_id)
        ahead = 0
        for oid, size in self._queues[_side_index(side)][price].items():
            if oid == order_id:
                return ahead
            ahead += size
        raise AssertionError("unreachable: order indexed but not queued")  # pragma: no cover

    def queue_length(self, side: Side | int, price: int) -> int:
        """Number of orders resting at ``price`` on ``side`` (0 for an empty level)."""
        return len(self._queues[_side_index(side)].get(price, ()))

    def queue(self, side: Side | int, price: int) -> list[tuple[int, int]]:
        """Orders resting at ``price`` as ``(order_id, size)``, in time priority."""
        return list(self._queues[_side_index(side)].get(price, {}).items())

    def orders_of(self, owner: int) -> list[OrderState]:
        """All resting orders of ``owner`` (O(resting orders); meant for small owners)."""
        return [self.order(oid) for oid, (_, _, o) in self._orders.items() if o == owner]

    # --------------------------------------------------------------- operations
    def add_limit(
        self, order_id: int, side: Side | int, price: int, size: int, owner: int = 0
    ) -> list[Fill]:
        """Submit a limit order; the marketable part trades, the remainder rests.

        Args:
            order_id: a new id (>= 0) not resting in the book.
            side: Side.BUY or Side.SELL (or +1 / -1).
            price: limit price in ticks (> 0).
            size: shares (> 0).
            owner: a tag carried by the resting order (0 is the background market).

        Returns:
            The fills, in matching order (an empty list if nothing traded).
        """
        if not (
            type(price) is int
            and price > 0
            and type(size) is int
            and size > 0
            and type(order_id) is int
        ):  # the common case skips the validators below (plain positive ints)
            price = _positive_int("price", price)
            size = _positive_int("size", size)
            order_id = _order_id(order_id)
        index = _side_index(side)
        if order_id in self._orders:
            raise OrderBookError(f"order id {order_id} is already resting in the book")
        if order_id < 0:
            raise OrderBookError(
                f"order id must be >= 0 (negative ids are reserved), got {order_id}"
            )
        fills: list[Fill] = []
        opposite = self._prices[1 - index]
        if opposite and (
            (index == 0 and price >= opposite[0]) or (index == 1 and price <= opposite[-1])
        ):
            size = self._match(index, order_id, size, price, fills)
            if size == 0:
                return fills
        self._rest(index, order_id, price, size, owner)
        return fills

    def add_market(self, order_id: int, side: Side | int, size: int) -> list[Fill]:
        """Submit a market order; it trades up to ``size`` shares and never rests.

        The unfilled remainder (when the opposite side runs out) is dropped; it equals
        ``size - sum(f.size for f in fills)``.
        """
        size = _positive_int("size", size)
        fills: list[Fill] = []
        self._match(_side_index(side), order_id, size, None, fills)
        return fills

    def add_ioc(self, order_id: int, side: Side | int, price: int, size: int) -> list[Fill]:
        """Submit an immediate-or-cancel order: it trades up to ``size`` shares at prices no
        worse than ``price`` and never rests (the unfilled remainder is dropped)."""
        price = _positive_int("price", price)
        size = _positive_int("size", size)
        fills: list[Fill] = []
        self._match(_side_index(side), order_id, size, price, fills)
        return fills

    def cancel(self, order_id: int, size: int) -> None:
        """Cancel ``size`` shares of a resting order (LOBSTER type 2).

        Cancelling the whole remaining size removes the order; cancelling more raises.
        """
        size = _positive_int("size", size)
        side, price, _ = self._lookup(order_id)
        index = _side_index(side)
        queue = self._queues[index][price]
        remaining = queue[order_id]
        if size > remaining:
            raise OrderBookError(
                f"cannot cancel {size} shares of order {order_id}: only {remaining} remain"
            )
        self.volume_cancelled += size
        if size == remaining:
            self._remove(index, order_id, price, queue, remaining)
        else:
            queue[order_id] = remaining - size
            self._depth[index][price] -= size

    def delete(self, order_id: int) -> int:
        """Remove a resting order entirely (LOBSTER type 3); returns the shares removed."""
        side, price, _ = self._lookup(order_id)
        index = _side_index(side)
        queue = self._queues[index][price]
        remaining = queue[order_id]
        self.volume_cancelled += remaining
        self._remove(index, order_id, price, queue, remaining)
        return remaining

    def execute(self, order_id: int, size: int, taker_id: int = -1) -> Fill:
        """Trade ``size`` shares against a specific resting order (LOBSTER type 4).

        This is how a replay applies an execution message; a simulated aggressive order
        uses :meth:`add_market` or :meth:`add_limit`, which choose makers by priority.
        """
        size = _positive_int("size", size)
        side, price, _ = self._lookup(order_id)
        index = _side_index(side)
        queue = self._queues[index][price]
        remaining = queue[order_id]
        if size > remaining:
            raise OrderBookError(
                f"cannot execute {size} shares of order {order_id}: only {remaining} remain"
            )
        self.volume_traded += size
        if size == remaining:
            self._remove(index, order_id, price, queue, remaining)
        else:
            queue[order_id] = remaining - size
            self._depth[index][price] -= size
        return Fill(order_id, taker_id, price, size)

    def execute_hidden(self, price: int, size: int) -> None:
        """Record a trade against hidden liquidity (LOBSTER type 5): counted, never shown."""
        _positive_int("price", price)
        self.volume_hidden_traded += _positive_int("size", size)

    def add_anonymous(self, side: Side | int, price: int, size: int) -> int:
        """Rest ``size`` shares of unknown origin at the back of ``price``; returns its id.

        Anonymous volume has a negative id and owner -1. It models resting volume that a
        data file shows without the message that submitted it.
        """
        price = _positive_int("price", price)
        size = _positive_int("size", size)
        index = _side_index(side)
        opposite = self._prices[1 - index]
        if opposite and (
            (index == 0 and price >= opposite[0]) or (index == 1 and price <= opposite[-1])
        ):
            raise OrderBookError(
                f"anonymous {Side(side).name} volume at {price} would cross the book"
            )
        order_id = self._next_anonymous_id
        self._next_anonymous_id -= 1
        self._rest(index, order_id, price, size, -1)
        return order_id

    # ---------------------------------------------------------------- internals
    def _lookup(self, order_id: int) -> tuple[Side, int, int]:
        try:
            return self._orders[order_id]
        except KeyError:
            raise OrderBookError(f"unknown order id {order_id}: no such resting order") from None

    def _rest(self, index: int, order_id: int, price: int, size: int, owner: int) -> None:
        queue = self._queues[index].get(price)
        if queue is None:
            self._queues[index][price] = {order_id: size}
            self._depth[index][price] = size
            insort(self._prices[index], price)
        else:
            queue[order_id] = size
            self._depth[index][price] += size
        self._orders[order_id] = (_SIDES[index], price, owner)
        self.volume_added += size

    def _remove(
        self, index: int, order_id: int, price: int, queue: dict[int, int], size: int
    ) -> None:
        del queue[order_id]
        del self._orders[order_id]
        if queue:
            self._depth[index][price] -= size
        else:
            del self._queues[index][price]
            del self._depth[index][price]
            prices = self._prices[index]
            del prices[bisect_left(prices, price)]

    def _match(
        self, index: int, taker_id: int, size: int, limit: int | None, fills: list[Fill]
    ) -> int:
        """Trade an incoming order of side ``index`` against the opposite side.

        Walks the opposite levels from the best, each queue in time priority, until
        ``size`` is exhausted, the side is empty, or the next level is beyond ``limit``.
        Returns the unfilled size.
        """
        other = 1 - index
        prices = self._prices[other]
        queues = self._queues[other]
        depth = self._depth[other]
        orders = self._orders
        while size and prices:
            price = prices[0] if other == 1 else prices[-1]
            if limit is not None and (price > limit if other == 1 else price < limit):
                break
            queue = queues[price]
            level_left = depth[price]
            for maker_id, resting in list(queue.items()):
                traded = resting if resting <= size else size
                fills.append(Fill(maker_id, taker_id, price, traded))
                size -= traded
                level_left -= traded
                self.volume_traded += traded
                if traded == resting:
                    del queue[maker_id]
                    del orders[maker_id]
                else:
                    queue[maker_id] = resting - traded
                if not size:
                    break
            if queue:
                depth[price] = level_left
            else:
                del queues[price]
                del depth[price]
                if other == 1:
                    del prices[0]
                else:
                    prices.pop()
        return size


def _order_id(order_id: object) -> int:
    try:
        return operator.index(order_id)
    except TypeError:
        raise OrderBookError(
            f"order id must be an integer, got {order_id!r} ({type(order_id).__name__})"
        ) from None


#: the Side of each side index (see _side_index): the order index stores members, so that
#: reading an order back needs no enum conversion (a measurable cost per generated order)
_SIDES = (Side.BUY, Side.SELL)


def _side_index(side: Side | int) -> int:
    if side == 1:
        return 0
    if side == -1:
        return 1
    raise OrderBookError(f"side must be Side.BUY (+1) or Side.SELL (-1), got {side!r}")
