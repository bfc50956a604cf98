"""Evaluation: distances, metrics, baselines; a small end-to-end run on real data (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.data.orderflow import OrderKind
from lmm.evaluation.baselines import FrequencyModel, ZeroIntelligenceMarkets, ZeroIntelligenceParams
from lmm.evaluation.evaluate import (
    RECORD_DTYPE,
    distances,
    evaluate_lmm,
    generate_records,
    metrics_of,
    sampling_floor,
)
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.generate import LMMMarkets, synthetic_start


def test_distances_of_identical_disjoint_and_shifted_samples() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    same = distances(x, x.copy())
    assert same["l1"] == 0.0 and same["w1"] == 0.0
    apart = distances(x, x + 100.0)
    assert apart["l1"] == pytest.approx(1.0)
    assert apart["w1"] == pytest.approx(100.0, rel=1e-3)
    cat = distances(np.array([0, 0, 1, 1.0]), np.array([0, 1, 1, 1.0]), categorical=True)
    assert cat["l1"] == pytest.approx(0.25) and np.isnan(cat["w1"])
    assert np.isnan(distances(np.zeros(0), x)["l1"])


def test_metrics_of_hand_made_records() -> None:
    r = np.zeros(3, dtype=RECORD_DTYPE)
    r["time"] = [0, 10**9, 60 * 10**9]
    r["kind"] = [OrderKind.LIMIT_BUY, OrderKind.CANCEL_SELL, OrderKind.LIMIT_SELL]
    r["price"] = [99, 104, 101]
    r["size"] = [100, 5, 30]
    r["bid_before"], r["ask_before"] = 100, 102
    r["bid_after"], r["ask_after"] = [100, 100, 100], [102, 102, 101]
    r["bid_size_after"], r["ask_size_after"] = [300, 300, 300], [100, 100, 100]
    m = metrics_of(r)
    assert m["spread"].tolist() == [2, 2, 1]
    assert m["order_size"].tolist() == [100, 30]
    assert m["limit_depth"].tolist() == [1, -1]  # a buy 1 tick behind the bid; a sell inside
    assert m["cancel_depth"].tolist() == [2]
    assert m["imbalance"].tolist() == [0.5, 0.5, 0.5]
    np.testing.assert_allclose(m["log_interarrival"], [0.0, np.log10(59)])
    assert len(m["returns_1min"]) == 1  # one full minute on the grid
    assert m["returns_1min"][0] == pytest.approx(1e4 * np.log(100.5 / 101))


def _flow(rollout: int, spread: int, n: int = 200) -> np.ndarray:
    """``n`` limit buys a second apart in a book of constant ``spread``."""
    r = np.zeros(n, dtype=RECORD_DTYPE)
    r["rollout"] = rollout
    r["time"] = np.arange(n) * 10**9
    r["kind"], r["price"], r["size"] = OrderKind.LIMIT_BUY, 100, 10
    r["bid_before"] = r["bid_after"] = 100
    r["ask_before"] = r["ask_after"] = 100 + spread
    r["bid_size_after"] = r["ask_size_after"] = 50
    return r


def test_sampling_floor_compares_each_windows_first_rollout_with_the_others() -> None:
    window = np.array([0, 0, 0, 1, 1, 1])  # two windows, three rollouts each
    alike = np.concatenate([_flow(i, spread=2 + (i >= 3)) for i in range(6)])
    floor = sampling_floor(alike, window)
    assert floor["spread"]["l1"] == 0.0 and floor["mean"]["l1"] == 0.0
    # the first rollout of window 1 (market 3) has another spread than its other rollouts
    unlike = np.concatenate([_flow(i, spread=5 if i == 3 else 2 + (i >= 3)) for i in range(6)])
    assert sampling_floor(unlike, window)["spread"]["l1"] == pytest.approx(0.5)
    # with one rollout per window nothing is left to compare
    one = sampling_floor(np.concatenate([_flow(i, 2) for i in range(2)]), np.array([0, 1]))
    assert np.isnan(one["spread"]["l1"]) and np.isnan(one["mean"]["l1"])


def test_frequency_baseline_is_smoothed_counting() -> None:
    model = FrequencyModel.fit(np.array([0, 0, 0, 1]), vocab_size=4)
    # add-one: counts (4, 2, 1, 1) over 8
    np.testing.assert_allclose(model.nll_bits(np.array([0, 2])), [1.0, 3.0])


@pytest.mark.slow
def test_zero_intelligence_and_small_evaluation_on_real_data(
    lobster_dir: Path, tiny_checkpoint: Checkpoint
) -> None:
    files = [lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"]
    dataset = build_dataset(files, tokenizer=tiny_checkpoint.tokenizer)
    params = ZeroIntelligenceParams.fit(dataset.days)
    assert params.market_rate > 0 and (params.limit_rate >= 0).all() and params.limit_rate.sum() > 0
    day = dataset.days[0]
    start = day.start_state(day.index_at(52_200 * 10**9), 16)
    records, info = generate_records(
        ZeroIntelligenceMarkets(params, 2), [start] * 2, [1, 1], 30 * 10**9
    )
    assert info["orders"] > 0
    # same seed, same start: both rollouts are identical
    a, b = (records[records["rollout"] == k] for k in (0, 1))
    assert np.array_equal(
        a[["time", "kind", "price", "size"]], b[["time", "kind", "price", "size"]]
    )
    report = evaluate_lmm(
        tiny_checkpoint, files, start_minutes=(0,), horizon_minutes=1, rollouts=1, progress=False
    )
    assert report.nll_bits["model"] > 0 and report.nll_bits["frequency_baseline"] > 0
    assert set(report.fidelity) == {"lmm", "zero_intelligence"}
    assert 0.0 <= report.fidelity["lmm"]["mean"]["l1"] <= 1.0
    assert np.isnan(report.floor["lmm"]["mean"]["l1"])  # one rollout: no floor


def test_a_rollout_whose_clock_stalls_raises(tiny_checkpoint: Checkpoint) -> None:
    start = synthetic_start(tiny_checkpoint.tokenizer)
    hour = 3600 * 10**9
    # a rate limit of one order per hour stands in for a clock that stopped
    with pytest.raises(RuntimeError, match="market 0 made more than 1 orders"):
        generate_records(
            LMMMarkets(tiny_checkpoint, 1), [start], [0], hour, max_orders_per_second=1 / 3600
        )
    records, info = generate_records(LMMMarkets(tiny_checkpoint, 1), [start], [0], 5 * 10**9)
    assert info["orders"] == len(records) > 0


def test_table_columns_stay_apart_for_long_model_names() -> None:
    from lmm.evaluation.evaluate import METRICS, FidelityReport

    row = {"l1": 0.5, "w1": 12.25}
    fidelity = {m: {k: row for k in [*METRICS, "mean"]} for m in ("lmm", "zero_intelligence")}
    lines = FidelityReport({}, fidelity, {}, {}).table().splitlines()
    header = "metric lmm L1 lmm W1 zero_intelligence L1 zero_intelligence W1"
    assert lines[0].split() == header.split(" ")
    assert all(line.split()[1:] == ["0.500", "12.250"] * 2 for line in lines[1:])
    floor = {m: {k: {"l1": 0.125} for k in [*METRICS, "mean"]} for m in fidelity}
    lines = FidelityReport({}, fidelity, {}, {}, floor).table().splitlines()
    header = "metric " + " ".join(f"{m} L1 {m} floor {m} W1" for m in fidelity)
    assert lines[0].split() == header.split(" ")
    assert all(line.split()[1:] == ["0.500", "0.125", "12.250"] * 2 for line in lines[1:])
