"""Is a commit faster than another, and does it leave the markets alone? An A/B in one run.

Times MarS-Execution-v0's native vector env at two git revisions of this repository, in
alternation (A, B, A, B, ...), each run in a fresh process that imports that revision's
code, and prints env steps/s per run, the paired ratio B/A per round, and whether both
revisions produced the same trajectory (a SHA-256 over every observation and reward):

    python scripts/ab_commits.py eab6ea5 HEAD --num-envs 128 --steps 12 --rounds 3

Speed is measured in process CPU time, not wall time: on a shared machine the wall clock
also counts what other processes took from this one, which made runs minutes apart differ
by 20% and more. One torch thread, every env sending the bench's TWAP-paced child order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTION = (4, 0)  # a TWAP-paced passive child order, as `mars-gym bench` sends


def time_env(num_envs: int, steps: int, seed: int, checkpoint: str) -> dict:
    """Env steps/s (process CPU time) of ``steps`` vector steps after a first one, and a
    hash of their observations and rewards; run in the child process."""
    import gymnasium as gym
    import numpy as np
    import torch

    import mars_gym

    torch.set_num_threads(1)
    env = gym.make_vec(
        "MarS-Execution-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        checkpoint=checkpoint,
    )
    env.reset(seed=seed)
    actions = np.tile(np.asarray(ACTION), (num_envs, 1))
    env.step(actions)  # the first step after a reset is not typical
    digest = hashlib.sha256()
    start = time.process_time()
    for _ in range(steps):
        obs, reward, *_ = env.step(actions)
        digest.update(obs.tobytes())
        digest.update(reward.tobytes())
    elapsed = time.process_time() - start
    env.close()
    return {
        "env_steps_per_second": num_envs * steps / elapsed,
        "trajectory": digest.hexdigest()[:16],
        "package": str(Path(mars_gym.__file__).parent.parent),
    }


def run_child(tree: Path, args: argparse.Namespace) -> dict:
    """One timing in a fresh interpreter that imports the code in ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    command = [sys.executable, __file__, "--child", *map(str, _child_args(args))]
    out = subprocess.run(
        command, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"timing the code in {tree} failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["package"]).resolve() != tree.resolve():
        raise RuntimeError(f"the child imported {result['package']}, not {tree}")
    return result


def _child_args(args: argparse.Namespace) -> list:
    return [args.num_envs, args.steps, args.seed, args.checkpoint]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        num_envs, steps, seed, checkpoint = sys.argv[2:6]
        print(json.dumps(time_env(int(num_envs), int(steps), int(seed), checkpoint)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the reference revision (a commit, tag or branch)")
    parser.add_argument("b", help="the revision compared with it")
    parser.add_argument("--num-envs", type=int, default=128, help="(default: 128)")
    parser.add_argument("--steps", type=int, default=12, help="timed vector steps (default: 12)")
    parser.add_argument("--rounds", type=int, default=3, help="A/B pairs (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed (default: 0)")
    parser.add_argument(
        "--checkpoint", default="fast", help="packaged checkpoint name (default: fast)"
    )
    args = parser.parse_args()

    revisions = {"A": args.a, "B": args.b}
    with tempfile.TemporaryDirectory() as scratch:
        trees: dict[str, Path] = {}
        try:
            for label, revision in revisions.items():
                tree = Path(scratch) / label
                subprocess.run(
                    [
                        "git",
                        "-C",
                        str(ROOT),
                        "worktree",
                        "add",
                        "--detach",
                        "-q",
                        str(tree),
                        revision,
                    ],
                    check=True,
                )
                trees[label] = tree
            ratios, hashes = [], set()
            for r in range(args.rounds):
                speed = {}
                for label, tree in trees.items():
                    result = run_child(tree, args)
                    speed[label] = result["env_steps_per_second"]
                    hashes.add(result["trajectory"])
                    print(
                        f"round {r + 1} {label} ({revisions[label]}): {speed[label]:7.0f} env "
                        f"steps/s (trajectory {result['trajectory']})",
                        flush=True,
                    )
                ratios.append(speed["B"] / speed["A"])
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                    check=True,
                )
    pairs = ", ".join(f"{x:.2f}" for x in ratios)
    print(f"{args.b} / {args.a}: {sum(ratios) / len(ratios):.2f} on average (rounds: {pairs})")
    print("same trajectory at both revisions" if len(hashes) == 1 else "TRAJECTORIES DIFFER")


if __name__ == "__main__":
    main()
