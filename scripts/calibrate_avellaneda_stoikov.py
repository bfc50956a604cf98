"""Choose Avellaneda-Stoikov's risk aversion and order-arrival decay on calibration seeds.

The league compares the PPO market maker with the best Avellaneda-Stoikov configuration,
as it compares the execution agent with the best TWAP. This grid plays each
(gamma, kappa) pair on seeds reserved for calibration (from ``CALIBRATION_SEED_BASE``,
apart from training's small seeds and the league's evaluation seeds) and prints PnL,
PnL per unit of PnL standard deviation (the league's criterion) and inventory:

    python scripts/calibrate_avellaneda_stoikov.py --episodes 32 --out as_grid.json

``docs/results/avellaneda_stoikov_grid.json`` holds the default grid (``--gammas 0.0003
0.001 0.003 0.01 0.03 0.1 --kappas 0.5``; kappa matters little once gamma is large, and
kappa 2 lost to 0.5 at every gamma on the first default market). The best pair
became :class:`agents.baselines.AvellanedaStoikov`'s default.
"""

from __future__ import annotations

import argparse
import itertools

from agents.baselines import AvellanedaStoikov
from agents.benchmark import CALIBRATION_SEED_BASE, run_league
from lmm.results import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32, help="calibration seeds per pair")
    parser.add_argument(
        "--gammas", type=float, nargs="+", default=[0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
    )
    parser.add_argument("--kappas", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--out", help="write the grid as JSON")
    args = parser.parse_args()
    pairs = {
        f"gamma={g:g} kappa={k:g}": (g, k) for g, k in itertools.product(args.gammas, args.kappas)
    }
    league = run_league(
        "market-making",
        {
            name: lambda task, g=g, k=k: AvellanedaStoikov(task, gamma=g, kappa=k)
            for name, (g, k) in pairs.items()
        },
        episodes=args.episodes,
        batch=args.episodes,
        progress=True,
        seed_base=CALIBRATION_SEED_BASE,
    )
    print(league.table())
    rows = sorted(league.rows(), key=lambda r: -r["pnl_per_std"])
    print(f"best PnL/std: {rows[0]['policy']} ({rows[0]['pnl_per_std']:.2f})")
    if args.out:
        grid = [
            {
                "gamma": pairs[r["policy"]][0],
                "kappa": pairs[r["policy"]][1],
                "pnl_mean": r["mean"],
                "pnl_std": r["std"],
                "pnl_per_std": r["pnl_per_std"],
                "mean_abs_inventory": r["mean_abs_inventory"],
            }
            for r in rows
        ]
        seeds = [CALIBRATION_SEED_BASE, CALIBRATION_SEED_BASE + args.episodes - 1]
        write_json(args.out, {"seeds": seeds, "grid": grid}, indent=2)


if __name__ == "__main__":
    main()
