"""The execution deadline: every share of the parent order is paid for, and waiting for
the forced market order is never cheaper than the book it leaves."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

import mars_gym  # noqa: F401  (registers the environments)

WAIT = np.array([0, 0])  # no child order: everything is forced at the deadline


def _wait_until_deadline(checkpoint: Path, quantity: int, seed: int) -> tuple[dict, int]:
    """Play a do-nothing policy; the last info and the shares the agent actually bought."""
    env = gym.make(
        "MarS-Execution-v0",
        checkpoint=str(checkpoint),
        warmup_orders=30,
        horizon=5,
        quantity=quantity,
    )
    env.reset(seed=seed)
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(WAIT)
        done = terminated or truncated
    bought = sum(f.size * f.side for f in env.unwrapped.runner.sim.fills(0))
    return info, bought


def test_every_share_of_the_parent_order_is_filled_or_charged(tiny_checkpoint_dir: Path) -> None:
    quantity = 50_000  # far more than the tiny market's book holds
    info, bought = _wait_until_deadline(tiny_checkpoint_dir, quantity, seed=3)
    assert info["unfilled"] > 0, "the test needs a forced order larger than the book"
    assert info["forced"] == quantity and info["remaining"] == 0
    assert bought + info["unfilled"] == quantity


def test_forcing_ten_times_the_shares_costs_more_per_share(tiny_checkpoint_dir: Path) -> None:
    # the agent does nothing until the deadline, so both episodes meet the same book there
    small, _ = _wait_until_deadline(tiny_checkpoint_dir, 2_000, seed=5)
    large, bought_large = _wait_until_deadline(tiny_checkpoint_dir, 20_000, seed=5)
    assert bought_large < 20_000, "the test needs a forced order larger than the book"
    # shortfall is in bp of the parent's notional, that is per share
    assert large["shortfall_bp"] > small["shortfall_bp"]


def test_waiting_scores_worse_than_twap_at_market() -> None:
    # the packaged fast model, 32 seeds paired: a policy is never paid to wait
    seeds = 32
    kwargs = {"checkpoint": "fast", "horizon": 10, "quantity": 2_000}
    twap_at_market = np.array([4, 2])  # one TWAP slice per decision, crossing the spread
    shortfall = {}
    for name, action in (("wait", WAIT), ("twap", twap_at_market)):
        env = gym.make_vec("MarS-Execution-v0", num_envs=seeds, **kwargs)
        env.reset(seed=list(range(1_000, 1_000 + seeds)))
        final = np.full(seeds, np.nan)
        actions = np.tile(action, (seeds, 1))
        while np.isnan(final).any():
            _, _, terminated, truncated, info = env.step(actions)
            ended = (terminated | truncated) & np.isnan(final)
            final[ended] = info["shortfall_bp"][ended]
        env.close()
        shortfall[name] = final
    difference = shortfall["wait"] - shortfall["twap"]
    assert difference.mean() > 0, f"waiting beat TWAP at market by {-difference.mean():.2f} bp"
    assert (difference > 0).mean() > 0.5
