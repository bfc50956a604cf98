"""Trained agents as league policies: Stable-Baselines3 models, shipped or the user's own.

The package ships the PPO agents that ``python -m agents.train_ppo`` trained (in
``agents/trained/<task>_ppo.zip``); :func:`trained_policies` offers them to the strategy
benchmark next to the baselines, so the main job needs no training. Any other SB3 model
file plays through :func:`sb3_policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO

__all__ = ["TRAINED_DIR", "SB3Policy", "sb3_policy", "trained_path", "trained_policies"]

#: Where the shipped agents live, one ``<task>_ppo.zip`` per task.
TRAINED_DIR = Path(__file__).parent / "trained"


class SB3Policy:
    """A trained SB3 model acting deterministically on one environment's observations."""

    def __init__(self, model: PPO) -> None:
        self.model = model

    def reset(self) -> None:
        """Nothing to forget between episodes: the policy is a function of the observation."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action)


@cache
def _load(path: Path) -> PPO:
    if not path.is_file():
        raise FileNotFoundError(f"no SB3 model at {path}")
    try:
        return PPO.load(path, device="cpu")
    except Exception as exc:  # SB3 raises many kinds on a file that is not its zip
        raise ValueError(f"{path} is not a Stable-Baselines3 PPO model: {exc}") from exc


def sb3_policy(path: str | Path) -> Callable[[Any], SB3Policy]:
    """A league policy factory (task -> policy) playing the PPO model saved at ``path``.

    The model is loaded once and shared by every environment. Its observation and action
    spaces must be the task's: a model trained on another task is refused by name.
    """
    path = Path(path)

    def factory(task: Any) -> SB3Policy:
        model = _load(path)
        if model.action_space != task.action_space:
            raise ValueError(
                f"{path} acts in {model.action_space}, but {type(task).__name__} needs "
                f"{task.action_space}: it was trained on another task or configuration"
            )
        return SB3Policy(model)

    return factory


def trained_path(task: str) -> Path:
    """Where the shipped PPO agent for ``task`` ("execution" or "market-making") lives."""
    return TRAINED_DIR / f"{task.replace('-', '_')}_ppo.zip"


def trained_policies(task: str) -> dict[str, Callable[[Any], SB3Policy]]:
    """The shipped agents for ``task``, by league name (none if not shipped)."""
    path = trained_path(task)
    return {"ppo": sb3_policy(path)} if path.is_file() else {}
