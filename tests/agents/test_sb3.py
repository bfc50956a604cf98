"""SB3 on the native vector env behaves exactly like SB3's DummyVecEnv over single envs."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

import mars_gym
from agents.sb3 import SB3VecEnv, make_sb3_vec_env

KW = {"warmup_orders": 30}
SHORT = {
    "MarS-v0": {"horizon": 6},
    "MarS-Execution-v0": {"horizon": 5, "quantity": 500},
    "MarS-MarketMaking-v0": {"horizon": 6},
}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_native_adapter_equals_dummy_vec_env(
    env_id: str, workers: int, tiny_checkpoint_dir: Path
) -> None:
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), **KW, **SHORT[env_id]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns when it cannot read the render mode
        native = make_sb3_vec_env(env_id, 3, seed=7, workers=workers, **kwargs)
    dummy = DummyVecEnv([lambda: gym.make(env_id, **kwargs) for _ in range(3)])
    assert native.render_mode is dummy.render_mode is None
    dummy.seed(7)
    np.testing.assert_array_equal(native.reset(), dummy.reset())
    native.action_space.seed(1)
    finished = 0
    for _ in range(14):
        actions = np.stack([native.action_space.sample() for _ in range(3)])
        o1, r1, d1, i1 = native.step(actions)
        o2, r2, d2, i2 = dummy.step(actions)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        for a, b in zip(i1, i2, strict=True):
            assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
            assert ("terminal_observation" in a) == ("terminal_observation" in b)
            if "terminal_observation" in a:
                np.testing.assert_array_equal(a["terminal_observation"], b["terminal_observation"])
                finished += 1
    assert finished >= 3  # episodes ended and were reset within the test
    native.close()


def test_ppo_learns_on_the_native_vector_env(tiny_checkpoint_dir: Path) -> None:
    env = make_sb3_vec_env(
        "MarS-Execution-v0",
        4,
        seed=0,
        checkpoint=str(tiny_checkpoint_dir),
        **KW,
        horizon=5,
        quantity=500,
    )
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=64)
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (4, 2)


def test_vec_monitor_reads_episode_figures_from_the_native_final_infos(
    tiny_checkpoint_dir: Path,
) -> None:
    """What ``agents.train_ppo`` logs per episode: VecMonitor over the adapter gives SB3 an
    ``info["episode"]`` with the return, the length and the task's own final figure."""
    env = VecMonitor(
        make_sb3_vec_env(
            "MarS-Execution-v0", 2, seed=0, checkpoint=str(tiny_checkpoint_dir), **KW,
            horizon=5, quantity=500,
        ),
        info_keywords=("shortfall_bp",),
    )  # fmt: skip
    env.reset()
    returns = np.zeros(2)
    episodes = []
    for _ in range(5):  # never trading: every episode ends at the horizon, forced
        _, rewards, dones, infos = env.step(np.zeros((2, 2), dtype=np.int64))
        returns += rewards
        episodes += [info["episode"] for info in infos if "episode" in info]
    assert dones.all() and len(episodes) == 2
    for episode, total in zip(episodes, returns, strict=True):
        assert episode["l"] == 5
        assert episode["r"] == pytest.approx(total, abs=1e-5)
        assert episode["shortfall_bp"] == pytest.approx(-total, abs=1e-4)
    env.close()


def test_adapter_refuses_next_step_mode(tiny_checkpoint_dir: Path) -> None:
    venv = gym.make_vec(
        "MarS-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        checkpoint=str(tiny_checkpoint_dir),
        **KW,
    )
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(venv)
