"""Metaorder market impact in the generated market, and its square-root-law fit.

A metaorder buys (or sells) ``Q`` shares within ``T`` seconds: ``Q`` is a fraction of the
volume ``V`` the market trades in ``T`` seconds without it, and it is executed as market
orders without a price limit, in equal child slices, one at every decision (1 s apart by
default; slices differ by at most one share). The same seeds are run without any metaorder
(the baseline) and with each metaorder, so every impact is a paired difference: the
side-signed mid change relative to the same seed's baseline, in ticks. The paths run
through the execution and for ``after`` times ``T`` beyond it.

Definitions (all measured on the baseline runs, over non-overlapping windows of ``T``
seconds in each seed's run, pooled over seeds):

* ``V(T)``: mean shares traded by the generated flow in a window;
* ``sigma(T)``: standard deviation of the mid change over a window, in ticks.

The peak impact ``I`` is the mean impact at the end of execution; the fit is
``I / sigma(T) = Y * (Q / V(T)) ** delta``, by least squares on logarithms over the
(size, duration) cells whose mean impact is positive. The decay is the impact at the end
of the after-window divided by the peak (1: permanent; 0: fully reverted); pooled over
cells, it is the sum of the after-window impacts over the sum of the peaks, both in units
of sigma. Confidence intervals are bootstrap percentiles over seeds (a seed keeps its
baseline and all its metaorders together, so the pairing survives resampling).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig
from mars_gym.studies.impact import rollout_paths

__all__ = [
    "QUICK",
    "MetaorderCell",
    "MetaorderConfig",
    "MetaorderStudy",
    "PowerLawFit",
    "analyse",
    "child_slices",
    "fit_power_law",
    "run_metaorders",
    "volatility",
    "window_volume",
]

_SIDES = (1, -1)  # buy, sell: the order of axis 1 of a cell's impact


@dataclass(frozen=True)
class MetaorderConfig:
    """The metaorder experiment.

    Attributes:
        seeds: markets per variant; seeds ``seed`` to ``seed + seeds - 1``, the same for
            the baseline and every metaorder.
        seed: the first seed.
        fractions: metaorder sizes Q as fractions of V, the expected traded volume over
            the execution window.
        durations_s: execution durations in market seconds (multiples of the simulator's
            decision interval).
        after: how long the impact is followed after execution, in multiples of its
            duration.
        bootstrap: bootstrap resamples over seeds for the confidence intervals.
    """

    seeds: int = 32
    seed: int = 0
    fractions: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
    durations_s: tuple[int, ...] = (15, 30, 60)
    after: float = 1.0
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        if self.seeds < 2:
            raise ValueError(f"seeds must be >= 2 (for a standard deviation), got {self.seeds}")
        if not self.fractions or min(self.fractions) <= 0:
            raise ValueError(f"fractions must be non-empty and > 0, got {self.fractions}")
        if not self.durations_s or min(self.durations_s) <= 0:
            raise ValueError(f"durations_s must be non-empty and > 0, got {self.durations_s}")
        if self.after < 0:
            raise ValueError(f"after must be >= 0, got {self.after}")
        if self.bootstrap < 1:
            raise ValueError(f"bootstrap must be >= 1, got {self.bootstrap}")


#: Tiny settings for smoke tests.
QUICK = MetaorderConfig(seeds=4, fractions=(0.2, 0.8), durations_s=(4, 8), bootstrap=100)


@dataclass(frozen=True)
class MetaorderCell:
    """One metaorder size and duration, run on every seed, buying and selling.

    Attributes:
        duration_s: execution duration.
        fraction: the nominal Q / V.
        volume: V, the baseline's mean traded shares per window of the duration.
        shares: Q, the metaorder's size in shares (``fraction * volume``, rounded).
        decisions: decisions the execution lasts.
        after_decisions: decisions followed after it.
        impact: side-signed mid change relative to the same seed's baseline, ticks,
            ``(seeds, 2, decisions + after_decisions + 1)``; axis 1 is buy, sell.
        executed: shares the agent traded, ``(seeds, 2)``.
    """

    duration_s: int
    fraction: float
    volume: float
    shares: int
    decisions: int
    after_decisions: int
    impact: np.ndarray
    executed: np.ndarray


@dataclass(frozen=True)
class MetaorderStudy:
    """The raw outcome of :func:`run_metaorders`.

    Attributes:
        config: the experiment.
        decision_interval_s: seconds between decisions.
        baseline_mids: the baseline's mid in ticks, ``(seeds, steps + 1)``.
        baseline_traded: shares traded per decision in the baseline, ``(seeds, steps)``.
        cells: one per (duration, fraction), durations outermost.
        seconds: wall time of the simulation.
        markets: markets simulated (baseline included).
    """

    config: MetaorderConfig
    decision_interval_s: float
    baseline_mids: np.ndarray
    baseline_traded: np.ndarray
    cells: list[MetaorderCell] = field(default_factory=list)
    seconds: float = 0.0
    markets: int = 0


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * x ** exponent``, fitted by least squares on logarithms.

    Attributes:
        prefactor: Y.
        exponent: delta.
        exponent_se: the regression's standard error of delta (nan with two points).
        r2: coefficient of determination of the log-log regression.
        points: points fitted.
    """

    prefactor: float
    exponent: float
    exponent_se: float
    r2: float
    points: int


def fit_power_law(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> PowerLawFit:
    """Fit ``y = Y * x ** delta`` by ordinary least squares of ``log y`` on ``log x``.

    Raises:
        ValueError: if the lengths differ, fewer than two points are given, a value is not
            positive, or all ``x`` are equal.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError(f"a power law needs at least 2 points, got {len(x)}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"x and y must be > 0 on log axes, got min x {x.min()}, min y {y.min()}")
    lx, ly = np.log(x), np.log(y)
    dx = lx - lx.mean()
    sxx = float(dx @ dx)
    if sxx == 0:
        raise ValueError("x must take at least two distinct values")
    slope = float(dx @ (ly - ly.mean())) / sxx
    intercept = ly.mean() - slope * lx.mean()
    residual = ly - intercept - slope * lx
    total = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float(residual @ residual) / total if total > 0 else 1.0
    se = float(np.sqrt(residual @ residual / (len(x) - 2) / sxx)) if len(x) > 2 else float("nan")
    return PowerLawFit(float(np.exp(intercept)), slope, se, r2, len(x))


def child_slices(shares: int, decisions: int) -> list[int]:
    """``shares`` split over ``decisions`` as evenly as whole shares allow (some may be 0).

    Raises:
        ValueError: if ``shares`` < 1 or ``decisions`` < 1.
    """
    if shares < 1 or decisions < 1:
        raise ValueError(f"need shares >= 1 and decisions >= 1, got {shares} and {decisions}")
    cumulative = [shares * k // decisions for k in range(decisions + 1)]
    return [b - a for a, b in itertools.pairwise(cumulative)]


def _windows(series: np.ndarray, decisions: int) -> int:
    count = series.shape[1] // decisions
    if count < 1:
        raise ValueError(f"runs of {series.shape[1]} decisions hold no window of {decisions}")
    return count


def window_volume(traded: np.ndarray, decisions: int) -> float:
    """V: mean shares traded per window of ``decisions``, over seeds and non-overlapping
    windows of ``traded`` ``(seeds, steps)``."""
    count = _windows(traded, decisions)
    return float(
        traded[:, : count * decisions].reshape(len(traded), count, decisions).sum(2).mean()
    )


def volatility(mids: np.ndarray, decisions: int) -> float:
    """sigma: standard deviation (ticks) of the mid change over ``decisions``, over seeds and
    non-overlapping windows of ``mids`` ``(seeds, steps + 1)``."""
    count = _windows(mids[:, 1:], decisions)
    changes = np.diff(mids[:, : count * decisions + 1 : decisions], axis=1)
    return float(changes.std(ddof=1))


def _decisions(seconds: float, interval_s: float, name: str) -> int:
    steps = round(seconds / interval_s)
    if steps < 1 or abs(steps * interval_s - seconds) > 1e-9:
        raise ValueError(f"{name} {seconds} s is not a positive multiple of {interval_s} s")
    return steps


def run_metaorders(
    config: MetaorderConfig,
    sim_config: SimulatorConfig | None = None,
    checkpoint: Checkpoint | None = None,
    progress: bool = False,
) -> MetaorderStudy:
    """Run the baseline, measure V, then every metaorder on every seed in one batch.

    Args:
        config: sizes, durations, seeds.
        sim_config: the markets (default: the packaged model from a synthetic start).
        checkpoint: the model, if already loaded (else ``sim_config.checkpoint``).
        progress: show progress bars.
    """
    sim_config = sim_config or SimulatorConfig()
    interval = sim_config.decision_interval_s
    plans = []  # (duration_s, decisions, after_decisions)
    for duration in config.durations_s:
        n = _decisions(duration, interval, "duration")
        plans.append((duration, n, round(config.after * n)))
    longest = max(n + a for _, n, a in plans)
    checkpoint = checkpoint or load_checkpoint(sim_config.checkpoint)
    seeds = list(range(config.seed, config.seed + config.seeds))
    started = time.perf_counter()

    sim = MarketSimulator(len(seeds), sim_config, checkpoint)
    baseline = rollout_paths(sim, seeds, [[]] * len(seeds), [longest] * len(seeds), progress)
    base_mids, base_traded = np.stack(baseline.mids), np.stack(baseline.traded)

    variants = []  # (duration_s, fraction, volume, shares, decisions, after_decisions, side)
    for duration, n, after in plans:
        volume = window_volume(base_traded, n)
        for fraction in config.fractions:
            shares = max(1, round(fraction * volume))
            variants += [(duration, fraction, volume, shares, n, after, s) for s in _SIDES]
    programmes, steps = [], []
    for *_, shares, n, after, side in variants:
        kind = OrderKind.MARKET_BUY if side > 0 else OrderKind.MARKET_SELL
        children = [(AgentOrder(kind, 0, s),) if s else () for s in child_slices(shares, n)]
        programmes += [children] * len(seeds)
        steps += [n + after] * len(seeds)
    sim = MarketSimulator(len(programmes), sim_config, checkpoint)
    runs = rollout_paths(sim, seeds * len(variants), programmes, steps, progress)

    cells = []
    for v in range(0, len(variants), len(_SIDES)):
        duration, fraction, volume, shares, n, after, _ = variants[v]
        impact = np.zeros((len(seeds), len(_SIDES), n + after + 1))
        executed = np.zeros((len(seeds), len(_SIDES)), dtype=np.int64)
        for s, side in enumerate(_SIDES):
            for k in range(len(seeds)):
                row = (v + s) * len(seeds) + k
                impact[k, s] = side * (runs.mids[row] - base_mids[k, : n + after + 1])
                executed[k, s] = side * runs.agent_shares[row]
        cells.append(MetaorderCell(duration, fraction, volume, shares, n, after, impact, executed))
    return MetaorderStudy(
        config=config,
        decision_interval_s=interval,
        baseline_mids=base_mids,
        baseline_traded=base_traded,
        cells=cells,
        seconds=time.perf_counter() - started,
        markets=len(seeds) + len(programmes),
    )


def _estimates(study: MetaorderStudy, idx: np.ndarray) -> dict:
    """Every statistic of the report from the seeds ``idx`` (a bootstrap resample)."""
    mids = study.baseline_mids[idx]
    sigma = {c.duration_s: volatility(mids, c.decisions) for c in study.cells}
    paths = [cell.impact[idx].mean((0, 1)) for cell in study.cells]
    peak = np.array([p[c.decisions] for p, c in zip(paths, study.cells, strict=True)])
    after = np.array([p[-1] for p in paths])
    # V sized the metaorders before they ran: a design input, not resampled
    x = np.array([c.shares / c.volume for c in study.cells])
    s = np.array([sigma[c.duration_s] for c in study.cells])
    keep = (peak > 0) & (s > 0)
    try:
        fit = fit_power_law(x[keep], peak[keep] / s[keep])
    except ValueError:  # fewer than two cells with a positive impact
        fit = None
    return {
        "sigma": sigma,
        "peak": peak,
        "after": after,
        "paths": paths,
        "fit": fit,
        "fitted": keep,
        "decay": np.divide(after, peak, out=np.full_like(peak, np.nan), where=peak != 0),
        "overall_decay": _ratio(_in_sigma(after, s), _in_sigma(peak, s)),
    }


def _in_sigma(ticks: np.ndarray | float, sigma: np.ndarray | float) -> np.ndarray:
    """``ticks / sigma``, NaN where sigma is 0 (a window in which the mid never moved,
    possible in a short study or a bootstrap resample of one)."""
    ticks, sigma = np.broadcast_arrays(np.asarray(ticks, float), np.asarray(sigma, float))
    return np.divide(ticks, sigma, out=np.full(ticks.shape, np.nan), where=sigma > 0)


def _ratio(after: np.ndarray, peak: np.ndarray) -> float:
    """Summed ``after`` over summed ``peak``, over the cells where both are defined; NaN
    where none is or the peaks sum to 0."""
    ok = np.isfinite(after) & np.isfinite(peak)
    total = peak[ok].sum()
    return float(after[ok].sum() / total) if total else float("nan")


def _ci(samples: list[float] | np.ndarray) -> list[float]:
    finite = np.asarray(samples, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return [float("nan"), float("nan")]
    return [float(v) for v in np.percentile(finite, [2.5, 97.5])]


def analyse(study: MetaorderStudy, seed: int = 0, progress: bool = False) -> dict:
    """The report of a study: per-cell impacts, the power-law fit and the decay, each with
    a 95% bootstrap interval over seeds (``study.config.bootstrap`` resamples).

    Returns:
        A JSON-serialisable dict (impact paths included, in ticks).
    """
    n = study.baseline_mids.shape[0]
    point = _estimates(study, np.arange(n))
    rng = np.random.default_rng(seed)
    draws = [
        _estimates(study, rng.integers(0, n, n))
        for _ in tqdm(range(study.config.bootstrap), desc="bootstrap", disable=not progress)
    ]
    cells = []
    for j, cell in enumerate(study.cells):
        sigma = point["sigma"][cell.duration_s]
        in_sigma = [float(_in_sigma(d["peak"][j], d["sigma"][cell.duration_s])) for d in draws]
        band = np.percentile([d["paths"][j] for d in draws], [2.5, 97.5], axis=0)
        cells.append(
            {
                "duration_s": cell.duration_s,
                "fraction": cell.fraction,
                "volume": cell.volume,
                "shares": cell.shares,
                "q_over_v": cell.shares / cell.volume,
                "child_orders": sum(s > 0 for s in child_slices(cell.shares, cell.decisions)),
                "largest_child": max(child_slices(cell.shares, cell.decisions)),
                "executed_share": float(cell.executed.mean() / cell.shares),
                "peak_ticks": float(point["peak"][j]),
                "peak_ticks_ci95": _ci([d["peak"][j] for d in draws]),
                "peak_buy_ticks": float(cell.impact[:, 0, cell.decisions].mean()),
                "peak_sell_ticks": float(cell.impact[:, 1, cell.decisions].mean()),
                "peak_sigma": float(_in_sigma(point["peak"][j], sigma)),
                "peak_sigma_ci95": _ci(in_sigma),
                "after_ticks": float(point["after"][j]),
                "after_ticks_ci95": _ci([d["after"][j] for d in draws]),
                "decay": float(point["decay"][j]),
                "decay_ci95": _ci([d["decay"][j] for d in draws]),
                "fitted": bool(point["fitted"][j]),
                "path_ticks": np.round(point["paths"][j], 4).tolist(),
                "path_ticks_ci95": np.round(band, 4).tolist(),
            }
        )
    fit: PowerLawFit | None = point["fit"]
    fits = [d["fit"] for d in draws if d["fit"] is not None]
    return {
        "seeds": n,
        "markets": study.markets,
        "simulation_seconds": study.seconds,
        "decision_interval_s": study.decision_interval_s,
        "after": study.config.after,
        "sigma_ticks": {str(k): v for k, v in point["sigma"].items()},
        "volume_shares": {str(c.duration_s): c.volume for c in study.cells},
        "fit": None
        if fit is None
        else {
            "Y": fit.prefactor,
            "Y_ci95": _ci([f.prefactor for f in fits]),
            "delta": fit.exponent,
            "delta_ci95": _ci([f.exponent for f in fits]),
            "delta_se": fit.exponent_se,
            "r2": fit.r2,
            "cells_fitted": fit.points,
            "bootstrap_fits": len(fits),
        },
        "decay": {
            "ratio": point["overall_decay"],
            "ratio_ci95": _ci([d["overall_decay"] for d in draws]),
        },
        "cells": cells,
    }
