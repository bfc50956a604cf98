"""Environment throughput: env steps and generated orders per second by number of envs.

Each run makes the native vector env with ``gym.make_vec``, resets it, and times
``steps`` vector steps in which every environment takes the same action (by default a
TWAP-paced passive child order in MarS-Execution-v0). Resets are not timed.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["env_throughput"]


def env_throughput(
    env_id: str = "MarS-Execution-v0",
    num_envs: tuple[int, ...] = (1, 16, 64, 256),
    seconds: float = 5.0,
    action: Any = (4, 0),
    seed: int = 0,
    progress: bool = False,
    **kwargs: Any,
) -> list[dict]:
    """Env steps/s and generated orders/s of the native vector env for each ``num_envs``."""
    runs = list(num_envs)
    if progress:
        from tqdm import tqdm

        runs = tqdm(runs, desc=f"bench {env_id}", unit="run")
    out = []
    for n in runs:
        env = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
        env.reset(seed=seed)
        actions = np.tile(np.asarray(action), (n, 1))
        sim = env.unwrapped.runner.sim
        orders0, steps, start = sim.orders_generated, 0, time.perf_counter()
        while time.perf_counter() - start < seconds or steps < 2:
            env.step(actions)
            steps += 1
        elapsed = time.perf_counter() - start
        out.append(
            {
                "num_envs": n,
                "vector_steps": steps,
                "env_steps_per_second": n * steps / elapsed,
                "orders_per_second": (sim.orders_generated - orders0) / elapsed,
                "orders_per_env_step": (sim.orders_generated - orders0) / (n * steps),
            }
        )
        env.close()
    return out
