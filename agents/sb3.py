"""Stable-Baselines3 on the native MarS vector environments.

SB3 has its own ``VecEnv`` interface: ``done`` flags, a list of info dicts, the final
observation of a finished episode in ``info["terminal_observation"]`` and the time-limit
flag in ``info["TimeLimit.truncated"]``. :class:`SB3VecEnv` presents a native
:class:`mars_gym.envs.core.TradingVectorEnv` (in SAME_STEP autoreset mode, which is SB3's)
that way, so SB3 algorithms train on it directly, with the model batched across all
environments (or a :class:`mars_gym.envs.sharded.ShardedVectorEnv` of them, made with
``workers=k``). It lives here rather than in ``mars_gym``, which never imports SB3.
:class:`BatchedVecEnv` and :func:`sb3_info` are what it shares with the adapter of the
multi-agent market (:mod:`agents.multi_agent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvStepReturn

from mars_gym.envs.core import TradingVectorEnv, sub_env_info
from mars_gym.envs.sharded import ShardedVectorEnv

__all__ = ["BatchedVecEnv", "SB3VecEnv", "make_sb3_vec_env", "sb3_info"]


def sb3_info(
    info: dict[str, Any], terminated: bool, truncated: bool, final_obs: np.ndarray | None
) -> dict[str, Any]:
    """One environment's step info as SB3 reads it: ``info`` (for an episode that ended,
    its last step's), with the episode's last observation as ``terminal_observation``
    when it ended and the time-limit flag ``TimeLimit.truncated``."""
    entry = dict(info)
    if terminated or truncated:
        entry["terminal_observation"] = final_obs
    entry["TimeLimit.truncated"] = bool(truncated and not terminated)
    return entry


class BatchedVecEnv(VecEnv):
    """What SB3's ``VecEnv`` asks of an adapter over one batched environment ``venv``,
    whose markets have no attributes or methods of their own: subclasses say how to
    ``reset`` and ``step_wait`` (taking the actions with :meth:`take_actions`)."""

    def __init__(self, venv: Any, observation_space: Any, action_space: Any) -> None:
        self.venv = venv  # before VecEnv.__init__, which asks get_attr for the render mode
        super().__init__(venv.num_envs, observation_space, action_space)
        self._actions: np.ndarray | None = None

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def take_actions(self) -> np.ndarray:
        """The actions ``step_async`` was given, once; a RuntimeError without them."""
        if self._actions is None:
            raise RuntimeError("step_async must come before step_wait")
        actions, self._actions = self._actions, None
        return actions

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError("the sub-environments of a native vector env have no own attributes")

    def env_method(
        self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any
    ) -> list[Any]:
        raise AttributeError(f"native vector envs have no per-environment method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


class SB3VecEnv(BatchedVecEnv):
    """SB3's ``VecEnv`` over a native MarS vector environment."""

    def __init__(self, venv: TradingVectorEnv | ShardedVectorEnv) -> None:
        if venv.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                "SB3VecEnv needs a vector env in SAME_STEP autoreset mode, "
                f"got {venv.autoreset_mode.value}"
            )
        super().__init__(venv, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        obs, _ = self.venv.reset(seed=list(self._seeds))
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self.take_actions())
        infos = []
        for i in range(self.num_envs):
            done = terminated[i] or truncated[i]
            entry = sub_env_info(info["final_info"] if done else info, i)
            final = info["final_obs"][i] if done else None
            infos.append(sb3_info(entry, bool(terminated[i]), bool(truncated[i]), final))
        return obs, rewards.astype(np.float32), terminated | truncated, infos


def make_sb3_vec_env(
    env_id: str, num_envs: int, seed: int | None = None, **kwargs: Any
) -> SB3VecEnv:
    """``gym.make_vec(env_id, num_envs)`` (native, SAME_STEP) wrapped for SB3; keyword
    arguments go to the environment (``workers=k`` splits it over ``k`` processes)."""
    venv = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        autoreset_mode=AutoresetMode.SAME_STEP,
        **kwargs,
    )
    env = SB3VecEnv(venv.unwrapped if hasattr(venv, "unwrapped") else venv)
    if seed is not None:
        env.seed(seed)
    return env
