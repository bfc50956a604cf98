"""What an order's size is measured in: shares, or for market orders the touch they meet.

The tokenizer (:mod:`lmm.model.tokenizer`) puts an order's size into a bin, measured by one of two
rules, chosen by :class:`SizeReference` and saved with the checkpoint:

* ``SHARES``: quantile bins of shares, for every kind;
* ``TOUCH`` (the default, and the packaged checkpoint's): a market order's size relative
  to the size resting at the touch it meets (:func:`touch_size`), the ratio ``size /
  touch`` in one bin of its own for "exactly the touch" (the best level is emptied) and
  quantile bins of the ratios below 1 (part of it) and above 1 (deeper)
  (:func:`fit_touch_bins`, :func:`touch_bins`); other kinds keep share bins. Real market
  orders take exactly the touch 0.56-0.59 of the time (``python
  scripts/market_sweep.py``), a size that share bins cannot express.

Checkpoints saved before the option existed load as ``SHARES``.

Decoding a ratio bin (:func:`touch_shares`) gives exactly the touch's shares for the exact
bin, or a ratio drawn from the bin's training ratios (stored quantiles,
:mod:`lmm.model.quantiles`) times the touch, rounded to whole shares inside the bin (when no
whole share falls inside it for a small touch, the nearest share on the bin's side of the
touch; a touch of one share cannot be undercut and is taken whole).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.model.quantiles import inverse_cdf, quantile_table

__all__ = ["SizeReference", "fit_touch_bins", "touch_bins", "touch_shares", "touch_size"]


class SizeReference(str, Enum):
    """What an order's size is measured in (see the module docstring)."""

    SHARES = "shares"  #: shares, for every kind
    TOUCH = "touch"  #: market orders relative to the size at the touch; others in shares

    def __str__(self) -> str:  # command-line choices and help show the value
        return self.value


def touch_size(
    kind: np.ndarray | int, best_bid_size: np.ndarray | int, best_ask_size: np.ndarray | int
) -> np.ndarray:
    """Shares resting at the touch each order meets: the best ask for a market buy, the best
    bid for a market sell, 0 for the other kinds (whose sizes never refer to it).

    Arrays broadcast; the result is an int64 array of their common shape.
    """
    kind, bid, ask = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.int64) for a in (kind, best_bid_size, best_ask_size))
    )
    return np.where(
        kind == OrderKind.MARKET_BUY, ask, np.where(kind == OrderKind.MARKET_SELL, bid, 0)
    )


def fit_touch_bins(size: np.ndarray, touch: np.ndarray, size_bins: int) -> dict:
    """``touch_edges`` and ``touch_quantiles`` from training market orders: up to
    ``(size_bins - 1) // 2`` quantile bins of the ratios size / touch on each side of 1, and
    :data:`~lmm.model.quantiles.QUANTILES` quantiles of the ratios in each bin, for decoding."""
    size, touch = np.asarray(size, dtype=np.int64), np.asarray(touch, dtype=np.int64)
    if (touch < 1).any():
        raise ValueError(f"a market order needs a touch of >= 1 share, got {touch.min()}")
    ratio = size / touch
    per_side = max((size_bins - 1) // 2, 1)
    grid = np.linspace(0.0, 1.0, per_side + 1)[1:-1]
    edges = []
    for lo, part in ((0.0, ratio[ratio < 1]), (1.0, ratio[ratio > 1])):
        inner = np.quantile(part, grid, method="lower") if len(part) else np.zeros(0)
        edges += [lo, *np.unique(inner[inner > lo])]
    e = np.asarray(edges)
    hi = np.append(e[1:], np.inf)
    quantiles = []
    for a, b in zip(e, hi, strict=True):
        inside = ratio[(ratio >= a) & (ratio < b) & (ratio != 1)]
        if len(inside) == 0:  # an empty bin decodes uniformly over it (or to twice its start)
            inside = np.array([max(a, 1e-9), b if np.isfinite(b) else 2 * a])
        quantiles.append(tuple(float(v) for v in quantile_table(inside, method="linear")))
    return {"touch_edges": tuple(float(x) for x in e), "touch_quantiles": tuple(quantiles)}


def touch_bins(edges: tuple[float, ...], size: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Ratio bins of market orders of ``size`` shares against touches ``q`` (>= 1): the
    bins below the touch, then one for exactly the touch, then those above it."""
    e = np.asarray(edges, dtype=np.float64)
    n_below = int(np.searchsorted(e, 1.0))
    interval = np.searchsorted(e, size / q, side="right") - 1
    return np.where(size == q, n_below, np.where(interval < n_below, interval, interval + 1))


def touch_shares(
    edges: tuple[float, ...],
    quantiles: tuple[tuple[float, ...], ...],
    s: np.ndarray,
    u: np.ndarray,
    q: np.ndarray,
) -> np.ndarray:
    """Shares of market orders of ratio bins ``s`` (as :func:`touch_bins` numbers them)
    against touches ``q`` (>= 1), drawn with uniforms ``u`` (the rules are in the module
    docstring); ``edges`` and ``quantiles`` as :func:`fit_touch_bins` returns them."""
    e = np.asarray(edges, dtype=np.float64)
    n_below = int(np.searchsorted(e, 1.0))
    exact = s == n_below
    interval = np.where(s < n_below, s, s - 1).clip(0, len(e) - 1)
    below = interval < n_below
    ratio = inverse_cdf(np.asarray(quantiles, dtype=np.float64)[interval], u)
    shares = np.rint(ratio * q).astype(np.int64)
    # the whole shares whose ratio falls in the bin: lo <= n / q < hi, as encoded
    lo = e[interval]
    hi = np.append(e, np.inf)[interval + 1]
    first = np.ceil(lo * q).astype(np.int64)
    first = np.where((first - 1) / q >= lo, first - 1, first)
    first = np.where(first / q < lo, first + 1, first)
    huge = np.iinfo(np.int64).max // 4
    last = np.where(np.isinf(hi), huge, np.ceil(np.minimum(hi, 1e15) * q)).astype(np.int64)
    last = np.where(last / q >= hi, last - 1, last)
    last = np.where((last + 1) / q < hi, last + 1, last)
    first = np.where(below, np.maximum(first, 1), np.maximum(first, q + 1))
    last = np.where(below, np.minimum(last, q - 1), last)
    inside = np.clip(shares, first, np.maximum(last, first))
    # no whole share in the bin for this touch: the nearest on the bin's side of it
    side = np.where(below, np.clip(shares, 1, np.maximum(q - 1, 1)), np.maximum(shares, q + 1))
    out = np.where(first <= last, inside, side)
    return np.where(exact | (below & (q == 1)), q, out)
