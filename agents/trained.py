"""Trained agents as league policies: Stable-Baselines3 models, shipped or the user's own.

The package ships the PPO agents that ``python -m agents.train_ppo`` trained (in
``agents/trained/<task>_ppo.zip``); :func:`trained_policies` offers them to the strategy
benchmark next to the baselines, so the main job needs no training. Any other SB3 model
file plays through :func:`sb3_policy`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

__all__ = [
    "TRAINED_DIR",
    "ObsNormalizer",
    "SB3Policy",
    "normalizer_path",
    "sb3_policy",
    "trained_path",
    "trained_policies",
]

#: Where the shipped agents live, one ``<task>_ppo.zip`` per task.
TRAINED_DIR = Path(__file__).parent / "trained"


@dataclass(frozen=True)
class ObsNormalizer:
    """The observation scaling a model was trained with (SB3's ``VecNormalize``):
    ``clip((obs - mean) / sqrt(var + epsilon), -clip, clip)``. Saved as JSON beside the
    model (``<model>.obs.json``), so no pickle is needed to play it."""

    mean: tuple[float, ...]
    var: tuple[float, ...]
    clip: float
    epsilon: float

    @classmethod
    def from_vec_normalize(cls, venv: VecNormalize) -> ObsNormalizer:
        """The statistics ``venv`` has gathered."""
        rms = venv.obs_rms
        return cls(tuple(rms.mean.tolist()), tuple(rms.var.tolist()), venv.clip_obs, venv.epsilon)

    @classmethod
    def load(cls, path: Path) -> ObsNormalizer:
        """Read a saved normaliser; a malformed file is a ValueError naming it."""
        try:
            d = json.loads(path.read_text())
            out = cls(tuple(d["mean"]), tuple(d["var"]), float(d["clip"]), float(d["epsilon"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not an observation normaliser: {exc}") from None
        if len(out.mean) != len(out.var) or min(out.var, default=0.0) < 0:
            raise ValueError(f"{path}: mean and var must have one non-negative var per entry")
        return out

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.write_text(json.dumps(asdict(self)) + "\n")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - np.asarray(self.mean)) / np.sqrt(np.asarray(self.var) + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)


def normalizer_path(model_path: Path) -> Path:
    """Where the observation statistics of the model at ``model_path`` are kept."""
    return model_path.with_suffix(".obs.json")


class SB3Policy:
    """A trained SB3 model acting deterministically on one environment's observations."""

    def __init__(self, model: PPO, normalizer: ObsNormalizer | None = None) -> None:
        self.model = model
        self.normalizer = normalizer

    def reset(self) -> None:
        """Nothing to forget between episodes: the policy is a function of the observation."""

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self.normalizer is not None:
            obs = self.normalizer(obs)
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

    The model is loaded once and shared by every environment; observation statistics
    saved beside it (:func:`normalizer_path`) scale its inputs. Its action space must be
    the task's: a model trained on another task is refused by name.
    """
    path = Path(path)

    def factory(task: Any) -> SB3Policy:
        model = _load(path)
        if model.action_space != task.action_space:
            raise ValueError(
                f"{path} acts in {model.action_space}, but {type(task).__name__} needs "
                f"{task.action_space}: it was trained on another task or configuration"
            )
        stats = normalizer_path(path)
        normalizer = ObsNormalizer.load(stats) if stats.is_file() else None
        if normalizer is not None and len(normalizer.mean) != model.observation_space.shape[0]:
            raise ValueError(f"{stats} does not match the observations of {path}")
        return SB3Policy(model, normalizer)

    return factory


def trained_path(task: str) -> Path:
    """Where the shipped PPO agent for ``task`` ("execution" or "market-making") lives."""
    return TRAINED_DIR / f"{task.replace('-', '_')}_ppo.zip"


def trained_policies(task: str) -> dict[str, Callable[[Any], SB3Policy]]:
    """The shipped agents for ``task``, by league name (none if not shipped)."""
    path = trained_path(task)
    return {"ppo": sb3_policy(path)} if path.is_file() else {}
