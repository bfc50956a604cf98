"""One agent of the multi-agent market trained with Stable-Baselines3, the others fixed.

:class:`LearnerVecEnv` presents one agent (the *learner*) of a
:class:`mars_gym.envs.multi_agent.MarketParallelVectorEnv` to SB3 as a ``VecEnv``: its
observations, rewards and episode ends, one row per market, while every other agent
follows a fixed policy (a factory of :mod:`agents.baselines`, a trained model through
:func:`agents.trained.sb3_policy`, or None for an agent that sends no order). All markets
advance together, one batched model call per generated order, as in the native
single-agent vector envs (:mod:`agents.sb3`, whose pieces it shares).

The learner's episode is the market's: the vector env runs with ``ends_with=learner`` (the
others are truncated when the learner ends) in SAME_STEP autoreset mode, so every step
has an observation of the learner in every market. :func:`play_markets` plays every agent
with a fixed policy on given seeds, one episode per seed, for evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from agents.sb3 import BatchedVecEnv, sb3_info
from mars_gym.envs.core import OBSERVATION_FIELDS, Task
from mars_gym.envs.multi_agent import AgentSpec, MarketParallelVectorEnv, agent_specs

__all__ = ["LearnerVecEnv", "PolicyFactory", "make_learner_vec_env", "play_markets"]

#: A policy factory: the agent's task -> an object with ``reset()`` and ``__call__(obs)
#: -> action`` (the league's policies, :mod:`agents.baselines`).
PolicyFactory = Callable[[Task], Any]

_TRADED = [OBSERVATION_FIELDS.index("bought_shares"), OBSERVATION_FIELDS.index("sold_shares")]


class _FixedAgents:
    """Every agent of ``venv`` but the ``learner`` acting by its fixed policy, one policy
    instance per market (policies may keep state within an episode); None: the all-zero
    action, which for every role sends no order."""

    def __init__(
        self,
        venv: MarketParallelVectorEnv,
        policies: Mapping[str, PolicyFactory | None],
        learner: str | None,
    ) -> None:
        others = [name for name in venv.possible_agents if name != learner]
        unknown = sorted(set(policies) - set(others))
        if unknown:
            raise ValueError(
                f"policies name {unknown}, which are not fixed agents of the market; "
                f"fixed agents: {others}"
            )
        missing = [name for name in others if name not in policies]
        if missing:
            raise ValueError(
                f"policies has no entry for {missing}: give each a policy factory, or None "
                "for an agent that sends no order"
            )
        tasks = venv.tasks
        self.venv = venv
        self.policies = {
            name: None
            if policies[name] is None
            else [policies[name](tasks[name]) for _ in range(venv.num_envs)]
            for name in others
        }

    def reset(self, rows: Sequence[int]) -> None:
        """The policies of markets ``rows`` start an episode."""
        for row_policies in self.policies.values():
            if row_policies is not None:
                for k in rows:
                    row_policies[k].reset()

    def actions(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Each fixed agent's actions, one row per market, from its latest observations
        (zeros where it does not act)."""
        out = {}
        for name, row_policies in self.policies.items():
            space = self.venv.action_spaces[name]
            actions = np.zeros((self.venv.num_envs, *space.shape), dtype=space.dtype)
            if row_policies is not None:
                for k in np.flatnonzero(self.venv.active[name]):
                    actions[k] = row_policies[k](obs[name][k])
            out[name] = actions
        return out


class LearnerVecEnv(BatchedVecEnv):
    """SB3's ``VecEnv`` for the agent ``learner`` of ``venv``, the others following
    ``policies`` (agent name -> policy factory, or None for no orders; one entry for every
    agent but the learner).

    Raises:
        ValueError: ``learner`` is not an agent of ``venv``; ``venv`` does not run in
            SAME_STEP mode with ``ends_with=learner``; ``policies`` misses an agent or
            names one that is not a fixed agent.
    """

    def __init__(
        self,
        venv: MarketParallelVectorEnv,
        learner: str,
        policies: Mapping[str, PolicyFactory | None],
    ) -> None:
        if learner not in venv.possible_agents:
            raise ValueError(f"learner must be one of {venv.possible_agents}, got {learner!r}")
        if venv.autoreset_mode != AutoresetMode.SAME_STEP or venv.ends_with != learner:
            raise ValueError(
                f"LearnerVecEnv needs a vector env in SAME_STEP autoreset mode with "
                f"ends_with={learner!r}, got {venv.autoreset_mode.value} and "
                f"ends_with={venv.ends_with!r}"
            )
        self.fixed = _FixedAgents(venv, policies, learner)
        super().__init__(venv, venv.observation_spaces[learner], venv.action_spaces[learner])
        self.learner = learner
        self._obs: dict[str, np.ndarray] = {}

    def reset(self) -> np.ndarray:
        self._obs, _ = self.venv.reset(seed=list(self._seeds))
        self.fixed.reset(range(self.num_envs))
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return self._obs[self.learner].copy()

    def step_wait(self) -> VecEnvStepReturn:
        actions = {self.learner: self.take_actions(), **self.fixed.actions(self._obs)}
        self._obs, rewards, terminated, truncated, infos = self.venv.step(actions)
        name = self.learner
        dones = terminated[name] | truncated[name]  # the market's episode ended: a new one began
        self.fixed.reset(np.flatnonzero(dones).tolist())
        out = []
        for k in range(self.num_envs):
            info = dict(infos[name][k])
            final = info.pop("final_obs", None)
            out.append(sb3_info(info, bool(terminated[name][k]), bool(truncated[name][k]), final))
        return self._obs[name].copy(), rewards[name].astype(np.float32), dones, out


def make_learner_vec_env(
    num_envs: int,
    agents: Sequence[AgentSpec | Mapping[str, Any]],
    learner: str,
    policies: Mapping[str, PolicyFactory | None],
    seed: int | None = None,
    **simulator: Any,
) -> LearnerVecEnv:
    """``num_envs`` markets with ``agents`` in each, SB3's view of the agent ``learner``
    (:class:`LearnerVecEnv`); ``seed`` seeds market ``k`` with ``seed + k`` at the first
    reset; keyword arguments are :class:`~mars_gym.simulator.SimulatorConfig` fields."""
    names = [spec.name for spec in agent_specs(agents)]
    if learner not in names:
        raise ValueError(f"learner must be one of the agents {names}, got {learner!r}")
    venv = MarketParallelVectorEnv(
        num_envs, agents, ends_with=learner, autoreset_mode=AutoresetMode.SAME_STEP, **simulator
    )
    env = LearnerVecEnv(venv, learner, policies)
    if seed is not None:
        env.seed(seed)
    return env


def play_markets(
    agents: Sequence[AgentSpec | Mapping[str, Any]],
    policies: Mapping[str, PolicyFactory | None],
    seeds: Sequence[int],
    batch: int = 64,
    ends_with: str | None = None,
    **simulator: Any,
) -> list[dict[str, dict[str, Any]]]:
    """One episode per seed of a market with ``agents``, each following its policy in
    ``policies`` (one entry per agent), ``batch`` markets at a time in one
    :class:`MarketParallelVectorEnv`; market seed ``s`` is the one
    :class:`~mars_gym.envs.multi_agent.MarketParallelEnv` plays after ``reset(seed=s)``.

    Returns, per seed, per agent: its last info (floats), ``return``, ``length`` (its
    decisions), ``mean_abs_inventory`` (shares, over its decisions, when its info reports
    the inventory) and ``seen_volume``: the shares traded in the market during its episode
    as its observations count them (every trade but those it sent as the aggressor).
    """
    out: list[dict[str, dict[str, Any]]] = []
    for start in range(0, len(seeds), batch):
        chunk = list(seeds[start : start + batch])
        venv = MarketParallelVectorEnv(len(chunk), agents, ends_with=ends_with, **simulator)
        fixed = _FixedAgents(venv, policies, None)
        obs, _ = venv.reset(seed=chunk)
        fixed.reset(range(len(chunk)))
        names = venv.possible_agents
        sums = {
            name: {f: np.zeros(len(chunk)) for f in ("return", "length", "inventory", "volume")}
            for name in names
        }
        results: list[dict[str, dict[str, Any]]] = [{} for _ in chunk]
        first = np.ones(len(chunk), dtype=bool)  # still in its first episode
        while first.any():
            acting = {name: venv.active[name] & first for name in names}
            obs, rewards, terminated, truncated, infos = venv.step(fixed.actions(obs))
            for name in names:
                s = sums[name]
                for k in np.flatnonzero(acting[name]):
                    info = infos[name][k]
                    s["return"][k] += rewards[name][k]
                    s["length"][k] += 1
                    s["inventory"][k] += abs(float(info.get("inventory", 0.0)))
                    s["volume"][k] += float(obs[name][k][_TRADED].sum())
                    if terminated[name][k] or truncated[name][k]:
                        length = int(s["length"][k])
                        results[k][name] = {
                            **{key: float(v) for key, v in info.items()},
                            "return": float(s["return"][k]),
                            "length": length,
                            "seen_volume": float(s["volume"][k]),
                            "terminated": bool(terminated[name][k]),
                            "truncated": bool(truncated[name][k]),
                            "seed": chunk[k],
                        }
                        if "inventory" in info:
                            results[k][name]["mean_abs_inventory"] = s["inventory"][k] / length
            first &= np.array([len(r) < len(names) for r in results])
        venv.close()
        out.extend(results)
    return out
