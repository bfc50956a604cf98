"""Env steps/s of MarS-Execution-v0 under both engines of ``LMMMarkets``, timed in alternation.

For every round, checkpoint and number of environments, the Python engine and the compiled
one (``engine="compiled"``, :mod:`lmm.engine.compiled.generation`) are timed one after the other
(:func:`mars_gym.studies.bench.env_throughput`, in this process), so a slow spell of the
(shared) machine touches both alike; each compiled run is set against the Python run just
before it::

    python scripts/engine_bench.py [--num-envs 64 256] [--checkpoints default fast] \\
        [--seconds 8] [--rounds 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse

import torch

from lmm.model.generate import ENGINES
from lmm.results import write_json
from mars_gym.studies.bench import env_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--checkpoints", nargs="+", default=["default", "fast"])
    parser.add_argument("--seconds", type=float, default=8.0, help="timing per run")
    parser.add_argument("--rounds", type=int, default=2, help="alternations per cell")
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    runs = []
    print(
        f"{'round':>5} {'checkpoint':>10} {'envs':>5} {'engine':>9} {'env steps/s':>12} "
        f"{'orders/step':>12} {'ratio':>6}"
    )
    for r in range(args.rounds):
        for checkpoint in args.checkpoints:
            for n in args.num_envs:
                python = None
                for engine in ENGINES:
                    (run,) = env_throughput(
                        num_envs=(n,), seconds=args.seconds, checkpoint=checkpoint, engine=engine
                    )
                    speed = run["env_steps_per_second"]
                    python = python or speed
                    run = {
                        **run,
                        "round": r,
                        "checkpoint": checkpoint,
                        "engine": engine,
                        "ratio_to_python": speed / python,
                    }
                    runs.append(run)
                    print(
                        f"{r:>5} {checkpoint:>10} {n:>5} {engine:>9} {speed:>12,.0f} "
                        f"{run['orders_per_env_step']:>12.1f} {speed / python:>6.2f}",
                        flush=True,
                    )
    if args.out:
        write_json(args.out, {"torch_threads": torch.get_num_threads(), "runs": runs})


if __name__ == "__main__":
    main()
