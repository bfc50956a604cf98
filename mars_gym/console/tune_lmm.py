"""``mars-gym tune-lmm``: fine-tune a trained LMM (more steps at a low learning rate,
optionally on its own rollouts: Data as Demonstrator)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from lmm.model.checkpoint import load_checkpoint, save_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.tune import TuneConfig, fine_tune, with_outlook
from mars_gym.console.flags import (
    checkpoint_flag,
    common_flags,
    config_from_args,
    dataclass_flags,
    days_flags,
    days_from_args,
)

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "tune-lmm"
HELP = "fine-tune a trained LMM: more steps at a low learning rate, optionally on its own rollouts"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``tune-lmm`` command's description and flags to ``parser``."""
    parser.description = (
        "Continue a checkpoint's training (lmm.model.tune) for --rounds x --steps-per-round "
        "steps at a constant low --lr with a fresh optimiser, on the training parts of the "
        "days, tokenized with the checkpoint's tokenizer; the validation loss (teacher-forced, "
        "the held-out minutes) is printed after every round. With --rollout-fraction F > 0, "
        "Data as Demonstrator: each round first rolls the model out from real states of the "
        "training part and pairs each state it reaches with the order that really came at "
        "that position; a share F of every batch comes from those windows. With --outlook, "
        "the model first gains outlook inputs (lmm.model.outlook: the drift, volatility and "
        "volume of the coming minute, what a scenario sets), starting at zero so that it "
        "starts as the checkpoint's, and learns to follow them from what the days realised, "
        "dropped on a share --outlook-dropout of the windows."
    )
    checkpoint_flag(parser)
    days_flags(parser)
    parser.add_argument(
        "--to",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder to write the fine-tuned checkpoint to",
    )
    parser.add_argument(
        "--outlook",
        action="store_true",
        help="add outlook inputs to the model and fine-tune it to follow scenarios",
    )
    dataclass_flags(parser, TuneConfig)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Fine-tune the checkpoint ``args`` name and write it to ``args.to``; returns the
    summary."""
    checkpoint = load_checkpoint(args.checkpoint)
    config = config_from_args(TuneConfig(), args)
    files = days_from_args(args)
    print(f"building the dataset from {len(files)} file(s) with the checkpoint's tokenizer")
    dataset = build_dataset(
        files,
        validation_minutes=args.validation_minutes,
        progress=not args.quiet,
        tokenizer=checkpoint.tokenizer,
    )
    if args.outlook:
        checkpoint = with_outlook(checkpoint, dataset)
    result = fine_tune(checkpoint, dataset, config, progress=not args.quiet)
    summary = {
        "from": str(checkpoint.path),
        "config": asdict(config),
        "outlook_added": bool(args.outlook),
        "files": [str(f) for f in files],
        "validation_minutes": args.validation_minutes,
        "history": result.history,
        "seconds": result.seconds,
    }
    metadata = dict(checkpoint.metadata)
    metadata["tune"] = summary
    save_checkpoint(args.to, checkpoint.model, checkpoint.tokenizer, metadata=metadata)
    print(
        f"fine-tuned in {result.seconds / 60:.1f} min; validation "
        f"{result.history[0]['validation_bits']:.3f} -> "
        f"{result.history[-1]['validation_bits']:.3f} bits/order; checkpoint {args.to}"
    )
    return summary
