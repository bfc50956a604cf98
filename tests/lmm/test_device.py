"""Where the LMM runs: device names are checked with clear errors; on a CUDA GPU (when this
machine has one) the simulator and the benchmark run, and a seed repeats its market."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import mars_gym  # noqa: F401  (registers the environments)
from lmm.device import resolve_device
from lmm.evaluation.bench import generation_speed
from lmm.model.checkpoint import load_checkpoint
from mars_gym.simulator import SimulatorConfig

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "", "meta"])
def test_bad_device_names_are_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=r"SimulatorConfig\.device"):
        resolve_device(name, "SimulatorConfig.device")


def test_simulator_config_checks_its_device() -> None:
    with pytest.raises(ValueError, match="device must be"):
        SimulatorConfig(device="gpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(ValueError, match="finds no CUDA GPU"):
        SimulatorConfig(device="cuda")
    assert resolve_device("auto") == torch.device("cpu")


def _rollout(device: str, checkpoint: Path, seed: int) -> list[np.ndarray]:
    env = gym.make_vec(
        "MarS-Execution-v0",
        num_envs=3,
        vectorization_mode="vector_entry_point",
        checkpoint=str(checkpoint),
        warmup_orders=30,
        horizon=4,
        device=device,
    )
    out = [env.reset(seed=seed)[0]]
    actions = np.tile(np.array([4, 1]), (3, 1))
    for _ in range(6):  # across an autoreset
        obs, reward, *_ = env.step(actions)
        out += [obs, reward]
    env.close()
    return out


@needs_cuda
def test_cuda_env_repeats_its_seed(tiny_checkpoint_dir: Path) -> None:
    a, b = (_rollout("cuda", tiny_checkpoint_dir, seed=5) for _ in range(2))
    for x, y in zip(a, b, strict=True):
        assert np.isfinite(x).all()
        np.testing.assert_equal(x, y)


@needs_cuda
def test_generation_speed_on_cuda() -> None:
    (cached, uncached) = generation_speed(
        load_checkpoint("fast"), (4,), seconds=0.2, warmup_steps=5, device="cuda"
    )
    assert cached["orders_per_second"] > 0 and uncached["orders_per_second"] > 0
