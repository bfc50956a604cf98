"""How the LMM scales with training data: validation NLL and mean L1 against training orders.

Each run is a ``mars-gym train-lmm`` summary and the ``mars-gym evaluate-lmm`` report of its
checkpoint, for example (one ten-minute block in 4, in 2, all of them):

    mars-gym train-lmm --subsample 4 --checkpoint /tmp/sub4 \\
        --out docs/results/train_lmm_subsample4.json
    mars-gym evaluate-lmm --checkpoint /tmp/sub4 --out docs/results/eval_lmm_subsample4.json
    python scripts/data_scaling.py --plot docs/results/data_scaling.png \\
        --run docs/results/train_lmm_subsample4.json docs/results/eval_lmm_subsample4.json \\
        --run docs/results/train_lmm_subsample2.json docs/results/eval_lmm_subsample2.json \\
        --run docs/results/train_lmm.json docs/results/eval_lmm.json

It prints one row per run and the change per doubling of the training orders (a
least-squares slope against log2 of the orders).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load_run(train_json: Path, eval_json: Path) -> dict:
    """Training orders, validation NLL, best step and mean L1 (model and zero-intelligence)
    of one run."""
    trained = json.loads(Path(train_json).read_text())
    evaluated = json.loads(Path(eval_json).read_text())
    fidelity = evaluated["fidelity"]
    return {
        "train_orders": int(trained["n_train_orders"]),
        "best_step": int(trained["best_step"]),
        "validation_bits": float(trained["best_validation_bits"]),
        "mean_l1": float(fidelity["lmm"]["mean"]["l1"]),
        "baseline_mean_l1": float(fidelity["zero_intelligence"]["mean"]["l1"]),
    }


def per_doubling(orders: np.ndarray, values: np.ndarray) -> float:
    """Least-squares change of ``values`` per doubling of ``orders``."""
    return float(np.polyfit(np.log2(orders), values, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run",
        nargs=2,
        action="append",
        required=True,
        metavar=("TRAIN_JSON", "EVAL_JSON"),
        help="a training summary and the evaluation of its checkpoint (repeatable)",
    )
    parser.add_argument("--plot", help="write the figure here (PNG)")
    args = parser.parse_args()
    runs = sorted(
        (load_run(Path(t), Path(e)) for t, e in args.run), key=lambda r: r["train_orders"]
    )
    print(
        f"{'training orders':>16} {'best step':>10} {'val. bits':>10} {'mean L1':>8} {'vs ZI':>6}"
    )
    for r in runs:
        print(
            f"{r['train_orders']:>16,} {r['best_step']:>10} {r['validation_bits']:>10.3f} "
            f"{r['mean_l1']:>8.3f} {r['mean_l1'] / r['baseline_mean_l1']:>6.2f}"
        )
    orders = np.array([r["train_orders"] for r in runs], dtype=np.float64)
    bits = np.array([r["validation_bits"] for r in runs])
    l1 = np.array([r["mean_l1"] for r in runs])
    if len(runs) > 1:
        print(
            f"per doubling of the training orders: {per_doubling(orders, bits):+.3f} bits, "
            f"{per_doubling(orders, l1):+.3f} mean L1"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
        left.plot(orders, bits, "o-")
        left.set(xscale="log", xlabel="training orders", ylabel="validation NLL (bits/order)")
        right.plot(orders, l1, "o-", label="LMM")
        right.axhline(
            runs[-1]["baseline_mean_l1"], color="grey", ls="--", label="zero-intelligence"
        )
        right.axhline(
            0.3 * runs[-1]["baseline_mean_l1"], color="grey", ls=":", label="target (0.3x)"
        )
        right.set(xscale="log", xlabel="training orders", ylabel="mean L1 (held out)")
        right.legend(frameon=False, loc="center left")
        fig.suptitle("The LMM's default recipe trained on a quarter, a half and all of the sample")
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
