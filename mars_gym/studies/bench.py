"""Environment throughput: env steps and generated orders per second by number of envs.

Each run makes the native vector env with ``gym.make_vec`` (in this process, or split over
``workers`` processes), resets it, and times vector steps for ``seconds`` in which every
environment takes the same action (by default a TWAP-paced passive child order in
MarS-Execution-v0). The first reset is not timed. Generated orders are counted from the
observations, which report the order flow of every step.

:func:`compare_setups` times several setups (LMM checkpoint, engine, decoder) in alternation,
so that their speed ratios come from one run on the same (noisy) machine.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from mars_gym.envs.core import OBSERVATION_FIELDS, ORDER_COUNT_FIELDS
from mars_gym.simulator import SimulatorConfig

__all__ = ["Setup", "compare_setups", "env_throughput"]

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
    run by ``workers`` processes (at most ``num_envs``). Without ``progress`` the resets'
    warm-up shows no progress bar either."""
    if not progress:
        kwargs.setdefault("progress", False)
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


class Setup(NamedTuple):
    """What a timed run generates its markets with: the LMM checkpoint (None: the packaged
    default), the engine and the decoder (:class:`mars_gym.simulator.SimulatorConfig`)."""

    checkpoint: str | None = None
    engine: str = SimulatorConfig.engine
    decoder: str = SimulatorConfig.decoder

    @property
    def label(self) -> str:
        """``checkpoint engine decoder``, the packaged default's checkpoint as "packaged"."""
        return f"{self.checkpoint or 'packaged'} {self.engine} {self.decoder}"

    def env_kwargs(self) -> dict[str, Any]:
        """The environment's keyword arguments for this setup."""
        kwargs: dict[str, Any] = {"engine": self.engine, "decoder": self.decoder}
        if self.checkpoint is not None:
            kwargs["checkpoint"] = self.checkpoint
        return kwargs


def compare_setups(
    setups: list[Setup],
    num_envs: tuple[int, ...] = (64, 256),
    seconds: float = 5.0,
    rounds: int = 3,
    progress: bool = False,
    workers: int = 1,
    device: str = "cpu",
) -> dict:
    """Env steps/s of each setup, timed in alternation, the model on ``device``.

    Every round times each number of environments once per setup, one setup after the
    other, so a slow spell of the machine touches them alike. Each setup's speed is then set
    against the first one's run of the same round and size (a paired ratio); the summary
    gives the mean ratio and its range over rounds.

    Returns:
        ``{"runs": [...], "summary": [...]}``: every timed run (with its ``setup`` label,
        ``checkpoint``, ``engine``, ``decoder`` and ``round``), and per setup and number of
        environments the mean env steps/s, orders per env step and the ratio to the first
        setup.
    """
    if not setups:
        raise ValueError("need at least one setup to time")
    if len(set(setups)) != len(setups):
        raise ValueError(f"setups must differ, got {[s.label for s in setups]}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    plan = [(r, n, c) for r in range(rounds) for n in num_envs for c in range(len(setups))]
    if progress:
        from tqdm import tqdm

        plan = tqdm(plan, desc="compare setups", unit="run")
    runs = []
    by_cell: dict[tuple[int, int], list[dict]] = {}  # (num_envs, setup) -> its rounds
    for r, n, c in plan:
        setup = setups[c]
        (run,) = env_throughput(
            num_envs=(n,), seconds=seconds, workers=workers, device=device, **setup.env_kwargs()
        )
        run = {
            **run,
            "setup": setup.label,
            "checkpoint": setup.checkpoint or "packaged",
            "engine": setup.engine,
            "decoder": setup.decoder,
            "round": r,
        }
        runs.append(run)
        by_cell.setdefault((n, c), []).append(run)
    summary = []
    for n in num_envs:
        first = np.array([x["env_steps_per_second"] for x in by_cell[n, 0]])
        for c, setup in enumerate(setups):
            mine = by_cell[n, c]
            speed = np.array([x["env_steps_per_second"] for x in mine])
            ratios = speed / first
            summary.append(
                {
                    "setup": setup.label,
                    "num_envs": n,
                    "env_steps_per_second": float(speed.mean()),
                    "orders_per_env_step": float(np.mean([x["orders_per_env_step"] for x in mine])),
                    "ratio_to_first": float(ratios.mean()),
                    "ratio_range": [float(ratios.min()), float(ratios.max())],
                }
            )
    return {"runs": runs, "summary": summary}
