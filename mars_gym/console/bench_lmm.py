"""``mars-gym bench-lmm``: order generation speed by batch size, with and without the KV cache."""

from __future__ import annotations

import argparse

import torch

from lmm.evaluation.bench import flops_per_order, generation_speed, matmul_peak_gflops
from lmm.model.checkpoint import load_checkpoint
from mars_gym.console.flags import (
    checkpoint_flag,
    common_flags,
    device_flag,
    device_words,
    engine_flags,
)

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "bench-lmm"
HELP = "generation speed (orders/s) by batch size, with and without the KV cache"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench-lmm`` command's description and flags to ``parser``."""
    parser.description = (
        "Time order generation end to end (model, sampling, decoding, matching engine) for "
        "several batch sizes, with and without the KV cache, and set the model's FLOPs per "
        "order against the measured float32 matmul peak of this machine. With --decoder "
        "numba only the cached runs are timed (that decoder needs the cache)."
    )
    checkpoint_flag(parser)
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=[1, 16, 64, 256],
        help="(default: %(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per run (default: 3)")
    engine_flags(parser)
    device_flag(parser)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Time generation at every batch size, with and without the cache; print a table."""
    checkpoint = load_checkpoint(args.checkpoint)
    peak = matmul_peak_gflops(device=args.device)
    runs = generation_speed(
        checkpoint,
        tuple(args.batch_sizes),
        seconds=args.seconds,
        progress=not args.quiet,
        device=args.device,
        engine=args.engine,
        decoder=args.decoder,
    )
    config = checkpoint.model.config
    cached, uncached = flops_per_order(config, True), flops_per_order(config, False)
    device = device_words(args.device)
    print(f"float32 matmul peak: {peak:.1f} GFLOP/s on {device}")
    print(f"engine {args.engine}, decoder {args.decoder}")
    print(
        f"model FLOPs per order: {cached / 1e6:.2f} M with the KV cache, "
        f"{uncached / 1e6:.1f} M without; at peak that would allow "
        f"{peak * 1e9 / cached:,.0f} and {peak * 1e9 / uncached:,.0f} orders/s"
    )
    print(f"{'batch':>6} {'cache':>6} {'orders/s':>10} {'ms/step':>9} {'model GFLOP/s':>14}")
    for r in runs:
        print(
            f"{r['batch']:>6} {('yes' if r['kv_cache'] else 'no'):>6} "
            f"{r['orders_per_second']:>10,.0f} {r['ms_per_step']:>9.2f} "
            f"{r['model_gflop_per_second']:>14.2f}"
        )
    return {
        "matmul_peak_gflops": peak,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "flops_per_order": {"kv_cache": cached, "no_cache": uncached},
        "engine": args.engine,
        "decoder": args.decoder,
        "runs": runs,
        "checkpoint": str(checkpoint.path),
    }
