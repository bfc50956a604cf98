"""Book-state features: what the model sees of the limit order book at each order.

One function serves training (books from LOBSTER files, verified equal to the engine's) and
simulation (books from the engine's snapshots), so the model sees the same numbers in both.
Every feature is scaled to roughly unit range.
"""

from __future__ import annotations

import numpy as np

from lmm.units import NS_PER_SECOND

__all__ = [
    "FEATURE_LEVELS",
    "NO_QUOTE",
    "N_BOOK_FEATURES",
    "SESSION_CLOSE_NS",
    "SESSION_OPEN_NS",
    "best_quotes",
    "book_features",
    "mid_x2",
    "mirror_features",
]

#: Book levels per side that the features describe.
FEATURE_LEVELS = 5
#: NASDAQ's continuous session, in ns after midnight (09:30 to 16:00).
SESSION_OPEN_NS = 34_200 * NS_PER_SECOND
SESSION_CLOSE_NS = 57_600 * NS_PER_SECOND
# Where each feature sits in the vector (see book_features).
_SPREAD = 0
_ASK_SIZES = slice(1, 1 + FEATURE_LEVELS)
_BID_SIZES = slice(1 + FEATURE_LEVELS, 1 + 2 * FEATURE_LEVELS)
_ASK_DISTANCES = slice(1 + 2 * FEATURE_LEVELS, 1 + 3 * FEATURE_LEVELS)
_BID_DISTANCES = slice(1 + 3 * FEATURE_LEVELS, 1 + 4 * FEATURE_LEVELS)
_IMBALANCE = 1 + 4 * FEATURE_LEVELS
_TIME_OF_DAY = _IMBALANCE + 1
_MID_MOVE = _TIME_OF_DAY + 1
#: Length of the feature vector.
N_BOOK_FEATURES = _MID_MOVE + 1

_MID_MOVE_CLIP = 10  # ticks
#: Best quote standing for an empty side (prices are positive ticks).
NO_QUOTE = 0


def mid_x2(book: np.ndarray) -> np.ndarray:
    """Twice the mid price in ticks (exact integers) of ``(..., L, 4)`` books.

    With one side empty, the mid is taken one tick beyond the other side's best quote; with
    both empty it is 0 (callers keep their previous mid).
    """
    ask, ask_size = book[..., 0, 0], book[..., 0, 1]
    bid, bid_size = book[..., 0, 2], book[..., 0, 3]
    both = (ask_size > 0) & (bid_size > 0)
    return np.where(
        both,
        ask + bid,
        np.where(ask_size > 0, 2 * ask - 2, np.where(bid_size > 0, 2 * bid + 2, 0)),
    ).astype(np.int64)


def best_quotes(book: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best bid and best ask in ticks of ``(..., L, 4)`` books, :data:`NO_QUOTE` for an
    empty side."""
    ask = np.where(book[..., 0, 1] > 0, book[..., 0, 0], NO_QUOTE).astype(np.int64)
    bid = np.where(book[..., 0, 3] > 0, book[..., 0, 2], NO_QUOTE).astype(np.int64)
    return bid, ask


def book_features(
    book: np.ndarray,
    mid_x2_before: np.ndarray,
    time_ns: np.ndarray,
    quotes: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Features of books after orders, as float32 ``(..., N_BOOK_FEATURES)``.

    Args:
        book: ``(..., L, 4)`` int books (ask price, ask size, bid price, bid size per level,
            empty levels ``(0, 0)``), with ``L >= 1``; levels beyond ``FEATURE_LEVELS``
            are ignored and missing ones count as empty.
        mid_x2_before: twice the mid before the order (to describe the mid's move), by the
            same rule as the mid after it.
        time_ns: the order's time in ns after midnight.
        quotes: the best bid and ask (each ``(...,)``) that the spread, the mid and the
            distances are measured from, where the book lacks a side: a simulator that
            keeps an emptied side's place passes it here (:data:`NO_QUOTE` where it has
            none). By default, and wherever both sides rest, the book's own best quotes;
            with a side empty and no stand-in, the mid is one tick beyond the other side
            (:func:`mid_x2`) and the spread 0. With both sides empty the mid is
            ``mid_x2_before`` (it has not moved) and the spread 0.

    Features: log spread; log sizes of the top levels (asks, then bids); log distances of
    those levels from the mid; level-1 imbalance; time of day in [0, 1]; the mid's move
    caused by the order (ticks, clipped to +/-10, over 10).
    """
    book = np.asarray(book)
    levels = min(book.shape[-2], FEATURE_LEVELS)
    top = np.zeros((*book.shape[:-2], FEATURE_LEVELS, 4), dtype=np.int64)
    top[..., :levels, :] = book[..., :levels, :]
    mid2 = mid_x2(top)
    ask_p, ask_s, bid_p, bid_s = (top[..., i] for i in range(4))
    spread = np.where((ask_s[..., 0] > 0) & (bid_s[..., 0] > 0), ask_p[..., 0] - bid_p[..., 0], 0)
    if quotes is not None:
        bid, ask = (np.asarray(q, dtype=np.int64) for q in quotes)
        quoted = (bid != NO_QUOTE) & (ask != NO_QUOTE)
        mid2 = np.where(quoted, bid + ask, mid2)
        spread = np.where(quoted, ask - bid, spread)
    # no quote at all (both sides empty): the mid stays where it was, as callers keep it
    mid2 = np.where(mid2 == 0, np.asarray(mid_x2_before, dtype=np.int64), mid2)
    ask_dist = np.where(ask_s > 0, 2 * ask_p - mid2[..., None], 0) / 2
    bid_dist = np.where(bid_s > 0, mid2[..., None] - 2 * bid_p, 0) / 2
    a1, b1 = ask_s[..., 0].astype(np.float64), bid_s[..., 0].astype(np.float64)
    imbalance = np.divide(b1 - a1, a1 + b1, out=np.zeros_like(a1), where=(a1 + b1) > 0)
    tod = (np.asarray(time_ns) - SESSION_OPEN_NS) / (SESSION_CLOSE_NS - SESSION_OPEN_NS)
    move = np.clip((mid2 - np.asarray(mid_x2_before)) / 2, -_MID_MOVE_CLIP, _MID_MOVE_CLIP)
    out = np.empty((*top.shape[:-2], N_BOOK_FEATURES), dtype=np.float32)
    out[..., _SPREAD] = np.log1p(spread)
    out[..., _ASK_SIZES] = np.log1p(ask_s) / 5
    out[..., _BID_SIZES] = np.log1p(bid_s) / 5
    out[..., _ASK_DISTANCES] = np.log1p(np.maximum(ask_dist, 0)) / 3
    out[..., _BID_DISTANCES] = np.log1p(np.maximum(bid_dist, 0)) / 3
    out[..., _IMBALANCE] = imbalance
    out[..., _TIME_OF_DAY] = np.clip(tod, 0.0, 1.0)
    out[..., _MID_MOVE] = move / _MID_MOVE_CLIP
    return out


def mirror_features(features: np.ndarray) -> np.ndarray:
    """The features of the mirrored books (buy and sell sides swapped, prices reflected
    about the mid) of ``(..., N_BOOK_FEATURES)`` features: ask and bid sizes and distances
    trade places, the imbalance and the mid's move change sign, the spread and the time of
    day stay."""
    f = np.asarray(features)
    out = f.copy()
    for asks, bids in ((_ASK_SIZES, _BID_SIZES), (_ASK_DISTANCES, _BID_DISTANCES)):
        out[..., asks], out[..., bids] = f[..., bids], f[..., asks]
    out[..., _IMBALANCE] = -f[..., _IMBALANCE]
    out[..., _MID_MOVE] = -f[..., _MID_MOVE]
    return out
