"""Train PPO on MarS-Execution-v0 with Ray RLlib: each env runner holds one native vector env.

    pip install 'mars-lmm-gym[ray]'
    python examples/rllib_execution.py --num-env-runners 2 --num-envs-per-env-runner 32
    python examples/rllib_execution.py --address auto   # an existing Ray cluster

By default it starts a local Ray instance (``ray.init(num_cpus=...)``); ``--address`` joins
a running cluster instead, whose nodes must have this package installed. Every runner makes
one batched model call per generated order for all its markets (``agents/rllib.py`` says
how the vector env is handed to RLlib). After every iteration it prints the mean episode
reward, shortfall (bp) and length of the episodes that ended in it, the env steps sampled
and env steps per second of wall-clock time (sampling and the PPO update together), and the
PPO losses; ``--tensorboard DIR`` writes the same figures as TensorBoard events. At the end the
policy plays ``--eval-episodes`` episodes without exploration on evaluation seeds (from
1,000,000 x their number up), which no training runner uses.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from mars_gym.console.flags import config_from_args, dataclass_flags


@dataclass(frozen=True)
class Args:
    """Arguments of an RLlib PPO run.

    Attributes:
        address: address of an existing Ray cluster ("auto" for the local node's); ""
            starts a local Ray instance with num_cpus CPUs.
        num_cpus: CPUs of the local Ray instance (one per env runner, and the driver).
        num_env_runners: env runners (Ray actors, one CPU each), each holding one native
            vector env.
        num_envs_per_env_runner: markets in each runner's native vector env (one batched
            model call per generated order for all of them).
        iterations: training iterations (each: one rollout from every runner, one PPO
            update).
        max_minutes: wall-clock budget; training stops after the first iteration past it
            (0: no budget).
        rollout_fragment_length: steps per market in each rollout.
        minibatch_size: PPO minibatch size.
        num_epochs: PPO epochs per update.
        lr: Adam step size.
        gamma: discount factor.
        seed: seeds PPO and the training markets (runner k plays markets seeded from
            (seed + k) x num_envs_per_env_runner).
        eval_episodes: episodes the final policy plays on evaluation seeds (0: none).
        horizon: decisions per episode (the task's deadline).
        quantity: shares of the parent order.
        checkpoint: the LMM checkpoint the markets are generated with: a folder or a
            packaged checkpoint's name ("" for the packaged default).
        tensorboard: folder for TensorBoard event files ("" for none).
        out: folder to save the trained algorithm to (RLlib's checkpoint; "" for none).
    """

    address: str = ""
    num_cpus: int = 2
    num_env_runners: int = 1
    num_envs_per_env_runner: int = 32
    iterations: int = 20
    max_minutes: float = 0.0
    rollout_fragment_length: int = 32
    minibatch_size: int = 256
    num_epochs: int = 4
    lr: float = 3e-4
    gamma: float = 0.99
    seed: int = 0
    eval_episodes: int = 16
    horizon: int = 60
    quantity: int = 2_000
    checkpoint: str = ""
    tensorboard: str = ""
    out: str = ""


#: What is printed and written to TensorBoard each iteration: name -> path in RLlib's result.
FIGURES: dict[str, tuple[str, ...]] = {
    "rollout/episode_return_mean": ("env_runners", "episode_return_mean"),
    "rollout/shortfall_bp_mean": ("env_runners", "shortfall_bp"),
    "rollout/episode_len_mean": ("env_runners", "episode_len_mean"),
    "train/policy_loss": ("learners", "default_policy", "policy_loss"),
    "train/vf_loss": ("learners", "default_policy", "vf_loss"),
    "train/entropy": ("learners", "default_policy", "entropy"),
    "train/mean_kl_loss": ("learners", "default_policy", "mean_kl_loss"),
}


def _get(result: dict, path: tuple[str, ...]) -> float:
    """The number at ``path`` in a nested result dict (nan where there is none, e.g. the
    episode figures of an iteration in which no episode ended)."""
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return math.nan
        result = result[key]
    return float(result)


def train(args: Args) -> dict[str, Any]:
    """Train as ``args`` says (Ray already initialised); returns the per-iteration figures,
    the evaluation's, and what each runner held."""
    from agents.rllib import ppo_config, runner_envs

    env_config: dict[str, Any] = {"horizon": args.horizon, "quantity": args.quantity}
    if args.checkpoint:
        env_config["checkpoint"] = args.checkpoint
    config = ppo_config(
        env_config,
        num_env_runners=args.num_env_runners,
        num_envs_per_env_runner=args.num_envs_per_env_runner,
        seed=args.seed,
        rollout_fragment_length=args.rollout_fragment_length,
        minibatch_size=args.minibatch_size,
        num_epochs=args.num_epochs,
        lr=args.lr,
        gamma=args.gamma,
        eval_episodes=args.eval_episodes,
    )
    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(args.tensorboard)
    algo = config.build_algo()
    runners = runner_envs(algo)
    for r in runners:
        print(
            f"env runner {r['worker_index']}: {r['env']} of {r['num_envs']} markets, "
            f"one model for {r['model_markets']}"
        )
    rows, steps, start = [], 0, time.perf_counter()
    try:
        for iteration in range(1, args.iterations + 1):
            tick = time.perf_counter()
            result = algo.train()
            seconds = time.perf_counter() - tick
            new_steps = int(_get(result, ("env_runners", "num_env_steps_sampled_lifetime")))
            row = {name: _get(result, path) for name, path in FIGURES.items()}
            row["perf/env_steps_per_s"] = (new_steps - steps) / seconds
            steps = new_steps
            rows.append({"iteration": iteration, "env_steps": steps, **row})
            print(
                f"iter {iteration:3d}  env steps {steps:8,d}  "
                f"reward {row['rollout/episode_return_mean']:8.2f}  "
                f"shortfall {row['rollout/shortfall_bp_mean']:7.2f} bp  "
                f"length {row['rollout/episode_len_mean']:5.1f}  "
                f"{row['perf/env_steps_per_s']:6.1f} env steps/s  "
                f"policy loss {row['train/policy_loss']:.4f}  vf loss {row['train/vf_loss']:.3g}"
            )
            if writer is not None:
                for name, value in row.items():
                    if math.isfinite(value):
                        writer.add_scalar(name, value, steps)
            if args.max_minutes and time.perf_counter() - start > 60 * args.max_minutes:
                break
        evaluation = {}
        if args.eval_episodes:
            figures = algo.evaluate()["env_runners"]
            evaluation = {
                "episodes": int(figures["num_episodes"]),
                "episode_return_mean": float(figures["episode_return_mean"]),
                "shortfall_bp_mean": float(figures["shortfall_bp"]),
            }
            print(
                f"evaluation, {evaluation['episodes']} episodes on held-out seeds: reward "
                f"{evaluation['episode_return_mean']:.2f}, shortfall "
                f"{evaluation['shortfall_bp_mean']:.2f} bp"
            )
            if writer is not None:
                writer.add_scalar("eval/shortfall_bp_mean", evaluation["shortfall_bp_mean"], steps)
        if args.out:
            print(f"saved to {algo.save_to_path(args.out)}")
    finally:
        algo.stop()
        if writer is not None:
            writer.close()
    return {"iterations": rows, "evaluation": evaluation, "runners": runners}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse :class:`Args`, start or join Ray, and train."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    dataclass_flags(parser, Args)
    args = config_from_args(Args, parser.parse_args(argv))
    print(asdict(args))
    import ray  # after parsing: --help works without Ray

    started = not ray.is_initialized()
    if started:
        if args.address:
            ray.init(address=args.address)
        else:
            ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    try:
        return train(args)
    finally:
        if started:
            ray.shutdown()


if __name__ == "__main__":
    main()
