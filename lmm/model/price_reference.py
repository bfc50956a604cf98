"""Where an order's price is measured from: the reference price of the order tokenizer.

The tokenizer (:mod:`lmm.model.tokenizer`) turns an order's price into a signed offset in ticks
from a reference price, by one of two rules, chosen by :class:`PriceReference` and saved
with the checkpoint:

* ``MID``: ``price - mid_x2 // 2`` for every kind (the mid rounded down to a
  tick, which keeps the offset an exact integer whether the spread is odd or even);
* ``SAME_SIDE_BEST`` (the default, and the packaged checkpoint's): from the best quote of
  the side the order rests on or targets (limit and cancel buy: best bid; limit and cancel
  sell: best ask; market buy: best ask, the side it consumes; market sell: best bid),
  signed by aggressiveness: positive toward or through the other side, for both sides
  (``price - best_bid`` for buy-side kinds, ``best_ask - price`` for sell-side kinds).
  Offset 0 is the best quote itself, a negative offset sits behind it, a positive one
  inside the spread (or, for a market order, the ticks it walks beyond the touch), so one
  set of bins serves both sides. When the reference side is empty, the reference falls
  back to ``mid_x2 // 2`` (with :func:`lmm.model.features.mid_x2`'s one-sided mid, one tick
  beyond the other side's best), keeping the side's sign.

Checkpoints saved before the option existed load as ``MID`` (``lmm/checkpoints/mid``).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from lmm.data.orderflow import is_buy, is_market
from lmm.model.features import NO_QUOTE

__all__ = ["PriceReference", "reference_price"]


class PriceReference(str, Enum):
    """What an order's price offset is measured from (see the module docstring)."""

    MID = "mid"  #: the mid rounded down to a tick, for every kind
    SAME_SIDE_BEST = "same_side_best"  #: the best quote of the side the order rests on or takes

    def __str__(self) -> str:  # command-line choices and help show the value
        return self.value


def reference_price(
    reference: PriceReference,
    kind: np.ndarray | int,
    best_bid: np.ndarray | int,
    best_ask: np.ndarray | int,
    mid_x2: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference price (ticks) and sign of each order's offset, from the book it meets:
    ``offset = sign * (price - reference)`` and ``price = reference + sign * offset``.

    Args:
        reference: which rule (see the module docstring).
        kind: :class:`~lmm.data.orderflow.OrderKind` values.
        best_bid, best_ask: the book's best quotes in ticks, :data:`lmm.model.features.NO_QUOTE`
            for an empty side.
        mid_x2: twice the book's mid (:func:`lmm.model.features.mid_x2`, one-sided books included).

    Arrays broadcast; the results are int64 arrays of their common shape.
    """
    kind, bid, ask, m2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.int64) for a in (kind, best_bid, best_ask, mid_x2))
    )
    mid_ref = m2 // 2
    if reference is PriceReference.MID:
        return mid_ref, np.ones_like(kind)
    if reference is not PriceReference.SAME_SIDE_BEST:
        raise ValueError(f"unknown price reference {reference!r}")
    buy_side = is_buy(kind)
    market = is_market(kind)
    quote = np.where(buy_side != market, bid, ask)  # market orders take the other side
    return np.where(quote != NO_QUOTE, quote, mid_ref), np.where(buy_side, 1, -1)
