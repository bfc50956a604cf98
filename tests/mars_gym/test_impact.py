"""The generated market reacts to an agent, not only its book (the packaged model)."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.checkpoint import DEFAULT_CHECKPOINT
from mars_gym.impact import buy_programme_impact
from mars_gym.simulator import SimulatorConfig


@pytest.mark.slow
def test_buy_programme_moves_the_market_beyond_its_own_consumption() -> None:
    if not (DEFAULT_CHECKPOINT / "model.pt").exists():
        pytest.fail("the packaged checkpoint is missing")
    result = buy_programme_impact(
        seeds=list(range(48)),
        shares_per_step=200,
        programme_steps=30,
        after_steps=0,
        config=SimulatorConfig(warmup_orders=200),
    )
    end = result.programme_steps
    seen = result.seen_per_seed[:, 1 : end + 1].mean(1)  # mean impact over the programme
    blind = result.blind_per_seed[:, 1 : end + 1].mean(1)
    # the programme raises the mid relative to the same seeds without it ...
    assert seen.mean() > 0
    # ... by more than a model blind to the agent's orders (mechanical consumption) does,
    # paired by seed, with a 95% interval that excludes zero
    diff = seen - blind
    half_width = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() - half_width > 0, (diff.mean(), half_width)
