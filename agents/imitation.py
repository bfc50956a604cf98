"""Behaviour cloning: start a PPO policy from what a baseline does.

Thirty minutes of PPO from a random policy is too little to find even a good fixed quoter
(see the market-making league in the README). Cloning a baseline first gives PPO a
starting point as good as that baseline, from which it can learn what the baseline
ignores (the book). :func:`clone_baseline` lets the baseline play every environment of the
training env for a number of steps, then fits the policy (the baseline's actions, by
maximum likelihood) and the value function (the discounted returns those actions
earned) by supervised learning. Observations and rewards are scaled with the statistics
the training env's ``VecNormalize`` gathered while the baseline played, as PPO will see
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize
from tqdm import tqdm

__all__ = ["CloneReport", "Demonstrations", "clone_baseline", "collect_demonstrations"]


@dataclass(frozen=True)
class Demonstrations:
    """What a baseline did: per step and environment, in time order.

    Attributes:
        obs: raw observations it acted on, ``(steps, num_envs, obs_dim)``.
        actions: its actions, ``(steps, num_envs, action_dim)``.
        rewards: the rewards that followed, scaled as PPO sees them, ``(steps, num_envs)``.
        dones: whether the episode ended with that step, ``(steps, num_envs)``.
        returns: discounted returns of the normalised rewards that followed, ``(steps,
            num_envs)``; an episode still running at the end counts nothing after it.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    returns: np.ndarray


@dataclass(frozen=True)
class CloneReport:
    """How well the policy learned the baseline.

    Attributes:
        samples: demonstrated (observation, action) pairs.
        agreement: share of them where the policy's most likely action is the baseline's.
        bits_per_action: the policy's final negative log-likelihood of the baseline's
            actions, in bits.
        value_r2: share of the returns' variance the value function explains.
    """

    samples: int
    agreement: float
    bits_per_action: float
    value_r2: float


def collect_demonstrations(
    env: VecNormalize, policy_factory: Callable[[Any], Any], steps: int, gamma: float
) -> Demonstrations:
    """Let one baseline per environment play ``steps`` steps of ``env`` (a ``VecNormalize``
    over a native MarS vector env), updating its running statistics."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    task = env.unwrapped.venv.runner.task
    policies = [policy_factory(task) for _ in range(env.num_envs)]
    for p in policies:
        p.reset()
    env.reset()
    obs, actions, rewards, dones = [], [], [], []
    for _ in tqdm(range(steps), desc="demonstrations", unit="step"):
        raw = env.get_original_obs()
        act = np.stack([p(o) for p, o in zip(policies, raw, strict=True)])
        _, _, done, _ = env.step(act)
        for i in np.flatnonzero(done):
            policies[i].reset()
        obs.append(raw)
        actions.append(act)
        rewards.append(env.get_original_reward())
        dones.append(done)
    scaled = np.asarray(env.normalize_reward(np.stack(rewards)), dtype=np.float64)
    ended = np.stack(dones)
    returns = np.zeros_like(scaled)
    following = np.zeros(env.num_envs)
    for t in range(steps - 1, -1, -1):
        following = scaled[t] + gamma * following * ~ended[t]
        returns[t] = following
    return Demonstrations(np.stack(obs), np.stack(actions), scaled, ended, returns)


def clone_baseline(
    model: PPO,
    env: VecNormalize,
    policy_factory: Callable[[Any], Any],
    steps: int,
    epochs: int = 5,
    batch_size: int = 256,
) -> CloneReport:
    """Fit ``model``'s policy and value function to ``steps`` steps of a baseline playing
    ``env`` (see the module docstring); returns how well it learned."""
    demos = collect_demonstrations(env, policy_factory, steps, model.gamma)
    policy = model.policy
    obs = torch.as_tensor(env.normalize_obs(demos.obs.reshape(-1, demos.obs.shape[-1])))
    actions = torch.as_tensor(demos.actions.reshape(-1, demos.actions.shape[-1]))
    returns = torch.as_tensor(demos.returns.reshape(-1), dtype=torch.float32)
    generator = torch.Generator().manual_seed(model.seed or 0)
    policy.set_training_mode(True)
    for _ in tqdm(range(epochs), desc="cloning", unit="epoch"):
        for idx in torch.randperm(len(obs), generator=generator).split(batch_size):
            values, log_prob, _ = policy.evaluate_actions(obs[idx], actions[idx])
            loss = -log_prob.mean() + torch.nn.functional.mse_loss(values.flatten(), returns[idx])
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
            policy.optimizer.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        values, log_prob, _ = policy.evaluate_actions(obs, actions)
        predicted = policy.get_distribution(obs).get_actions(deterministic=True)
    residual = ((values.flatten() - returns) ** 2).mean() / returns.var().clamp_min(1e-12)
    return CloneReport(
        samples=len(obs),
        agreement=float((predicted == actions).all(dim=1).float().mean()),
        bits_per_action=float(-log_prob.mean() / np.log(2)),
        value_r2=float(1 - residual),
    )
