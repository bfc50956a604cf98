"""Market impact of a buy programme: does the generated market react, beyond the book?

The same seeded markets are run three times: without the programme; with it, the model
seeing the agent's orders in its context; and with it, the model blind to them (the orders
still consume the book, which the model sees only through the book features of later
orders). The mid-price paths, averaged over seeds and measured from each market's start,
separate the mechanical impact (blind run minus baseline) from the reaction of the
generated flow (seeing run minus blind run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmm.data.orderflow import OrderKind
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig

__all__ = ["ImpactResult", "buy_programme_impact"]


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
    paths = {}
    for name, programme, seen in (
        ("baseline", False, True),
        ("seen", True, True),
        ("blind", True, False),
    ):
        cfg = SimulatorConfig(**{**config.__dict__, "agent_in_context": seen})
        sim = MarketSimulator(len(seeds), cfg)
        rows = list(range(len(seeds)))
        sim.reset(rows, seeds)
        mids = [[sim.mid(i) for i in rows]]
        for step in range(programme_steps + after_steps):
            if programme and step < programme_steps:
                for i in rows:
                    sim.submit(i, [AgentOrder(OrderKind.MARKET_BUY, 0, shares_per_step)])
            sim.advance(rows)
            mids.append([sim.mid(i) for i in rows])
        path = np.asarray(mids).T  # (seeds, decisions + 1)
        paths[name] = path - path[:, :1]
    return ImpactResult(
        baseline=paths["baseline"].mean(0),
        seen=paths["seen"].mean(0),
        blind=paths["blind"].mean(0),
        seen_per_seed=paths["seen"] - paths["baseline"],
        blind_per_seed=paths["blind"] - paths["baseline"],
        programme_steps=programme_steps,
    )
