"""The simulator: exact agent accounting, latency, protected orders, real start states,
scenarios."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm.data.lobster import LobsterFormatError
from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint
from lmm.model.generate import synthetic_start
from lmm.model.outlook import N_OUTLOOK_FEATURES
from mars_gym import simulator
from mars_gym.scenario import Scenario, ScenarioExtrapolationWarning
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig

CONFIG = SimulatorConfig(warmup_orders=30)


@pytest.fixture
def sim(tiny_checkpoint: Checkpoint) -> MarketSimulator:
    s = MarketSimulator(2, CONFIG, tiny_checkpoint)
    s.reset([0, 1], [1, 2])
    return s


def test_accounting_is_exact_over_random_trading(sim: MarketSimulator) -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        for i in range(2):
            mid2 = sim.mid_x2(i)
            side = int(rng.choice([1, -1]))
            if rng.random() < 0.3:
                kind = OrderKind.MARKET_BUY if side == 1 else OrderKind.MARKET_SELL
                sim.submit(i, [AgentOrder(kind, 0, int(rng.integers(1, 300)))])
            else:
                kind = OrderKind.LIMIT_BUY if side == 1 else OrderKind.LIMIT_SELL
                price = mid2 // 2 - side * int(rng.integers(0, 4))
                sim.submit(i, [AgentOrder(kind, price, int(rng.integers(1, 300)))])
        sim.advance([0, 1])
    for i in range(2):
        fills = sim.fills(i)
        assert fills, "the agent should have traded"
        assert sim.inventory(i) == sum(f.side * f.size for f in fills)
        assert sim.cash_ticks(i) == -sum(f.side * f.size * f.price for f in fills)
        for order in sim.open_orders(i):  # what rests is the agent's, with a queue position
            assert order.owner == 1 and sim.queue_ahead(i, order.order_id) >= 0
        buys = [f for f in fills if f.side == 1]
        if buys:
            vwap = sum(f.price * f.size for f in buys) / sum(f.size for f in buys)
            assert sim.average_fill_price(i, 1) == pytest.approx(vwap)


def test_orders_reach_the_book_after_the_latency(tiny_checkpoint: Checkpoint) -> None:
    sim = MarketSimulator(1, SimulatorConfig(warmup_orders=30, latency_ms=250), tiny_checkpoint)
    sim.reset([0], [3])
    decided = sim.decision_ns[0]
    sim.submit(0, [AgentOrder(OrderKind.MARKET_BUY, 0, 50)])
    (activity,) = sim.advance([0])
    assert activity.agent_fills
    assert {f.time_ns for f in activity.agent_fills} == {decided + 250_000_000}
    assert sim.decision_ns[0] == decided + 1_000_000_000


@pytest.mark.parametrize("warmup_orders", [0, 3])
def test_a_reset_leaves_no_proposal_pending(
    warmup_orders: int, tiny_checkpoint: Checkpoint
) -> None:
    sim = MarketSimulator(2, SimulatorConfig(warmup_orders=warmup_orders), tiny_checkpoint)
    sim.reset([0, 1], [0, 1])
    sim.markets.propose([1])  # a market mid-step when the other resets
    sim.reset([0], [5])
    assert sim.markets.proposal_time(0) is None and sim.markets.proposal_time(1) is not None


def test_agent_cancels_its_own_order(sim: MarketSimulator) -> None:
    deep = sim.mid_x2(0) // 2 - 30  # far below the mid: it will rest
    sim.submit(0, [AgentOrder(OrderKind.LIMIT_BUY, deep, 40)])
    sim.advance([0])
    (order,) = sim.open_orders(0)
    sim.submit(0, [AgentOrder(OrderKind.CANCEL_BUY, 0, 40, order.order_id)])
    sim.advance([0])
    assert sim.open_orders(0) == [] and order.order_id not in sim.book(0)


def test_real_start_state_at_a_time_of_day(lobster_dir: Path, tiny_checkpoint: Checkpoint) -> None:
    from lmm.model.dataset import build_dataset

    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    config = SimulatorConfig(warmup_orders=0, start_file=str(path), start_time="14:30")
    sim = MarketSimulator(1, config, tiny_checkpoint)
    sim.reset([0], [0])
    day = build_dataset([path], tokenizer=tiny_checkpoint.tokenizer).days[0]
    j = day.index_at(52_200 * 10**9)
    np.testing.assert_array_equal(sim.book(0).snapshot(5), day.book_after[j])
    assert sim.decision_ns[0] == day.flow["time"][j]


def test_a_market_that_will_not_reach_the_next_decision_raises(
    tiny_checkpoint: Checkpoint,
) -> None:
    # a cap of one order a second stands in for a clock that stopped: an hour of this
    # market holds seconds with more (LMMMarkets checks it; tests/lmm/test_generate.py stops
    # a clock for real)
    hour = {"warmup_orders": 0, "decision_interval_s": 3600.0}
    roomy = MarketSimulator(1, SimulatorConfig(**hour), tiny_checkpoint)
    roomy.reset([0], [0])
    assert len(roomy.advance([0])[0].orders) > 2
    capped = SimulatorConfig(**hour, max_orders_per_second=1)
    sim = MarketSimulator(1, capped, tiny_checkpoint)
    sim.reset([0], [0])
    with pytest.raises(RuntimeError, match="market 0 generated more than max_orders_per_second=1"):
        sim.advance([0])


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_orders_per_second"):
        SimulatorConfig(max_orders_per_second=0)
    with pytest.raises(ValueError, match="decision_interval_s"):
        SimulatorConfig(decision_interval_s=0)
    with pytest.raises(ValueError, match="latency_ms"):
        SimulatorConfig(latency_ms=float("nan"))
    with pytest.raises(ValueError, match="temperature must be finite and >= 0"):
        SimulatorConfig(temperature=-0.5)
    with pytest.raises(ValueError, match="tick_size must be finite and > 0"):
        SimulatorConfig(tick_size=float("nan"))


@pytest.mark.parametrize("start_time", ["08:00", "17:30"])
def test_a_start_time_outside_the_files_day_is_refused(
    start_time: str, lobster_dir: Path, tiny_checkpoint: Checkpoint
) -> None:
    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    config = SimulatorConfig(warmup_orders=0, start_file=str(path), start_time=start_time)
    with pytest.raises(
        ValueError, match=rf"within the trading day .*09:30:0\d to 1[56]:.*'{start_time}'"
    ):
        MarketSimulator(1, config, tiny_checkpoint)


def test_a_start_file_that_is_not_a_zip_names_it(
    tmp_path: Path, tiny_checkpoint: Checkpoint
) -> None:
    fake = tmp_path / "LOBSTER_SampleFile_TEST_2012-06-21_5.zip"
    fake.write_text("34200.0,1,1,100,1000000,1\n")
    with pytest.raises(LobsterFormatError, match=f"{fake}: is not a zip archive"):
        MarketSimulator(1, SimulatorConfig(start_file=str(fake)), tiny_checkpoint)


def test_a_scenarios_text_is_parsed_into_the_config() -> None:
    config = SimulatorConfig(scenario="1m drift -10bp; 2m calm")
    assert config.scenario == Scenario.parse("1m drift -10bp; 2m calm")
    assert pickle.loads(pickle.dumps(config)) == config  # it travels to worker processes
    with pytest.raises(ValueError, match="unknown word 'drop' in segment '1m drop -10bp'"):
        SimulatorConfig(scenario="1m drop -10bp")
    with pytest.raises(TypeError, match="scenario must be a Scenario, its text or None, got 5"):
        SimulatorConfig(scenario=5)


def test_every_market_follows_the_scenario_from_the_start_state(
    tiny_outlook_checkpoint: Checkpoint,
) -> None:
    config = SimulatorConfig(warmup_orders=30, scenario="1m drift -20bp vol 12bp; 1m calm")
    sim = MarketSimulator(2, config, tiny_outlook_checkpoint)
    sim.reset([0, 1], [1, 2])
    start = synthetic_start(tiny_outlook_checkpoint.tokenizer).time_ns
    path = config.scenario.path(start, tiny_outlook_checkpoint.model.outlook_range)
    for i in (0, 1):
        _, inputs = sim.markets.history(i)
        assert np.all(inputs[:, -N_OUTLOOK_FEATURES] == 1)  # known at every order
    # before the warm-up the context is the start's: it reads the outlook at scenario time 0
    cold = MarketSimulator(1, replace(config, warmup_orders=0), tiny_outlook_checkpoint)
    cold.reset([0], [1])
    outlook = cold.markets.history(0)[1][:, -N_OUTLOOK_FEATURES:]
    np.testing.assert_array_equal(outlook, np.repeat(path.features(start), len(outlook), 0))
    unconditional = MarketSimulator(1, replace(config, scenario=None), tiny_outlook_checkpoint)
    unconditional.reset([0], [1])
    assert not unconditional.markets.history(0)[1][:, -N_OUTLOOK_FEATURES:].any()


def test_the_scenario_guidance_reaches_the_markets(tiny_outlook_checkpoint: Checkpoint) -> None:
    config = SimulatorConfig(warmup_orders=0, scenario="1m calm", scenario_guidance=3.0)
    assert MarketSimulator(1, config, tiny_outlook_checkpoint).markets.guidance == 3.0
    default = MarketSimulator(1, replace(config, scenario_guidance=None), tiny_outlook_checkpoint)
    assert default.markets.guidance == 1.0  # the checkpoint has no outlook_guidance
    with pytest.raises(ValueError, match="scenario_guidance must be finite and >= 0, got -1"):
        SimulatorConfig(scenario_guidance=-1.0)


def test_a_scenario_on_a_checkpoint_without_outlook_features_names_it(
    tiny_checkpoint_dir: Path,
) -> None:
    config = SimulatorConfig(checkpoint=str(tiny_checkpoint_dir), scenario="1m calm")
    with pytest.raises(
        ValueError,
        match=rf"checkpoint {tiny_checkpoint_dir} reads no outlook.*checkpoint=\"scenario\"",
    ):
        MarketSimulator(1, config)


def test_a_scenario_without_a_checkpoint_runs_on_the_scenario_checkpoint(
    tiny_outlook_checkpoint: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = []

    def load(name: str | None) -> Checkpoint:
        loaded.append(name)
        return tiny_outlook_checkpoint

    monkeypatch.setattr(simulator, "load_checkpoint", load)
    MarketSimulator(1, SimulatorConfig(warmup_orders=0, scenario="1m calm"))
    MarketSimulator(1, SimulatorConfig(warmup_orders=0))
    assert loaded == ["scenario", None]


def test_a_scenario_is_checked_against_the_models_range(
    tiny_outlook_checkpoint: Checkpoint,
) -> None:
    with pytest.warns(ScenarioExtrapolationWarning, match="segment 2 '1m vol 50bp'"):
        MarketSimulator(
            1, SimulatorConfig(scenario="1m calm; 1m vol 50bp"), tiny_outlook_checkpoint
        )
    with pytest.raises(ValueError, match=r"segment 1 '1m vol 69bp': vol 69 .* beyond twice"):
        MarketSimulator(1, SimulatorConfig(scenario="1m vol 69bp"), tiny_outlook_checkpoint)
