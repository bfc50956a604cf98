"""Scenarios measured: does the generated market do what it is asked?

**Calibration** (:func:`calibrate`): for each cell of a grid of requested drifts (bp per
minute) and volatilities (bp per square root of a minute), the same seeded markets run for
``minutes`` under a constant scenario asking for them (the volume left at its typical
value), and each rollout's realised rates are measured (:func:`realized_rates`) from its
mid sampled at every decision (one second) and the shares its generated orders traded.
Each cell reports the mean realised drift, volatility and relative volume over the seeds
with 95% bootstrap intervals; the grid reports the correlation between requested and realised
drift (and volatility) over every rollout. The same seeds without a scenario give the
unconditional market's rates beside them.

**History** (:func:`follow_history`): the realised per-minute path of a real afternoon
(:meth:`mars_gym.scenario.Scenario.from_history`) as the scenario, from the real book at
its start; how far the generated mid strays from the real mid at each minute (the root
mean square over seeds of the difference, in bp of the start mid), against the same seeds
without a scenario.

**Sensitivity** (:func:`outlook_sensitivity`): what the model reads from each outlook
number, without generating: on real windows of a day, the next order's kind-and-price
distribution with every outlook number typical (the training median), against the same
windows with one number moved to an end of the training range; how far it moves (the
Kullback-Leibler divergence, in bits) and the kind mix it moves to; and how much of each
number the past already tells (:func:`outlook_persistence`), which a model can read from its
context instead of the outlook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.dataset import DayData, build_dataset
from lmm.model.memory import carried_mid2, signed_market_volume
from lmm.model.outlook import (
    HORIZON_NS,
    N_OUTLOOK_FEATURES,
    OUTLOOK_VALUES,
    normal_volume,
    outlook_features,
)
from lmm.units import time_of_day_ns
from mars_gym.scenario import SCENARIO_CHECKPOINT, Scenario
from mars_gym.simulator import MarketSimulator, SimulatorConfig
from mars_gym.studies.impact import rollout_paths

__all__ = [
    "CalibrationCell",
    "HistoryResult",
    "calibrate",
    "day_normal_volume",
    "follow_history",
    "outlook_persistence",
    "outlook_sensitivity",
    "realized_rates",
]


def realized_rates(
    mids: np.ndarray, traded: np.ndarray, interval_s: float, normal: float
) -> tuple[float, float, float]:
    """The drift (bp per minute), volatility (bp per square root of a minute) and volume
    (times ``normal`` shares per minute) a rollout realised, from its mid at the start and
    after each decision (``interval_s`` apart) and the shares traded between decisions."""
    mids = np.asarray(mids, dtype=np.float64)
    minutes = (len(mids) - 1) * interval_s / 60
    if minutes <= 0 or np.any(mids <= 0):
        raise ValueError("a rollout needs >= 1 decision and positive mids")
    drift = 1e4 * (mids[-1] / mids[0] - 1) / minutes
    volatility = 1e4 * np.sqrt(np.sum(np.diff(np.log(mids)) ** 2) / minutes)
    return float(drift), float(volatility), float(np.sum(traded) / minutes / normal)


def day_normal_volume(day: DayData) -> float:
    """The normal market shares per minute of a day's training part, as training measured
    it for the outlook (:func:`lmm.model.outlook.normal_volume`)."""
    train = ~np.asarray(day.is_validation)
    shares = np.abs(signed_market_volume(day.flow["kind"], day.flow["size"]))
    return normal_volume(day.flow["time"][train], shares[train])


def _interval(values: np.ndarray, draws: int = 4000) -> tuple[float, float, float]:
    """Mean and its 95% bootstrap percentile interval over the seeds (a seeded resample)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(0)
    means = values[rng.integers(len(values), size=(draws, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(lo), float(hi)


@dataclass(frozen=True)
class CalibrationCell:
    """One requested scenario and what its rollouts realised.

    Attributes:
        drift, volatility: requested rates (None: the unconditional market).
        realized: ``(seeds, 3)`` each rollout's drift, volatility and relative volume
            (:func:`realized_rates`).
    """

    drift: float | None
    volatility: float | None
    realized: np.ndarray

    def summary(self) -> dict:
        """The means and 95% intervals, JSON-serialisable."""
        out: dict = {"requested_drift": self.drift, "requested_volatility": self.volatility}
        for k, name in enumerate(("drift", "volatility", "volume")):
            mean, lo, hi = _interval(self.realized[:, k])
            out[name] = {"mean": mean, "ci95": [lo, hi]}
        return out


def _start_day(config: SimulatorConfig) -> tuple[Checkpoint, DayData]:
    """The study's checkpoint (``config``'s, else the packaged scenario one) and its start
    file's day, tokenized with that checkpoint's tokenizer."""
    checkpoint = load_checkpoint(config.checkpoint or SCENARIO_CHECKPOINT)
    day = build_dataset([Path(config.start_file)], tokenizer=checkpoint.tokenizer).days[0]
    return checkpoint, day


def calibrate(
    config: SimulatorConfig,
    drifts: Sequence[float],
    volatilities: Sequence[float | None],
    seeds: Sequence[int],
    minutes: float,
    progress: bool = False,
    unconditional: bool = True,
) -> tuple[list[CalibrationCell], dict]:
    """Run the grid (see the module docstring) from ``config``'s start; returns the cells
    (the unconditional one first, unless ``unconditional`` is False) and, over every
    conditioned rollout, the correlations of requested with realised drift and volatility
    and the slope of realised on requested drift (least squares; 1 follows the scenario's
    drift at its size). A volatility of None leaves it at the model's typical minute.

    Raises:
        ValueError: ``config`` names no start file (the relative volume needs its day's
            normal), or holds a scenario of its own.
    """
    if config.start_file is None:
        raise ValueError("calibration measures the volume against a day: give a start_file")
    if config.scenario is not None:
        raise ValueError("the calibration sets the scenarios itself: give a config without one")
    checkpoint, day = _start_day(config)
    normal = day_normal_volume(day)
    steps = round(minutes * 60 / config.decision_interval_s)
    seeds = list(seeds)

    def run(scenario: Scenario | None) -> np.ndarray:
        sim = MarketSimulator(len(seeds), replace(config, scenario=scenario), checkpoint)
        runs = rollout_paths(sim, seeds, [()] * len(seeds), [steps] * len(seeds), progress)
        return np.array(
            [
                realized_rates(m, v, config.decision_interval_s, normal)
                for m, v in zip(runs.mids, runs.traded, strict=True)
            ]
        )

    cells = [CalibrationCell(None, None, run(None))] if unconditional else []
    for d in drifts:
        for v in volatilities:
            text = f"{minutes:g}m drift {d * minutes:+g}bp" + ("" if v is None else f" vol {v:g}bp")
            vol = None if v is None else float(v)
            cells.append(CalibrationCell(float(d), vol, run(Scenario.parse(text))))
    asked = [c for c in cells if c.drift is not None]
    requested = np.concatenate(
        [np.full((len(c.realized), 2), [c.drift, c.volatility or np.nan]) for c in asked]
    )
    realized = np.concatenate([c.realized[:, :2] for c in asked])
    fit: dict = {}
    for k, name in enumerate(("drift", "volatility")):
        if np.isfinite(requested[:, k]).all() and np.ptp(requested[:, k]) > 0:
            fit[f"{name}_correlation"] = float(np.corrcoef(requested[:, k], realized[:, k])[0, 1])
            fit[f"{name}_slope"] = float(np.polyfit(requested[:, k], realized[:, k], 1)[0])
    return cells, fit


@dataclass(frozen=True)
class HistoryResult:
    """A real afternoon as the scenario: mid paths in bp of the start mid, per minute.

    Attributes:
        real: ``(minutes + 1,)`` the real mid's path.
        following: ``(seeds, minutes + 1)`` the generated paths under the real scenario.
        unconditional: ``(seeds, minutes + 1)`` the same seeds without a scenario.
    """

    real: np.ndarray
    following: np.ndarray
    unconditional: np.ndarray

    def rmse(self, paths: np.ndarray) -> np.ndarray:
        """Root mean square over seeds of ``paths`` minus the real path, per minute (bp)."""
        return np.sqrt(np.mean((paths - self.real) ** 2, axis=0))

    def summary(self) -> dict:
        """JSON-serialisable paths and errors."""
        out: dict = {"real": self.real.tolist()}
        for name in ("following", "unconditional"):
            paths = getattr(self, name)
            out[name] = {
                "mean": paths.mean(0).tolist(),
                "rmse": self.rmse(paths).tolist(),
                "final_rmse": float(self.rmse(paths)[-1]),
                "mean_rmse": float(self.rmse(paths)[1:].mean()),
                # does the sign of the real move come out: share of seeds ending on its side
                "same_side": float(np.mean(np.sign(paths[:, -1]) == np.sign(self.real[-1]))),
            }
        return out


def follow_history(
    config: SimulatorConfig, minutes: int, seeds: Sequence[int], progress: bool = False
) -> HistoryResult:
    """Generate from ``config``'s start file and time with the day's own realised path from
    there as the scenario, and without one (see the module docstring)."""
    if config.start_file is None:
        raise ValueError("history needs a start_file")
    checkpoint, day = _start_day(config)
    scenario = Scenario.from_history(day, config.start_time, minutes)
    start = time_of_day_ns(config.start_time, "start_time")
    mid2 = carried_mid2(day.book_after, 0).astype(np.float64)
    at = np.searchsorted(day.flow["time"], start + np.arange(minutes + 1) * 60 * 10**9, "right") - 1
    real = 1e4 * (mid2[at] / mid2[at[0]] - 1)
    per_minute = round(60 / config.decision_interval_s)
    steps = minutes * per_minute
    seeds = list(seeds)
    paths = {}
    for name, sc in (("following", scenario), ("unconditional", None)):
        sim = MarketSimulator(len(seeds), replace(config, scenario=sc), checkpoint)
        runs = rollout_paths(sim, seeds, [()] * len(seeds), [steps] * len(seeds), progress)
        mids = np.stack(runs.mids)[:, ::per_minute]
        paths[name] = 1e4 * (mids / mids[:, :1] - 1)
    return HistoryResult(real, paths["following"], paths["unconditional"])


def outlook_sensitivity(
    checkpoint: Checkpoint,
    day: DayData,
    guidance: float,
    windows: int = 48,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """What the model reads from each outlook number (see the module docstring).

    On ``windows`` real windows of ``day`` (context-long, drawn with ``seed``), every order
    of a window reads the same outlook: the typical one (the model's training medians), or
    it with one number at the 0.5th or 99.5th percentile of training ("drift low", ...,
    "volume high"), or none ("unknown"). Per setting: ``kl_bits``, the mean divergence of
    the next order's kind-and-price distribution from the typical outlook's (over every
    position); ``market``, ``cancel`` and ``limit``, the probability of each kind of
    order; ``buy_market``, the buys' share of market orders.

    Raises:
        ValueError: the checkpoint's model reads no outlook.
    """
    model = checkpoint.model
    cfg = model.config
    if not cfg.n_outlook_features:
        raise ValueError("the checkpoint's model reads no outlook (tune-lmm --outlook adds it)")
    inputs = day.inputs(cfg.n_memory_features, cfg.n_outlook_features).astype(np.float32)
    starts = np.random.default_rng(seed).integers(0, len(inputs) - cfg.context, windows)
    tokens = torch.from_numpy(np.stack([day.tokens[s : s + cfg.context] for s in starts]))
    real = np.stack([inputs[s : s + cfg.context] for s in starts])
    ranges = model.outlook_range.numpy()  # rows: 0.5th, 50th, 99.5th percentiles
    settings: dict[str, np.ndarray | None] = {"typical": ranges[1]}
    for k, name in enumerate(OUTLOOK_VALUES):
        for end, row in (("low", 0), ("high", 2)):
            values = ranges[1].copy()
            values[k] = ranges[row, k]
            settings[f"{name} {end}"] = values
    settings["unknown"] = None

    def log_probs(values: np.ndarray | None) -> torch.Tensor:
        f = real.copy()
        f[..., -N_OUTLOOK_FEATURES:] = (
            0.0 if values is None else outlook_features(values[None], np.array([True]))[0]
        )
        with torch.no_grad():
            h = model(tokens, torch.from_numpy(f), outlook_guidance=guidance)
            return torch.log_softmax(model.kp_logits(h).double(), -1)

    # a kind-and-price class is kind * n_price + price bucket (the tokenizer's layout)
    kinds = np.repeat(np.arange(len(OrderKind)), checkpoint.tokenizer.n_price)
    typical = log_probs(settings["typical"])
    out = {}
    for name, values in settings.items():
        lp = log_probs(values)
        kl = (lp.exp() * (lp - typical)).sum(-1).mean().item() / np.log(2)
        p = np.bincount(kinds, lp.exp().mean((0, 1)).numpy(), minlength=len(OrderKind))
        market = p[OrderKind.MARKET_BUY] + p[OrderKind.MARKET_SELL]
        out[name] = {
            "kl_bits": float(kl),
            "limit": float(p[OrderKind.LIMIT_BUY] + p[OrderKind.LIMIT_SELL]),
            "market": float(market),
            "cancel": float(p[OrderKind.CANCEL_BUY] + p[OrderKind.CANCEL_SELL]),
            "buy_market": float(p[OrderKind.MARKET_BUY] / market),
        }
    return out


def outlook_persistence(time_ns: np.ndarray, outlook: np.ndarray) -> dict[str, float]:
    """Per outlook number, the correlation over orders between its feature (``outlook``,
    :func:`lmm.model.outlook.outlook_features` rows) and the feature of the last order at
    least one horizon (a minute) earlier, over the orders where both are known: how much of
    the coming minute the past minute already tells."""
    t = np.asarray(time_ns, dtype=np.int64)
    outlook = np.asarray(outlook, dtype=np.float64)
    if outlook.shape != (len(t), N_OUTLOOK_FEATURES):
        raise ValueError(
            f"outlook must have shape {(len(t), N_OUTLOOK_FEATURES)}, got {outlook.shape}"
        )
    earlier = np.searchsorted(t, t - HORIZON_NS, "right") - 1
    both = (earlier >= 0) & (outlook[:, 0] > 0)
    both[both] &= outlook[earlier[both], 0] > 0
    if both.sum() < 3:
        raise ValueError("fewer than 3 orders have a known outlook a minute apart")
    now, before = outlook[both], outlook[earlier[both]]
    return {
        name: float(np.corrcoef(now[:, k + 1], before[:, k + 1])[0, 1])
        for k, name in enumerate(OUTLOOK_VALUES)
    }
