"""``mars-gym replay``: a LOBSTER day through the matching engine, verified or timed."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from lmm.data.lobster import DEFAULT_TICK_SIZE, read_lobster
from lmm.engine.compiled.replay import replay_compiled
from lmm.engine.replay import replay
from mars_gym.console.command import CommandFailed
from mars_gym.console.flags import common_flags

#: The engines a day can be replayed through.
ENGINES = {"python": replay, "compiled": replay_compiled}

__all__ = ["HELP", "NAME", "configure_parser", "print_verify", "run", "verify_failure"]

NAME = "replay"
HELP = "replay a LOBSTER day through the matching engine (verify it, or time it)"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``replay`` command's description and flags to ``parser``."""
    parser.description = (
        "Replay every message of a LOBSTER day through the matching engine. With --verify, "
        "compare the engine's top-L book with LOBSTER's orderbook file after every message "
        "(reconciling only level L, where volume enters the window from deeper levels) and "
        "report the match rate; a rate below 1 exits with status 1. Reconciliation sets "
        "level L to the file's, so on a level-1 file, where L is the only level, a wrong "
        "size there is absorbed (and counted among the reconciliations), not reported as a "
        "mismatch: only files of two or more levels check sizes. Without --verify, time the "
        "replay and report messages per second."
    )
    parser.add_argument(
        "file", help="a LOBSTER zip, or a message CSV with its orderbook CSV beside it"
    )
    parser.add_argument("--orderbook", help="the orderbook CSV, if not beside the message file")
    parser.add_argument(
        "--levels", type=int, help="book levels to read (default: from the file name)"
    )
    parser.add_argument(
        "--tick-size",
        type=int,
        default=DEFAULT_TICK_SIZE,
        help="LOBSTER price units (dollars x 10000) per tick (default: %(default)s = $0.01)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="compare with the orderbook file; exit 1 unless every row matches",
    )
    parser.add_argument("--limit", type=int, help="replay only the first N messages")
    parser.add_argument(
        "--engine",
        choices=sorted(ENGINES),
        default="python",
        help="the Python reference book, or its compiled twin (numba; the same report, the "
        "first run compiles or loads the kernels, so time several; default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="timing runs without --verify; the median is reported (default: %(default)s)",
    )
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Verify the day (raising :class:`CommandFailed` unless every row matches) or time it."""
    day = read_lobster(args.file, args.orderbook, levels=args.levels, tick_size=args.tick_size)
    if args.verify:
        if args.engine == "python":
            _, report = replay(day, verify=True, limit=args.limit, progress=not args.quiet)
        else:
            _, report = replay_compiled(day, verify=True, limit=args.limit)
        result = report.to_dict()
        print_verify(result)
        failure = verify_failure(result)
        if failure:
            raise CommandFailed(failure, result)
        return result
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    runs = []
    for _ in _progress(range(args.repeat), not args.quiet, "timing runs"):
        _, report = ENGINES[args.engine](day, limit=args.limit)
        runs.append(report.messages_per_second)
    result = report.to_dict()
    result["messages_per_second"] = statistics.median(runs)
    result["messages_per_second_runs"] = runs
    print(
        f"{Path(day.source).name}: {result['messages']:,} messages, "
        f"{result['messages_per_second']:,.0f} messages/s through the {args.engine} engine "
        f"(median of {len(runs)} runs; "
        f"min {min(runs):,.0f}, max {max(runs):,.0f})"
    )
    return result


def verify_failure(r: dict) -> str | None:
    """What is wrong with the verification report ``r`` (None if every row matched)."""
    if r["match_rate"] >= 1:
        return None
    return (
        f"{Path(r['source']).name}: the engine's book differs from the orderbook file in "
        f"{r['rows_compared'] - r['rows_matched']:,} of {r['rows_compared']:,} rows "
        f"(match_rate {r['match_rate']:.6f})"
    )


def print_verify(r: dict) -> None:
    """Print a verification report (:meth:`lmm.engine.replay.ReplayReport.to_dict`) in one line."""
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


def _progress(items: range, enabled: bool, label: str) -> Iterable[int]:
    return tqdm(items, desc=label, leave=False) if enabled else items
