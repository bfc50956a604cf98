"""The figures of the fidelity report (:mod:`mars_gym.studies.fidelity`): one PNG each, real
held-out data, the LMM and the zero-intelligence baseline overlaid in fixed colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.evaluation.evaluate import METRICS, metrics_of
from lmm.evaluation.stylized import (
    ABS_LAGS,
    FACTS,
    RESPONSE_LAGS,
    SIGN_LAGS,
    FactResult,
    SessionSeries,
    pooled_acf,
    standardize,
)
from lmm.units import NS_PER_SECOND

__all__ = [
    "COLORS",
    "LABELS",
    "LMM",
    "REAL",
    "REAL_DAY",
    "ZI",
    "plot_distributions",
    "plot_intraday",
    "plot_order_flow",
    "plot_response",
    "plot_returns",
]

#: Sources in the order the report shows them.
REAL, LMM, ZI, REAL_DAY = "real", "lmm", "zero_intelligence", "real_whole_day"
LABELS = {REAL: "real (held-out)", LMM: "LMM", ZI: "zero-intelligence", REAL_DAY: "real (day)"}
COLORS = {REAL: "black", LMM: "tab:blue", ZI: "tab:orange", REAL_DAY: "tab:gray"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distributions(records: dict[str, np.ndarray], path: Path) -> None:
    """Overlaid histograms of every metric of :data:`lmm.evaluation.evaluate.METRICS`."""
    plt = _pyplot()
    samples = {name: metrics_of(r) for name, r in records.items()}
    fig, axes = plt.subplots(2, 5, figsize=(16, 6))
    for ax, (metric, (_, categorical)) in zip(axes.ravel(), METRICS.items(), strict=True):
        real = samples[REAL][metric]
        if categorical:
            cats = np.arange(len(OrderKind))
            for j, (name, s) in enumerate(samples.items()):
                share = [(s[metric] == c).mean() if len(s[metric]) else 0 for c in cats]
                ax.bar(cats + 0.27 * (j - 1), share, 0.27, color=COLORS[name], label=LABELS[name])
            ax.set_xticks(cats, [k.name.lower().replace("_", "\n") for k in OrderKind], fontsize=6)
        else:
            lo, hi = np.quantile(real, [0.005, 0.995]) if len(real) else (0.0, 1.0)
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
            for name, s in samples.items():
                x = np.clip(s[metric], bins[0], bins[-1])
                ax.hist(x, bins, density=True, histtype="step", color=COLORS[name], lw=1.3)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(
        [plt.Line2D([], [], color=COLORS[n]) for n in samples],
        [LABELS[n] for n in samples],
        fontsize=7,
    )
    fig.suptitle(
        "Real held-out windows vs rollouts from the same starts (clipped at the real "
        "0.5%-99.5% range)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_returns(
    series: dict[str, list[SessionSeries]], facts: dict[str, list[FactResult]], path: Path
) -> None:
    """Kurtosis by horizon, ACF of |10-s returns|, and the sign ACF."""
    plt = _pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4))
    agg = [f.key for f in FACTS].index("aggregational_gaussianity")
    for name in series:
        f = facts[name][agg]
        stats = ("excess_kurtosis_10s", "excess_kurtosis_1min", "excess_kurtosis_5min")
        v = [f.values[s] for s in stats]
        err = [
            [v[j] - f.low[s] for j, s in enumerate(stats)],
            [f.high[s] - v[j] for j, s in enumerate(stats)],
        ]
        a.errorbar(
            [10, 60, 300],
            v,
            yerr=np.abs(err),
            color=COLORS[name],
            label=LABELS[name],
            marker="o",
            capsize=3,
        )
        s = standardize(series[name])
        b.plot(
            ABS_LAGS * 10,
            pooled_acf([np.abs(x.returns[10]) for x in s], ABS_LAGS),
            color=COLORS[name],
            marker=".",
        )
        acf = pooled_acf([x.signs for x in s], SIGN_LAGS)
        c.loglog(SIGN_LAGS[acf > 0], acf[acf > 0], color=COLORS[name], marker=".", lw=0.8)
    a.set_xscale("log")
    a.axhline(0, color="k", lw=0.5)
    a.set(xlabel="return horizon (s)", ylabel="excess kurtosis", title="Tails by horizon")
    a.legend(fontsize=7)
    b.axhline(0, color="k", lw=0.5)
    b.set(xlabel="lag (s)", ylabel="ACF of |r|", title="Volatility clustering (10-s returns)")
    k = SIGN_LAGS.astype(float)
    c.loglog(k, 0.3 * k**-0.5, "k--", lw=0.7, label="lag^-0.5")
    c.set(xlabel="lag (market orders)", ylabel="ACF of signs", title="Market-order signs")
    c.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_order_flow(series: dict[str, list[SessionSeries]], path: Path) -> None:
    """Limit-order sizes, inter-arrival times, ages at cancel and cancel depths."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    for name, ss in series.items():
        if name == REAL_DAY:
            continue
        kw = {"color": COLORS[name], "label": LABELS[name], "histtype": "step", "density": True}
        sizes = np.concatenate([s.sizes for s in ss])
        axes[0].hist(sizes[sizes <= 600], np.arange(0.5, 601), **kw)
        dt = np.concatenate([s.interarrival for s in ss])
        axes[1].hist(np.log10(np.maximum(dt, 1e-6)), np.linspace(-6, 2, 50), **kw)
        ages = np.concatenate([s.cancel_ages for s in ss])
        axes[2].hist(np.log10(np.maximum(ages, 1e-6)), np.linspace(-6, 3, 50), **kw)
        depth = np.concatenate([s.cancel_depth for s in ss])
        axes[3].hist(np.clip(depth, -5, 40), np.arange(-5.5, 41), **kw)
    axes[0].set(yscale="log", xlabel="limit order size (shares)", title="Round lots")
    axes[1].set(xlabel="log10 inter-arrival (s); 1e-6: simultaneous", title="Inter-arrivals")
    axes[2].set(xlabel="log10 age at cancel (s)", title="Time to cancel")
    axes[3].set(xlabel="ticks behind the same-side best", title="Cancel depth")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_response(facts: dict[str, list[FactResult]], path: Path) -> None:
    """Mean signed mid change k orders after each kind of order."""
    plt = _pyplot()
    idx = [f.key for f in FACTS].index("mid_response")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    groups = (("limit", (0, 1)), ("market", (2, 3)), ("cancel", (4, 5)))
    for ax, (title, kinds) in zip(axes, groups, strict=True):
        for name in (REAL, LMM, ZI):
            f = facts[name][idx]
            for kind, style in zip(kinds, ("-", "--"), strict=True):
                stats = [f"{OrderKind(kind).name.lower()}_k{lag}" for lag in RESPONSE_LAGS]
                ax.plot(
                    RESPONSE_LAGS,
                    [f.values[s] for s in stats],
                    style,
                    marker=".",
                    color=COLORS[name],
                    label=f"{LABELS[name]}, {OrderKind(kind).name.lower()}",
                )
        ax.set_xscale("log")
        ax.axhline(0, color="k", lw=0.5)
        ax.set(xlabel="k (orders later)", title=f"after a {title} order")
        ax.legend(fontsize=6)
    axes[0].set_ylabel("mean mid change x side (ticks)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_intraday(series: dict[str, list[SessionSeries]], names: list[str], path: Path) -> None:
    """Orders per minute and mean spread by time of day, per stock (``names``: its files)."""
    plt = _pyplot()
    stocks = sorted({s.group for s in series[REAL]})
    fig, axes = plt.subplots(2, len(stocks), figsize=(6 * len(stocks), 6), squeeze=False)
    for col, g in enumerate(stocks):
        for name, ss in series.items():
            if name == REAL_DAY:
                continue
            mine = [s for s in ss if s.group == g and s.minutes > 0]
            times = sorted({s.start_ns for s in mine})
            hours = [t / 3600 / NS_PER_SECOND for t in times]
            act = [np.mean([s.orders / s.minutes for s in mine if s.start_ns == t]) for t in times]
            spread = [
                sum(s.spread_sum for s in mine if s.start_ns == t)
                / max(sum(s.spread_count for s in mine if s.start_ns == t), 1)
                for t in times
            ]
            style = {
                "color": COLORS[name],
                "label": "real (every window of the day)" if name == REAL else LABELS[name],
                "marker": "." if name == REAL else "o",
                "lw": 0.8 if name == REAL else 1.5,
            }
            axes[0, col].plot(hours, act, **style)
            axes[1, col].plot(hours, spread, **style)
        stock = names[g].removeprefix("LOBSTER_SampleFile_").split("_")[0]
        axes[0, col].set(title=f"{stock}: orders per minute", xlabel="hour of day")
        axes[1, col].set(title=f"{stock}: mean spread (ticks)", xlabel="hour of day")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
