"""Market impact of a buy programme: does the generated market react, beyond the book?

The same seeded markets are run three times: without the programme; with it, the model
seeing the agent's orders in its context; and with it, the model blind to them (the orders
still consume the book, which the model sees only through the book features of later
orders). The mid-price paths, averaged over seeds and measured from each market's start,
separate the mechanical impact (blind run minus baseline) from the reaction of the
generated flow (seeing run minus blind run).

:func:`rollout_paths` is the loop behind it, shared with the metaorder study
(:mod:`mars_gym.studies.metaorder`): seeded markets, each with its own programme of agent orders,
advanced together in one batched simulator, with the mid and the traded volume recorded at
every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lmm.data.orderflow import OrderKind
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig

__all__ = [
    "ImpactResult",
    "Rollouts",
    "buy_programme_impact",
    "median_interval",
    "rollout_paths",
]

#: Orders an agent sends at each decision, first decision first (an empty tuple: none).
Programme = Sequence[Sequence[AgentOrder]]


@dataclass(frozen=True)
class Rollouts:
    """What :func:`rollout_paths` recorded, one entry per market.

    Attributes:
        mids: mid price in ticks at the start and after every decision, ``(steps + 1,)``.
        traded: shares traded by generated orders between consecutive decisions,
            ``(steps,)`` (the agent's own market orders are not counted).
        agent_shares: the agent's position in shares at the end of the run.
    """

    mids: list[np.ndarray]
    traded: list[np.ndarray]
    agent_shares: list[int]


def rollout_paths(
    sim: MarketSimulator,
    seeds: Sequence[int],
    programmes: Sequence[Programme],
    steps: Sequence[int],
    progress: bool = False,
) -> Rollouts:
    """Run market ``k`` of ``sim`` from seed ``seeds[k]`` for ``steps[k]`` decisions.

    At decision ``t`` market ``k``'s agent submits ``programmes[k][t]`` (nothing once its
    programme is over). All markets advance in the same batched calls while they run.

    Raises:
        ValueError: if the lengths differ, there are more seeds than markets in ``sim``,
            or a step count is negative.
    """
    n = len(seeds)
    if not n == len(programmes) == len(steps):
        raise ValueError(
            f"seeds, programmes and steps must have one entry per market, got "
            f"{n}, {len(programmes)} and {len(steps)}"
        )
    if n > sim.n:
        raise ValueError(f"{n} seeds but the simulator holds only {sim.n} markets")
    if any(s < 0 for s in steps):
        raise ValueError(f"steps must be >= 0, got {min(steps)}")
    rows = list(range(n))
    sim.reset(rows, list(seeds))
    mids = [[sim.mid(i)] for i in rows]
    traded: list[list[int]] = [[] for _ in rows]
    for t in tqdm(range(max(steps, default=0)), desc="decisions", disable=not progress):
        active = [i for i in rows if t < steps[i]]
        for i in active:
            if t < len(programmes[i]) and programmes[i][t]:
                sim.submit(i, list(programmes[i][t]))
        for i, activity in zip(active, sim.advance(active), strict=True):
            mids[i].append(sim.mid(i))
            traded[i].append(sum(f.size for o in activity.orders for f in o.realized.fills))
    return Rollouts(
        mids=[np.asarray(m) for m in mids],
        traded=[np.asarray(v, dtype=np.int64) for v in traded],
        agent_shares=[sim.inventory(i) for i in rows],
    )


@dataclass
class ImpactResult:
    """Mean mid paths in ticks from the start, one value per decision (index 0 = start)."""

    baseline: np.ndarray
    seen: np.ndarray
    blind: np.ndarray
    seen_per_seed: np.ndarray  # (seeds, decisions + 1) minus baseline, for error bars
    blind_per_seed: np.ndarray
    programme_steps: int

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return {
            "baseline": self.baseline.tolist(),
            "seen": self.seen.tolist(),
            "blind": self.blind.tolist(),
            "programme_steps": self.programme_steps,
        }


def buy_programme_impact(
    seeds: list[int],
    shares_per_step: int = 200,
    programme_steps: int = 30,
    after_steps: int = 30,
    config: SimulatorConfig | None = None,
) -> ImpactResult:
    """Run the three variants over ``seeds`` (one market per seed, batched)."""
    config = config or SimulatorConfig()
    steps = programme_steps + after_steps
    child = [(AgentOrder(OrderKind.MARKET_BUY, 0, shares_per_step),)] * programme_steps
    paths = {}
    for name, programme, seen in (
        ("baseline", [], True),
        ("seen", child, True),
        ("blind", child, False),
    ):
        cfg = SimulatorConfig(**{**config.__dict__, "agent_in_context": seen})
        runs = rollout_paths(
            MarketSimulator(len(seeds), cfg), seeds, [programme] * len(seeds), [steps] * len(seeds)
        )
        path = np.stack(runs.mids)  # (seeds, decisions + 1)
        paths[name] = path - path[:, :1]
    return ImpactResult(
        baseline=paths["baseline"].mean(0),
        seen=paths["seen"].mean(0),
        blind=paths["blind"].mean(0),
        seen_per_seed=paths["seen"] - paths["baseline"],
        blind_per_seed=paths["blind"] - paths["baseline"],
        programme_steps=programme_steps,
    )


def median_interval(x: np.ndarray, draws: int = 4000) -> tuple[float, float]:
    """Bootstrap 95% interval of the median of ``x`` (seeded, so reruns agree).

    Per-market reactions are heavy-tailed (a few markets crash or spike whatever the
    programme), so their mean's interval is wide; the median's is steadier.
    """
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(0)
    medians = np.median(x[rng.integers(0, len(x), (draws, len(x)))], axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return float(low), float(high)
