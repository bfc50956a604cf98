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
least-squares slope against log2 of the orders). A run may name a third file, the
``summary.json`` of ``mars-gym fidelity --checkpoint <its checkpoint>``: then its makers'
10-s markout after market orders (the adverse-selection fact) is reported too, against the
real held-out value.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MARKOUT = ("adverse_selection", "markout_10s")


def load_run(train_json: Path, eval_json: Path, fidelity_json: Path | None = None) -> dict:
    """Training orders, validation NLL, best step and mean L1 (model and zero-intelligence)
    of one run; with a fidelity summary, the 10-s markout (model and real, each with its 95%
    interval)."""
    trained = json.loads(Path(train_json).read_text())
    evaluated = json.loads(Path(eval_json).read_text())
    fidelity = evaluated["fidelity"]
    run = {
        "train_orders": int(trained["n_train_orders"]),
        "best_step": int(trained["best_step"]),
        "validation_bits": float(trained["best_validation_bits"]),
        "mean_l1": float(fidelity["lmm"]["mean"]["l1"]),
        "baseline_mean_l1": float(fidelity["zero_intelligence"]["mean"]["l1"]),
    }
    if fidelity_json is not None:
        facts = json.loads(Path(fidelity_json).read_text())["facts"]
        for source, name in (("lmm", "markout"), ("real", "real_markout")):
            (fact,) = (f for f in facts[source] if f["key"] == MARKOUT[0])
            run[name] = [fact[k][MARKOUT[1]] for k in ("values", "ci95_low", "ci95_high")]
    return run


def per_doubling(orders: np.ndarray, values: np.ndarray) -> float:
    """Least-squares change of ``values`` per doubling of ``orders``."""
    return float(np.polyfit(np.log2(orders), values, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run",
        nargs="+",
        action="append",
        required=True,
        metavar="JSON",
        help="a training summary, the evaluation of its checkpoint and, optionally, its "
        "fidelity summary.json (repeatable)",
    )
    parser.add_argument("--plot", help="write the figure here (PNG)")
    args = parser.parse_args()
    for files in args.run:
        if len(files) not in (2, 3):
            parser.error(f"--run takes TRAIN_JSON EVAL_JSON [FIDELITY_JSON], got {files}")
    runs = sorted(
        (load_run(*map(Path, files)) for files in args.run), key=lambda r: r["train_orders"]
    )
    print(
        f"{'training orders':>16} {'best step':>10} {'val. bits':>10} {'mean L1':>8} {'vs ZI':>6}"
        f" {'markout 10 s [95%]':>22}"
    )
    for r in runs:
        markout = "{:>6.2f} [{:>5.2f}, {:>5.2f}]".format(*r["markout"]) if "markout" in r else ""
        print(
            f"{r['train_orders']:>16,} {r['best_step']:>10} {r['validation_bits']:>10.3f} "
            f"{r['mean_l1']:>8.3f} {r['mean_l1'] / r['baseline_mean_l1']:>6.2f} {markout:>22}"
        )
    orders = np.array([r["train_orders"] for r in runs], dtype=np.float64)
    bits = np.array([r["validation_bits"] for r in runs])
    l1 = np.array([r["mean_l1"] for r in runs])
    if len(runs) > 1:
        print(
            f"per doubling of the training orders: {per_doubling(orders, bits):+.3f} bits, "
            f"{per_doubling(orders, l1):+.3f} mean L1"
        )
    with_markout = [r for r in runs if "markout" in r]
    if with_markout:
        print(
            "real held-out markout at 10 s: {:.2f} [{:.2f}, {:.2f}]".format(
                *with_markout[0]["real_markout"]
            )
        )
    if len(with_markout) > 1:
        x = np.array([r["train_orders"] for r in with_markout], dtype=np.float64)
        y = np.array([r["markout"][0] for r in with_markout])
        print(f"markout at 10 s per doubling of the training orders: {per_doubling(x, y):+.3f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = 3 if len(with_markout) == len(runs) else 2
        fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.5))
        left, right = axes[:2]
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
        if panels == 3:
            _plot_markouts(axes[2], runs)
        fig.suptitle("The LMM's default recipe trained on a quarter, a half and all of the sample")
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


def _plot_markouts(ax, runs: list[dict]) -> None:
    """The makers' 10-s markout of each run with its 95% interval, against the real one."""
    x = np.array([r["train_orders"] for r in runs], dtype=np.float64)
    value, low, high = np.array([r["markout"] for r in runs]).T
    ax.errorbar(x, value, yerr=[value - low, high - value], fmt="o", capsize=3, label="LMM")
    real, real_low, real_high = runs[0]["real_markout"]
    ax.axhline(real, color="black", lw=1, label="real, held out")
    ax.axhspan(real_low, real_high, color="black", alpha=0.1)
    ax.axhline(0, color="grey", ls=":", lw=1)
    ax.set(
        xscale="log",
        xlabel="training orders",
        ylabel="maker's markout 10 s after (ticks)",
        title="adverse selection",
    )
    ax.legend(frameon=False)


if __name__ == "__main__":
    main()
