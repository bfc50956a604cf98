"""Env steps/s of MarS-Execution-v0 sampled by Ray RLlib's env runners, against ``workers=2``.

The same number of markets in all (``--markets``), in four setups, all started first and
then timed in turn, ``--rounds`` times over, ``--seconds`` of wall-clock time each (on a
shared machine the load drifts; alternating spreads it over the setups):

* ``native, 1 process``: one native vector env of all the markets in this process;
* ``native, workers=2``: the same split over two worker processes (``mars_gym.envs.sharded``);
* ``rllib, N env runners``: PPO's env runners (Ray actors) sampling in parallel, each holding
  one native vector env of ``markets / N`` markets (``agents/rllib.py``), for N = 1 and 2,
  through ``SingleAgentEnvRunner.sample(random_actions=True)`` (RLlib's episode
  bookkeeping included, the policy's forward pass not).

Every action is drawn uniformly from the action space; the child order is at most one TWAP
slice (``max_slices=1``) of a parent order of 20,000 shares over 600 decisions, so no
episode ends while timed (no resets). Ray starts locally with ``--num-cpus`` logical CPUs
(three runners are held at once, one setup samples at a time) and its workers at the
caller's niceness (``RAY_worker_niceness=0``; Ray's default lowers theirs below the native
workers'):

    python scripts/rllib_speed.py [--markets 64] [--seconds 15] [--rounds 3]
        [--checkpoint default] [--num-cpus 3] [--out docs/results/rllib_speed.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym

import mars_gym  # noqa: F401  (registers the environments)
from lmm.results import write_json

#: the task while timed: a long parent order, at most one TWAP slice a decision
ENV_KWARGS: dict[str, Any] = {"quantity": 20_000, "horizon": 600, "max_slices": 1}


def native_stepper(markets: int, workers: int, checkpoint: str) -> tuple[Callable[[], int], Any]:
    """A native vector env of ``markets`` markets (over ``workers`` processes), started;
    returns a function that takes one random vector step (its env steps), and the env."""
    env = gym.make_vec(
        "MarS-Execution-v0",
        num_envs=markets,
        vectorization_mode="vector_entry_point",
        workers=workers,
        checkpoint=checkpoint,
        **ENV_KWARGS,
    )
    env.action_space.seed(0)
    env.reset(seed=0)

    def step() -> int:
        env.step(env.action_space.sample())
        return markets

    step()  # one step before timing
    return step, env


def rllib_stepper(markets: int, runners: int, checkpoint: str) -> tuple[Callable[[], int], Any]:
    """PPO with ``runners`` env runners of ``markets / runners`` markets each, started;
    returns a function that has every runner sample four random steps of each of its
    markets, all runners in parallel (the env steps taken), and the algorithm."""
    from agents.rllib import ppo_config, runner_envs

    algo = ppo_config(
        {"checkpoint": checkpoint, **ENV_KWARGS},
        num_env_runners=runners,
        num_envs_per_env_runner=markets // runners,
    ).build_algo()
    runner_envs(algo)  # every runner answers, holding its native vector env
    group = algo.env_runner_group

    def sample(runner: Any) -> int:
        episodes = runner.sample(num_timesteps=4 * runner.num_envs, random_actions=True)
        return sum(len(e) for e in episodes)

    def step() -> int:
        return sum(group.foreach_env_runner(sample, local_env_runner=False))

    step()  # the markets' start (the first sample resets them), before timing
    return step, algo


def time_it(step: Callable[[], int], seconds: float) -> float:
    """Env steps/s of calling ``step`` for ``seconds``."""
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps += step()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=64, help="markets in all (even)")
    parser.add_argument("--seconds", type=float, default=15.0, help="timing per setup and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the setups")
    parser.add_argument("--checkpoint", default="default", help="LMM checkpoint folder or name")
    parser.add_argument(
        "--num-cpus", type=int, default=3, help="logical CPUs of the local Ray instance"
    )
    parser.add_argument("--out", metavar="FILE", help="write the figures as JSON to FILE")
    args = parser.parse_args(argv)
    if args.markets < 2 or args.markets % 2:
        parser.error(f"--markets must be even and at least 2, got {args.markets}")
    import ray  # after parsing: --help works without Ray

    load_before = os.getloadavg()
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    steppers: dict[str, Callable[[], int]] = {}
    closers: list[Callable[[], None]] = []
    try:
        for workers in (1, 2):
            step, env = native_stepper(args.markets, workers, args.checkpoint)
            steppers[f"native, {'1 process' if workers == 1 else 'workers=2'}, random"] = step
            closers.append(env.close)
        for runners in (1, 2):
            step, algo = rllib_stepper(args.markets, runners, args.checkpoint)
            steppers[f"rllib, {runners} env runner{'s' * (runners > 1)}, random"] = step
            closers.append(algo.stop)
        rates: dict[str, list[float]] = {name: [] for name in steppers}
        for r in range(args.rounds):
            for name, step in steppers.items():
                rates[name].append(time_it(step, args.seconds))
                print(f"round {r + 1}  {name:36s} {rates[name][-1]:7.1f} env steps/s", flush=True)
    finally:
        for close in closers:
            close()
        ray.shutdown()
    rows = [
        {
            "setup": name.rsplit(", ", 1)[0],
            "actions": name.rsplit(", ", 1)[1],
            "processes": 1 if "1 " in name else 2,
            "env_steps_per_second_median": statistics.median(values),
            "env_steps_per_second_by_round": values,
        }
        for name, values in rates.items()
    ]
    print(f"\n{args.markets} markets in all, median of {args.rounds} rounds of {args.seconds} s")
    for row in rows:
        print(f"{row['setup']:26s} {row['actions']:11s} {row['env_steps_per_second_median']:7.1f}")
    result = {
        "markets": args.markets,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "checkpoint": args.checkpoint,
        "env_kwargs": ENV_KWARGS,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "ray": ray.__version__,
        "rows": rows,
    }
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
