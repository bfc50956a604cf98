"""The scenario studies' measurements: realised rates by hand, the calibration grid's
wiring (its unconditional cell is the plain market of the same seeds), a real
afternoon's path as the history study's yardstick, and what a model reads from each
outlook number."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.memory import carried_mid2
from mars_gym.simulator import MarketSimulator, SimulatorConfig
from mars_gym.studies.impact import rollout_paths
from mars_gym.studies.scenarios import (
    CalibrationCell,
    calibrate,
    day_normal_volume,
    follow_history,
    outlook_persistence,
    outlook_sensitivity,
    realized_rates,
)

DAY = "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"


def test_realized_rates_by_hand() -> None:
    mids = np.array([100.0, 101.0, 100.0, 102.0])  # three decisions 20 s apart: one minute
    traded = np.array([30, 0, 90])
    drift, volatility, volume = realized_rates(mids, traded, interval_s=20.0, normal=60.0)
    assert drift == pytest.approx(200.0)  # +2% in one minute
    steps = np.log([1.01, 100 / 101, 1.02])
    assert volatility == pytest.approx(1e4 * np.sqrt(np.sum(steps**2)))
    assert volume == pytest.approx(2.0)  # 120 shares in a minute against 60
    # two minutes of the same moves: half the drift and volume, volatility / sqrt(2)
    slow = realized_rates(mids, traded, interval_s=40.0, normal=60.0)
    assert slow == pytest.approx((100.0, volatility / np.sqrt(2), 1.0))


@pytest.mark.parametrize(
    "mids", [np.array([100.0]), np.array([100.0, 0.0]), np.array([-1.0, 100.0])]
)
def test_realized_rates_refuses_a_rollout_without_moves_to_measure(mids: np.ndarray) -> None:
    with pytest.raises(ValueError, match="needs >= 1 decision and positive mids"):
        realized_rates(mids, np.zeros(max(len(mids) - 1, 0)), 1.0, 1.0)


def test_a_cells_summary_is_its_mean_inside_a_seeded_interval() -> None:
    realized = np.array([[1.0, 3.0, 1.0], [3.0, 5.0, 2.0], [2.0, 4.0, 3.0]])
    summary = CalibrationCell(5.0, None, realized).summary()
    assert summary["requested_drift"] == 5.0 and summary["requested_volatility"] is None
    for k, name in enumerate(("drift", "volatility", "volume")):
        low, high = summary[name]["ci95"]
        assert summary[name]["mean"] == pytest.approx(realized[:, k].mean())
        assert realized[:, k].min() <= low <= summary[name]["mean"] <= high
    assert CalibrationCell(5.0, None, realized).summary() == summary


def _config(checkpoint_dir: Path, lobster_dir: Path) -> SimulatorConfig:
    return SimulatorConfig(
        checkpoint=str(checkpoint_dir),
        start_file=str(lobster_dir / DAY),
        start_time="14:30",
        warmup_orders=0,
        decision_interval_s=2.0,
    )


def test_calibration_runs_the_grid_on_the_same_seeds(
    tiny_outlook_checkpoint: Checkpoint, tiny_outlook_checkpoint_dir: Path, lobster_dir: Path
) -> None:
    config = _config(tiny_outlook_checkpoint_dir, lobster_dir)
    seeds = [3, 4]
    cells, fit = calibrate(config, [-10.0, 10.0], [None, 8.0], seeds, minutes=0.2)
    asked = [(c.drift, c.volatility) for c in cells]
    assert asked == [(None, None), (-10.0, None), (-10.0, 8.0), (10.0, None), (10.0, 8.0)]
    assert all(c.realized.shape == (2, 3) for c in cells)
    # the unconditional cell is the plain market of the same seeds, measured by hand
    sim = MarketSimulator(2, config, tiny_outlook_checkpoint)
    runs = rollout_paths(sim, seeds, [()] * 2, [6] * 2)
    day = build_dataset([lobster_dir / DAY], tokenizer=tiny_outlook_checkpoint.tokenizer).days[0]
    normal = day_normal_volume(day)
    plain = [realized_rates(m, v, 2.0, normal) for m, v in zip(runs.mids, runs.traded, strict=True)]
    np.testing.assert_array_equal(cells[0].realized, plain)
    # drift is asked at two sizes, so its fit is defined; volatility is left typical in
    # half the cells (None), so its fit is not
    assert set(fit) == {"drift_correlation", "drift_slope"}
    assert -1 <= fit["drift_correlation"] <= 1


def test_calibration_names_what_it_cannot_run(
    tiny_outlook_checkpoint_dir: Path, lobster_dir: Path
) -> None:
    config = _config(tiny_outlook_checkpoint_dir, lobster_dir)
    with pytest.raises(ValueError, match="give a start_file"):
        calibrate(replace(config, start_file=None), [1.0], [None], [0], 0.1)
    with pytest.raises(ValueError, match="give a config without one"):
        calibrate(replace(config, scenario="1m calm"), [1.0], [None], [0], 0.1)


def test_history_measures_against_the_real_mid_each_minute(
    tiny_outlook_checkpoint: Checkpoint, tiny_outlook_checkpoint_dir: Path, lobster_dir: Path
) -> None:
    config = replace(_config(tiny_outlook_checkpoint_dir, lobster_dir), decision_interval_s=30.0)
    result = follow_history(config, minutes=2, seeds=[1, 2])
    assert result.following.shape == result.unconditional.shape == (2, 3)
    assert (result.following[:, 0] == 0).all() and result.real[0] == 0
    # the real path: the mid after the last order at or before each whole minute
    day = build_dataset([lobster_dir / DAY], tokenizer=tiny_outlook_checkpoint.tokenizer).days[0]
    mid2 = carried_mid2(day.book_after, 0).astype(np.float64)
    start = 14 * 3600 + 30 * 60
    for minute in range(3):
        at = np.flatnonzero(day.flow["time"] <= (start + 60 * minute) * 10**9)[-1]
        index0 = np.flatnonzero(day.flow["time"] <= start * 10**9)[-1]
        expected = 1e4 * (mid2[at] / mid2[index0] - 1)
        assert result.real[minute] == pytest.approx(expected)
    rmse = result.rmse(result.following)
    np.testing.assert_allclose(
        rmse, np.sqrt(((result.following - result.real) ** 2).mean(0)), rtol=0, atol=0
    )
    summary = result.summary()
    assert summary["following"]["final_rmse"] == pytest.approx(rmse[-1])
    with pytest.raises(ValueError, match="needs a start_file"):
        follow_history(replace(config, start_file=None), 1, [1])


def test_sensitivity_measures_each_outlook_number_against_the_typical_outlook(
    tiny_checkpoint: Checkpoint, tiny_outlook_checkpoint: Checkpoint, lobster_dir: Path
) -> None:
    day = build_dataset([lobster_dir / DAY], tokenizer=tiny_outlook_checkpoint.tokenizer).days[0]
    result = outlook_sensitivity(tiny_outlook_checkpoint, day, guidance=1.0, windows=3)
    assert list(result) == [
        "typical",
        *(f"{n} {end}" for n in ("drift", "volatility", "volume") for end in ("low", "high")),
        "unknown",
    ]
    assert result["typical"]["kl_bits"] == 0.0
    for r in result.values():
        assert r["limit"] + r["market"] + r["cancel"] == pytest.approx(1.0)
        assert 0 <= r["buy_market"] <= 1 and r["kl_bits"] >= 0
    # the tiny model's outlook projection is drawn large: every number moves it
    assert min(r["kl_bits"] for name, r in result.items() if name != "typical") > 1e-4
    # at guidance 0 every outlook reads as unknown: nothing moves
    still = outlook_sensitivity(tiny_outlook_checkpoint, day, guidance=0.0, windows=3)
    assert all(r["kl_bits"] == pytest.approx(0.0, abs=1e-9) for r in still.values())
    with pytest.raises(ValueError, match="reads no outlook"):
        outlook_sensitivity(tiny_checkpoint, day, guidance=1.0)


def test_persistence_correlates_each_number_with_the_minute_before() -> None:
    minute = 60 * 10**9
    t = np.arange(0, 10 * minute, 10**9 * 15, dtype=np.int64)  # 4 orders a minute, 10 minutes
    outlook = np.zeros((len(t), 4))
    outlook[:, 0] = 1.0
    block = t // minute
    outlook[:, 1] = (-1.0) ** block  # the drift turns every minute
    outlook[:, 2] = np.log1p(block)  # volatility rises minute by minute
    outlook[:, 3] = np.random.default_rng(0).normal(size=len(t))  # volume: noise
    outlook[-4:] = 0.0  # the last minute unknown (its features zeros, as in a day)
    result = outlook_persistence(t, outlook)
    assert result["drift"] == pytest.approx(-1.0)
    assert result["volatility"] > 0.95
    assert abs(result["volume"]) < 0.5
    with pytest.raises(ValueError, match="must have shape"):
        outlook_persistence(t, outlook[:, :3])
    with pytest.raises(ValueError, match="fewer than 3"):
        outlook_persistence(t[:4], outlook[:4])
