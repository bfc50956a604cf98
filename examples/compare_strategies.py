"""Compare execution strategies on the same held-out seeds, with 95% confidence intervals.

python examples/compare_strategies.py --episodes 50
"""

from __future__ import annotations

import argparse

from agents.baselines import EXECUTION_BASELINES
from agents.benchmark import run_league


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="A small execution league.")
    parser.add_argument("--episodes", type=int, default=50, help="held-out episodes per policy")
    parser.add_argument(
        "--policies",
        nargs="+",
        default=["twap_passive", "twap_market", "almgren_chriss", "all_at_market"],
        choices=sorted(EXECUTION_BASELINES),
    )
    parser.add_argument("--checkpoint", help="LMM checkpoint folder (default: the packaged one)")
    parser.add_argument("--horizon", type=int, default=60, help="decisions per episode")
    args = parser.parse_args(argv)
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    league = run_league(
        "execution",
        {name: EXECUTION_BASELINES[name] for name in args.policies},
        episodes=args.episodes,
        horizon=args.horizon,
        **kwargs,
    )
    print(league.table())
    return league.to_dict()


if __name__ == "__main__":
    main()
