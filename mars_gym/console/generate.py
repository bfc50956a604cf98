"""``mars-gym generate``: generated sessions written as LOBSTER message and orderbook files."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.dataset import DayData
from lmm.model.generate import StartState
from lmm.model.outlook import OutlookPath
from lmm.model.sessions import generate_sessions, write_sessions
from mars_gym.console.flags import checkpoint_flag, common_flags
from mars_gym.scenario import SCENARIO_CHECKPOINT, Scenario, checkpoint_outlook_range

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "generate"
HELP = "generate market sessions and write them as LOBSTER files (synthetic LOBSTER data)"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``generate`` command's description and flags to ``parser``."""
    parser.description = (
        "Generate market sessions with the LMM from the real books of a LOBSTER day at the "
        "given times of day (or from the data-free synthetic start) and write each rollout "
        "as a LOBSTER message file and orderbook file, named "
        "gen_START_rROLLOUT_TICKER_DATE_FIRSTMS_LASTMS_{message,orderbook}_LEVELS.csv, which "
        "any LOBSTER reader (LOB-Bench included) reads. By default a file holds what "
        "LOBSTER's own level-L file would: only the events whose price lies within the top L "
        "levels of their side just before or after them (the rule reproduces LOBSTER's "
        "level-5 and level-1 sample files from the level-10 one exactly); --all-events keeps "
        "every event. With --scenario the sessions follow a scenario (a model with outlook "
        "features: by default the packaged 'scenario' checkpoint)."
    )
    parser.add_argument(
        "--start-file",
        type=Path,
        help="LOBSTER day whose books at --times are the starts (default: the synthetic start)",
    )
    parser.add_argument(
        "--times",
        nargs="+",
        metavar="HH:MM",
        help="times of day of the starts in --start-file (default: 14:30)",
    )
    parser.add_argument(
        "--minutes", type=float, default=14.0, help="market minutes per session (default: 14)"
    )
    parser.add_argument(
        "--rollouts", type=int, default=4, help="sessions per start (default: %(default)s)"
    )
    parser.add_argument(
        "--levels",
        type=int,
        default=10,
        help="book levels per orderbook row, and L of the level-L cut (default: %(default)s; "
        "at most the start file's levels)",
    )
    parser.add_argument(
        "--all-events", action="store_true", help="keep every event, not only the level-L ones"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed; the k-th rollout (in start order) draws from seed * 1000003 + k "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)"
    )
    parser.add_argument(
        "--folder", type=Path, required=True, help="folder to write the files to (created)"
    )
    parser.add_argument(
        "--scenario",
        metavar="TEXT",
        help="what the market should do, minute by minute, from each start, e.g. "
        "'5m calm; 5m drift -150bp; 5m drift +50bp vol 8bp volume 2x' (segments separated "
        "by ';', each a duration and optional items: calm, drift TOTALbp, vol bp per "
        "sqrt-minute, volume x normal; mars_gym.scenario has the grammar); or 'history': "
        "each start follows what --start-file realised minute by minute from its start "
        "time for --minutes (needs --start-file). Without --checkpoint it runs on the "
        f"packaged {SCENARIO_CHECKPOINT!r} checkpoint (default: none, the unconditional market)",
    )
    checkpoint_flag(parser)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Generate the sessions ``args`` ask for and write them; returns what was written."""
    name = args.checkpoint
    if name is None and args.scenario is not None:
        name = SCENARIO_CHECKPOINT
    checkpoint = load_checkpoint(name)
    outlook = None
    if args.scenario is not None:
        outlook = _scenario_outlook(
            args.scenario, checkpoint, name or "default", args.start_file, args.minutes
        )
    sessions = generate_sessions(
        checkpoint,
        start_file=args.start_file,
        times=args.times,
        minutes=args.minutes,
        rollouts=args.rollouts,
        levels=args.levels,
        seed=args.seed,
        all_events=args.all_events,
        temperature=args.temperature,
        progress=not args.quiet,
        outlook=outlook,
    )
    paths = write_sessions(sessions, args.folder)
    messages = sum(len(s.day) for s in sessions)
    print(f"wrote {len(sessions)} sessions ({messages:,} messages) to {args.folder}")
    return {
        "sessions": [
            {"start": s.start, "rollout": s.rollout, "seed": s.seed, "messages": len(s.day)}
            for s in sessions
        ],
        "files": [str(p) for p in paths],
        "levels": args.levels,
        "all_events": args.all_events,
        "checkpoint": name or "default",
        "scenario": args.scenario,
    }


def _scenario_outlook(
    text: str, checkpoint: Checkpoint, name: str, start_file: Path | None, minutes: float
) -> Callable[[StartState, DayData | None], OutlookPath]:
    """The outlook path of each start (what :func:`lmm.model.sessions.generate_sessions`
    takes) for ``--scenario text`` on ``checkpoint`` (``name`` in messages): the parsed
    scenario from each start, or with ``history`` what the start day realised from it
    over ``minutes`` (rounded up to whole minutes). Each is checked against the model's
    training range (a warning outside it, a ValueError far beyond it)."""
    outlook_range = checkpoint_outlook_range(checkpoint, name)
    if text.strip() != "history":
        scenario = Scenario.parse(text)
        scenario.check(outlook_range)
        return lambda start, _: scenario.path(start.time_ns, outlook_range)
    if start_file is None:
        raise ValueError(
            "--scenario history follows the start file's own minutes: give --start-file"
        )

    def history(start: StartState, day: DayData | None) -> OutlookPath:
        scenario = Scenario.from_history(day, start.time_ns, math.ceil(minutes))
        scenario.check(outlook_range)
        return scenario.path(start.time_ns, outlook_range)

    return history
