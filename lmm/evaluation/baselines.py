"""Baselines the LMM must beat, calibrated on the same training orders.

* :class:`FrequencyModel`: the unconditional token distribution (add-one smoothed). Its
  negative log-likelihood is what a model that ignores all context would score.
* :class:`ZeroIntelligenceMarkets`: a zero-intelligence order flow in the spirit of Cont,
  Stoikov and Talreja (2010). Limit orders arrive as Poisson processes at rate ``lambda(i)``
  at ``i`` ticks from the opposite best quote, market orders at rate ``mu``, and each resting
  order within ``D`` ticks of the opposite quote is cancelled at rate ``theta(i)``; sizes are
  drawn from the empirical training sizes of each kind. Buy and sell sides share their
  rates (symmetrised). Generated orders go through the same engine and realisation rules as
  the LMM's (:func:`lmm.engine.market.apply_order`).

``theta(i)`` needs the average number of orders resting at distance ``i``; LOBSTER shows
shares per level, not orders, so it is estimated as the average depth at that distance
(over the books the training orders met) divided by the mean limit-order size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmm.data.orderflow import CANCEL_KINDS, LIMIT_KINDS, MARKET_KINDS, OrderKind
from lmm.engine.market import apply_order
from lmm.engine.orderbook import OrderBook
from lmm.engine.replay import seed_book
from lmm.model.dataset import DayData
from lmm.model.features import mid_x2
from lmm.model.generate import GeneratedOrder, StartState
from lmm.units import NS_PER_SECOND

__all__ = ["FrequencyModel", "ZeroIntelligenceMarkets", "ZeroIntelligenceParams"]

LN2 = np.log(2.0)


@dataclass(frozen=True)
class FrequencyModel:
    """Unconditional token frequencies with add-one smoothing."""

    log_probs: np.ndarray  # (vocab,) natural log

    @classmethod
    def fit(cls, tokens: np.ndarray, vocab_size: int) -> FrequencyModel:
        """Count ``tokens`` (training orders only)."""
        counts = np.bincount(np.asarray(tokens), minlength=vocab_size).astype(np.float64) + 1.0
        return cls(np.log(counts / counts.sum()))

    def nll_bits(self, tokens: np.ndarray) -> np.ndarray:
        """Negative log-likelihood of each token, in bits."""
        return -self.log_probs[np.asarray(tokens)] / LN2


@dataclass(frozen=True)
class ZeroIntelligenceParams:
    """Calibrated rates of the zero-intelligence flow (per second; distances in ticks).

    Attributes:
        limit_rate: ``lambda(i)``, i = 1..D, limit orders per second per side.
        market_rate: ``mu``, market orders per second per side.
        cancel_rate: ``theta(i)``, cancels per second per resting order at distance i.
        limit_sizes / market_sizes: empirical sizes to draw from.
    """

    limit_rate: np.ndarray
    market_rate: float
    cancel_rate: np.ndarray
    limit_sizes: np.ndarray
    market_sizes: np.ndarray

    @property
    def max_distance(self) -> int:
        """D, the farthest distance with a rate."""
        return len(self.limit_rate)

    @classmethod
    def fit(
        cls, days: tuple[DayData, ...] | list[DayData], max_distance: int = 60
    ) -> ZeroIntelligenceParams:
        """Calibrate on the training orders (not the validation window) of ``days``."""
        d = max_distance
        limit_counts = np.zeros(d)
        cancel_counts = np.zeros(d)
        depth_sum = np.zeros(d)
        n_books = 0
        market = 0
        seconds = 0.0
        limit_sizes, market_sizes = [], []
        for day in days:
            train = ~day.is_validation
            flow = day.flow[train]
            # the book each order met is the book after the previous order
            before = np.concatenate([day.book_after[:1], day.book_after[:-1]])[train]
            seconds += (flow["time"][-1] - flow["time"][0]) / NS_PER_SECOND
            kind = flow["kind"]
            best_ask, best_bid = before[:, 0, 0], before[:, 0, 2]
            is_buy = np.isin(kind, [OrderKind.LIMIT_BUY, OrderKind.CANCEL_BUY])
            # distance from the opposite best quote: a buy at ask - i is at distance i
            dist = np.where(is_buy, best_ask - flow["price"], flow["price"] - best_bid)
            ok = (dist >= 1) & (dist <= d)
            for kinds, counts in (
                (LIMIT_KINDS, limit_counts),
                (CANCEL_KINDS, cancel_counts),
            ):
                sel = np.isin(kind, kinds) & ok
                counts += np.bincount(dist[sel] - 1, minlength=d)[:d]
            market += int(np.isin(kind, MARKET_KINDS).sum())
            limit_sizes.append(flow["size"][np.isin(kind, LIMIT_KINDS)])
            market_sizes.append(flow["size"][np.isin(kind, MARKET_KINDS)])
            # depth by distance from the opposite quote, both sides, in the books met
            for side_cols, opposite in (((2, 3), best_ask), ((0, 1), best_bid)):
                prices, sizes = before[:, :, side_cols[0]], before[:, :, side_cols[1]]
                dist_lvl = np.abs(opposite[:, None] - prices)
                valid = (sizes > 0) & (dist_lvl >= 1) & (dist_lvl <= d)
                depth_sum += np.bincount(dist_lvl[valid] - 1, weights=sizes[valid], minlength=d)[:d]
            n_books += len(flow)
        if seconds <= 0 or n_books == 0:
            raise ValueError("no training orders to calibrate the zero-intelligence model on")
        limit_sizes_all = np.concatenate(limit_sizes)
        mean_orders = depth_sum / max(n_books, 1) / 2 / limit_sizes_all.mean()  # per side
        # cancels per second per side, per resting order
        cancel_rate = np.divide(
            cancel_counts / seconds / 2, mean_orders, out=np.zeros(d), where=mean_orders > 0
        )
        return cls(
            limit_rate=limit_counts / seconds / 2,
            market_rate=market / seconds / 2,
            cancel_rate=cancel_rate,
            limit_sizes=limit_sizes_all,
            market_sizes=np.concatenate(market_sizes),
        )


class ZeroIntelligenceMarkets:
    """``n`` zero-intelligence markets, with the same interface as :class:`LMMMarkets`
    for what evaluation needs (``reset``, ``step``, ``book``, ``time_ns``)."""

    def __init__(self, params: ZeroIntelligenceParams, n: int) -> None:
        self.params = params
        self.n = n
        self._books: list[OrderBook] = [OrderBook() for _ in range(n)]
        self._time = [0] * n
        self._mid = [0] * n
        self._rng = [np.random.default_rng(0) for _ in range(n)]
        self._next_id = [1] * n

    def reset(self, i: int, start: StartState, seed: int) -> None:
        """(Re)start market ``i`` from ``start``'s book and clock (its context is unused)."""
        self._books[i] = OrderBook()
        seed_book(self._books[i], np.asarray(start.book))
        self._time[i] = int(start.time_ns)
        self._mid[i] = int(mid_x2(np.asarray(start.book)))
        self._rng[i] = np.random.default_rng(seed)
        self._next_id[i] = 1

    def book(self, i: int) -> OrderBook:
        """Market ``i``'s order book."""
        return self._books[i]

    def time_ns(self, i: int) -> int:
        """Market ``i``'s clock."""
        return self._time[i]

    def step(self, rows: list[int] | None = None) -> list[GeneratedOrder | None]:
        """One event in every market (or in ``rows`` only, returned in that order)."""
        return [self._event(i) for i in (range(self.n) if rows is None else rows)]

    def _event(self, i: int) -> GeneratedOrder | None:
        p, book, rng = self.params, self._books[i], self._rng[i]
        d = p.max_distance
        ask, bid = book.best_ask, book.best_bid
        mid2 = self._mid[i]
        ref_ask = ask if ask is not None else (mid2 + 1) // 2 + 1
        ref_bid = bid if bid is not None else mid2 // 2 - 1
        # resting orders by distance from the opposite quote, per side
        counts = np.zeros((2, d))
        for s, (side, ref) in enumerate(((1, ref_ask), (-1, ref_bid))):
            for price, _ in book.levels(side, len(book)):
                dist = ref - price if side == 1 else price - ref
                if 1 <= dist <= d:
                    counts[s, dist - 1] = len(book.queue(side, price))
        rates = np.concatenate(
            [
                p.limit_rate,
                p.limit_rate,
                [p.market_rate, p.market_rate],
                (p.cancel_rate * counts).ravel(),
            ]
        )
        total = rates.sum()
        self._time[i] += int(rng.exponential(1.0 / total) * NS_PER_SECOND)
        event = int(np.searchsorted(np.cumsum(rates) / total, rng.random(), side="right"))
        event = min(event, len(rates) - 1)
        before = mid2
        if event < 2 * d:  # limit order
            side, dist = (1, event + 1) if event < d else (-1, event - d + 1)
            kind = OrderKind.LIMIT_BUY if side == 1 else OrderKind.LIMIT_SELL
            price = ref_ask - dist if side == 1 else ref_bid + dist
            size = int(rng.choice(p.limit_sizes))
            range_ = None
        elif event < 2 * d + 2:  # market order
            kind = OrderKind.MARKET_BUY if event == 2 * d else OrderKind.MARKET_SELL
            price = ref_ask if kind == OrderKind.MARKET_BUY else ref_bid
            size = int(rng.choice(p.market_sizes))
            range_ = None
        else:  # cancel one order at that distance
            k = event - 2 * d - 2
            side, dist = (1, k + 1) if k < d else (-1, k - d + 1)
            kind = OrderKind.CANCEL_BUY if side == 1 else OrderKind.CANCEL_SELL
            price = ref_ask - dist if side == 1 else ref_bid + dist
            size = 1  # ignored: a cancel deletes the whole order (lmm.engine.market)
            range_ = (price, price)
        realized = apply_order(book, kind, price, size, self._next_id[i], rng, range_)
        self._next_id[i] += 1
        new_mid = book.mid_x2()
        if new_mid is not None:
            self._mid[i] = new_mid
        return None if realized is None else GeneratedOrder(self._time[i], realized, before)
