"""``mars-gym benchmark``: the strategy league (:mod:`agents.benchmark`) from the command line.

It lives in ``agents`` because it plays the agents; ``mars_gym`` may not import them.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.baselines import BASELINES
from agents.benchmark import EVALUATION_SEED_BASE, League, run_league
from agents.trained import sb3_policy, trained_policies
from mars_gym.console.flags import checkpoint_flag, common_flags, engine_flags, start_flags

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "benchmark"
HELP = "rank strategies on the same held-out seeds, with 95%% confidence intervals"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``benchmark`` command's description and flags to ``parser``."""
    parser.description = (
        "Play every policy on the same held-out seeds (paired), in the native "
        "vector environment, and print a league table: mean, std and 95% CI of "
        "implementation shortfall in bp (execution) or of PnL in dollars, PnL/std and "
        "inventory risk (market making), and each policy's paired difference to the "
        "reference. Policies: the built-in baselines, the shipped PPO agent ('ppo', "
        "trained by agents.train_ppo), any saved SB3 PPO model given as a path to its zip, "
        "and any callable given as module:attr (a factory taking the env's task and "
        "returning a policy object with reset() and __call__(obs) -> action)."
    )
    parser.add_argument("--task", choices=["execution", "market-making"], required=True)
    parser.add_argument(
        "--episodes",
        type=int,
        help="held-out episodes per policy (default: 200, or as many as the --join league's)",
    )
    parser.add_argument(
        "--policies",
        nargs="+",
        help="built-in policies to include: the task's baselines and its shipped trained "
        "agents (default: all of them)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME=MODULE:ATTR|NAME=PATH.zip",
        help="add a policy (repeatable): a factory from an importable module, or a "
        "Stable-Baselines3 PPO model saved as a zip (by agents.train_ppo, say), its "
        "observation statistics read from the .obs.json beside it if there",
    )
    parser.add_argument("--reference", help="policy the others are compared with, paired by seed")
    parser.add_argument("--batch", type=int, default=64, help="environments per vector env")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes each vector env is split over, one core each; the scores do not "
        "depend on it (default: 1)",
    )
    parser.add_argument("--plot", help="save the league as a PNG bar chart")
    parser.add_argument(
        "--join",
        action="append",
        default=[],
        metavar="LEAGUE_JSON",
        help="a league saved by --out on the same task, seeds and LMM checkpoint (repeatable): "
        "its policies join the table with their stored per-seed scores, without being "
        "played again (default --policies: the built-in ones the joined leagues lack; "
        "none left, nothing is played: leagues run in parts are merged)",
    )
    checkpoint_flag(parser)
    start_flags(parser)
    engine_flags(parser)
    common_flags(parser)


def run(args: argparse.Namespace) -> dict:
    """Play the league ``args`` describe (or join saved ones), print and plot it."""
    builtin = {**BASELINES[args.task], **trained_policies(args.task)}
    joined = _load_leagues(args.join, args.task)
    names = args.policies or [n for n in builtin if joined is None or n not in joined.scores]
    unknown = [n for n in names if n not in builtin]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; known: {sorted(builtin)}")
    policies: dict[str, Callable[[Any], Any]] = {n: builtin[n] for n in names}
    for spec in args.policy:
        name, _, target = spec.partition("=")
        policies[name] = _load(target or name)
    if joined is not None and args.episodes not in (None, len(joined.seeds)):
        raise ValueError(f"--episodes {args.episodes}: the joined league has {len(joined.seeds)}")
    entrants = set(policies) | (set(joined.scores) if joined else set())
    if args.reference and args.reference not in entrants:  # before minutes of play, not after
        raise ValueError(f"reference {args.reference!r} is not in the league {sorted(entrants)}")
    league = joined
    if policies:
        played = run_league(
            args.task,
            policies,
            len(joined.seeds) if joined else args.episodes or 200,
            batch=args.batch,
            progress=not args.quiet,
            seed_base=joined.seeds[0] if joined else EVALUATION_SEED_BASE,
            workers=args.workers,
            engine=args.engine,
            decoder=args.decoder,
            **({"checkpoint": args.checkpoint} if args.checkpoint else {}),
            **(
                {"start_file": args.start_file, "start_time": args.start_time}
                if args.start_file
                else {}
            ),
        )
        league = played if joined is None else joined.join(played)
    assert league is not None, "no joined league means the built-in policies are played"
    if args.reference:
        league = league.with_reference(args.reference)
    print(league.table())
    if args.plot:
        league.plot(args.plot)
        print(f"wrote {args.plot}")
    return league.to_dict()


def _load_leagues(paths: list[str], task: str) -> League | None:
    """The saved leagues at ``paths`` joined into one (None for no paths)."""
    joined = None
    for path in paths:
        try:
            league = League.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--join {path}: {exc}") from None
        if league.task != task:
            raise ValueError(f"--join {path} is a {league.task} league, not {task}")
        joined = league if joined is None else joined.join(league)
    return joined


def _load(target: str) -> Callable[[Any], Any]:
    """The policy factory ``target`` names: a Stable-Baselines3 PPO zip (played by
    :func:`agents.trained.sb3_policy`, with the ``.obs.json`` statistics beside it if
    present) or an importable ``module:attr``."""
    if target.endswith(".zip"):
        if not Path(target).is_file():
            raise FileNotFoundError(f"--policy: no SB3 model at {target}")
        return sb3_policy(target)
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"a policy is given as NAME=MODULE:ATTR or NAME=PATH.zip, got {target!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load policy {target!r}: {exc}") from None
