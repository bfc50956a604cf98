"""What keeps the spread where it is? Real and generated flow compared order by order.

From start states in the held-out window (as ``mars-gym evaluate-lmm`` uses them), the
LMM generates a few minutes of flow; for it and for the real flow that followed the same
starts, this prints the spread's percentiles and the events that move it: limit orders
placed inside the spread (which narrow it) and how soon they are cancelled, cancels that
take the best quote (which may empty it), and market orders that widen the spread:

    python scripts/spread_dynamics.py [--checkpoint FOLDER] [--out FILE]

The spread is set by a balance: inside-spread limits narrow it, cancels and market orders
that empty the best widen it. A model can match each order's distribution and still get
the balance wrong, which this shows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lmm.data.orderflow import CANCEL_KINDS, LIMIT_KINDS, MARKET_KINDS, OrderKind
from lmm.evaluation.evaluate import StartWindows, generate_records, held_out_open, start_windows
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.dataset import OrderDataset, build_dataset
from lmm.model.generate import LMMMarkets
from lmm.results import write_json
from lmm.units import NS_PER_SECOND
from mars_gym.console.flags import checkpoint_flag, days_flags, days_from_args


def spread_balance(r: np.ndarray) -> dict[str, float]:
    """The spread and the events that move it, from evaluation records
    (:data:`lmm.evaluation.evaluate.RECORD_DTYPE`)."""
    two_sided = (r["bid_before"] > 0) & (r["ask_before"] > 0) & (r["bid_after"] > 0)
    two_sided &= r["ask_after"] > 0
    r = r[two_sided]
    kind, price = r["kind"], r["price"]
    before = r["ask_before"] - r["bid_before"]
    change = (r["ask_after"] - r["bid_after"]) - before
    buy_side = np.isin(kind, [OrderKind.LIMIT_BUY, OrderKind.CANCEL_BUY])
    best = np.where(buy_side, r["bid_before"], r["ask_before"])
    limit, cancel, market = (
        np.isin(kind, LIMIT_KINDS),
        np.isin(kind, CANCEL_KINDS),
        np.isin(kind, MARKET_KINDS),
    )
    inside = limit & (price > r["bid_before"]) & (price < r["ask_before"])
    # when each (rollout, order) was first cancelled
    cancelled: dict[tuple[int, int], int] = {}
    for key, t in zip(
        zip(r["rollout"][cancel].tolist(), r["order_id"][cancel].tolist(), strict=True),
        r["time"][cancel].tolist(),
        strict=True,
    ):
        cancelled.setdefault(key, t)
    inside_keys = zip(r["rollout"][inside].tolist(), r["order_id"][inside].tolist(), strict=True)
    lives = np.array(
        [
            (cancelled[key] - t) / NS_PER_SECOND
            for key, t in zip(inside_keys, r["time"][inside].tolist(), strict=True)
            if key in cancelled
        ]
    )
    at_best_cancel = cancel & (price == best)
    widening_market = market & (change > 0)
    p10, p50, p90 = np.percentile(before + change, [10, 50, 90])
    return {
        "orders": float(len(r)),
        "spread_p10": p10,
        "spread_median": p50,
        "spread_p90": p90,
        "market_share": float(market.mean()),
        "limits_inside_spread": float(inside.sum() / limit.sum()),
        "inside_cancelled_later": float(len(lives) / max(inside.sum(), 1)),
        "inside_cancelled_within_1s": float((lives < 1).sum() / max(inside.sum(), 1)),
        "cancels_at_best": float(at_best_cancel.sum() / cancel.sum()),
        "best_cancels_emptying_it": float(
            (at_best_cancel & (change > 0)).sum() / max(at_best_cancel.sum(), 1)
        ),
        "markets_widening": float(widening_market.sum() / market.sum()),
        "mean_widening_by_market": float(change[widening_market].mean()),
    }


def window_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the held-out windows and rollouts (:func:`held_out_windows`)."""
    days_flags(parser)
    checkpoint_flag(parser)
    parser.add_argument("--minutes", type=int, default=5, help="length of each rollout")
    parser.add_argument("--rollouts", type=int, default=2, help="rollouts per start")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON to FILE")


def held_out_windows(
    args: argparse.Namespace,
) -> tuple[Checkpoint, OrderDataset, StartWindows, int]:
    """The checkpoint, the days and the windows of :func:`window_flags`' arguments: starts
    0, 20, 40 and 60 minutes into each day's held-out window, ``--minutes`` long, with
    ``--rollouts`` seeded rollouts each; and the horizon in ns. ``scripts/market_sweep.py``
    uses the same windows."""
    checkpoint = load_checkpoint(args.checkpoint)
    dataset = build_dataset(days_from_args(args), progress=False, tokenizer=checkpoint.tokenizer)
    horizon = args.minutes * 60 * NS_PER_SECOND
    starts = [
        [held_out_open(d) + m * 60 * NS_PER_SECOND for m in (0, 20, 40, 60)] for d in dataset.days
    ]
    windows = start_windows(
        dataset.days, starts, horizon, args.rollouts, 0, checkpoint.model.config.context
    )
    return checkpoint, dataset, windows, horizon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    window_flags(parser)
    args = parser.parse_args()
    checkpoint, _, windows, horizon = held_out_windows(args)
    generated, _ = generate_records(
        LMMMarkets(checkpoint, len(windows.starts)),
        list(windows.starts),
        list(windows.seeds),
        horizon,
        progress=True,
    )
    real, model = spread_balance(windows.real), spread_balance(generated)
    print(f"{'':28}{'real':>10}{'LMM':>10}")
    for name in real:
        print(f"{name:28}{real[name]:>10.3f}{model[name]:>10.3f}")
    if args.out:
        report = {"real": real, "lmm": model, "checkpoint": str(checkpoint.path)}
        report |= {"minutes": args.minutes, "rollouts_per_start": args.rollouts}
        write_json(args.out, report)


if __name__ == "__main__":
    main()
