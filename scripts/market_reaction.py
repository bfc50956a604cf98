"""Print how much a buy programme moves the generated market, seen vs hidden from the model.

The same experiment as tests/mars_gym/test_impact.py, with the figures printed:
    python scripts/market_reaction.py --seeds 48 --shares 200 --steps 30 [--checkpoint fast]

For scale, it also prints the shares traded per second on the real LOBSTER days when it
finds them (``--data``), against which the programme's rate can be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lmm.data.lobster import EventType, read_lobster
from lmm.results import write_json
from lmm.units import NS_PER_SECOND
from mars_gym.console.flags import checkpoint_flag, days_flags, days_from_args
from mars_gym.simulator import SimulatorConfig
from mars_gym.studies.impact import buy_programme_impact, median_interval


def traded_per_second(path: Path) -> float:
    """Shares executed per second (visible and hidden executions) over a LOBSTER day."""
    m = read_lobster(path).messages
    executed = np.isin(m["type"], (EventType.EXECUTE, EventType.EXECUTE_HIDDEN))
    return float(m["size"][executed].sum() / ((m["time"][-1] - m["time"][0]) / NS_PER_SECOND))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=48, help="markets (seeds 0..N-1)")
    parser.add_argument(
        "--shares", type=int, default=200, help="shares bought at market per second"
    )
    parser.add_argument("--steps", type=int, default=30, help="seconds the programme lasts")
    parser.add_argument("--after", type=int, default=30, help="seconds observed after it")
    checkpoint_flag(parser)
    parser.add_argument("--out", help="write the figures as JSON")
    days_flags(parser)
    args = parser.parse_args()
    try:
        days = days_from_args(args)
    except FileNotFoundError:  # no data here: the programme's figures alone
        days = []
    for path in days:
        print(f"{path.name}: {traded_per_second(path):.1f} shares traded per second")
    result = buy_programme_impact(
        list(range(args.seeds)),
        args.shares,
        args.steps,
        args.after,
        SimulatorConfig(checkpoint=args.checkpoint),
    )
    end = args.steps
    rows = {}
    for name, per_seed in (("seen", result.seen_per_seed), ("blind", result.blind_per_seed)):
        during = per_seed[:, 1 : end + 1].mean(1)
        rows[name] = during
        print(
            f"{name:>5}: mean mid move vs no programme during it {during.mean():+.2f} ticks "
            f"(95% CI +/- {1.96 * during.std(ddof=1) / np.sqrt(len(during)):.2f}); "
            f"at its end {per_seed[:, end].mean():+.2f}; "
            f"{args.after} s later {per_seed[:, -1].mean():+.2f}"
        )
    diff = rows["seen"] - rows["blind"]
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    print(
        f"reaction (seen - blind, paired by seed): {diff.mean():+.2f} ticks, 95% CI +/- {half:.2f}"
    )
    low, high = median_interval(diff)
    positive = float((diff > 0).mean())
    print(
        f"median reaction {np.median(diff):+.2f} ticks (bootstrap 95% CI [{low:+.2f}, "
        f"{high:+.2f}]); positive in {positive:.0%} of the markets"
    )
    if args.out:
        write_json(
            args.out,
            {
                **result.to_dict(),
                "reaction_ticks": float(diff.mean()),
                "ci95": float(half),
                "median_reaction_ticks": float(np.median(diff)),
                "median_ci95": [low, high],
                "share_positive": positive,
                "reaction_per_seed": diff.tolist(),
            },
        )


if __name__ == "__main__":
    main()
