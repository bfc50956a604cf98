"""Trained SB3 agents play in the league: shipped ones load for their task, wrong files fail."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

from agents.benchmark import TASKS, run_league
from agents.console.main import main
from agents.sb3 import make_sb3_vec_env
from agents.trained import normalizer_path, sb3_policy, trained_path, trained_policies

KW = {"warmup_orders": 20}
SHORT = {"execution": {"horizon": 4, "quantity": 300}, "market-making": {"horizon": 4}}


def _untrained(task: str, checkpoint: Path, path: Path) -> Path:
    env = make_sb3_vec_env(TASKS[task], 2, seed=0, checkpoint=str(checkpoint), **KW, **SHORT[task])
    PPO("MlpPolicy", env, n_steps=8, batch_size=16, seed=0, device="cpu").save(path)
    env.close()
    return path


def _task(task: str, checkpoint: Path, short: bool = True):
    env = gym.make(TASKS[task], checkpoint=str(checkpoint), **KW, **(SHORT[task] if short else {}))
    return env.unwrapped.runner.task


def test_an_sb3_model_plays_in_the_league_deterministically(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    path = _untrained("execution", tiny_checkpoint_dir, tmp_path / "exec.zip")
    policy = sb3_policy(path)(_task("execution", tiny_checkpoint_dir))
    obs = np.linspace(-1, 1, PPO.load(path).observation_space.shape[0]).astype(np.float32)
    np.testing.assert_array_equal(policy(obs), policy(obs))
    league = run_league(
        "execution",
        {"mine": sb3_policy(path)},
        episodes=2,
        progress=False,
        checkpoint=str(tiny_checkpoint_dir),
        **KW,
        **SHORT["execution"],
    )
    assert league.rows()[0]["episodes"] == 2


def test_a_model_of_another_task_or_a_bad_file_is_refused(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    mm = _untrained("market-making", tiny_checkpoint_dir, tmp_path / "mm.zip")
    with pytest.raises(ValueError, match="trained on another task"):
        sb3_policy(mm)(_task("execution", tiny_checkpoint_dir))
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a Stable-Baselines3 PPO model"):
        sb3_policy(junk)(_task("execution", tiny_checkpoint_dir))
    stats = normalizer_path(mm)
    stats.write_text('{"mean": [0.0], "var": [1.0]}')
    with pytest.raises(ValueError, match="not an observation normaliser"):
        sb3_policy(mm)(_task("market-making", tiny_checkpoint_dir))
    with pytest.raises(FileNotFoundError):
        sb3_policy(tmp_path / "missing.zip")(_task("execution", tiny_checkpoint_dir))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_shipped_agents_fit_their_task(task: str, tiny_checkpoint_dir: Path) -> None:
    shipped = trained_policies(task)
    if not shipped:
        pytest.skip(f"no trained agent shipped for {task}")
    env_task = _task(task, tiny_checkpoint_dir, short=False)  # shipped: default settings
    obs = np.zeros(PPO.load(trained_path(task)).observation_space.shape, dtype=np.float32)
    for factory in shipped.values():
        action = factory(env_task)(obs)
        assert env_task.action_space.contains(action.astype(env_task.action_space.dtype))


def test_benchmark_plays_a_saved_zip_given_as_policy(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    """``--policy NAME=PATH.zip`` plays a saved SB3 model (its .obs.json read if there);
    a missing zip is a clear error before any play."""
    model = tmp_path / "mine.zip"  # an untrained PPO of the league's execution task
    env = make_sb3_vec_env(TASKS["execution"], 2, seed=0, checkpoint=str(tiny_checkpoint_dir))
    PPO("MlpPolicy", env, n_steps=8, batch_size=16, seed=0, device="cpu").save(model)
    env.close()
    common = ["benchmark", "--task", "execution", "--episodes", "2", "--batch", "2", "--quiet"]
    common += ["--checkpoint", str(tiny_checkpoint_dir), "--policies", "twap_passive"]
    out = tmp_path / "league.json"
    assert main([*common, "--policy", f"mine={model}", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["policy"] for r in rows} == {"twap_passive", "mine"}
    assert main([*common, "--policy", f"mine={tmp_path / 'none.zip'}"]) == 2
