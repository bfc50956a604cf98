"""The native vector env split over worker processes: the same steps as in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import mars_gym
from lmm.model.checkpoint import CheckpointError
from mars_gym.envs.sharded import ShardedVectorEnv, shard_sizes

KWARGS = {"warmup_orders": 30, "horizon": 5, "quantity": 500}  # autoresets within the test


def test_shard_sizes_are_as_equal_as_possible() -> None:
    assert shard_sizes(8, 3) == [3, 3, 2]
    assert shard_sizes(4, 4) == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        shard_sizes(4, 0)
    with pytest.raises(ValueError, match=r"workers \(5\) must not exceed num_envs \(4\)"):
        shard_sizes(4, 5)
    with pytest.raises(TypeError):
        shard_sizes(4, 2.0)  # type: ignore[arg-type]


def _assert_infos_equal(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            _assert_infos_equal(a[key], b[key])
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert isinstance(b, np.ndarray) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_infos_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_sharded_env_steps_as_the_single_process_env(
    mode: AutoresetMode, tiny_checkpoint_dir: Path
) -> None:
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), "autoreset_mode": mode, **KWARGS}
    n = 5
    native = gym.make_vec("MarS-Execution-v0", num_envs=n, **kwargs)
    sharded = gym.make_vec("MarS-Execution-v0", num_envs=n, workers=2, **kwargs)
    try:
        assert isinstance(sharded, ShardedVectorEnv) and sharded.sizes == [3, 2]
        assert sharded.single_observation_space == native.single_observation_space
        assert sharded.action_space == native.action_space
        o1, _ = native.reset(seed=7)
        o2, _ = sharded.reset(seed=7)
        np.testing.assert_array_equal(o1, o2)
        native.action_space.seed(3)
        for _ in range(12):  # two autoresets with a horizon of 5
            actions = native.action_space.sample()
            r1, r2 = native.step(actions), sharded.step(actions)
            for x, y in zip(r1[:4], r2[:4], strict=True):
                np.testing.assert_array_equal(x, y)
            _assert_infos_equal(r1[4], r2[4])
    finally:
        native.close()
        sharded.close()


def test_bad_actions_are_refused_before_reaching_the_workers(tiny_checkpoint_dir: Path) -> None:
    env = gym.make_vec(
        "MarS-Execution-v0", num_envs=2, workers=2, checkpoint=str(tiny_checkpoint_dir), **KWARGS
    )
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match=r"actions must have a leading dimension of 2"):
            env.step(np.zeros((3, 2), dtype=np.int64))
        with pytest.raises(ValueError, match=r"action\[0\] = 999 is outside its bound 0\.\.20"):
            env.step(np.array([[0, 0], [999, 0]]))  # out of bounds for env 1 only
        env.step(np.zeros((2, 2), dtype=np.int64))  # the workers still serve
    finally:
        env.close()


def test_bad_arguments_are_refused_before_any_worker_starts(tiny_checkpoint_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"quantity must be >= 1, got 0"):
        gym.make_vec("MarS-Execution-v0", num_envs=2, workers=2, quantity=0)


def test_a_worker_that_cannot_start_raises_its_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"not an LMM checkpoint") as raised:
        gym.make_vec("MarS-Execution-v0", num_envs=2, workers=2, checkpoint=str(tmp_path))
    assert "in worker 0 of the sharded environment" in str(raised.value.__cause__)


def test_one_worker_is_the_native_env(tiny_checkpoint_dir: Path) -> None:
    env = mars_gym.make_vector_env(
        "mars_gym.envs.execution:ExecutionVectorEnv", 2, checkpoint=str(tiny_checkpoint_dir)
    )
    assert type(env).__name__ == "ExecutionVectorEnv" and env.num_envs == 2
