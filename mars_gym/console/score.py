"""``mars-gym score``: LOB-Bench's scores of a checkpoint, with the real floors and drift."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lmm.evaluation.drift import format_drift_table
from lmm.evaluation.lobbench import format_table
from lmm.evaluation.scoring import SESSION_MINUTES, WINDOWS, score_checkpoint
from lmm.model.checkpoint import load_checkpoint
from mars_gym.console.flags import checkpoint_flag, common_flags, default_data_dir
from mars_gym.studies.scorecard_figure import plot_scorecard

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "score"
HELP = "LOB-Bench's 21+3 scores of generated against real held-out flow, floors and drift"

#: The drift table's columns printed (all are in the JSON).
_DRIFT_COLUMNS = ("spread", "limit_distance_p75", "cancel_distance", "messages")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``score`` command's description and flags to ``parser``."""
    parser.description = (
        "Generate --rollouts sessions of --minutes from the real books of a LOBSTER day at "
        "the protocol's start times, cut to what a level-L LOBSTER file holds, and compare "
        "them in 500-message sequences with the real flow that followed the same starts by "
        "LOB-Bench's 21 unconditional and 3 conditional scores (L1 and Wasserstein; our own "
        "implementation of its definitions, lmm.evaluation.lobbench). Beside the model: the floors "
        "computed the same way (even against odd real sequences of the same windows; "
        "10:00-12:00 of the same day against them), and the drift table (spread, distance of "
        "limit orders and cancels behind the best, messages, by minute; real against "
        "generated). Windows: 'selection' (starts 14:30, 14:45, 15:00) is for choices, "
        "'evaluation' (15:15, 15:30, 15:45) for headline figures only."
    )
    parser.add_argument(
        "--day",
        type=Path,
        default=default_data_dir() / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
        help="the LOBSTER day (default: %(default)s)",
    )
    parser.add_argument(
        "--windows",
        choices=sorted(WINDOWS),
        default="selection",
        help="the protocol's start times (default: %(default)s)",
    )
    parser.add_argument(
        "--times", nargs="+", metavar="HH:MM", help="other start times (instead of --windows)"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=SESSION_MINUTES,
        help="market minutes per session (default: %(default)s)",
    )
    parser.add_argument("--rollouts", type=int, default=4, help="sessions per start (default: 4)")
    parser.add_argument("--levels", type=int, help="LOBSTER's L (default: the day's levels)")
    parser.add_argument("--seed", type=int, default=0, help="the sessions' seed (default: 0)")
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)"
    )
    parser.add_argument(
        "--plot", type=Path, metavar="PNG", help="save the drift and the distances as a figure"
    )
    checkpoint_flag(parser)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Score the checkpoint; prints the per-score table and the drift, returns both."""
    times = args.times or WINDOWS[args.windows]
    card = score_checkpoint(
        load_checkpoint(args.checkpoint),
        args.day,
        times,
        minutes=args.minutes,
        rollouts=args.rollouts,
        levels=args.levels,
        seed=args.seed,
        temperature=args.temperature,
        progress=not args.quiet,
    )
    reports = {"model": card.model, "floor same times": card.same_times, "floor early": card.early}
    print(format_table(reports))
    drift = {"real": np.array(card.drift_real), "lmm": np.array(card.drift_model)}
    print(format_drift_table(drift, _DRIFT_COLUMNS))
    if args.plot:
        title = (
            f"{args.day.name}, starts {' '.join(times)}, checkpoint {args.checkpoint or 'default'}"
        )
        print(f"wrote {plot_scorecard(card, args.plot, title)}")
    return {
        **card.to_dict(),
        "day": str(args.day),
        "times": list(times),
        "minutes": args.minutes,
        "rollouts": args.rollouts,
        "temperature": args.temperature,
        "checkpoint": args.checkpoint or "default",
    }
