"""Quickstart: make the execution environment, run TWAP, print the result.

python examples/quickstart.py --seed 0
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import mars_gym  # noqa: F401  (registers the environments)
from agents.baselines import TWAP


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description="Buy a parent order with TWAP in MarS-Execution-v0."
    )
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--quantity", type=int, default=2_000, help="shares to buy")
    parser.add_argument("--horizon", type=int, default=60, help="decisions (1 s each)")
    parser.add_argument("--checkpoint", help="LMM checkpoint folder (default: the packaged one)")
    args = parser.parse_args(argv)
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    env = gym.make("MarS-Execution-v0", quantity=args.quantity, horizon=args.horizon, **kwargs)
    policy = TWAP(env.unwrapped.runner.task)
    obs, _ = env.reset(seed=args.seed)
    done, steps, total = False, 0, 0.0
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total, steps, done = total + reward, steps + 1, terminated or truncated
    print(
        f"TWAP bought {args.quantity} shares in {steps} decisions: implementation shortfall "
        f"{info['shortfall_bp']:.2f} bp ({info['forced']} shares forced at market at the end)"
    )
    return {"shortfall_bp": info["shortfall_bp"], "steps": steps, "return": total}


if __name__ == "__main__":
    main()
