"""Ray RLlib trains PPO on MarS-Execution-v0, each env runner holding one native vector env.

The Ray tests are slow and skip without Ray (``pip install 'mars-lmm-gym[ray]'``); the seed
test needs no Ray and runs in the default suite.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.rllib import make_runner_env
from mars_gym.envs.execution import ExecutionVectorEnv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rllib_execution.py"


def test_runner_seeds_give_each_runner_its_own_block_of_markets(tiny_checkpoint_dir: Path) -> None:
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), "horizon": 4, "quantity": 300}
    env = make_runner_env({"num_envs": 3, **kwargs})
    native = gym.make_vec(
        "MarS-Execution-v0", num_envs=3, vectorization_mode="vector_entry_point", **kwargs
    )
    assert isinstance(env.unwrapped, ExecutionVectorEnv) and env.num_envs == 3
    # RLlib's seed 2 (runner 2) plays the markets seeded 6, 7, 8, as the native env does
    obs, _ = env.reset(seed=2)
    expected, _ = native.reset(seed=6)
    np.testing.assert_array_equal(obs, expected)
    env.close()
    native.close()


def test_ppo_config_keeps_training_markets_below_the_evaluation_seeds() -> None:
    pytest.importorskip("ray")
    from agents.rllib import ppo_config

    config = ppo_config(num_env_runners=2, num_envs_per_env_runner=1000, seed=997)
    assert config.gym_env_vectorize_mode == "vector_entry_point"
    assert config.num_envs_per_env_runner == 1000
    # seed 997: runner 2 plays markets 999,000..999,999; 998 would reach 1,000,000, evaluation's
    with pytest.raises(ValueError, match=r"seed must be in 0\.\.997"):
        ppo_config(num_env_runners=2, num_envs_per_env_runner=1000, seed=998)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[ModuleType]:
    """A local Ray instance of two CPUs for this module's tests; skips without Ray."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_two_iterations_on_native_vector_envs(
    ray_local: ModuleType, tiny_checkpoint_dir: Path
) -> None:
    from agents.rllib import ppo_config

    def count_model_calls(*, env: Any, **kwargs: Any) -> None:
        """In each runner: record the seeds its env is reset with and the markets each of
        its model's sampling calls serves (RLlib passes the unwrapped env)."""
        markets = env.runner.sim.markets
        propose, reset = markets.propose, env.reset
        env.model_batches, env.reset_seeds = [], []

        def counting_propose(rows: list[int] | None = None) -> None:
            env.model_batches.append(markets.n if rows is None else len(rows))
            propose(rows)

        def recording_reset(**kw: Any) -> Any:
            env.reset_seeds.append(kw.get("seed"))
            return reset(**kw)

        markets.propose, env.reset = counting_propose, recording_reset

    config = ppo_config(
        {"checkpoint": str(tiny_checkpoint_dir), "horizon": 8, "quantity": 300},
        num_env_runners=2,
        num_envs_per_env_runner=3,
        rollout_fragment_length=8,
        minibatch_size=16,
        num_epochs=1,
    ).callbacks(on_environment_created=count_model_calls)
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(2)]
        runners = algo.env_runner_group.foreach_env_runner(
            lambda r: {
                "index": r.worker_index,
                "env": type(r.env.unwrapped),
                "num_envs": r.env.unwrapped.num_envs,
                "model_markets": r.env.unwrapped.runner.sim.markets.n,
                "batches": r.env.unwrapped.model_batches,
                "seeds": r.env.unwrapped.reset_seeds,
            },
            local_env_runner=False,
        )
    finally:
        algo.stop()
    assert all(math.isfinite(r["env_runners"]["episode_return_mean"]) for r in results)
    assert math.isfinite(results[-1]["env_runners"]["shortfall_bp"])
    assert math.isfinite(results[-1]["learners"]["default_policy"]["total_loss"])
    assert sorted(r["index"] for r in runners) == [1, 2]
    for r in runners:
        # one native vector env of 3 markets, one model generating for all 3: its sampling
        # calls serve up to all 3 markets at once (never SyncVectorEnv's one market each)
        assert r["env"] is ExecutionVectorEnv and r["num_envs"] == r["model_markets"] == 3
        assert r["batches"] and max(r["batches"]) == 3
        # the initial reset: runner k (RLlib's seed 0 + k) plays markets 3k, 3k + 1, 3k + 2
        assert r["seeds"][0] == 3 * r["index"]


@pytest.mark.slow
def test_example_trains_evaluates_and_logs(
    ray_local: ModuleType,
    tiny_checkpoint_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = importlib.util.spec_from_file_location("rllib_execution", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rllib_execution", example)  # for its dataclass
    spec.loader.exec_module(example)
    result = example.main(
        ["--checkpoint", str(tiny_checkpoint_dir), "--iterations", "2",
         "--num-envs-per-env-runner", "3", "--rollout-fragment-length", "8",
         "--minibatch-size", "16", "--num-epochs", "1", "--horizon", "6", "--quantity", "300",
         "--eval-episodes", "2", "--tensorboard", str(tmp_path / "tb")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "env runner 1: ExecutionVectorEnv of 3 markets, one model for 3" in out
    assert [row["iteration"] for row in result["iterations"]] == [1, 2]
    last = result["iterations"][-1]
    assert math.isfinite(last["rollout/episode_return_mean"]) and last["perf/env_steps_per_s"] > 0
    assert math.isfinite(result["evaluation"]["shortfall_bp_mean"])
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    scalars = set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    expected = {"rollout/episode_return_mean", "perf/env_steps_per_s", "train/policy_loss"}
    assert expected | {"eval/shortfall_bp_mean"} <= scalars
