"""``mars-gym bench``: MarS-Execution-v0 steps/s and generated orders/s by number of envs."""

from __future__ import annotations

import argparse
import itertools

import torch

import mars_gym  # noqa: F401  (registers the environments)
from lmm.model.checkpoint import checkpoint_folder
from mars_gym.console.flags import (
    checkpoint_flag,
    common_flags,
    device_flag,
    device_words,
    engine_flags,
)
from mars_gym.studies.bench import Setup, compare_setups, env_throughput

__all__ = ["ENV_ID", "HELP", "NAME", "configure_parser", "run"]

NAME = "bench"
HELP = "MarS-Execution-v0 steps/s and generated orders/s by number of environments"
#: The environment timed.
ENV_ID = "MarS-Execution-v0"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` command's description and flags to ``parser``."""
    parser.description = (
        "Time the native vector environment of MarS-Execution-v0 (gym.make_vec) for several "
        "numbers of environments: environment steps per second and generated orders per "
        "second, every environment sending a TWAP-paced passive child order each step (1 s "
        "of market time). With --workers, the environments are also split over that many "
        "processes (one core each). With several checkpoints, engines or decoders, every "
        "combination is timed in alternation and set against the first."
    )
    parser.add_argument(
        "--num-envs", type=int, nargs="+", default=[1, 16, 64, 256], help="(default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="processes to split the environments over, one run each (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=15.0,
        help="timing per run (default: %(default)s; 256 environments take about 1 s a step)",
    )
    checkpoint_flag(
        parser,
        several="; with several, their env steps/s are compared, timed in alternation "
        "(see --rounds)",
    )
    engine_flags(parser, several="; with several, compared as --checkpoint is")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with several setups: how many times each is timed per number of "
        "environments, alternating (default: %(default)s)",
    )
    device_flag(parser)
    common_flags(parser)


def _setups(args: argparse.Namespace) -> list[Setup]:
    """Every combination of the given checkpoints, engines and decoders, in flag order."""
    checkpoints = args.checkpoint or [None]
    for path in checkpoints:
        if path is not None and not checkpoint_folder(path).is_dir():
            raise FileNotFoundError(f"checkpoint folder {path} does not exist")
    combos = itertools.product(checkpoints, dict.fromkeys(args.engine), dict.fromkeys(args.decoder))
    return [Setup(*c) for c in combos]


def run(args: argparse.Namespace) -> dict:
    """Time the environment at every number of envs and workers (or compare setups)."""
    setups = _setups(args)
    if len(setups) > 1:
        return _compare(args, setups)
    (setup,) = setups
    runs = []
    for workers in args.workers:  # more workers than environments would repeat a run
        runs += env_throughput(
            ENV_ID,
            tuple(n for n in args.num_envs if n >= workers),
            args.seconds,
            (4, 0),
            progress=not args.quiet,
            workers=workers,
            device=args.device,
            **setup.env_kwargs(),
        )
    print(f"{'envs':>6} {'workers':>8} {'env steps/s':>12} {'orders/s':>10} {'orders/step':>12}")
    for r in runs:
        print(
            f"{r['num_envs']:>6} {r['workers']:>8} {r['env_steps_per_second']:>12,.0f} "
            f"{r['orders_per_second']:>10,.0f} {r['orders_per_env_step']:>12.1f}"
        )
    return {
        "env": ENV_ID,
        "setup": setup.label,
        "torch_threads": torch.get_num_threads(),
        "device": device_words(args.device),
        "runs": runs,
    }


def _compare(args: argparse.Namespace, setups: list[Setup]) -> dict:
    """``mars-gym bench`` with several setups: their env steps/s, timed in alternation."""
    if len(args.workers) > 1:
        raise ValueError("compare setups with one --workers value at a time")
    result = compare_setups(
        setups,
        tuple(args.num_envs),
        args.seconds,
        args.rounds,
        progress=not args.quiet,
        workers=args.workers[0],
        device=args.device,
    )
    head = ("envs", "env steps/s", "orders/step", "ratio", "range")
    print("{:>6} {:>12} {:>12} {:>7} {:>13}  checkpoint engine decoder".format(*head))
    for r in result["summary"]:
        low, high = r["ratio_range"]
        print(
            f"{r['num_envs']:>6} {r['env_steps_per_second']:>12,.0f} "
            f"{r['orders_per_env_step']:>12.1f} {r['ratio_to_first']:>7.2f} "
            f"{low:>6.2f}-{high:<6.2f}  {r['setup']}"
        )
    return {
        "env": ENV_ID,
        "torch_threads": torch.get_num_threads(),
        "device": device_words(args.device),
        "workers": args.workers[0],
        **result,
    }
