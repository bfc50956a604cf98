"""Ray RLlib on the native MarS vector environments: each env runner, one batched model.

RLlib's env runners (``SingleAgentEnvRunner``, its new API stack) step a
``gymnasium.vector.VectorEnv`` of ``num_envs_per_env_runner`` sub-environments. By default
RLlib builds that vector env itself, as a ``SyncVectorEnv`` of single envs, which would give
every market its own model and a model call per market per order. With
``env_runners(gym_env_vectorize_mode="vector_entry_point")`` it instead asks the registered
env creator for the whole vector env at once, with ``num_envs`` in its config dict: that is
where :func:`make_runner_env` hands it one native
:class:`mars_gym.envs.core.TradingVectorEnv`, so each runner makes one batched model call
per generated order for all its markets. :func:`ppo_config` sets both.

Seeds. RLlib resets a runner's env once with the seed ``config.seed + worker_index`` (plus
1,000,000 on evaluation runners) and lets every later episode continue the env's own
streams. A native vector env reset with seed ``s`` seeds its markets ``s, s + 1, ...``, so
runners 1 and 2 would share all but one market; :class:`RunnerSeeds` therefore gives runner
seed ``s`` the block ``s * num_envs, ..., s * num_envs + num_envs - 1``. Training runners get
blocks below ``(seed + num_env_runners + 1) * num_envs``, evaluation runners blocks from
``1,000,000 * num_envs`` up (at or above :data:`agents.benchmark.EVALUATION_SEED_BASE`, as
the league's), so evaluation never replays a training market.

Ray is an optional extra (``pip install 'mars-lmm-gym[ray]'``): this module imports it only
inside the functions that need it, so importing ``agents.rllib`` works without it.
``mars_gym`` itself never imports Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym
from gymnasium.vector import VectorEnv, VectorWrapper

import mars_gym  # noqa: F401  (registers the environments in each runner's process)

if TYPE_CHECKING:
    from ray.rllib.algorithms.ppo import PPOConfig

__all__ = [
    "ENV_NAME",
    "EPISODE_FIGURES",
    "RunnerSeeds",
    "describe_runner",
    "log_episode_figures",
    "make_runner_env",
    "ppo_config",
    "register",
    "runner_envs",
]

#: The name MarS-Execution-v0 is registered under for RLlib (the Gymnasium id itself).
ENV_NAME = "MarS-Execution-v0"
#: The info entries of an episode's last step that runners log per episode (as
#: ``env_runners/<name>``, the mean over the iteration's episodes).
EPISODE_FIGURES: tuple[str, ...] = ("shortfall_bp",)


class RunnerSeeds(VectorWrapper):
    """A native vector env whose ``reset(seed=s)`` seeds its markets from ``s * num_envs``
    on, so that consecutive seeds (RLlib's per-runner seeds) get disjoint blocks of markets.
    A list of seeds, or None, passes through unchanged."""

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if isinstance(seed, int):
            seed = seed * self.num_envs
        return self.env.reset(seed=seed, options=options)


def make_runner_env(config: dict[str, Any]) -> VectorEnv:
    """RLlib's env creator: one native vector env of ``config["num_envs"]`` markets (RLlib
    adds that key in ``vector_entry_point`` mode), seeded by :class:`RunnerSeeds`.

    The other keys of ``config`` (RLlib's ``env_config``) are the environment's keyword
    arguments (task and :class:`mars_gym.SimulatorConfig` fields, e.g. ``checkpoint``,
    ``horizon``); ``env_id`` picks another MarS task (default MarS-Execution-v0).
    """
    kwargs = dict(config)
    num_envs = kwargs.pop("num_envs", 1)
    env_id = kwargs.pop("env_id", ENV_NAME)
    venv = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )
    return RunnerSeeds(venv)


def register(name: str = ENV_NAME) -> str:
    """Register :func:`make_runner_env` with Ray under ``name``; returns the name (for
    ``PPOConfig().environment(name)``). Call it after ``ray.init``, before building."""
    from ray.tune.registry import register_env

    register_env(name, make_runner_env)
    return name


def log_episode_figures(*, episode: Any, metrics_logger: Any, **kwargs: Any) -> None:
    """RLlib's ``on_episode_end`` callback: log :data:`EPISODE_FIGURES` from the episode's
    last info (the shortfall in bp of an execution episode)."""
    info = episode.get_infos(-1)
    for key in EPISODE_FIGURES:
        if key in info:
            metrics_logger.log_value(key, float(info[key]), reduce="mean", window=100)


def describe_runner(runner: Any) -> dict[str, Any]:
    """What an env runner holds (run inside it): its env's class under RLlib's wrappers,
    its markets, and how many of them its one model generates for."""
    env = runner.env.unwrapped
    return {
        "worker_index": runner.worker_index,
        "env": type(env).__name__,
        "num_envs": env.num_envs,
        "model_markets": env.runner.sim.markets.n,
    }


def runner_envs(algo: Any) -> list[dict[str, Any]]:
    """:func:`describe_runner` of every remote env runner of ``algo`` (an RLlib
    ``Algorithm``), in order of worker index.

    Raises:
        RuntimeError: a runner did not answer (RLlib drops failed calls silently).
    """
    group = algo.env_runner_group
    answers = group.foreach_env_runner(describe_runner, local_env_runner=False)
    if len(answers) != group.num_remote_env_runners():
        raise RuntimeError(
            f"{group.num_remote_env_runners()} env runners, {len(answers)} described themselves"
        )
    return sorted(answers, key=lambda a: a["worker_index"])


def ppo_config(
    env_config: dict[str, Any] | None = None,
    *,
    num_env_runners: int = 1,
    num_envs_per_env_runner: int = 16,
    seed: int = 0,
    rollout_fragment_length: int = 32,
    minibatch_size: int = 256,
    num_epochs: int = 4,
    lr: float = 3e-4,
    gamma: float = 0.99,
    eval_episodes: int = 0,
    normalize_observations: bool = True,
) -> PPOConfig:
    """PPO on MarS-Execution-v0 with ``num_env_runners`` env runners, each holding one
    native vector env of ``num_envs_per_env_runner`` markets (see the module docstring).

    A training batch is one rollout of ``rollout_fragment_length`` steps from every
    market of every runner. Observations mix ticks, shares and dollars, so by default they
    pass RLlib's running mean/std filter (``MeanStdFilter``) before the policy. With
    ``eval_episodes``, evaluation (``algo.evaluate()``) plays that many episodes without
    exploration in one vector env of as many markets, on the evaluation seeds.

    Raises:
        ValueError: a count below 1 (``eval_episodes`` below 0), or a seed whose runners'
            markets would reach the evaluation seeds (from 1,000,000).
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter

    from agents.benchmark import EVALUATION_SEED_BASE

    for name, value in {
        "num_env_runners": num_env_runners,
        "num_envs_per_env_runner": num_envs_per_env_runner,
        "rollout_fragment_length": rollout_fragment_length,
        "minibatch_size": minibatch_size,
        "num_epochs": num_epochs,
    }.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if eval_episodes < 0:
        raise ValueError(f"eval_episodes must be >= 0, got {eval_episodes}")
    # runner k's markets are seeded from (seed + k) * n: all below the evaluation seeds
    highest = EVALUATION_SEED_BASE // num_envs_per_env_runner - num_env_runners - 1
    if not 0 <= seed <= highest:
        raise ValueError(
            f"seed must be in 0..{highest} (with {num_env_runners} runners of "
            f"{num_envs_per_env_runner} markets), got {seed}"
        )
    train_batch = num_env_runners * num_envs_per_env_runner * rollout_fragment_length
    config = (
        PPOConfig()
        .environment(register(), env_config=dict(env_config or {}))
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            gym_env_vectorize_mode="vector_entry_point",  # our vector env, not SyncVectorEnv
            rollout_fragment_length=rollout_fragment_length,
            env_to_module_connector=(
                (lambda env, spaces, device: MeanStdFilter()) if normalize_observations else None
            ),
        )
        .training(
            train_batch_size_per_learner=train_batch,
            minibatch_size=min(minibatch_size, train_batch),
            num_epochs=num_epochs,
            lr=lr,
            gamma=gamma,
        )
        .callbacks(on_episode_end=log_episode_figures)
        .debugging(seed=seed)
    )
    if eval_episodes:
        config = config.evaluation(
            # one runner of its own, holding no CPU: it works only within algo.evaluate()
            evaluation_num_env_runners=1,
            evaluation_duration=eval_episodes,
            evaluation_duration_unit="episodes",
            evaluation_config=PPOConfig.overrides(
                explore=False,
                num_envs_per_env_runner=eval_episodes,
                num_cpus_per_env_runner=0,
                # the training runners' observation statistics, not the evaluation's own
                use_worker_filter_stats=False,
            ),
        )
    return config
