"""Behaviour cloning gives PPO a baseline's behaviour as its starting point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

from agents.baselines import AvellanedaStoikov
from agents.imitation import clone_baseline, collect_demonstrations
from agents.sb3 import make_sb3_vec_env
from agents.trained import ObsNormalizer, normalizer_path


def _env(checkpoint: Path, horizon: int = 6) -> VecNormalize:
    venv = make_sb3_vec_env(
        "MarS-MarketMaking-v0", 2, seed=0, checkpoint=str(checkpoint), horizon=horizon
    )
    return VecNormalize(VecMonitor(venv), gamma=0.9)


def test_demonstrations_discount_rewards_within_episodes(tiny_checkpoint_dir: Path) -> None:
    env = _env(tiny_checkpoint_dir, horizon=4)
    demos = collect_demonstrations(env, AvellanedaStoikov, steps=10, gamma=0.9)
    assert demos.obs.shape[:2] == demos.actions.shape[:2] == demos.returns.shape == (10, 2)
    assert (demos.actions[:, :, 2:] == 1).all()  # the baseline's one lot per side
    # episodes of 4 steps end at steps 3 and 7 (the env resets itself)
    assert demos.dones.any(axis=1).nonzero()[0].tolist() == [3, 7]
    for t in range(9):
        chained = demos.rewards[t] + 0.9 * demos.returns[t + 1] * ~demos.dones[t]
        np.testing.assert_allclose(demos.returns[t], chained)
    # nothing leaks across an episode's end; the last step counts its own reward only
    np.testing.assert_allclose(demos.returns[3], demos.rewards[3])
    np.testing.assert_allclose(demos.returns[9], demos.rewards[9])
    assert (demos.rewards != 0).any()


def test_cloning_makes_the_policy_act_as_the_baseline(tiny_checkpoint_dir: Path) -> None:
    env = _env(tiny_checkpoint_dir)
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=0, device="cpu")
    before = clone_baseline(model, env, AvellanedaStoikov, steps=12, epochs=0)
    after = clone_baseline(model, env, AvellanedaStoikov, steps=12, epochs=60, batch_size=8)
    assert before.agreement < 0.5 < 0.95 <= after.agreement
    assert after.bits_per_action < before.bits_per_action
    assert after.samples == 24


def test_train_ppo_clones_first_and_checkpoints_the_clone(
    tiny_ppo_flags: list[str], tmp_path: Path
) -> None:
    from agents.train_ppo import main

    main(
        ["--task", "market-making", "--total-timesteps", "32", "--imitate", "avellaneda_stoikov",
         "--imitation-steps", "8", "--imitation-epochs", "1", "--save-every", "32",
         "--out", str(tmp_path / "ppo"), *tiny_ppo_flags]
    )  # fmt: skip
    checkpoints = sorted(p.name for p in (tmp_path / "ppo" / "checkpoints").glob("*.zip"))
    assert checkpoints == ["ppo_0_steps.zip", "ppo_32_steps.zip"]
    for name in checkpoints:  # each plays as the final model does
        path = tmp_path / "ppo" / "checkpoints" / name
        assert len(ObsNormalizer.load(normalizer_path(path)).mean) == 54


def test_imitate_names_a_baseline_of_the_task() -> None:
    from agents.train_ppo import Args

    with pytest.raises(ValueError, match="imitate must be a market-making baseline"):
        Args(task="market-making", imitate="twap_passive")
