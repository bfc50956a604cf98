"""The figures of the metaorder study (:mod:`mars_gym.studies.metaorder`): its mean impact
paths and its power-law fit, drawn from the report that :func:`~mars_gym.studies.metaorder.analyse`
returns (``mars-gym impact`` writes them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_fit", "plot_paths"]


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
