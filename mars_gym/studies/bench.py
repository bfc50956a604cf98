"""Environment throughput: env steps and generated orders per second by number of envs.

Each run makes the native vector env with ``gym.make_vec`` (in this process, or split over
``workers`` processes), resets it, and times vector steps for ``seconds`` in which every
environment takes the same action (by default a TWAP-paced passive child order in
MarS-Execution-v0). The first reset is not timed. Generated orders are counted from the
observations, which report the order flow of every step.

:func:`compare_checkpoints` times several LMM checkpoints in alternation, so that their
speed ratios come from one run on the same (noisy) machine.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from mars_gym.envs.core import OBSERVATION_FIELDS, ORDER_COUNT_FIELDS

__all__ = ["compare_checkpoints", "env_throughput"]

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


def compare_checkpoints(
    checkpoints: list[str | None],
    num_envs: tuple[int, ...] = (64, 256),
    seconds: float = 5.0,
    rounds: int = 3,
    progress: bool = False,
    workers: int = 1,
    device: str = "cpu",
) -> dict:
    """Env steps/s of each checkpoint (None: the packaged one), timed in alternation, the
    model on ``device``.

    Every round times each number of environments once per checkpoint, one checkpoint
    after the other, so a slow spell of the machine touches them alike. Each checkpoint's
    speed is then set against the first one's run of the same round and size (a paired
    ratio); the summary gives the mean ratio and its range over rounds.

    Returns:
        ``{"runs": [...], "summary": [...]}``: every timed run (with its ``checkpoint`` and
        ``round``), and per checkpoint and number of environments the mean env steps/s,
        orders per env step and the ratio to the first checkpoint.
    """
    if not checkpoints:
        raise ValueError("need at least one checkpoint to time")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    plan = [(r, n, c) for r in range(rounds) for n in num_envs for c in range(len(checkpoints))]
    if progress:
        from tqdm import tqdm

        plan = tqdm(plan, desc="compare checkpoints", unit="run")
    runs = []
    by_cell: dict[tuple[int, int], list[dict]] = {}  # (num_envs, checkpoint) -> its rounds
    for r, n, c in plan:
        path = checkpoints[c]
        kwargs = {"device": device}
        if path is not None:
            kwargs["checkpoint"] = str(path)
        (run,) = env_throughput(num_envs=(n,), seconds=seconds, workers=workers, **kwargs)
        run = {**run, "checkpoint": "packaged" if path is None else str(path), "round": r}
        runs.append(run)
        by_cell.setdefault((n, c), []).append(run)
    summary = []
    for n in num_envs:
        first = np.array([x["env_steps_per_second"] for x in by_cell[n, 0]])
        for c in range(len(checkpoints)):
            mine = by_cell[n, c]
            speed = np.array([x["env_steps_per_second"] for x in mine])
            ratios = speed / first
            summary.append(
                {
                    "checkpoint": mine[0]["checkpoint"],
                    "num_envs": n,
                    "env_steps_per_second": float(speed.mean()),
                    "orders_per_env_step": float(np.mean([x["orders_per_env_step"] for x in mine])),
                    "ratio_to_first": float(ratios.mean()),
                    "ratio_range": [float(ratios.min()), float(ratios.max())],
                }
            )
    return {"runs": runs, "summary": summary}
