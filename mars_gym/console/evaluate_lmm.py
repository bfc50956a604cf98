"""``mars-gym evaluate-lmm``: held-out likelihood and generative fidelity of a checkpoint."""

from __future__ import annotations

import argparse

from lmm.evaluation.evaluate import evaluate_lmm
from lmm.model.checkpoint import load_checkpoint
from mars_gym.console.flags import checkpoint_flag, common_flags, days_flags, days_from_args

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "evaluate-lmm"
HELP = "likelihood and generative fidelity of a checkpoint on held-out data"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``evaluate-lmm`` command's description and flags to ``parser``."""
    parser.description = (
        "On the held-out window (the last --validation-minutes of each day): (i) negative "
        "log-likelihood per order in bits, model vs the token-frequency baseline; (ii) from "
        "real start states, generate --horizon-minutes of flow with the model and with a "
        "zero-intelligence (Poisson) baseline calibrated on the training orders, --rollouts "
        "per start, and compare with the real flow by L1 (total variation) and Wasserstein-1 "
        "distances of LOB-Bench's metrics. Each model's sampling floor (its first rollout of "
        "every start against its others) shows what a model as variable as it would score if "
        "the real flow were one of its rollouts."
    )
    days_flags(parser)
    checkpoint_flag(parser)
    parser.add_argument(
        "--starts",
        type=int,
        nargs="+",
        default=[0, 15, 30, 45, 60],
        help="start times in minutes after the held-out window opens (default: %(default)s)",
    )
    parser.add_argument(
        "--horizon-minutes", type=int, default=30, help="rollout length (default: 30)"
    )
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts per start (default: 4)")
    parser.add_argument(
        "--seed", type=int, default=0, help="base seed of the rollouts (default: 0)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="the LMM's sampling temperature in its rollouts (default: 1, the model's own "
        "distribution, as the environments sample it)",
    )
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Evaluate the checkpoint on the held-out windows; returns the full report."""
    files = days_from_args(args)
    checkpoint = load_checkpoint(args.checkpoint)
    report = evaluate_lmm(
        checkpoint,
        files,
        validation_minutes=args.validation_minutes,
        start_minutes=tuple(args.starts),
        horizon_minutes=args.horizon_minutes,
        rollouts=args.rollouts,
        seed=args.seed,
        progress=not args.quiet,
        temperature=args.temperature,
    )
    nll = report.nll_bits
    print(
        f"validation NLL per order: model {nll['model']:.3f} bits, token-frequency baseline "
        f"{nll['frequency_baseline']:.3f} bits ({nll['validation_orders']:,} orders)"
    )
    print(report.table())
    lmm_l1 = report.fidelity["lmm"]["mean"]["l1"]
    zi_l1 = report.fidelity["zero_intelligence"]["mean"]["l1"]
    print(
        f"mean L1: model {lmm_l1:.3f}, zero-intelligence {zi_l1:.3f} (ratio {lmm_l1 / zi_l1:.2f})"
    )
    if args.rollouts > 1:
        lmm_floor = report.floor["lmm"]["mean"]["l1"]
        zi_floor = report.floor["zero_intelligence"]["mean"]["l1"]
        print(
            f"sampling floor of the mean L1 (a model's first rollout of every start against "
            f"its others): model {lmm_floor:.3f}, zero-intelligence {zi_floor:.3f}"
        )
    result = report.to_dict()
    result["checkpoint"] = str(checkpoint.path)
    return result
