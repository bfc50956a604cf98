"""Python API over the compiled books: :class:`CompiledBooks` holds ``M`` markets, and
:class:`CompiledOrderBook` is one market with the methods of
:class:`lmm.engine.orderbook.OrderBook`.

The view validates arguments exactly as the reference does (with the reference's own
validators, so the messages are the same), calls a kernel, and turns its status code into
:class:`~lmm.engine.orderbook.OrderBookError`; on every error the book is unchanged. A full book
(more resting orders than ``max_orders``, or more occupied levels on a side than
``max_levels``) is an error of its own, raised before anything changes.

Each call crosses from Python into compiled code, so one call costs microseconds: the view
is for tests, tools and small agents' orders; hot loops call the kernels from ``@njit``
code (see :mod:`lmm.engine.compiled.replay`).
"""

from __future__ import annotations

import numpy as np

from lmm.compilation import announce_compiles
from lmm.engine.compiled import kernels as k
from lmm.engine.orderbook import (
    Fill,
    OrderBookError,
    OrderState,
    Side,
    _order_id,
    _positive_int,
    _side_index,
)

__all__ = ["CompiledBooks", "CompiledOrderBook"]

_SIDES = (Side.BUY, Side.SELL)


class CompiledBooks:
    """The books of ``markets`` markets in preallocated arrays.

    Args:
        markets: number of markets.
        max_orders: resting orders each market can hold.
        max_levels: occupied price levels each side of a market can hold.
    """

    def __init__(self, markets: int, max_orders: int = 4096, max_levels: int = 1024) -> None:
        for name, value in (
            ("markets", markets),
            ("max_orders", max_orders),
            ("max_levels", max_levels),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        announce_compiles()  # the kernels compile on first use
        self.arrays = k.allocate(markets, max_orders, max_levels)
        self.max_orders = max_orders
        self.max_levels = max_levels
        # a sweep fills at most every resting order once
        self.fills = np.zeros((max_orders, 4), dtype=np.int64)

    def __len__(self) -> int:
        return self.arrays.stats.shape[0]

    def __getitem__(self, market: int) -> CompiledOrderBook:
        if not 0 <= market < len(self):
            raise IndexError(f"market must be in [0, {len(self)}), got {market}")
        return CompiledOrderBook(self, market)

    def reset(self, market: int) -> None:
        """Empty ``market``'s book and counters."""
        k.reset(self.arrays, market)

    def full_error(self, market: int, status: int) -> OrderBookError:
        """The error of ``market``'s book being full, for a kernel's status
        :data:`~lmm.engine.compiled.kernels.E_ORDER_CAPACITY` or ``E_LEVEL_CAPACITY``."""
        if status == k.E_ORDER_CAPACITY:
            return OrderBookError(
                f"market {market} is full: it holds max_orders={self.max_orders} resting orders"
            )
        return OrderBookError(
            f"market {market} is full: a side holds max_levels={self.max_levels} price levels"
        )


class CompiledOrderBook:
    """One market of :class:`CompiledBooks`, with the API of
    :class:`lmm.engine.orderbook.OrderBook`.

    Args:
        books: the markets; by default a new single-market :class:`CompiledBooks`.
        market: which of them.
    """

    def __init__(self, books: CompiledBooks | None = None, market: int = 0) -> None:
        self.books = books if books is not None else CompiledBooks(1)
        self.market = market
        self._b = self.books.arrays

    # ------------------------------------------------------------------ counters
    @property
    def volume_added(self) -> int:
        """Shares that entered the book as resting volume."""
        return int(self._b.stats[self.market, k.ADDED])

    @property
    def volume_traded(self) -> int:
        """Shares of resting volume that traded."""
        return int(self._b.stats[self.market, k.TRADED])

    @property
    def volume_cancelled(self) -> int:
        """Shares removed by cancels and deletes."""
        return int(self._b.stats[self.market, k.CANCELLED])

    @property
    def volume_hidden_traded(self) -> int:
        """Shares traded against hidden liquidity."""
        return int(self._b.stats[self.market, k.HIDDEN])

    # ------------------------------------------------------------------- queries
    def _best(self, index: int) -> int | None:
        if self._b.n_levels[self.market, index] == 0:
            return None
        return int(k.best(self._b, self.market, index))

    @property
    def best_bid(self) -> int | None:
        """Highest bid price in ticks, or None when there are no bids."""
        return self._best(0)

    @property
    def best_ask(self) -> int | None:
        """Lowest ask price in ticks, or None when there are no asks."""
        return self._best(1)

    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None when a side is empty."""
        bid, ask = self._best(0), self._best(1)
        return ask - bid if bid is not None and ask is not None else None

    def mid_x2(self) -> int | None:
        """Twice the mid price in ticks, or None when a side is empty."""
        bid, ask = self._best(0), self._best(1)
        return ask + bid if bid is not None and ask is not None else None

    def would_cross(self, side: Side | int, price: int) -> bool:
        """Whether a limit order of ``side`` at ``price`` would trade on arrival."""
        return bool(k.crosses(self._b, self.market, _side_index(side), price))

    def depth(self, side: Side | int, price: int) -> int:
        """Total resting size at ``price`` on ``side`` (0 for an empty level)."""
        lv = k.level_slot(self._b, self.market, _side_index(side), price)
        return 0 if lv == k.EMPTY else int(self._b.levels[self.market, lv, k.L_TOTAL])

    def prices(self, side: Side | int) -> list[int]:
        """Every occupied price level of ``side`` in ticks, best first."""
        index = _side_index(side)
        n = int(self._b.n_levels[self.market, index])
        return [p for p, _ in self._levels(index, n)]

    def _levels(self, index: int, n: int) -> list[tuple[int, int]]:
        out = np.empty((min(n, int(self._b.n_levels[self.market, index])), 2), np.int64)
        k.levels(self._b, self.market, index, out)
        return [(p, s) for p, s in out.tolist()]

    def levels(self, side: Side | int, n: int) -> list[tuple[int, int]]:
        """The best ``n`` occupied levels of ``side`` as ``(price, size)``, best first."""
        if n < 0:
            raise OrderBookError(f"number of levels must be >= 0, got {n}")
        return self._levels(_side_index(side), n)

    def snapshot(self, n: int) -> np.ndarray:
        """Top-``n`` book as an ``(n, 4)`` int64 array (ask price, ask size, bid price, bid
        size; row 0 the best level; empty levels ``(EMPTY_PRICE, 0)``)."""
        if n < 0:
            raise OrderBookError(f"number of levels must be >= 0, got {n}")
        out = np.empty(4 * n, np.int64)
        k.snapshot_row(self._b, self.market, out)
        return out.reshape(n, 4)

    def snapshot_row(self, n: int) -> list[int]:
        """Top-``n`` book flattened as one LOBSTER orderbook row (a list of 4n ints)."""
        return self.snapshot(n).ravel().tolist()

    def __contains__(self, order_id: int) -> bool:
        return k.find(self._b, self.market, order_id) != k.EMPTY

    def __len__(self) -> int:
        """Number of resting orders (anonymous volume included)."""
        return int(self._b.stats[self.market, k.N_ORDERS])

    @property
    def resting_volume(self) -> int:
        """Total resting shares on both sides."""
        return sum(s for i in (0, 1) for _, s in self._levels(i, self.books.max_levels))

    def _slot(self, order_id: int) -> int:
        slot = k.find(self._b, self.market, order_id)
        if slot == k.EMPTY:
            raise OrderBookError(f"unknown order id {order_id}: no such resting order")
        return int(slot)

    def order(self, order_id: int) -> OrderState:
        """The resting order ``order_id``; raises OrderBookError if it is not in the book."""
        b, m = self._b, self.market
        slot = self._slot(order_id)
        lv = b.orders[m, slot, k.O_LEVEL]
        return OrderState(
            order_id,
            _SIDES[b.levels[m, lv, k.L_SIDE]],
            int(b.levels[m, lv, k.L_PRICE]),
            int(b.orders[m, slot, k.O_SIZE]),
            int(b.orders[m, slot, k.O_OWNER]),
        )

    def queue_ahead(self, order_id: int) -> int:
        """Shares resting ahead of ``order_id`` at its price."""
        return int(k.queue_ahead(self._b, self.market, self._slot(order_id)))

    def queue_length(self, side: Side | int, price: int) -> int:
        """Number of orders resting at ``price`` on ``side`` (0 for an empty level)."""
        lv = k.level_slot(self._b, self.market, _side_index(side), price)
        return 0 if lv == k.EMPTY else int(self._b.levels[self.market, lv, k.L_COUNT])

    def queue(self, side: Side | int, price: int) -> list[tuple[int, int]]:
        """Orders resting at ``price`` as ``(order_id, size)``, in time priority."""
        lv = k.level_slot(self._b, self.market, _side_index(side), price)
        if lv == k.EMPTY:
            return []
        out = np.empty((self._b.levels[self.market, lv, k.L_COUNT], 2), np.int64)
        k.queue(self._b, self.market, lv, out)
        return [(oid, size) for oid, size in out.tolist()]

    def orders_of(self, owner: int) -> list[OrderState]:
        """All resting orders of ``owner`` in arrival order (O(capacity))."""
        b, m = self._b, self.market
        live = b.orders[m, :, k.O_SIZE] > 0
        slots = np.flatnonzero(live & (b.orders[m, :, k.O_OWNER] == owner))
        slots = slots[np.argsort(b.orders[m, slots, k.O_SEQ], kind="stable")]
        return [self.order(int(b.orders[m, slot, k.O_ID])) for slot in slots]

    # ---------------------------------------------------------------- operations
    def _fills(self, n: int) -> list[Fill]:
        return [Fill(*row) for row in self.books.fills[:n].tolist()]

    def _raise(self, status: int, what: str, order_id: int, size: int, held: int) -> None:
        if status == k.E_UNKNOWN_ID:
            raise OrderBookError(f"unknown order id {order_id}: no such resting order")
        if status in (k.E_CANCEL_TOO_LARGE, k.E_EXECUTE_TOO_LARGE):
            raise OrderBookError(
                f"cannot {what} {size} shares of order {order_id}: only {held} remain"
            )
        if status == k.E_DUPLICATE_ID:
            raise OrderBookError(f"order id {order_id} is already resting in the book")
        if status in (k.E_ORDER_CAPACITY, k.E_LEVEL_CAPACITY):
            raise self.books.full_error(self.market, status)
        raise AssertionError(f"unknown status {status}")  # pragma: no cover

    def add_limit(
        self, order_id: int, side: Side | int, price: int, size: int, owner: int = 0
    ) -> list[Fill]:
        """Submit a limit order; the marketable part trades, the remainder rests (see
        :meth:`lmm.engine.orderbook.OrderBook.add_limit`)."""
        price = _positive_int("price", price)
        size = _positive_int("size", size)
        order_id = _order_id(order_id)
        index = _side_index(side)
        if order_id in self:
            raise OrderBookError(f"order id {order_id} is already resting in the book")
        if order_id < 0:
            raise OrderBookError(
                f"order id must be >= 0 (negative ids are reserved), got {order_id}"
            )
        status, n = k.add_limit(
            self._b, self.market, order_id, index, price, size, owner, self.books.fills
        )
        if status != k.OK:
            self._raise(status, "add", order_id, size, 0)
        return self._fills(n)

    def add_market(self, order_id: int, side: Side | int, size: int) -> list[Fill]:
        """Submit a market order; it trades up to ``size`` shares and never rests."""
        size = _positive_int("size", size)
        index = _side_index(side)
        n = k.add_ioc(self._b, self.market, order_id, index, False, 0, size, self.books.fills)
        return self._fills(n)

    def add_ioc(self, order_id: int, side: Side | int, price: int, size: int) -> list[Fill]:
        """Submit an immediate-or-cancel order limited at ``price``; it never rests."""
        price = _positive_int("price", price)
        size = _positive_int("size", size)
        index = _side_index(side)
        n = k.add_ioc(self._b, self.market, order_id, index, True, price, size, self.books.fills)
        return self._fills(n)

    def _reduce(self, order_id: int, size: int, trade: bool, what: str) -> int:
        status, removed = k.reduce(self._b, self.market, order_id, size, trade)
        if status != k.OK:
            self._raise(status, what, order_id, size, removed)
        return int(removed)

    def cancel(self, order_id: int, size: int) -> None:
        """Cancel ``size`` shares of a resting order (LOBSTER type 2)."""
        self._reduce(order_id, _positive_int("size", size), False, "cancel")

    def delete(self, order_id: int) -> int:
        """Remove a resting order entirely (LOBSTER type 3); returns the shares removed."""
        return self._reduce(order_id, 0, False, "delete")

    def execute(self, order_id: int, size: int, taker_id: int = -1) -> Fill:
        """Trade ``size`` shares against a specific resting order (LOBSTER type 4)."""
        size = _positive_int("size", size)
        slot = self._slot(order_id)
        b, m = self._b, self.market
        price = int(b.levels[m, b.orders[m, slot, k.O_LEVEL], k.L_PRICE])
        self._reduce(order_id, size, True, "execute")
        return Fill(order_id, taker_id, price, size)

    def execute_hidden(self, price: int, size: int) -> None:
        """Record a trade against hidden liquidity (LOBSTER type 5): counted, never shown."""
        _positive_int("price", price)
        self._b.stats[self.market, k.HIDDEN] += _positive_int("size", size)

    def add_anonymous(self, side: Side | int, price: int, size: int) -> int:
        """Rest ``size`` shares of unknown origin at the back of ``price``; returns its
        (negative) id."""
        price = _positive_int("price", price)
        size = _positive_int("size", size)
        index = _side_index(side)
        status, order_id = k.add_anonymous(self._b, self.market, index, price, size)
        if status == k.E_ANONYMOUS_CROSSES:
            raise OrderBookError(
                f"anonymous {Side(side).name} volume at {price} would cross the book"
            )
        if status != k.OK:
            self._raise(status, "add", 0, size, 0)
        return int(order_id)
