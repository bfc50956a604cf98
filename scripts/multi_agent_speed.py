"""Env steps/s of the multi-agent market with 2 and 4 agents, many markets in one process.

The batched form (:class:`mars_gym.envs.multi_agent.MarketParallelVectorEnv`, one model
call per generated order for all markets) is timed over ``--seconds`` of wall-clock time
after its reset. Every agent acts at every step with a fixed action that sends orders:
execution agents a passive child order at TWAP's pace (which also cancels the previous
child), market makers a one-lot quote on each side at the mid (replacing the last ones).
An env step is one decision of one market (all its agents acting), as ``mars-gym bench``
counts them; the figures also give the generated orders per env step:

    python scripts/multi_agent_speed.py [--num-envs 64] [--agents 2 4] [--seconds 15]
        [--checkpoint default] [--out FILE]
"""

from __future__ import annotations

import argparse
import time

import torch

from lmm.results import write_json
from mars_gym.envs.multi_agent import AgentSpec, MarketParallelVectorEnv

HORIZON = 600  # decisions: no agent finishes while it is timed
#: the agents of each count: a buyer and a maker, then a seller and a second maker
AGENTS = (
    AgentSpec("buyer", "execution", {"side": "buy", "quantity": 20_000, "horizon": HORIZON}),
    AgentSpec("maker", "market_making", {"horizon": HORIZON}),
    AgentSpec("seller", "execution", {"side": "sell", "quantity": 20_000, "horizon": HORIZON}),
    AgentSpec("maker_2", "market_making", {"horizon": HORIZON}),
)
#: the action of each role: a TWAP-paced passive child; one lot each side at the mid
ACTIONS = {"execution": (4, 0), "market_making": (0, 0, 1, 1)}


def time_agents(n_agents: int, num_envs: int, seconds: float, checkpoint: str) -> dict:
    """Env steps/s and generated orders per env step of ``num_envs`` markets with the
    first ``n_agents`` of :data:`AGENTS`."""
    agents = AGENTS[:n_agents]
    env = MarketParallelVectorEnv(num_envs, agents=agents, checkpoint=checkpoint)
    env.reset(seed=0)
    actions = {a.name: [ACTIONS[a.role]] * num_envs for a in agents}
    env.step(actions)  # one step before timing
    sim = env.runner.sim
    orders_before, steps = sim.orders_generated, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions)
        steps += 1
    elapsed = time.perf_counter() - start
    return {
        "agents": [a.name for a in agents],
        "num_envs": num_envs,
        "vector_steps": steps,
        "seconds": elapsed,
        "env_steps_per_second": steps * num_envs / elapsed,
        "generated_orders_per_env_step": (sim.orders_generated - orders_before)
        / (steps * num_envs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-envs", type=int, default=64, help="markets in the batch")
    parser.add_argument(
        "--agents", type=int, nargs="+", default=[2, 4], help="agent counts to time (1 to 4)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="timing per agent count")
    parser.add_argument(
        "--checkpoint", default="default", help="LMM checkpoint: default, fast or a folder"
    )
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args()
    for n in args.agents:
        if not 1 <= n <= len(AGENTS):
            parser.error(f"--agents must be between 1 and {len(AGENTS)}, got {n}")
    results = []
    for n in args.agents:
        r = time_agents(n, args.num_envs, args.seconds, args.checkpoint)
        results.append(r)
        print(
            f"{n} agents, {r['num_envs']} markets: {r['env_steps_per_second']:.1f} env steps/s, "
            f"{r['generated_orders_per_env_step']:.1f} generated orders per env step"
        )
    if args.out:
        write_json(
            args.out,
            {
                "torch_threads": torch.get_num_threads(),
                "checkpoint": args.checkpoint,
                "runs": results,
            },
        )


if __name__ == "__main__":
    main()
