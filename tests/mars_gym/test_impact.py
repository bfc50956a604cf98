"""The generated market reacts to an agent, not only its book (the packaged model); the
rollout loop behind the impact experiments."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import DEFAULT_CHECKPOINT
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig
from mars_gym.studies.impact import buy_programme_impact, median_interval, rollout_paths


@pytest.mark.slow
def test_buy_programme_moves_the_market_beyond_its_own_consumption() -> None:
    if not (DEFAULT_CHECKPOINT / "model.pt").exists():
        pytest.fail("the packaged checkpoint is missing")
    result = buy_programme_impact(
        seeds=list(range(96)),
        shares_per_step=200,
        programme_steps=30,
        after_steps=0,
        config=SimulatorConfig(warmup_orders=200),
    )
    end = result.programme_steps
    seen = result.seen_per_seed[:, 1 : end + 1].mean(1)  # mean impact over the programme
    blind = result.blind_per_seed[:, 1 : end + 1].mean(1)
    # the programme raises the mid relative to the same seeds without it ...
    assert seen.mean() > 0 and np.median(seen) > 0
    # ... by more than a model blind to the agent's orders (mechanical consumption) does,
    # paired by seed: the median's bootstrap 95% interval excludes zero (the mean's is wide,
    # see median_interval)
    diff = seen - blind
    low, _ = median_interval(diff)
    assert low > 0, (np.median(diff), low)


def test_rollout_paths_runs_each_market_its_own_length_and_programme(tiny_checkpoint) -> None:
    sim = MarketSimulator(3, SimulatorConfig(warmup_orders=5), tiny_checkpoint)
    buy = [(AgentOrder(OrderKind.MARKET_BUY, 0, 5),), ()]  # 5 shares, then nothing
    runs = rollout_paths(sim, [7, 7], [[], buy], [3, 2])
    assert [len(m) for m in runs.mids] == [4, 3]
    assert [len(v) for v in runs.traded] == [3, 2]
    assert runs.mids[0][0] == runs.mids[1][0]  # same seed, same market until the programme
    assert runs.agent_shares == [0, 5]
    with pytest.raises(ValueError, match="one entry per market"):
        rollout_paths(sim, [1, 2], [[]], [1, 1])
    with pytest.raises(ValueError, match="holds only 3"):
        rollout_paths(sim, [1, 2, 3, 4], [[]] * 4, [1] * 4)


def test_median_interval_brackets_the_median_and_ignores_a_few_extremes() -> None:
    x = np.r_[np.linspace(1.0, 3.0, 45), -500.0, -400.0, 900.0]
    low, high = median_interval(x)
    assert low <= np.median(x) <= high
    assert low > 1.0 and high < 3.0  # three wild markets do not widen it
    assert median_interval(np.full(10, 2.5)) == (2.5, 2.5)
    assert median_interval(x) == (low, high)  # seeded
