"""``mars-gym impact --out DIR``: the metaorder study (:mod:`mars_gym.studies.metaorder`),
printed, saved as JSON and plotted."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from lmm.results import write_json
from mars_gym.console.flags import (
    checkpoint_flag,
    config_from_args,
    dataclass_flags,
    folder_flags,
    start_flags,
)
from mars_gym.simulator import SimulatorConfig
from mars_gym.studies.metaorder import QUICK, MetaorderConfig, analyse, run_metaorders
from mars_gym.studies.metaorder_report import plot_fit, plot_paths

__all__ = ["HELP", "NAME", "configure_parser", "run"]

NAME = "impact"
HELP = "metaorder market impact (buy and sell, several sizes and durations) and its power-law fit"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``impact`` command's description and flags to ``parser``."""
    parser.description = (
        "Inject metaorders (buy and sell; sizes Q as fractions of the volume V the market "
        "trades over the execution window without them; several durations T) into seeded "
        "markets of the LMM, executed as unpriced market orders in equal child slices at every "
        "decision, and compare with the same seeds without them. Reports the mean impact path "
        "during execution and for --after x T beyond, the peak impact at the end of execution, "
        "the fit I = Y sigma(T) (Q/V)^delta (least squares in log space), and the decay (impact "
        "at the end of the after-window / peak), with 95% bootstrap intervals over seeds. "
        "Writes impact.json, impact_paths.png and impact_fit.png to --out."
    )
    dataclass_flags(parser, MetaorderConfig)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny settings for a smoke test ({QUICK.seeds} seeds, fractions "
        f"{list(QUICK.fractions)}, durations {list(QUICK.durations_s)} s); flags still override",
    )
    sim = SimulatorConfig()
    checkpoint_flag(parser)
    start_flags(parser)
    parser.add_argument(
        "--warmup-orders",
        type=int,
        default=sim.warmup_orders,
        help="orders generated before the metaorders start (default: %(default)s)",
    )
    folder_flags(parser, Path("out/impact"), "impact.json and the two PNGs")


def run(args: argparse.Namespace) -> dict:
    """Run the study, print its summary, write JSON and plots to ``args.out_dir``."""
    config = config_from_args(QUICK if args.quick else MetaorderConfig, args)
    sim_config = SimulatorConfig(
        checkpoint=args.checkpoint,
        start_file=args.start_file,
        start_time=args.start_time,
        warmup_orders=args.warmup_orders,
    )
    cells = len(config.fractions) * len(config.durations_s)
    print(
        f"metaorders: {cells} sizes x durations, buy and sell, on {config.seeds} seeds "
        f"(+ the same seeds without them): {config.seeds * (2 * cells + 1)} markets"
    )
    study = run_metaorders(config, sim_config, progress=not args.quiet)
    report = analyse(study, seed=config.seed, progress=not args.quiet)
    report["config"] = asdict(config)
    report["simulator"] = asdict(sim_config)
    _print(report)
    write_json(args.out_dir / "impact.json", report)
    plot_paths(report, args.out_dir / "impact_paths.png")
    plot_fit(report, args.out_dir / "impact_fit.png")
    print(f"wrote impact.json, impact_paths.png, impact_fit.png to {args.out_dir}")
    return report


def _print(report: dict) -> None:
    print(
        f"simulated {report['markets']} markets in {report['simulation_seconds']:.0f} s; "
        + ", ".join(
            f"T={k} s: V={report['volume_shares'][k]:.0f} shares, sigma={v:.2f} ticks"
            for k, v in report["sigma_ticks"].items()
        )
    )
    print(
        f"{'T (s)':>6}{'Q/V':>7}{'Q':>7}{'children':>9}{'peak (ticks)':>25}{'peak/sigma':>12}"
        f"{'after (ticks)':>25}{'decay':>20}"
    )
    for c in report["cells"]:
        peak = _interval(c["peak_ticks"], c["peak_ticks_ci95"], "+.2f")
        after = _interval(c["after_ticks"], c["after_ticks_ci95"], "+.2f")
        decay = _interval(c["decay"], c["decay_ci95"], ".2f")
        print(
            f"{c['duration_s']:>6}{c['q_over_v']:>7.3f}{c['shares']:>7}{c['child_orders']:>9}"
            f"{peak:>25}"
            f"{c['peak_sigma']:>12.3f}{after:>25}{decay:>20}"
        )
    fit = report["fit"]
    if fit is None:
        print("fit: fewer than two cells with a positive peak impact")
    else:
        print(
            f"fit I = Y sigma (Q/V)^delta over {fit['cells_fitted']} cells: "
            f"Y = {_interval(fit['Y'], fit['Y_ci95'], '.3f')}, "
            f"delta = {_interval(fit['delta'], fit['delta_ci95'], '.3f')} "
            f"(regression s.e. {fit['delta_se']:.3f}), R^2 = {fit['r2']:.3f}"
        )
    decay = report["decay"]
    print(
        f"decay (impact {report['after']:g} x T after the end / peak, pooled): "
        f"{_interval(decay['ratio'], decay['ratio_ci95'], '.2f')}"
    )


def _interval(value: float, ci: list[float], spec: str) -> str:
    """``value [low, high]`` with the format ``spec``."""
    return f"{value:{spec}} [{ci[0]:{spec}}, {ci[1]:{spec}}]"
