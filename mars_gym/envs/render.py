"""Drawing a market for ``render_mode="rgb_array"``: depth chart and mid-price path."""

from __future__ import annotations

import numpy as np

from lmm.orderbook import OrderBook, Side

__all__ = ["render_market"]

_W, _H = 480, 240
_BID, _ASK, _MID, _BG = (40, 160, 80), (200, 60, 60), (30, 60, 200), (255, 255, 255)


def render_market(book: OrderBook, mid_path: list[float], levels: int = 20) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 image: cumulative depth by price (left) and the mid path
    (right). Pure numpy, so it needs no display."""
    img = np.full((_H, _W, 3), _BG, dtype=np.uint8)
    half = _W // 2
    bids, asks = book.levels(Side.BUY, levels), book.levels(Side.SELL, levels)
    if bids or asks:
        prices = [p for p, _ in bids] + [p for p, _ in asks]
        lo, hi = min(prices), max(prices)
        depth = max(sum(s for _, s in bids), sum(s for _, s in asks), 1)
        for side, color in ((bids, _BID), (asks, _ASK)):
            total = 0
            for price, size in side:
                total += size
                x = int((price - lo) / max(hi - lo, 1) * (half - 11)) + 5
                y = _H - 5 - int(total / depth * (_H - 10))
                img[y : _H - 5, x : x + 4] = color
    if len(mid_path) > 1:
        path = np.asarray(mid_path, dtype=float)
        span = max(path.max() - path.min(), 1.0)
        xs = half + 5 + (np.arange(len(path)) / (len(path) - 1) * (half - 11)).astype(int)
        ys = _H - 5 - ((path - path.min()) / span * (_H - 10)).astype(int)
        for x, y in zip(xs, ys, strict=True):
            img[max(y - 1, 0) : y + 2, x : x + 2] = _MID
    img[:, half - 1 : half + 1] = (200, 200, 200)
    return img
