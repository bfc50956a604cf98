"""SB3's view of one agent of the multi-agent market, the others fixed: what it tells the
learner is what the batched market tells it, step by step; PPO trains on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from stable_baselines3 import PPO

from agents.baselines import TWAP, AvellanedaStoikov
from agents.multi_agent import LearnerVecEnv, make_learner_vec_env, play_markets
from agents.train_ppo import Args, train
from mars_gym.envs.execution import CROSS
from mars_gym.envs.multi_agent import AgentSpec, MarketParallelVectorEnv

FAST = {"warmup_orders": 30}
AGENTS = (
    AgentSpec("buyer", "execution", {"quantity": 600, "horizon": 8}),
    AgentSpec("maker", "market_making", {"horizon": 5}, latency_ms=5),
    AgentSpec("idle", "trading", {"horizon": 9}),
)
POLICIES = {"buyer": lambda task: TWAP(task, CROSS), "idle": None}


def _learner_action(venv_space, k: int, decision: int) -> np.ndarray:
    """The learner's action in market ``k`` at its ``decision``-th decision (over episodes)."""
    u = np.random.default_rng([k, decision]).random(venv_space.shape)
    return (u * venv_space.nvec).astype(np.int64)


def test_the_learner_sees_what_the_batched_market_shows_it(tiny_checkpoint_dir: Path) -> None:
    """Per market, the adapter's observations, rewards, episode ends and terminal
    observations of the learner equal those of driving MarketParallelVectorEnv (next-step
    autoreset) with the same seeds, the same learner actions and the fixed agents' policies
    played by hand, across two episode ends."""
    config = {"checkpoint": str(tiny_checkpoint_dir), **FAST}
    env = make_learner_vec_env(3, AGENTS, "maker", POLICIES, seed=11, **config)
    space = env.action_space
    got: list[list] = [[] for _ in range(3)]
    obs = env.reset()
    for k in range(3):
        got[k].append(("reset", obs[k]))
    for step in range(12):
        obs, rewards, dones, infos = env.step(
            np.stack([_learner_action(space, k, step) for k in range(3)])
        )
        for k in range(3):
            last = infos[k]["terminal_observation"] if dones[k] else obs[k]
            got[k].append((last, rewards[k], dones[k]))
            if dones[k]:
                got[k].append(("reset", obs[k]))
    env.close()

    venv = MarketParallelVectorEnv(3, AGENTS, ends_with="maker", **config)
    expected: list[list] = [[] for _ in range(3)]
    obs, _ = venv.reset(seed=11)
    buyers = [TWAP(venv.tasks["buyer"], CROSS) for _ in range(3)]
    decisions = [0] * 3
    for k in range(3):
        expected[k].append(("reset", obs["maker"][k]))
    for _ in range(15):
        starting = [not venv.active["maker"][k] for k in range(3)]
        actions = {
            "maker": np.stack([_learner_action(space, k, decisions[k]) for k in range(3)]),
            "buyer": np.stack([buyers[k](obs["buyer"][k]) for k in range(3)]),
            "idle": np.zeros((3, 4), dtype=np.int64),
        }
        obs, rewards, terminated, truncated, _ = venv.step(actions)
        for k in range(3):
            if starting[k]:
                expected[k].append(("reset", obs["maker"][k]))
                buyers[k].reset()
                continue
            decisions[k] += 1
            done = terminated["maker"][k] or truncated["maker"][k]
            expected[k].append((obs["maker"][k], np.float32(rewards["maker"][k]), done))
    for k in range(3):
        assert sum(isinstance(e[0], str) for e in got[k]) >= 3  # two episode ends
        n = len(got[k])
        assert len(expected[k]) >= n
        for a, b in zip(got[k], expected[k][:n], strict=True):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)


def test_ppo_trains_one_agent_among_fixed_ones(tiny_checkpoint_dir: Path) -> None:
    env = make_learner_vec_env(
        4, AGENTS, "maker", POLICIES, seed=0, checkpoint=str(tiny_checkpoint_dir), **FAST
    )
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    action, _ = model.predict(env.reset(), deterministic=True)
    assert action.shape == (4, 4)


def test_play_markets_reports_every_agent(tiny_checkpoint_dir: Path) -> None:
    policies = {**POLICIES, "maker": AvellanedaStoikov}
    seeds = [5, 6, 7]
    results = play_markets(
        AGENTS, policies, seeds, batch=2, checkpoint=str(tiny_checkpoint_dir), **FAST
    )
    assert [r["maker"]["seed"] for r in results] == seeds
    for r in results:
        assert r["maker"]["length"] == 5 and r["idle"]["length"] == 9
        assert r["buyer"]["remaining"] == 0  # TWAP at market buys it all
        assert r["maker"]["seen_volume"] > 0 and r["maker"]["mean_abs_inventory"] >= 0
    # a market is the same whatever the batch it plays in
    again = play_markets(
        AGENTS, policies, seeds[1:], batch=4, checkpoint=str(tiny_checkpoint_dir), **FAST
    )
    assert again == results[1:]


def test_bad_input_gets_clear_errors(tiny_checkpoint_dir: Path) -> None:
    config = {"checkpoint": str(tiny_checkpoint_dir), **FAST}
    with pytest.raises(ValueError, match=r"learner must be one of the agents .*, got 'seller'"):
        make_learner_vec_env(2, AGENTS, "seller", POLICIES, **config)
    with pytest.raises(ValueError, match=r"policies has no entry for \['idle'\]"):
        make_learner_vec_env(2, AGENTS, "maker", {"buyer": None}, **config)
    with pytest.raises(ValueError, match=r"policies name \['maker'\], which are not fixed"):
        make_learner_vec_env(2, AGENTS, "maker", {**POLICIES, "maker": None}, **config)
    venv = MarketParallelVectorEnv(2, AGENTS, **config)
    with pytest.raises(ValueError, match="SAME_STEP autoreset mode with ends_with='maker'"):
        LearnerVecEnv(venv, "maker", POLICIES)
    env = make_learner_vec_env(2, AGENTS, "maker", POLICIES, **config)
    with pytest.raises(ValueError, match="env has 2 environments, but num_envs is 3"):
        train(Args(task="market-making", num_envs=3), env)
