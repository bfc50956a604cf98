"""``mars-gym fidelity --out DIR``: the fidelity report (:mod:`mars_gym.studies.fidelity`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lmm.evaluation.stylized import FACTS
from lmm.model.checkpoint import load_checkpoint
from mars_gym.console.flags import (
    checkpoint_flag,
    config_from_args,
    dataclass_flags,
    days_flags,
    days_from_args,
    folder_flags,
)
from mars_gym.studies.fidelity import QUICK, FidelityConfig, build_report, json_default
from mars_gym.studies.fidelity_figures import LMM, REAL, REAL_DAY, ZI

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "fidelity"
HELP = "fidelity report: distances and stylized facts, real held-out data vs LMM rollouts"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``fidelity`` command's description and flags to ``parser``."""
    parser.description = (
        "Write a fidelity report (report.md, PNG figures, summary.json) to --out: real "
        "held-out windows against LMM and zero-intelligence rollouts from the same start "
        "states: L1 and Wasserstein-1 distances of the evaluate-lmm metrics with overlaid "
        "histograms, and twelve stylized facts measured with the same estimators on real and "
        "generated sessions, each with a 95% bootstrap interval and a verdict (present or "
        "not). With the defaults it took 7 minutes on one core of this project's 2-core "
        "machines (most of it LMM generation); allow up to 10 when the machine is busy. "
        "--quick takes about a minute (mostly reading and verifying the days)."
    )
    days_flags(parser)
    dataclass_flags(parser, FidelityConfig, exclude=("validation_minutes",))  # days_flags has it
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings for a smoke test (2 starts, 2-minute rollouts; the flags above "
        "but --validation-minutes and --seed are ignored)",
    )
    checkpoint_flag(parser)
    folder_flags(parser, Path("out/fidelity"), "report.md, the PNG figures and summary.json")


def run(args: argparse.Namespace) -> dict:
    """Build the report into ``args.out_dir``, print its headline figures, return them."""
    if args.quick:  # the preset, with only the held-out window and the seed from the flags
        given = argparse.Namespace(validation_minutes=args.validation_minutes, seed=args.seed)
        config = config_from_args(QUICK, given)
    else:
        config = config_from_args(FidelityConfig, args)
    checkpoint = load_checkpoint(args.checkpoint)
    summary = build_report(checkpoint, days_from_args(args), args.out_dir, config, not args.quiet)
    _print(summary)
    print(f"wrote report.md, {len(summary['figures'])} figures and summary.json to {args.out_dir}")
    return json.loads(json.dumps(summary, default=json_default))


def _print(summary: dict) -> None:
    d = summary["distances"]
    print(f"mean L1: LMM {d[LMM]['mean']['l1']:.3f}, zero-intelligence {d[ZI]['mean']['l1']:.3f}")
    facts = summary["facts"]
    print(f"{'fact':<28}{'real':>6}{'LMM':>6}{'ZI':>6}{'real day':>10}")
    for i, fact in enumerate(FACTS):
        row = [facts[n][i]["present"] for n in (REAL, LMM, ZI, REAL_DAY)]
        cells = ["n/a" if v is None else ("yes" if v else "no") for v in row]
        print(f"{fact.key:<28}{cells[0]:>6}{cells[1]:>6}{cells[2]:>6}{cells[3]:>10}")
    c = summary["counts"]
    print(
        f"real data shows {c['real_shows']} of {c['facts']} facts; the LMM reproduces "
        f"{c['lmm_reproduces']} of those, the zero-intelligence baseline "
        f"{c['zero_intelligence_reproduces']}"
    )
    print(f"total {summary['seconds']['total'] / 60:.1f} min")
