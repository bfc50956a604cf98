"""Are market orders sized to the liquidity they meet? Real and generated flow compared.

For every market order, its size (shares traded) is set against the size resting at the
touch it met (best ask for a buy, best bid for a sell): exactly the touch (the best level
is emptied), more (it walks deeper) or less (the spread stays). Real orders come from the
whole LOBSTER days and from the held-out windows that ``scripts/spread_dynamics.py`` uses;
generated ones from LMM rollouts of those windows (same starts, seeds and lengths), where
the size the model proposed is shown too (a market order trades at most what rests up to
its proposed price, so the traded size can be smaller):

    python scripts/market_sweep.py [--checkpoint FOLDER] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from spread_dynamics import held_out_windows, window_flags  # beside this script

from lmm.data.orderflow import MARKET_KINDS, OrderKind
from lmm.evaluation.evaluate import generate_records
from lmm.model.dataset import DayData
from lmm.model.generate import GeneratedOrder, LMMMarkets
from lmm.results import write_json


def shares_vs_touch(size: np.ndarray, touch: np.ndarray, gap: np.ndarray) -> dict[str, float]:
    """Shares of orders whose size equals, exceeds or falls short of the touch size, and
    the gap (ticks) from the touch to the next level behind it on the side taken, which
    is how far an order that empties the touch moves that quote (NaN: no second level)."""
    size, touch, gap = np.asarray(size), np.asarray(touch), np.asarray(gap, dtype=np.float64)
    n = max(len(size), 1)
    return {
        "mean_gap_to_level_2": float(np.nanmean(gap)) if len(gap) else 0.0,
        "median_gap_to_level_2": float(np.nanmedian(gap)) if len(gap) else 0.0,
        "orders": float(len(size)),
        "exactly_touch": float((size == touch).sum() / n),
        "more_than_touch": float((size > touch).sum() / n),
        "less_than_touch": float((size < touch).sum() / n),
        "median_size_over_touch": float(np.median(size / np.maximum(touch, 1))) if len(size) else 0,
    }


def real_market_orders(day: DayData, index: np.ndarray | None = None) -> dict[str, float]:
    """:func:`shares_vs_touch` for a day's market orders (those at ``index`` if given),
    against the book each met (the book after the previous order: the hidden executions
    between them leave the visible book alone)."""
    return shares_vs_touch(*_real(day, _market_orders(day, index)))


def _market_orders(day: DayData, index: np.ndarray | None = None) -> np.ndarray:
    """Indices of a day's market orders after its first order (among ``index`` if given)."""
    idx = np.flatnonzero(np.isin(day.flow["kind"], MARKET_KINDS))
    idx = idx[idx > 0]
    return idx if index is None else np.intersect1d(idx, index)


def _real(day: DayData, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Size, touch size and gap to the second level of the market orders at ``idx``."""
    met = day.book_after[idx - 1]
    buy = day.flow["kind"][idx] == OrderKind.MARKET_BUY
    gap = np.where(buy, met[:, 1, 0] - met[:, 0, 0], met[:, 0, 2] - met[:, 1, 2])
    level_2 = np.where(buy, met[:, 1, 1], met[:, 1, 3]) > 0
    return day.flow["size"][idx], day.touch[idx], np.where(level_2, gap, np.nan)


class TouchLoggingMarkets(LMMMarkets):
    """LMM markets that note, for each market order, the touch size it met and the size
    the model proposed, keyed by (market, order id)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.log: dict[tuple[int, int], tuple[float, ...]] = {}

    def step(self, rows: list[int] | None = None) -> list[GeneratedOrder | None]:
        rows = list(range(self.n)) if rows is None else list(rows)
        self.propose(rows)
        pending = {}
        for i in rows:
            m = self._market(i)
            p = m.proposal
            if p.kind in MARKET_KINDS:
                book = m.book
                touch_price = book.best_ask if p.kind == OrderKind.MARKET_BUY else book.best_bid
                side = -1 if p.kind == OrderKind.MARKET_BUY else 1
                depth = book.depth(side, touch_price) if touch_price is not None else 0
                levels = book.prices(side)
                gap = abs(levels[1] - levels[0]) if len(levels) > 1 else np.nan
                pending[i] = (m.next_id, depth, p.size, gap)
        out = self.commit(rows)
        for i, o in zip(rows, out, strict=True):
            if i in pending and o is not None:
                oid, depth, proposed, gap = pending[i]
                self.log[(i, oid)] = (depth, proposed, o.realized.size, gap)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    window_flags(parser)
    parser.add_argument("--no-rollouts", action="store_true", help="real figures only")
    args = parser.parse_args()
    checkpoint, dataset, windows, horizon = held_out_windows(args)
    report: dict = {"checkpoint": str(checkpoint.path), "minutes": args.minutes}
    report["rollouts_per_start"] = args.rollouts
    for d in dataset.days:
        parts = Path(d.name).stem.split("_")  # LOBSTER_SampleFile_GOOG_2012-06-21_10
        report[f"real_day_{parts[2]}_{parts[-1]}"] = real_market_orders(d)
    # the real windows' orders, by their indices in their days
    window_idx: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in dataset.days]
    for d, t in zip(windows.day, windows.time_ns, strict=True):
        day = dataset.days[d]
        first = day.index_at(int(t)) + 1
        stop = int(np.searchsorted(day.flow["time"], t + horizon, side="right"))
        window_idx[d] = np.union1d(window_idx[d], np.arange(first, stop))
    sizes, touches, gaps = [], [], []
    for d, day in enumerate(dataset.days):
        size, touch, gap = _real(day, _market_orders(day, window_idx[d]))
        sizes.append(size)
        touches.append(touch)
        gaps.append(gap)
    report["real_windows"] = shares_vs_touch(*map(np.concatenate, (sizes, touches, gaps)))
    if not args.no_rollouts:
        markets = TouchLoggingMarkets(checkpoint, len(windows.starts))
        records, _ = generate_records(
            markets, list(windows.starts), list(windows.seeds), horizon, progress=True
        )
        market = np.isin(records["kind"], MARKET_KINDS)
        rollout, order_id = records["rollout"][market], records["order_id"][market]
        keys = zip(rollout.tolist(), order_id.tolist(), strict=True)
        logged = np.array([markets.log[k] for k in keys], dtype=np.float64).reshape(-1, 4)
        touch = logged[:, 0].astype(np.int64)
        report["lmm_traded"] = shares_vs_touch(logged[:, 2].astype(np.int64), touch, logged[:, 3])
        report["lmm_proposed"] = shares_vs_touch(logged[:, 1].astype(np.int64), touch, logged[:, 3])
    names = [k for k in report if isinstance(report[k], dict)]
    print(f"{'':24}" + "".join(f"{n:>18}" for n in names))
    for field in report[names[0]]:
        print(f"{field:24}" + "".join(f"{report[n][field]:>18.3f}" for n in names))
    if args.out:
        write_json(args.out, report)


if __name__ == "__main__":
    main()
