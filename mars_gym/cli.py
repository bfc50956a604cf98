"""The ``mars-gym`` command line: one entry point, one subcommand per job.

Every subcommand explains its flags with ``--help``, shows progress on long work, prints a
readable summary and, with ``--out FILE``, writes its figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from lmm.data.lobster import DEFAULT_TICK_SIZE, LobsterFormatError, read_lobster
from lmm.random_flow import random_orders, run_orders
from lmm.replay import replay

#: Where the LOBSTER sample data is looked for when no folder is given.
DEFAULT_DATA_DIR = Path("../shared/data/lobster")
#: The LOBSTER sample days the demo verifies, when present.
DEMO_FILES = (
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
    "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mars-gym`` command line; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (LobsterFormatError, FileNotFoundError, ValueError) as exc:
        print(f"mars-gym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _build_parser() -> argparse.ArgumentParser:
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
    _common(p)
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser(
        "demo",
        help="the main job: verify and time the engine on the LOBSTER samples (or synthetic flow)",
        description="Verify the matching engine against LOBSTER's own orderbook files for the "
        "sample days found in --data, and time it. Without data, time the engine's matching "
        "path on a seeded random order stream instead.",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("MARS_GYM_DATA", DEFAULT_DATA_DIR)),
        help="folder holding the LOBSTER sample zips (default: $MARS_GYM_DATA or %(default)s)",
    )
    p.add_argument("--orders", type=int, default=200_000, help="synthetic orders to time")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic order stream")
    _common(p)
    p.set_defaults(func=_cmd_demo)
    return parser


def _common(p: argparse.ArgumentParser) -> None:
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
    return result


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
