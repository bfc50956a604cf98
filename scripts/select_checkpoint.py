"""Choose among trained agents (checkpoints, runs) on calibration seeds, never the league's.

Plays every given SB3 model (with the observation statistics saved beside it) on the same
calibration seeds (from ``agents.benchmark.CALIBRATION_SEED_BASE``), paired by seed with
a reference baseline, and prints the league table; the shipped agent is the best of these
by the task's criterion (lowest shortfall for execution, highest PnL per std for market
making):

    python scripts/select_checkpoint.py --task market-making runs/ppo/checkpoints/*.zip
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.baselines import BASELINES
from agents.benchmark import CALIBRATION_SEED_BASE, TASKS, run_league
from agents.trained import sb3_policy
from lmm.results import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="SB3 model files (.zip)")
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--episodes", type=int, default=32, help="calibration seeds")
    parser.add_argument("--reference", help="baseline to pair with (default: the task's best)")
    parser.add_argument("--out", help="write the league as JSON")
    args = parser.parse_args()
    reference = args.reference or (
        "twap_passive" if args.task == "execution" else "avellaneda_stoikov"
    )
    policies = {reference: BASELINES[args.task][reference]}
    for path in args.models:
        policies[str(path.with_suffix(""))] = sb3_policy(path)
    league = run_league(
        args.task,
        policies,
        episodes=args.episodes,
        reference=reference,
        batch=args.episodes,
        progress=True,
        seed_base=CALIBRATION_SEED_BASE,
    )
    print(league.table())
    if args.out:
        write_json(args.out, league.to_dict(), indent=2)


if __name__ == "__main__":
    main()
