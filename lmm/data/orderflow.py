"""The order flow the model learns: LOBSTER messages turned into orders as traders sent them.

LOBSTER records the *book's* events. The model needs the *traders'* actions, so:

* a type-1 submission is a limit order (buy or sell);
* types 2 (partial cancel) and 3 (delete) are both a cancel on the bid or ask side; the
  size says how much, and a cancel of an order's whole remaining size is a delete;
* consecutive type-4 executions with the same timestamp and direction are one market order
  of the opposite side (see :func:`lmm.data.lobster.aggressive_orders`); its price is the
  worst price it reached, so it can be replayed as a marketable limit order that does not
  rest;
* hidden executions (5), cross trades (6) and halts (7) change no visible book and are left
  out.

Each order carries the indices of its first and last messages: the book it met is
``day.book[row - 1]`` and the book it left is ``day.book[last_row]`` (the file's books,
which the engine reproduces exactly; see :mod:`lmm.engine.replay`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from lmm.data.lobster import EventType, LobsterDay, aggressive_orders

__all__ = [
    "BUY_KINDS",
    "CANCEL_KINDS",
    "LIMIT_KINDS",
    "MARKET_KINDS",
    "ORDER_DTYPE",
    "OrderKind",
    "is_buy",
    "is_market",
    "order_flow",
]


class OrderKind(IntEnum):
    """What a trader did. Six kinds: the three actions a trader has, on either side."""

    LIMIT_BUY = 0
    LIMIT_SELL = 1
    MARKET_BUY = 2
    MARKET_SELL = 3
    CANCEL_BUY = 4  #: cancel (part of) a resting buy order
    CANCEL_SELL = 5  #: cancel (part of) a resting sell order

    @property
    def side(self) -> int:
        """+1 for the buy side, -1 for the sell side (LOBSTER's direction convention)."""
        return 1 if self % 2 == 0 else -1


#: the kinds of each action, buy side first
LIMIT_KINDS = (OrderKind.LIMIT_BUY, OrderKind.LIMIT_SELL)
MARKET_KINDS = (OrderKind.MARKET_BUY, OrderKind.MARKET_SELL)
CANCEL_KINDS = (OrderKind.CANCEL_BUY, OrderKind.CANCEL_SELL)
#: the buy-side kinds (OrderKind.side == +1)
BUY_KINDS = (OrderKind.LIMIT_BUY, OrderKind.MARKET_BUY, OrderKind.CANCEL_BUY)


def is_buy(kind: np.ndarray) -> np.ndarray:
    """Elementwise: is each OrderKind value a buy-side kind (one of :data:`BUY_KINDS`)?

    The same as ``np.isin(kind, BUY_KINDS)`` at a fraction of its cost, read off the
    enum's layout (buy kinds are the even values); the generation loop asks every order.
    """
    return np.asarray(kind) % 2 == 0


def is_market(kind: np.ndarray) -> np.ndarray:
    """Elementwise: is each OrderKind value a market order (one of :data:`MARKET_KINDS`)?
    As :func:`is_buy`, from the layout (each action's two kinds are adjacent)."""
    return np.asarray(kind) // 2 == OrderKind.MARKET_BUY // 2


#: One trader action in exact units.
ORDER_DTYPE = np.dtype(
    [
        ("time", np.int64),  # ns after midnight
        ("kind", np.int8),  # OrderKind
        ("price", np.int64),  # ticks: limit price, cancelled order's price, or worst fill price
        ("size", np.int64),  # shares
        ("row", np.int64),  # index of the order's first LOBSTER message
        ("last_row", np.int64),  # index of its last message (the book after it)
        ("order_id", np.int64),  # LOBSTER id of the submitted or cancelled order; -1: market
    ]
)


def order_flow(day: LobsterDay) -> np.ndarray:
    """The day's trader actions as a structured array of :data:`ORDER_DTYPE`, in time order.

    The first message is skipped: its result is the book the replay starts from.
    """
    m = day.messages
    rows = np.arange(1, len(m))
    mtype = m["type"][1:]
    direction = m["direction"][1:]

    limit = mtype == EventType.SUBMIT
    cancel = (mtype == EventType.CANCEL) | (mtype == EventType.DELETE)
    passive = np.zeros(int(limit.sum() + cancel.sum()), dtype=ORDER_DTYPE)
    sel = limit | cancel
    passive["time"] = m["time"][1:][sel]
    passive["price"] = m["price"][1:][sel]
    passive["size"] = m["size"][1:][sel]
    passive["row"] = rows[sel]
    passive["last_row"] = rows[sel]
    passive["order_id"] = m["order_id"][1:][sel]
    is_sell = direction[sel] == -1
    passive["kind"] = np.where(
        limit[sel],
        np.where(is_sell, OrderKind.LIMIT_SELL, OrderKind.LIMIT_BUY),
        np.where(is_sell, OrderKind.CANCEL_SELL, OrderKind.CANCEL_BUY),
    )

    aggressive = aggressive_orders(m)
    aggressive = aggressive[aggressive["first_row"] >= 1]
    market = np.zeros(len(aggressive), dtype=ORDER_DTYPE)
    market["time"] = aggressive["time"]
    market["price"] = aggressive["price"]
    market["size"] = aggressive["size"]
    market["row"] = aggressive["first_row"]
    market["last_row"] = aggressive["first_row"] + aggressive["n_fills"] - 1
    market["kind"] = np.where(aggressive["side"] == 1, OrderKind.MARKET_BUY, OrderKind.MARKET_SELL)
    market["order_id"] = -1  # LOBSTER records only the resting orders it hit

    out = np.concatenate([passive, market])
    return out[np.argsort(out["row"], kind="stable")]
