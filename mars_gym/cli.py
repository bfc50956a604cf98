"""The ``mars-gym`` command line: one entry point, one subcommand per job.

Every subcommand explains its flags with ``--help``, shows progress on long work, prints a
readable summary and, with ``--out FILE``, writes its figures as JSON.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import numpy as np
import torch

from lmm.bench import flops_per_order, generation_speed, matmul_peak_gflops
from lmm.checkpoint import (
    PACKAGED,
    CheckpointError,
    checkpoint_folder,
    load_checkpoint,
    save_checkpoint,
)
from lmm.data.lobster import DEFAULT_TICK_SIZE, LobsterFormatError, read_lobster
from lmm.data.orderflow import MARKET_KINDS
from lmm.dataset import build_dataset
from lmm.device import resolve_device
from lmm.evaluate import evaluate_lmm, generate_records
from lmm.generate import LMMMarkets, synthetic_start
from lmm.random_flow import random_orders, run_orders
from lmm.replay import replay
from lmm.results import write_json
from lmm.tokenizer import TokenizerConfig
from lmm.train import QUICK, TrainConfig, train
from lmm.units import NS_PER_SECOND
from mars_gym.studies import fidelity, forecast, metaorder_report

#: Where the LOBSTER sample data is looked for when no folder is given.
DEFAULT_DATA_DIR = Path("../shared/data/lobster")
#: The days the default model trains on: one file per ticker (the deepest book of each).
TRAINING_FILES = (
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
)
#: The LOBSTER sample days the demo verifies, when present.
DEMO_FILES = (
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
)


def main(
    argv: Sequence[str] | None = None,
    extend: Callable[[argparse._SubParsersAction], None] | None = None,
) -> int:
    """Run the ``mars-gym`` command line; returns the process exit code.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        extend: adds more subcommands (``agents.cli`` adds the strategy benchmark, which
            this package may not import); each sets ``func`` and uses :func:`common_flags`.
    """
    parser = _build_parser(extend)
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (LobsterFormatError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"mars-gym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_json(args.out, result, indent=2)
        print(f"wrote {args.out}")
    return 0


def _build_parser(
    extend: Callable[[argparse._SubParsersAction], None] | None = None,
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mars-gym",
        description="Market simulation with an order-level generative model (MarS) and an "
        "exact, LOBSTER-verified matching engine.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "replay",
        help="replay a LOBSTER day through the matching engine (verify it, or time it)",
        description="Replay every message of a LOBSTER day through the matching engine. "
        "With --verify, compare the engine's top-L book with LOBSTER's orderbook file after "
        "every message (reconciling only level L, where volume enters the window from "
        "deeper levels) and report the match rate. Without --verify, time the replay and "
        "report messages per second.",
    )
    p.add_argument("file", help="a LOBSTER zip, or a message CSV with its orderbook CSV beside it")
    p.add_argument("--orderbook", help="the orderbook CSV, if not beside the message file")
    p.add_argument("--levels", type=int, help="book levels to read (default: from the file name)")
    p.add_argument(
        "--tick-size",
        type=int,
        default=DEFAULT_TICK_SIZE,
        help="LOBSTER price units (dollars x 10000) per tick (default: %(default)s = $0.01)",
    )
    p.add_argument("--verify", action="store_true", help="compare with the orderbook file")
    p.add_argument("--limit", type=int, help="replay only the first N messages")
    p.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timing runs without --verify; the median is reported (default: %(default)s)",
    )
    common_flags(p)
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser(
        "demo",
        help="the main job: verify the engine on the LOBSTER samples, time it, and generate "
        "markets with the packaged LMM",
        description="Verify the matching engine against LOBSTER's own orderbook files for the "
        "sample days found in --data and time it (without data, only its matching path is "
        "timed, on a seeded random order stream); then generate --minutes of market with the "
        "packaged LMM from a data-free start, --rollouts times.",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=_default_data_dir(),
        help="folder holding the LOBSTER sample zips (default: $MARS_GYM_DATA or %(default)s)",
    )
    p.add_argument("--orders", type=int, default=200_000, help="synthetic orders to time")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic stream and rollouts")
    p.add_argument(
        "--minutes", type=int, default=5, help="market minutes to generate per rollout (default: 5)"
    )
    p.add_argument("--rollouts", type=int, default=8, help="generated rollouts (default: 8)")
    common_flags(p)
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser(
        "train-lmm",
        help="train the Large Market Model on LOBSTER days and write a checkpoint",
        description="Build the dataset (replay-verify each day, tokenize its orders, fit the "
        "tokenizer on the training part only), train the model with a time-split validation "
        "(the last --validation-minutes of each day) and write the checkpoint with the best "
        "validation loss. Uses a GPU when present.",
    )
    days_flags(p)
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("checkpoints/lmm"),
        help="folder to write the checkpoint to (default: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="a tiny model and a few steps (smoke test)")
    dataclass_flags(p, TrainConfig)
    dataclass_flags(p, TokenizerConfig)
    common_flags(p)
    p.set_defaults(func=_cmd_train_lmm)

    p = sub.add_parser(
        "evaluate-lmm",
        help="likelihood and generative fidelity of a checkpoint on held-out data",
        description="On the held-out window (the last --validation-minutes of each day): "
        "(i) negative log-likelihood per order in bits, model vs the token-frequency "
        "baseline; (ii) from real start states, generate --horizon-minutes of flow with the "
        "model and with a zero-intelligence (Poisson) baseline calibrated on the training "
        "orders, --rollouts per start, and compare with the real flow by L1 (total "
        "variation) and Wasserstein-1 distances of LOB-Bench's metrics. Each model's "
        "sampling floor (its first rollout of every start against its others) shows what "
        "a model as variable as it would score if the real flow were one of its rollouts.",
    )
    days_flags(p)
    checkpoint_flag(p)
    p.add_argument(
        "--starts",
        type=int,
        nargs="+",
        default=[0, 15, 30, 45, 60],
        help="start times in minutes after the held-out window opens (default: %(default)s)",
    )
    p.add_argument("--horizon-minutes", type=int, default=30, help="rollout length (default: 30)")
    p.add_argument("--rollouts", type=int, default=4, help="rollouts per start (default: 4)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the rollouts (default: 0)")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="the LMM's sampling temperature in its rollouts (default: 1, the model's own "
        "distribution, as the environments sample it)",
    )
    common_flags(p)
    p.set_defaults(func=_cmd_evaluate_lmm)

    p = sub.add_parser(
        "bench-lmm",
        help="generation speed (orders/s) by batch size, with and without the KV cache",
        description="Time order generation end to end (model, sampling, decoding, matching "
        "engine) for several batch sizes, with and without the KV cache, and set the model's "
        "FLOPs per order against the measured float32 matmul peak of this machine.",
    )
    checkpoint_flag(p)
    p.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=[1, 16, 64, 256],
        help="(default: %(default)s)",
    )
    p.add_argument("--seconds", type=float, default=3.0, help="timing per run (default: 3)")
    device_flag(p)
    common_flags(p)
    p.set_defaults(func=_cmd_bench_lmm)

    p = sub.add_parser(
        "bench",
        help="MarS-Execution-v0 steps/s and generated orders/s by number of environments",
        description="Time the native vector environment of MarS-Execution-v0 (gym.make_vec) "
        "for several numbers of environments: environment steps per second and generated "
        "orders per second, every environment sending a TWAP-paced passive child order each "
        "step (1 s of market time). With --workers, the environments are also split over "
        "that many processes (one core each).",
    )
    p.add_argument(
        "--num-envs", type=int, nargs="+", default=[1, 16, 64, 256], help="(default: %(default)s)"
    )
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="processes to split the environments over, one run each (default: %(default)s)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=15.0,
        help="timing per run (default: %(default)s; 256 environments take about 1 s a step)",
    )
    checkpoint_flag(
        p,
        several="; with several, their env steps/s are compared, timed in alternation "
        "(see --rounds)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with several checkpoints: how many times each is timed per number of "
        "environments, alternating (default: %(default)s)",
    )
    device_flag(p)
    common_flags(p)
    p.set_defaults(func=_cmd_bench)

    # the evidence behind the simulator; each writes a folder (--out DIR) of JSON and plots
    for name, module in (
        ("fidelity", fidelity),
        ("impact", metaorder_report),
        ("forecast", forecast),
    ):
        p = sub.add_parser(name, help=module.HELP)
        module.configure_parser(p)
        p.set_defaults(func=module.run_command)
    if extend is not None:
        extend(sub)
    return parser


def checkpoint_flag(p: argparse.ArgumentParser, several: str | None = None) -> None:
    """``--checkpoint``: an LMM checkpoint folder or a packaged checkpoint's name (None when
    not given: the packaged default). With ``several`` (the help's ending), it takes one or
    more, as a list."""
    names = " or ".join(PACKAGED)
    p.add_argument(
        "--checkpoint",
        nargs=None if several is None else "+",
        help=f"LMM checkpoint folder, or the name of a packaged one, {names} "
        f"(default: default){several or ''}",
    )


def device_flag(p: argparse.ArgumentParser) -> None:
    """``--device``: where the LMM runs (read back as ``args.device``)."""
    p.add_argument(
        "--device",
        default="cpu",
        help="where the LMM runs: cpu, cuda, cuda:N or auto (default: %(default)s; seeded "
        "markets are reproducible bit for bit on the CPU)",
    )


def _device_words(name: str) -> str:
    """The device ``name`` means, in words, for printed and saved results."""
    device = resolve_device(name, "--device")
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} torch thread{'' if threads == 1 else 's'})"


def days_flags(p: argparse.ArgumentParser) -> None:
    """The LOBSTER days a model is trained or evaluated on, and the held-out window."""
    data_flags(p)
    p.add_argument(
        "--validation-minutes",
        type=int,
        default=90,
        help="minutes at the end of each day held out for validation (default: %(default)s)",
    )


def data_flags(p: argparse.ArgumentParser) -> None:
    """The LOBSTER days to read (read back by :func:`days_from_args`)."""
    p.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="LOBSTER zips or message CSVs (default: GOOG level 10 and AMZN level 5 from --data)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=_default_data_dir(),
        help="folder of the sample zips (default: $MARS_GYM_DATA or %(default)s)",
    )


def days_from_args(args: argparse.Namespace) -> list[Path]:
    """The files of :func:`days_flags` or :func:`data_flags`, checked to exist."""
    files = args.files or [args.data / name for name in TRAINING_FILES]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"LOBSTER data not found: {', '.join(missing)} (set --data)")
    return files


def _default_data_dir() -> Path:
    return Path(os.environ.get("MARS_GYM_DATA", DEFAULT_DATA_DIR))


def dataclass_flags(p: argparse.ArgumentParser, cls: type, exclude: Collection[str] = ()) -> None:
    """One ``--flag`` per field of a config dataclass (but those in ``exclude``), documented
    from its docstring; a ``tuple[T, ...]`` field takes one or more values of type T, an
    Enum field one of its members' values, a bool field ``--name`` or ``--no-name``.

    Flags default to None, so that only what the user gave overrides the config's defaults
    (see :func:`config_from_args`).
    """
    docs = _attribute_docs(cls)
    hints = get_type_hints(cls)
    for f in fields(cls):
        if f.name in exclude:
            continue
        kind, nargs, default = hints[f.name], None, f.default
        if get_origin(kind) is tuple:
            kind, nargs, default = get_args(kind)[0], "+", " ".join(map(str, default))
        flag, help_text = f"--{f.name.replace('_', '-')}", docs.get(f.name, "").rstrip(".")
        if kind is bool:  # --name / --no-name (type=bool would read "False" as True)
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{help_text} (default: {'yes' if default else 'no'})".replace("%", "%%"),
            )
            continue
        choices = None
        if isinstance(kind, type) and issubclass(kind, Enum):  # Enum(value) parses a value
            choices, default = list(kind), default.value
        p.add_argument(
            flag,
            type=kind,
            choices=choices,
            nargs=nargs,
            default=None,
            help=f"{help_text} (default: {default})".replace("%", "%%"),
        )


def config_from_args(base: Any, args: argparse.Namespace) -> Any:
    """``base``, a config dataclass or an instance of one (a preset), with the fields that
    ``args`` gives (not None; lists become tuples), as :func:`dataclass_flags` parses them."""
    given = {f.name: getattr(args, f.name, None) for f in fields(base)}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    return base(**given) if isinstance(base, type) else replace(base, **given)


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name: text`` entries of a Google-style "Attributes:" docstring section, without the
    double backquotes of literals."""
    docs: dict[str, str] = {}
    section = (cls.__doc__ or "").split("Attributes:", 1)[-1].replace("``", "")
    current: list[str] = []
    for line in section.splitlines():
        head, sep, text = line.strip().partition(": ")
        names = [n.strip() for n in head.split(",")]
        if sep and all(n.isidentifier() for n in names):
            current = names
            for n in names:
                docs[n] = text.strip()
        elif current and line.strip():
            for n in current:
                docs[n] += " " + line.strip()
    return docs


def common_flags(p: argparse.ArgumentParser) -> None:
    """The flags every subcommand has: ``--out FILE`` and ``--quiet``."""
    p.add_argument("--out", metavar="FILE", help="write the figures as JSON to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _cmd_replay(args: argparse.Namespace) -> dict:
    day = read_lobster(args.file, args.orderbook, levels=args.levels, tick_size=args.tick_size)
    if args.verify:
        _, report = replay(day, verify=True, limit=args.limit, progress=not args.quiet)
        result = report.to_dict()
        _print_verify(result)
        return result
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    runs = []
    for _ in _maybe_progress(range(args.repeat), not args.quiet, "timing runs"):
        _, report = replay(day, limit=args.limit)
        runs.append(report.messages_per_second)
    result = report.to_dict()
    result["messages_per_second"] = statistics.median(runs)
    result["messages_per_second_runs"] = runs
    print(
        f"{Path(day.source).name}: {result['messages']:,} messages, "
        f"{result['messages_per_second']:,.0f} messages/s (median of {len(runs)} runs; "
        f"min {min(runs):,.0f}, max {max(runs):,.0f})"
    )
    return result


def _cmd_demo(args: argparse.Namespace) -> dict:
    files = [args.data / name for name in DEMO_FILES if (args.data / name).exists()]
    result: dict = {"replays": [], "synthetic": None}
    if files:
        print(f"Verifying the matching engine against LOBSTER's orderbook files in {args.data}")
        for path in files:
            day = read_lobster(path)
            _, report = replay(day, verify=True, progress=not args.quiet)
            verified = report.to_dict()
            _, timed = replay(day)
            verified["replay_messages_per_second"] = timed.messages_per_second
            result["replays"].append(verified)
            _print_verify(verified)
    else:
        print(
            f"No LOBSTER sample data in {args.data} (set --data or MARS_GYM_DATA); "
            "timing the engine on a synthetic order stream instead."
        )
    ops = random_orders(args.orders, args.seed)
    _, flow = run_orders(ops)
    result["synthetic"] = flow.to_dict()
    print(
        f"matching path: {flow.orders:,} random orders (seed {args.seed}), {flow.fills:,} fills, "
        f"{flow.orders_per_second:,.0f} orders/s"
    )
    result["generated"] = _demo_generation(args)
    return result


def _demo_generation(args: argparse.Namespace) -> dict:
    """Markets generated by the packaged LMM from a data-free start."""
    checkpoint = load_checkpoint()
    start = synthetic_start(checkpoint.tokenizer)
    markets = LMMMarkets(checkpoint, args.rollouts)
    print(
        f"Generating {args.minutes} min of market with the packaged LMM "
        f"({checkpoint.model.num_parameters():,} parameters), {args.rollouts} seeded rollouts "
        "from a synthetic start (10 levels of 100 shares around $100.00)"
    )
    records, info = generate_records(
        markets,
        [start] * args.rollouts,
        [args.seed + k for k in range(args.rollouts)],
        args.minutes * 60 * NS_PER_SECOND,
        progress=not args.quiet,
        label="generating",
    )
    per_rollout = []
    for k in range(args.rollouts):
        r = records[records["rollout"] == k]
        both = (r["bid_after"] > 0) & (r["ask_after"] > 0)
        mids = (r["bid_after"][both] + r["ask_after"][both]) / 2
        per_rollout.append(
            {
                "orders": len(r),
                "trades": int(np.isin(r["kind"], MARKET_KINDS).sum()),
                "mean_spread_ticks": float((r["ask_after"] - r["bid_after"])[both].mean()),
                "mid_change_ticks": float(mids[-1] - mids[0]) if len(mids) else 0.0,
            }
        )
        p = per_rollout[-1]
        print(
            f"  rollout {k}: {p['orders']:,} orders, {p['trades']:,} market orders, mean spread "
            f"{p['mean_spread_ticks']:.1f} ticks, mid moved {p['mid_change_ticks']:+.1f} ticks"
        )
    print(
        f"  {info['orders_per_second']:,.0f} orders/s generated; masked probability mass "
        f"{info['masked_rate']:.2%}"
    )
    return {"generation": info, "rollouts": per_rollout, "minutes": args.minutes}


def _cmd_train_lmm(args: argparse.Namespace) -> dict:
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
    result = train(dataset, config, progress=not args.quiet)
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


def _cmd_evaluate_lmm(args: argparse.Namespace) -> dict:
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


def _cmd_bench_lmm(args: argparse.Namespace) -> dict:
    checkpoint = load_checkpoint(args.checkpoint)
    peak = matmul_peak_gflops(device=args.device)
    runs = generation_speed(
        checkpoint,
        tuple(args.batch_sizes),
        seconds=args.seconds,
        progress=not args.quiet,
        device=args.device,
    )
    config = checkpoint.model.config
    cached, uncached = flops_per_order(config, True), flops_per_order(config, False)
    device = _device_words(args.device)
    print(f"float32 matmul peak: {peak:.1f} GFLOP/s on {device}")
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
        "runs": runs,
        "checkpoint": str(checkpoint.path),
    }


def _cmd_bench(args: argparse.Namespace) -> dict:
    import mars_gym  # noqa: F401  (registers the environments)
    from mars_gym.studies.bench import env_throughput

    env_id = "MarS-Execution-v0"
    if args.checkpoint and len(args.checkpoint) > 1:
        return _compare_checkpoints(args, env_id)
    kwargs: dict = {"device": args.device}
    if args.checkpoint:
        kwargs["checkpoint"] = args.checkpoint[0]
    runs = []
    for workers in args.workers:  # more workers than environments would repeat a run
        runs += env_throughput(
            env_id,
            tuple(n for n in args.num_envs if n >= workers),
            args.seconds,
            (4, 0),
            progress=not args.quiet,
            workers=workers,
            **kwargs,
        )
    print(f"{'envs':>6} {'workers':>8} {'env steps/s':>12} {'orders/s':>10} {'orders/step':>12}")
    for r in runs:
        print(
            f"{r['num_envs']:>6} {r['workers']:>8} {r['env_steps_per_second']:>12,.0f} "
            f"{r['orders_per_second']:>10,.0f} {r['orders_per_env_step']:>12.1f}"
        )
    return {
        "env": env_id,
        "torch_threads": torch.get_num_threads(),
        "device": _device_words(args.device),
        "runs": runs,
    }


def _compare_checkpoints(args: argparse.Namespace, env_id: str) -> dict:
    """``mars-gym bench`` with several checkpoints: their env steps/s, timed in alternation."""
    from mars_gym.studies.bench import compare_checkpoints

    if len(args.workers) > 1:
        raise ValueError("compare checkpoints with one --workers value at a time")
    for path in args.checkpoint:
        if not checkpoint_folder(path).is_dir():
            raise FileNotFoundError(f"checkpoint folder {path} does not exist")
    result = compare_checkpoints(
        args.checkpoint,
        tuple(args.num_envs),
        args.seconds,
        args.rounds,
        progress=not args.quiet,
        workers=args.workers[0],
        device=args.device,
    )
    head = ("envs", "env steps/s", "orders/step", "ratio", "range")
    print("{:>6} {:>12} {:>12} {:>7} {:>13}  checkpoint".format(*head))
    for r in result["summary"]:
        low, high = r["ratio_range"]
        print(
            f"{r['num_envs']:>6} {r['env_steps_per_second']:>12,.0f} "
            f"{r['orders_per_env_step']:>12.1f} {r['ratio_to_first']:>7.2f} "
            f"{low:>6.2f}-{high:<6.2f}  {r['checkpoint']}"
        )
    return {
        "env": env_id,
        "torch_threads": torch.get_num_threads(),
        "workers": args.workers[0],
        **result,
    }


def _print_verify(r: dict) -> None:
    name = Path(r["source"]).name
    print(
        f"{name}: {r['rows_matched']:,}/{r['rows_compared']:,} rows match at all {r['levels']} "
        f"levels (match_rate {r['match_rate']:.6f}); {r['rows_matched_without_reconciliation']:,} "
        f"without reconciliation; {r['reconciliations']:,} reconciliations at level "
        f"{r['levels']} (+{r['reconciled_shares_added']:,} / -{r['reconciled_shares_removed']:,} "
        f"shares); {r['unknown_id_events']:,} unknown-id events; "
        f"{r['priority_violations']} priority violations"
        + (
            f"; replay {r['replay_messages_per_second']:,.0f} messages/s"
            if "replay_messages_per_second" in r
            else ""
        )
    )


def _maybe_progress(items: range, enabled: bool, label: str) -> range:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, leave=False)


if __name__ == "__main__":
    raise SystemExit(main())
