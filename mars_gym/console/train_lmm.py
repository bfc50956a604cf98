"""``mars-gym train-lmm``: build the dataset from LOBSTER days, train the LMM, save it."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from lmm.model.checkpoint import save_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.tokenizer import TokenizerConfig
from lmm.model.train import QUICK, TrainConfig, train
from mars_gym.console.flags import (
    common_flags,
    config_from_args,
    dataclass_flags,
    days_flags,
    days_from_args,
)

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "train-lmm"
HELP = "train the Large Market Model on LOBSTER days and write a checkpoint"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``train-lmm`` command's description and flags to ``parser``."""
    parser.description = (
        "Build the dataset (replay-verify each day, tokenize its orders, fit the tokenizer on "
        "the training part only), train the model with a time-split validation (the last "
        "--validation-minutes of each day) and write the checkpoint with the best validation "
        "loss. Uses a GPU when present."
    )
    days_flags(parser)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("checkpoints/lmm"),
        help="folder to write the checkpoint to (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny model and a few steps (smoke test)"
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also write the training and validation losses, lr and tokens/s as TensorBoard "
        "scalars in DIR (default: none; the console lines are printed either way)",
    )
    dataclass_flags(parser, TrainConfig)
    dataclass_flags(parser, TokenizerConfig)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Train on the days ``args`` name and write the checkpoint; returns its summary."""
    files = days_from_args(args)
    config = config_from_args(QUICK if args.quick else TrainConfig, args)
    tokenizer_config = config_from_args(TokenizerConfig, args)
    print(f"building the dataset from {len(files)} file(s)")
    dataset = build_dataset(
        files, tokenizer_config, validation_minutes=args.validation_minutes, progress=not args.quiet
    )
    print(
        f"{dataset.n_train:,} training and {dataset.n_validation:,} validation orders; "
        f"vocabulary {dataset.tokenizer.vocab_size:,} tokens"
    )
    result = train(dataset, config, progress=not args.quiet, tensorboard_dir=args.tensorboard)
    summary = result.summary()
    summary["config"] = asdict(config)
    summary["tokenizer_config"] = asdict(tokenizer_config)
    summary["files"] = [str(f) for f in files]
    summary["validation_minutes"] = args.validation_minutes
    save_checkpoint(args.checkpoint, result.model, dataset.tokenizer, metadata=summary)
    size = sum(f.stat().st_size for f in args.checkpoint.iterdir())
    summary["checkpoint"] = str(args.checkpoint)
    summary["checkpoint_bytes"] = size
    print(
        f"trained {result.parameters:,} parameters on {result.n_train_orders:,} orders in "
        f"{result.seconds / 60:.1f} min on "
        f"{result.device} ({result.tokens_per_second:,.0f} tokens/s); best validation NLL "
        f"{result.best_validation_bits:.3f} bits/order at step {result.best_step}; "
        f"checkpoint {args.checkpoint} ({size / 1e6:.1f} MB)"
    )
    return summary
