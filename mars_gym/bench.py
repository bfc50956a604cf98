"""Environment throughput: env steps and generated orders per second by number of envs.

Each run makes the native vector env with ``gym.make_vec`` (in this process, or split over
``workers`` processes), resets it, and times vector steps for ``seconds`` in which every
environment takes the same action (by default a TWAP-paced passive child order in
MarS-Execution-v0). The first reset is not timed. Generated orders are counted from the
observations, which report the order flow of every step.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from mars_gym.envs.core import OBSERVATION_FIELDS, ORDER_COUNT_FIELDS

__all__ = ["env_throughput"]

#: Where the observation counts a step's generated orders.
_ORDER_COUNTS = [OBSERVATION_FIELDS.index(name) for name in ORDER_COUNT_FIELDS]


def env_throughput(
    env_id: str = "MarS-Execution-v0",
    num_envs: tuple[int, ...] = (1, 16, 64, 256),
    seconds: float = 5.0,
    action: Any = (4, 0),
    seed: int = 0,
    progress: bool = False,
    workers: int = 1,
    **kwargs: Any,
) -> list[dict]:
    """Env steps/s and generated orders/s of the native vector env for each ``num_envs``,
    run by ``workers`` processes (at most ``num_envs``)."""
    runs = list(num_envs)
    if progress:
        from tqdm import tqdm

        runs = tqdm(runs, desc=f"bench {env_id}", unit="run")
    out = []
    for n in runs:
        env = gym.make_vec(
            env_id,
            num_envs=n,
            vectorization_mode="vector_entry_point",
            workers=min(workers, n),
            **kwargs,
        )
        env.reset(seed=seed)
        actions = np.tile(np.asarray(action), (n, 1))
        orders, steps, start = 0.0, 0, time.perf_counter()
        while time.perf_counter() - start < seconds or steps < 2:
            obs = env.step(actions)[0]
            orders += float(obs[:, _ORDER_COUNTS].sum())
            steps += 1
        elapsed = time.perf_counter() - start
        out.append(
            {
                "num_envs": n,
                "workers": min(workers, n),
                "vector_steps": steps,
                "env_steps_per_second": n * steps / elapsed,
                "orders_per_second": orders / elapsed,
                "orders_per_env_step": orders / (n * steps),
            }
        )
        env.close()
    return out
