"""``mars-gym train-lmm``: build the dataset from LOBSTER days, train the LMM, save it.

The same command runs alone or as each of the processes that ``torchrun --nproc_per_node
N`` starts (``torchrun --nproc_per_node 2 -m mars_gym.console train-lmm ...``): then rank 0
alone prints, writes the checkpoint, the run states, TensorBoard events and ``--out``.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields, replace
from pathlib import Path

from lmm.model.cache import DEFAULT_FIT_ORDERS, build_cached_dataset
from lmm.model.checkpoint import save_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.distributed import Distributed, from_environment
from lmm.model.run_state import RunState, RunStateError, load_run_state
from lmm.model.sizes import ModelSize
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from lmm.model.train import QUICK, TrainConfig, train
from mars_gym.console.flags import (
    VALIDATION_MINUTES,
    common_flags,
    config_from_args,
    dataclass_flags,
    days_flags,
    days_from_args,
)

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "train-lmm"
HELP = "train the Large Market Model on LOBSTER days and write a checkpoint"
DEFAULT_CHECKPOINT = Path("checkpoints/lmm")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``train-lmm`` command's description and flags to ``parser``."""
    parser.description = (
        "Build the dataset (replay-verify each day, tokenize its orders, fit the tokenizer on "
        "the training part only), train the model with a time-split validation (the last "
        "--validation-minutes of each day) and write the checkpoint with the best validation "
        "loss. Uses a GPU when present. Under torchrun --nproc_per_node N every process "
        "trains on its share of each batch of N x --batch-size windows "
        "(DistributedDataParallel: gloo on the CPU, NCCL on GPUs) and rank 0 writes."
    )
    days_flags(parser, resumable=True)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help=f"folder to write the checkpoint to (default: {DEFAULT_CHECKPOINT}; with "
        "--resume, the resumed run's)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny model and a few steps (smoke test)"
    )
    parser.add_argument(
        "--size",
        choices=[s.value for s in ModelSize],
        help="a named model shape, from tiny (0.17 M parameters) and default (0.94 M) to "
        "large (86 M); --n-layer, --n-head and --n-embd override it (default: the recipe's "
        "shape)",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also write the training and validation losses, lr and tokens/s as TensorBoard "
        "scalars in DIR (default: none; the console lines are printed either way)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="encode each day once into DIR (npy arrays and a JSON index, keyed by the "
        "file's content hash and the tokenizer) and train from memory maps of it, so memory "
        "does not grow with the number of days (default: none; the days are held in memory)",
    )
    parser.add_argument(
        "--fit-orders",
        type=int,
        default=DEFAULT_FIT_ORDERS,
        help="with --cache, fit the tokenizer on at most this many training orders, a seeded "
        "uniform sample of them beyond (default: %(default)s)",
    )
    parser.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="every N steps and at the end, save the run's state (weights, optimizer, "
        "generators, data position, best weights, history) to CHECKPOINT/state, which "
        "--resume goes on from (default: 0, none)",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="STEP",
        help="stop after this step (saving the run state if --save-every is given), to go on "
        "later with --resume (default: train to --steps)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="go on with the run whose state DIR holds (a CHECKPOINT/state folder, or the "
        "checkpoint folder above it): the same files, recipe and number of processes, the "
        "result equal bit for bit on the CPU to a run never stopped (default: a fresh run)",
    )
    dataclass_flags(parser, TrainConfig)
    dataclass_flags(parser, TokenizerConfig)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Train on the days ``args`` name and write the checkpoint; returns its summary."""
    state = _resumed_state(args) if args.resume else None
    if state is None:
        files = days_from_args(args)
        base = QUICK if args.quick else TrainConfig()
        if args.size:
            base = replace(base, **ModelSize(args.size).shape)
        config = config_from_args(base, args)
        tokenizer_config = config_from_args(TokenizerConfig, args)
        checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
        cache = args.cache
        validation_minutes = args.validation_minutes
        if validation_minutes is None:
            validation_minutes = VALIDATION_MINUTES
    else:
        info = state.run
        files = [Path(f) for f in info["files"]]
        config = TrainConfig(**{**state.config, "device": args.device or state.config["device"]})
        tokenizer_config = OrderTokenizer.from_dict(state.data["tokenizer"]).config
        checkpoint = args.checkpoint or Path(info["checkpoint"])
        cache = Path(info["cache"]) if info.get("cache") else None
        validation_minutes = info["validation_minutes"]
        args.fit_orders = info.get("fit_orders", args.fit_orders)
        args.save_every = args.save_every or info.get("save_every", 0)
    process = from_environment(config.device)
    try:
        report = _train(
            args,
            process,
            state,
            files,
            config,
            tokenizer_config,
            checkpoint,
            cache,
            validation_minutes,
        )
    except BaseException:
        process.close(wait=False)
        raise
    process.close()
    return report


def _train(
    args: argparse.Namespace,
    process: Distributed,
    state: RunState | None,
    files: list[Path],
    config: TrainConfig,
    tokenizer_config: TokenizerConfig,
    checkpoint: Path,
    cache: Path | None,
    validation_minutes: int,
) -> dict:
    say = print if process.is_main else _silent
    if not process.is_main:
        args.out = None  # rank 0 alone writes the figures
    say(f"building the dataset from {len(files)} file(s)" + (f" through {cache}" if cache else ""))
    progress = not args.quiet and process.is_main
    if cache is not None:
        dataset = build_cached_dataset(
            files,
            cache,
            tokenizer_config,
            validation_minutes,
            progress,
            fit_orders=args.fit_orders,
            distributed=process,
        )
    else:
        dataset = build_dataset(files, tokenizer_config, validation_minutes, progress)
    say(
        f"{dataset.n_train:,} training and {dataset.n_validation:,} validation orders; "
        f"vocabulary {dataset.tokenizer.vocab_size:,} tokens"
    )
    run_info = {
        "files": [str(f) for f in files],
        "checkpoint": str(checkpoint),
        "cache": None if cache is None else str(cache),
        "fit_orders": args.fit_orders,
        "save_every": args.save_every,
        "validation_minutes": validation_minutes,
    }
    state_dir = Path(args.resume_dir) if state is not None else checkpoint / "state"
    result = train(
        dataset,
        config,
        progress=progress,
        tensorboard_dir=args.tensorboard,
        distributed=process,
        state_dir=state_dir if args.save_every else None,
        save_every=args.save_every,
        resume=state,
        stop_after=args.stop_after,
        run_info=run_info,
    )
    summary = result.summary()
    summary["config"] = asdict(config)
    summary["tokenizer_config"] = asdict(tokenizer_config)
    summary["files"] = [str(f) for f in files]
    summary["validation_minutes"] = validation_minutes
    if config.profile:
        summary["training_profiles"] = {d.name: d.profile.tolist() for d in dataset.days}
    if args.size:
        summary["size"] = args.size
    if not process.is_main:
        return summary
    save_checkpoint(checkpoint, result.model, dataset.tokenizer, metadata=summary)
    size = sum(f.stat().st_size for f in checkpoint.iterdir() if f.is_file())
    summary["checkpoint"] = str(checkpoint)
    summary["checkpoint_bytes"] = size
    processes = "" if process.world == 1 else f" x {process.world} processes"
    print(
        f"trained {result.parameters:,} parameters on {result.n_train_orders:,} orders in "
        f"{result.seconds / 60:.1f} min on "
        f"{result.device}{processes} ({result.tokens_per_second:,.0f} tokens/s); best "
        f"validation NLL {result.best_validation_bits:.3f} bits/order at step "
        f"{result.best_step}; checkpoint {checkpoint} ({size / 1e6:.1f} MB)"
    )
    return summary


def _resumed_state(args: argparse.Namespace) -> RunState:
    """The run state ``--resume`` names, refusing flags that would change the run."""
    given = [f"--{f.name.replace('_', '-')}" for f in fields(TrainConfig) if f.name != "device"]
    given += [f"--{f.name.replace('_', '-')}" for f in fields(TokenizerConfig)]
    given = [flag for flag in given if getattr(args, flag[2:].replace("-", "_")) is not None]
    given += [flag for flag, on in (("--quick", args.quick), ("--size", args.size)) if on]
    given += ["--cache"] if args.cache else []
    given += ["--validation-minutes"] if args.validation_minutes is not None else []
    if args.files:
        given.append("LOBSTER files")
    if given:
        raise RunStateError(
            f"--resume goes on with the saved run's files and recipe; drop {', '.join(given)}"
        )
    folder = args.resume
    if not (folder / "state.json").is_file() and (folder / "state" / "state.json").is_file():
        folder = folder / "state"
    args.resume_dir = folder
    return load_run_state(folder)


def _silent(*_: object, **__: object) -> None:
    """A print for processes other than rank 0."""
