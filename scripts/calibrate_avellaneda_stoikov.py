"""Choose Avellaneda-Stoikov's risk aversion and order-arrival decay on calibration seeds.

The league compares the PPO market maker with the best Avellaneda-Stoikov configuration,
as it compares the execution agent with the best TWAP. This grid plays each
(gamma, kappa) pair on seeds reserved for calibration (from ``CALIBRATION_SEED_BASE``,
apart from training's small seeds and the league's evaluation seeds) and prints PnL,
PnL per unit of PnL standard deviation (the league's criterion) and inventory:

    python scripts/calibrate_avellaneda_stoikov.py --episodes 32 --out as_grid.json

``docs/results/avellaneda_stoikov_grid.json`` holds this default grid but for (0.0003, 2)
and (0.001, 2), which were not run (kappa 2 lost to kappa 0.5 at every other gamma). The
best pair became :class:`agents.baselines.AvellanedaStoikov`'s default.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from tqdm import tqdm

from agents.baselines import AvellanedaStoikov
from agents.benchmark import EVALUATION_SEED_BASE, TASKS, play_episodes

#: First calibration seed: above the training seeds, below the evaluation seeds.
CALIBRATION_SEED_BASE = EVALUATION_SEED_BASE // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32, help="calibration seeds per pair")
    parser.add_argument(
        "--gammas", type=float, nargs="+", default=[0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]
    )
    parser.add_argument("--kappas", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--out", help="write the grid as JSON")
    args = parser.parse_args()
    seeds = list(range(CALIBRATION_SEED_BASE, CALIBRATION_SEED_BASE + args.episodes))
    rows = []
    for gamma, kappa in tqdm(list(itertools.product(args.gammas, args.kappas)), unit="pair"):
        results = play_episodes(
            TASKS["market-making"],
            lambda task, g=gamma, k=kappa: AvellanedaStoikov(task, gamma=g, kappa=k),
            seeds,
            batch=len(seeds),
        )
        pnl = np.array([r["pnl"] for r in results])
        inventory = float(np.mean([r["mean_abs_inventory"] for r in results]))
        rows.append(
            {
                "gamma": gamma,
                "kappa": kappa,
                "pnl_mean": float(pnl.mean()),
                "pnl_std": float(pnl.std(ddof=1)),
                "pnl_per_std": float(pnl.mean() / pnl.std(ddof=1)),
                "mean_abs_inventory": inventory,
            }
        )
    print(f"{'gamma':>7}{'kappa':>7}{'PnL':>10}{'std':>9}{'PnL/std':>9}{'|inventory|':>13}")
    for r in sorted(rows, key=lambda r: -r["pnl_per_std"]):
        print(
            f"{r['gamma']:>7g}{r['kappa']:>7g}{r['pnl_mean']:>10.2f}{r['pnl_std']:>9.2f}"
            f"{r['pnl_per_std']:>9.2f}{r['mean_abs_inventory']:>13.1f}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"seeds": [seeds[0], seeds[-1]], "grid": rows}, f, indent=2)


if __name__ == "__main__":
    main()
