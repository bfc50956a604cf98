"""Recording a simulated market as LOBSTER messages, with the book after each one.

A :class:`SessionRecorder` attached to a market (:meth:`lmm.model.generate.LMMMarkets.record`)
is told of every event the moment it happens in the book, generated and outside (agent)
orders alike, and turns it into LOBSTER's vocabulary:

* a limit order that does not trade is a submission (type 1);
* a marketable order (market, or a limit order crossing the spread) is one execution
  (type 4) per resting order it hit, in matching order, each with the *maker's* id, size,
  price and direction, followed by a submission (type 1) of a limit order's resting
  remainder, if any;
* a cancel is a partial cancellation (type 2) if the order still rests, else a deletion
  (type 3) of what it held.

After every message the top-``levels`` book is stored, as in a LOBSTER orderbook file; the
books between the executions of one aggressive order are exact (the later fills are put
back on the book the order left).

The recording starts like a LOBSTER file: the book after its first message is the start
state, and orders resting from before (the start snapshot's anonymous volume, earlier
orders) appear without a submission. Anonymous volume, which has negative ids in the
engine, gets fresh positive ids above every id of the session. Unlike LOBSTER's own level-L
files, which omit events beyond level L, the message file holds every event; so when
nothing rests deeper than level L at the first message (:attr:`SessionRecorder.complete_start`),
a replay of the recording reproduces every book exactly, with no reconciliation.
"""

from __future__ import annotations

import numpy as np

from lmm.data.lobster import DEFAULT_TICK_SIZE, MESSAGE_DTYPE, EventType, LobsterDay
from lmm.data.orderflow import CANCEL_KINDS, OrderKind
from lmm.engine.market import Realized
from lmm.engine.orderbook import EMPTY_PRICE, OrderBook, Side

__all__ = ["SessionRecorder"]


Levels = list[tuple[int, int]]


class SessionRecorder:
    """Collects one market's events as LOBSTER messages and top-L books.

    Args:
        levels: book levels per orderbook row (LOBSTER's L).
        tick_size: LOBSTER price units (dollars x 10000) per tick; 100 is one cent.
    """

    def __init__(self, levels: int = 10, tick_size: int = DEFAULT_TICK_SIZE) -> None:
        if type(levels) is not int or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        if type(tick_size) is not int or tick_size < 1:
            raise ValueError(f"tick_size must be a positive integer, got {tick_size!r}")
        self.levels = levels
        self.tick_size = tick_size
        self.complete_start = True
        self._messages: list[tuple[int, int, int, int, int, int]] = []
        self._rows: list[list[int]] = []

    def __len__(self) -> int:
        """Messages recorded so far."""
        return len(self._messages)

    def record(self, time_ns: int, realized: Realized, book: OrderBook) -> None:
        """Record one event that has just happened in ``book`` at ``time_ns``."""
        kind = OrderKind(realized.kind)
        side = kind.side
        oid = realized.order_id
        # L + 1 levels make the rows between executions exact (see _executions); one more
        # tells whether the first row shows the whole book
        depth = self.levels + 2
        bids, asks = book.levels(Side.BUY, depth), book.levels(Side.SELL, depth)
        if kind in CANCEL_KINDS:
            etype = EventType.CANCEL if oid in book else EventType.DELETE
            self._add((time_ns, etype, oid, realized.size, realized.price, side), bids, asks)
            return
        rests = oid in book
        if realized.fills:
            self._executions(time_ns, realized, bids, asks, rests)
        if rests:
            message = (time_ns, EventType.SUBMIT, oid, book.order(oid).size, realized.price, side)
            self._add(message, bids, asks)

    def to_day(self, ticker: str = "", date: str = "") -> LobsterDay:
        """The recording as a :class:`lmm.data.lobster.LobsterDay` (for
        :func:`lmm.data.export.write_lobster`).

        Args:
            ticker: the symbol to name the files with.
            date: the trading date, ``YYYY-MM-DD``.
        """
        messages = np.zeros(len(self._messages), dtype=MESSAGE_DTYPE)
        if self._messages:
            columns = list(zip(*self._messages, strict=True))
            for name, values in zip(
                ("time", "type", "order_id", "size", "price", "direction"), columns, strict=True
            ):
                messages[name] = values
            # anonymous volume (ids -1, -2, ...) gets ids above every known one
            ids = messages["order_id"]
            top = max(int(ids.max()), 0)
            ids[ids < 0] = top - ids[ids < 0]
        messages["price_raw"] = messages["price"] * self.tick_size
        book = np.asarray(self._rows, dtype=np.int64).reshape(-1, self.levels, 4)
        return LobsterDay(
            messages=messages,
            book=book,
            levels=self.levels,
            tick_size=self.tick_size,
            ticker=ticker,
            date=date,
            source="recorded session",
        )

    # ---------------------------------------------------------------- internals
    def _add(self, message: tuple[int, ...], bids: Levels, asks: Levels) -> None:
        """Store a message and the book after it (sides best first, at least L deep)."""
        if not self._messages:  # the first row is the start state a replay begins from
            self.complete_start = len(bids) <= self.levels and len(asks) <= self.levels
        self._messages.append(tuple(int(v) for v in message))
        row = [EMPTY_PRICE, 0, EMPTY_PRICE, 0] * self.levels
        for i, (price, size) in enumerate(asks[: self.levels]):
            row[4 * i], row[4 * i + 1] = price, size
        for i, (price, size) in enumerate(bids[: self.levels]):
            row[4 * i + 2], row[4 * i + 3] = price, size
        self._rows.append(row)

    def _executions(
        self, time_ns: int, realized: Realized, bids: Levels, asks: Levels, rests: bool
    ) -> None:
        """One type-4 message per fill, each with the book right after it.

        The book after fill ``j`` is the book the order left (``bids``, ``asks``) with
        fills ``j+1..`` put back on the opposite side and without the order's resting
        remainder on its own side. Putting volume back only adds at the front of a
        side, and taking the remainder away uncovers one level, so L + 1 levels suffice.
        """
        side = realized.kind.side
        own = bids if side == Side.BUY else asks
        if rests:  # the remainder rests alone at its price, the new best of its side
            own = own[1:]
        opposite = dict(asks if side == Side.BUY else bids)
        books = []
        for fill in reversed(realized.fills):
            ordered = sorted(opposite.items(), reverse=side == Side.SELL)
            books.append((own, ordered) if side == Side.BUY else (ordered, own))
            opposite[fill.price] = opposite.get(fill.price, 0) + fill.size
        for fill, (after_bids, after_asks) in zip(realized.fills, reversed(books), strict=True):
            message = (time_ns, EventType.EXECUTE, fill.maker_id, fill.size, fill.price, -side)
            self._add(message, after_bids, after_asks)
