"""The ``mars-gym impact`` command: the metaorder study, printed, saved as JSON and plotted.

See :mod:`mars_gym.studies.metaorder` for the experiment and its definitions.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lmm.results import write_json
from mars_gym.simulator import SimulatorConfig
from mars_gym.studies.metaorder import QUICK, MetaorderConfig, analyse, run_metaorders

__all__ = ["configure_parser", "plot_fit", "plot_paths", "run_command"]

#: Subcommand help line.
HELP = "metaorder market impact (buy and sell, several sizes and durations) and its power-law fit"


def plot_paths(report: dict, path: Path) -> None:
    """Mean impact paths in units of sigma, one panel per duration, one line per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    durations = sorted({c["duration_s"] for c in report["cells"]})
    fig, axes = plt.subplots(1, len(durations), figsize=(4.5 * len(durations), 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    dt = report["decision_interval_s"]
    for ax, duration in zip(axes, durations, strict=True):
        sigma = report["sigma_ticks"][str(duration)]
        for c in (c for c in report["cells"] if c["duration_s"] == duration):
            t = np.arange(len(c["path_ticks"])) * dt
            (line,) = ax.plot(
                t, np.asarray(c["path_ticks"]) / sigma, label=f"Q/V={c['q_over_v']:.2f}"
            )
            lo, hi = np.asarray(c["path_ticks_ci95"]) / sigma
            ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.axvline(duration, color="grey", linestyle="--", linewidth=1)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"T = {duration} s (sigma = {sigma:.2f} ticks)")
        ax.set_xlabel("seconds since the metaorder started")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("side-signed mid change vs same seed, / sigma(T)")
    fig.suptitle(
        f"Metaorder impact paths: mean of {report['seeds']} seeds x buy and sell, 95% bootstrap "
        "bands; dashed: end of execution"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fit(report: dict, path: Path) -> None:
    """Peak impact I / sigma against Q / V on log-log axes, with the power-law fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    floor = np.inf
    for duration in sorted({c["duration_s"] for c in report["cells"]}):
        cells = [c for c in report["cells"] if c["duration_s"] == duration and c["fitted"]]
        if not cells:
            continue
        x = np.array([c["q_over_v"] for c in cells])
        y = np.array([c["peak_sigma"] for c in cells])
        lo, hi = np.array([c["peak_sigma_ci95"] for c in cells]).T
        # an interval reaching 0 or below runs off the bottom of the log axis
        err = [np.clip(y - lo, 0, y * (1 - 1e-9)), np.clip(hi - y, 0, None)]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=f"T = {duration} s")
        floor = min(floor, y.min() / 4)
    fit = report["fit"]
    left_out = sum(not c["fitted"] for c in report["cells"])
    title = "no fit: fewer than two cells with a positive impact"
    if fit is not None:
        xs = np.geomspace(
            min(c["q_over_v"] for c in report["cells"]),
            max(c["q_over_v"] for c in report["cells"]),
            50,
        )
        lo, hi = fit["delta_ci95"]
        ax.plot(
            xs,
            fit["Y"] * xs ** fit["delta"],
            color="black",
            label=f"fit: Y={fit['Y']:.2f}, delta={fit['delta']:.2f} [{lo:.2f}, {hi:.2f}]",
        )
        middle = np.sqrt(xs[0] * xs[-1])  # the square-root law through the fit's middle
        ax.plot(
            xs,
            fit["Y"] * middle ** fit["delta"] * np.sqrt(xs / middle),
            color="grey",
            linestyle=":",
            label="delta = 0.5 (real markets: 0.4-0.7), for reference",
        )
        title = f"I = Y sigma (Q/V)^delta, R^2 = {fit['r2']:.2f}"
    if left_out:
        title += f"; {left_out} cell(s) with I <= 0 not shown"
    ax.set_xscale("log")
    ax.set_yscale("log")
    if np.isfinite(floor):
        ax.set_ylim(bottom=floor)
    ax.set_xlabel("Q / V (metaorder size / expected volume in its window)")
    ax.set_ylabel("peak impact I / sigma(T)")
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``impact`` command's flags to ``p``."""
    from mars_gym.cli import (  # at call time: cli imports this module
        checkpoint_flag,
        dataclass_flags,
    )

    p.description = (
        "Inject metaorders (buy and sell; sizes Q as fractions of the volume V the market "
        "trades over the execution window without them; several durations T) into seeded "
        "markets of the LMM, executed as unpriced market orders in equal child slices at every "
        "decision, and compare with the same seeds without them. Reports the mean impact path "
        "during execution and for --after x T beyond, the peak impact at the end of execution, "
        "the fit I = Y sigma(T) (Q/V)^delta (least squares in log space), and the decay (impact "
        "at the end of the after-window / peak), with 95% bootstrap intervals over seeds. "
        "Writes impact.json, impact_paths.png and impact_fit.png to --out."
    )
    dataclass_flags(p, MetaorderConfig)
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny settings for a smoke test ({QUICK.seeds} seeds, fractions "
        f"{list(QUICK.fractions)}, durations {list(QUICK.durations_s)} s); flags still override",
    )
    sim = SimulatorConfig()
    checkpoint_flag(p)
    p.add_argument(
        "--start-file",
        help="start from this LOBSTER day instead of the data-free synthetic book (default: none)",
    )
    p.add_argument(
        "--start-time",
        default=sim.start_time,
        help="time of day HH:MM to start at, with --start-file (default: %(default)s)",
    )
    p.add_argument(
        "--warmup-orders",
        type=int,
        default=sim.warmup_orders,
        help="orders generated before the metaorders start (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        dest="out_dir",
        type=Path,
        default=Path("out/impact"),
        metavar="DIR",
        help="folder for impact.json and the two PNGs (default: %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(out=None)  # the JSON goes into --out DIR, not to a file named by --out


def run_command(args: argparse.Namespace) -> dict:
    """Run the study, print its summary, write JSON and plots to ``args.out_dir``."""
    from mars_gym.cli import config_from_args

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
