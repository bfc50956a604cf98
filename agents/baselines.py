"""Classic strategies as policies that act on observations only.

A policy is an object with ``reset()`` (start of an episode) and ``__call__(obs) -> action``.
It reads the observation by field name (:data:`mars_gym.envs.core.OBSERVATION_FIELDS` and
the task's ``extra_fields``) and never looks inside the simulator. Policies are built from
the environment's task parameters with a factory, one instance per environment.

Execution (``MarS-Execution-v0``; action = (size in quarter TWAP slices, aggressiveness)):
TWAP, participation of volume (POV), an Almgren-Chriss schedule, all at market, passive
(join the best quote, catch up at market near the end), random.

Market making (``MarS-MarketMaking-v0``; action = (bid offset, ask offset, bid lots, ask
lots)): a fixed symmetric spread, Avellaneda-Stoikov with inventory skew, random.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mars_gym.envs.core import OBSERVATION_FIELDS
from mars_gym.envs.execution import CROSS, MID, PASSIVE, ExecutionTask
from mars_gym.envs.market_making import MarketMakingTask

__all__ = [
    "BASELINES",
    "EXECUTION_BASELINES",
    "MARKET_MAKING_BASELINES",
    "TWAP",
    "AllAtMarket",
    "AlmgrenChriss",
    "AvellanedaStoikov",
    "Participation",
    "Passive",
    "RandomPolicy",
    "SymmetricSpread",
]

Policy = Callable[[np.ndarray], np.ndarray]


def _index(task: Any) -> dict[str, int]:
    return {name: k for k, name in enumerate((*OBSERVATION_FIELDS, *task.extra_fields))}


class _ExecutionPolicy:
    """Shared helpers: shares left, decisions left, and the action for a child size."""

    def __init__(self, task: ExecutionTask) -> None:
        self.task = task
        self.at = _index(task)
        self.slice = task.quantity / task.horizon  # shares of one TWAP slice

    def reset(self) -> None:
        """Start of an episode."""

    def remaining(self, obs: np.ndarray) -> float:
        return float(obs[self.at["remaining_fraction"]]) * self.task.quantity

    def steps_left(self, obs: np.ndarray) -> int:
        return max(round(float(obs[self.at["time_left_fraction"]]) * self.task.horizon), 1)

    def action(self, shares: float, aggressiveness: int) -> np.ndarray:
        """The action sending at least ``shares`` (rounded up to a quarter slice, so that a
        small remainder is not rounded away)."""
        top = self.task.action_space.nvec[0] - 1
        k = int(np.clip(math.ceil(4 * shares / self.slice - 1e-9), 0, top))
        return np.array([k, aggressiveness], dtype=np.int64)


class TWAP(_ExecutionPolicy):
    """Trade what remains evenly over the decisions left, at a fixed aggressiveness."""

    def __init__(self, task: ExecutionTask, aggressiveness: int = PASSIVE) -> None:
        super().__init__(task)
        self.aggressiveness = aggressiveness

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.action(self.remaining(obs) / self.steps_left(obs), self.aggressiveness)


class AllAtMarket(_ExecutionPolicy):
    """Everything at once, with a market order."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.action(self.remaining(obs), CROSS)


class Passive(_ExecutionPolicy):
    """Join the best quote at TWAP's pace; cross for what remains in the last ``catch_up``
    fraction of the time."""

    def __init__(self, task: ExecutionTask, catch_up: float = 0.1) -> None:
        super().__init__(task)
        self.catch_up = catch_up

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        left = self.steps_left(obs)
        if left <= max(1, round(self.catch_up * self.task.horizon)):
            return self.action(self.remaining(obs) / left, CROSS)
        return self.action(self.remaining(obs) / left, PASSIVE)


class Participation(_ExecutionPolicy):
    """Trade ``rate`` times the market volume of the last interval (at least TWAP's pace
    once behind schedule), posting at the mid."""

    def __init__(self, task: ExecutionTask, rate: float = 0.1) -> None:
        super().__init__(task)
        self.rate = rate

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        volume = float(obs[self.at["bought_shares"]] + obs[self.at["sold_shares"]])
        remaining, left = self.remaining(obs), self.steps_left(obs)
        behind = remaining / left if remaining > left * self.slice else 0.0
        return self.action(max(self.rate * volume, behind), MID)


class AlmgrenChriss(_ExecutionPolicy):
    """The Almgren-Chriss optimal trajectory: holdings ``x(t) = Q sinh(k (T - t)) /
    sinh(k T)``, front-loaded by the urgency ``k`` (per decision; k -> 0 is TWAP), each
    child sent at ``aggressiveness``."""

    def __init__(
        self, task: ExecutionTask, urgency: float = 0.05, aggressiveness: int = MID
    ) -> None:
        super().__init__(task)
        self.urgency = urgency
        self.aggressiveness = aggressiveness

    def holdings(self, steps_left: float) -> float:
        k, t = self.urgency, self.task.horizon
        return self.task.quantity * math.sinh(k * steps_left) / math.sinh(k * t)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        left = self.steps_left(obs)
        target = self.holdings(left - 1)  # where the schedule is after this decision
        return self.action(max(self.remaining(obs) - target, 0.0), self.aggressiveness)


class RandomPolicy:
    """Uniformly random actions (seeded)."""

    def __init__(self, task: Any, seed: int = 0) -> None:
        self.space = task.action_space
        self.seed = seed

    def reset(self) -> None:
        """Start of an episode (the stream goes on)."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(self.seed)
        return (self._rng.random(len(self.space.nvec)) * self.space.nvec).astype(np.int64)


class SymmetricSpread:
    """Quote ``offset`` ticks beyond the mid on both sides, ``lots`` lots each."""

    def __init__(self, task: MarketMakingTask, offset: int = 2, lots: int = 1) -> None:
        self.action_ = np.array([offset, offset, lots, lots], dtype=np.int64)

    def reset(self) -> None:
        """Start of an episode."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.action_.copy()


class AvellanedaStoikov:
    """Avellaneda-Stoikov (2008): quotes around a reservation price skewed against the
    inventory, ``r = mid - q gamma sigma^2 tau``, with total spread
    ``gamma sigma^2 tau + (2 / gamma) ln(1 + gamma / kappa)``; ``q`` in lots, ``tau`` in
    decisions left, ``sigma`` in ticks per square-root decision, quotes in ticks.

    The defaults are the best PnL per unit of PnL standard deviation on a grid of gamma
    (0.0003 to 0.1, kappa 0.5) played on 32 calibration seeds
    (``scripts/calibrate_avellaneda_stoikov.py``;
    ``docs/results/avellaneda_stoikov_grid.json``, on the packaged model after commit
    c54f061): gamma 0.003 (0.13; mean inventory 166 shares), though every gamma's interval
    overlaps the others' in the generated market."""

    def __init__(
        self,
        task: MarketMakingTask,
        gamma: float = 0.003,
        sigma: float = 1.0,
        kappa: float = 0.5,
        lots: int = 1,
    ) -> None:
        self.task = task
        self.at = _index(task)
        self.gamma, self.sigma, self.kappa, self.lots = gamma, sigma, kappa, lots
        self.max_offset = int(task.action_space.nvec[0]) - 1

    def reset(self) -> None:
        """Start of an episode."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        q = float(obs[self.at["inventory"]]) / self.task.lot
        tau = max(1.0 - float(obs[self.at["elapsed_fraction"]]), 0.0) * self.task.horizon
        g, s2 = self.gamma, self.sigma**2
        skew = q * g * s2 * tau  # reservation price below the mid when long
        half = (g * s2 * tau + (2 / g) * math.log(1 + g / self.kappa)) / 2
        bid = int(np.clip(round(half + skew), 0, self.max_offset))
        ask = int(np.clip(round(half - skew), 0, self.max_offset))
        return np.array([bid, ask, self.lots, self.lots], dtype=np.int64)


#: name -> factory(task) of the execution baselines in the league
EXECUTION_BASELINES: dict[str, Callable[[Any], Any]] = {
    "twap_passive": lambda t: TWAP(t, PASSIVE),
    "twap_mid": lambda t: TWAP(t, MID),
    "twap_market": lambda t: TWAP(t, CROSS),
    "pov_10pct": lambda t: Participation(t, 0.1),
    "almgren_chriss": lambda t: AlmgrenChriss(t),
    "all_at_market": lambda t: AllAtMarket(t),
    "passive_catch_up": lambda t: Passive(t),
    "random": lambda t: RandomPolicy(t),
}

#: name -> factory(task) of the market-making baselines in the league
MARKET_MAKING_BASELINES: dict[str, Callable[[Any], Any]] = {
    "symmetric_1": lambda t: SymmetricSpread(t, 1),
    "symmetric_3": lambda t: SymmetricSpread(t, 3),
    "avellaneda_stoikov": lambda t: AvellanedaStoikov(t),
    "random": lambda t: RandomPolicy(t),
}

#: task name (as in agents.benchmark.TASKS) -> its baselines
BASELINES: dict[str, dict[str, Callable[[Any], Any]]] = {
    "execution": EXECUTION_BASELINES,
    "market-making": MARKET_MAKING_BASELINES,
}
