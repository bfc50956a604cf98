"""``mars-gym forecast --out DIR``: the mid's direction from LMM rollouts
(:mod:`mars_gym.studies.forecast`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lmm.model.checkpoint import load_checkpoint
from lmm.results import write_json
from mars_gym.console.flags import (
    checkpoint_flag,
    config_from_args,
    dataclass_flags,
    days_flags,
    days_from_args,
    folder_flags,
)
from mars_gym.studies.forecast import ForecastConfig, plot_forecast, run_forecast

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "forecast"
HELP = "predict the mid's direction (down/flat/up) from LMM rollouts; accuracy vs naive baselines"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``forecast`` command's description and flags to ``parser``."""
    parser.description = (
        "From real start states every --step-minutes of the held-out window (the last "
        "--validation-minutes of each day), generate --rollouts markets with the LMM for "
        "--horizon-minutes and predict the mid's direction (down / flat / up; flat within a "
        "per-stock threshold that balances the classes on the training window) by majority "
        "vote of the rollouts. Reports accuracy with Wilson 95% intervals against the naive "
        "majority-class and last-return predictors, paired differences with bootstrap "
        "intervals and McNemar's exact test. Writes forecast.json and forecast.png to --out."
    )
    days_flags(parser)
    dataclass_flags(parser, ForecastConfig)
    checkpoint_flag(parser)
    folder_flags(parser, Path("out/forecast"), "forecast.json and forecast.png")


def run(args: argparse.Namespace) -> dict:
    """Run the experiment, print its summary, write JSON and the plot to ``args.out_dir``."""
    start = time.perf_counter()
    config = config_from_args(ForecastConfig, args)
    checkpoint = load_checkpoint(args.checkpoint)
    report = run_forecast(
        checkpoint, days_from_args(args), config, args.validation_minutes, progress=not args.quiet
    )
    report["checkpoint"] = str(checkpoint.path)
    report["wall_seconds"] = time.perf_counter() - start
    _print(report)
    write_json(args.out_dir / "forecast.json", report)
    plot_forecast(report, args.out_dir / "forecast.png")
    print(f"wrote forecast.json and forecast.png to {args.out_dir}")
    return report


def _print(report: dict) -> None:
    for p in report["per_stock"]:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in p["training_class_shares"].items())
        print(
            f"{p['day']}: flat = |change| <= {p['threshold_ticks']:g} ticks (training: {shares}; "
            f"majority {p['majority_class']}); {p['starts']} held-out starts"
        )
    truth = ", ".join(f"{k} {v:.0%}" for k, v in report["truth_shares"].items())
    print(f"held-out directions: {truth}")
    print(f"{'predictor':<12}{'accuracy':>10}{'95% CI':>18}")
    for name, a in report["accuracy"].items():
        print(f"{name:<12}{a['accuracy']:>10.3f}   [{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]")
    for base, c in report["lmm_vs"].items():
        lo, hi = c["difference_ci95"]
        print(
            f"lmm - {base}: {c['accuracy_difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]; "
            f"McNemar p = {c['mcnemar_p']:.3g} ({c['only_model_right']} vs "
            f"{c['only_baseline_right']} starts right for only one)"
        )
    print(
        f"{report['markets']:,} rollouts in {report['rollout_seconds']:.0f} s "
        f"(data {report['prepare_seconds']:.0f} s); wall time {report['wall_seconds']:.0f} s"
    )
