"""The forecasting experiment: classes, statistics, batched rollouts and the command."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from lmm.data.orderflow import ORDER_DTYPE
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData
from lmm.model.features import N_BOOK_FEATURES, SESSION_OPEN_NS
from lmm.model.generate import synthetic_start
from lmm.units import NS_PER_SECOND
from mars_gym.console.forecast import configure_parser, run
from mars_gym.studies.forecast import (
    ForecastConfig,
    _vote,
    classify,
    flat_threshold,
    mcnemar_p,
    rollout_changes,
    training_changes,
    wilson_interval,
)


def test_classes_and_the_balancing_threshold() -> None:
    assert classify(np.array([-2.0, -1.0, 0.5, 1.0, 1.5]), 1.0).tolist() == [0, 1, 1, 1, 2]
    changes = np.array([0, 0, 0.5, -1, 1, 2, -2, 3, -3])  # invented
    # <= 0: 2 of 9; <= 0.5: 3 of 9 (exactly a third)
    assert flat_threshold(changes) == 0.5
    with pytest.raises(ValueError, match="no training changes"):
        flat_threshold(np.array([]))


def test_vote_breaks_ties_by_the_mean() -> None:
    classes = np.array([[0, 0, 2], [0, 2, 1], [2, 2, 1]])
    assert _vote(classes, np.array([1, 2, 1])).tolist() == [0, 2, 2]


def test_wilson_and_mcnemar_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert mcnemar_p(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0


def test_training_changes_use_only_the_training_window() -> None:
    # invented day: one order per minute from the open, the mid rising one tick each
    n = 60
    flow = np.zeros(n, dtype=ORDER_DTYPE)
    flow["time"] = SESSION_OPEN_NS + np.arange(n) * 60 * NS_PER_SECOND
    book = np.zeros((n, 1, 4), dtype=np.int64)
    book[:, 0, 0], book[:, 0, 1] = 1001 + np.arange(n), 100
    book[:, 0, 2], book[:, 0, 3] = 999 + np.arange(n), 100
    day = DayData(
        name="invented",
        flow=flow,
        price_offset=np.zeros(n, dtype=np.int64),
        dt=np.zeros(n, dtype=np.int64),
        features=np.zeros((n, N_BOOK_FEATURES), dtype=np.float32),
        book_after=book,
        is_validation=np.arange(n) >= 40,
    )
    changes = training_changes(day, 2 * 60 * NS_PER_SECOND, 60 * NS_PER_SECOND)
    assert len(changes) == 39  # starts 0..38 min; outcomes end by minute 40
    assert (changes == 2).all()


def test_rollouts_do_not_depend_on_the_batch(tiny_checkpoint: Checkpoint) -> None:
    start = synthetic_start(tiny_checkpoint.tokenizer)
    starts = [start, start]
    one = rollout_changes(tiny_checkpoint, starts, 3, 2 * NS_PER_SECOND, seed=5, batch=6)
    other = rollout_changes(tiny_checkpoint, starts, 3, 2 * NS_PER_SECOND, seed=5, batch=4)
    assert one.shape == (2, 3)
    np.testing.assert_array_equal(one, other)
    assert len(np.unique(one)) > 1  # the seeds differ


def test_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="rollouts"):
        ForecastConfig(rollouts=0)
    with pytest.raises(ValueError, match="horizon_minutes"):
        ForecastConfig(horizon_minutes=0)


@pytest.mark.slow
def test_command_end_to_end(lobster_dir: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    flags = "--step-minutes 30 --rollouts 2 --horizon-minutes 0.25 --bootstrap 50 --quiet"
    args = parser.parse_args([*flags.split(), "--data", str(lobster_dir), "--out", str(tmp_path)])
    report = run(args)
    assert report["starts"] == 6  # 3 per stock
    assert set(report["accuracy"]) == {"lmm", "lmm_mean", "majority", "last_return"}
    assert (tmp_path / "forecast.json").exists() and (tmp_path / "forecast.png").exists()
