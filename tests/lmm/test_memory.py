"""Memory features: one definition by clock time, the same numbers in training (a day at
once) and in simulation (one order at a time, agent orders included), optional in the model
(a checkpoint without them generates as before)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from lmm.model.dataset import DayData, OrderDataset, build_dataset
from lmm.model.features import FEATURE_LEVELS, N_BOOK_FEATURES, mid_x2
from lmm.model.generate import LMMMarkets, OutsideOrder, synthetic_start
from lmm.model.memory import (
    MEMORY_HORIZON_NS,
    N_MEMORY_FEATURES,
    MemoryTracker,
    carried_mid2,
    memory_features,
    signed_market_volume,
)
from lmm.model.train import QUICK, train
from lmm.model.transformer import LMM
from lmm.units import NS_PER_SECOND

S = NS_PER_SECOND


def _unscaled(features: np.ndarray) -> np.ndarray:
    """Ticks and shares back from the signed logs (3 for ticks, 10 for shares)."""
    scale = np.array([3, 3, 3, 10, 10, 10, 3, 3])
    return np.sign(features) * np.expm1(np.abs(features.astype(np.float64)) * scale)


def test_the_features_follow_their_definition_by_clock_time() -> None:
    # the mid (in ticks) is 100 until 30 s, 104 from then, 98 from 100 s; market orders
    # buy 300 at 30 s and sell 50 at 100 s
    t = np.array([0, 30, 100, 100, 400]) * S
    mid2 = 2 * np.array([100, 104, 104, 98, 98])
    volume = signed_market_volume(
        np.array([0, OrderKind.MARKET_BUY, OrderKind.LIMIT_SELL, OrderKind.MARKET_SELL, 1]),
        np.array([10, 300, 20, 50, 30]),
    )
    np.testing.assert_array_equal(volume, [0, 300, 0, -50, 0])
    got = _unscaled(memory_features(t, mid2, volume))
    # at 100 s (the second order then): 10 s ago 104, 60 s ago 104, 300 s ago (before the
    # first order) 100; the last 60 s hold the sell only, the last 300 s both
    np.testing.assert_allclose(got[3, :6], [-6, -6, -2, -50, -50, 250], rtol=1e-5)
    # the 60-s average over [40, 100] is 104, over [-200, 100] it is
    # (230 * 100 + 70 * 104) / 300
    np.testing.assert_allclose(got[3, 6:], [-6, 98 - (230 * 100 + 70 * 104) / 300], rtol=1e-5)
    # at 400 s: the mid stood at 98 for the whole of the last 300 s
    np.testing.assert_allclose(got[4], [0, 0, 0, 0, 0, 0, 0, 0], atol=1e-6)
    # an order at the same time as an earlier one sees that one, not the later ones
    np.testing.assert_allclose(got[2, :6], [0, 0, 4, 0, 0, 300], rtol=1e-5)


def test_the_tracker_equals_the_day_at_once_on_a_real_day(lobster_dir: Path) -> None:
    """Simulation's incremental features equal training's vectorised ones on a real day's
    flow, to float32 equality: from the day's first order, and from mid-day starts that
    carry the history the memory reaches."""
    from lmm.data.lobster import read_lobster
    from lmm.model.dataset import day_orders

    day = day_orders(read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"))
    t = day.flow["time"]
    mid2 = carried_mid2(day.book_after, 0)
    volume = signed_market_volume(day.flow["kind"], day.flow["size"])
    tracker = MemoryTracker()
    whole = np.stack([tracker.update(*row) for row in zip(t, mid2, volume, strict=True)])
    np.testing.assert_array_equal(whole, day.memory)
    for start in (0, 500, len(t) // 2):
        history = day.memory_history(start)
        assert history[0, 0] <= t[start] - MEMORY_HORIZON_NS or start < 2000
        tracker = MemoryTracker.from_history(*history.T)
        later = range(start + 1, min(start + 3000, len(t)))
        rows = np.stack([tracker.update(t[j], mid2[j], volume[j]) for j in later])
        np.testing.assert_array_equal(rows, day.memory[start + 1 : later.stop])


def test_the_tracker_keeps_only_what_the_memory_reaches() -> None:
    tracker = MemoryTracker()
    for k in range(5000):
        tracker.update(k * S // 5, 200, 1)  # five orders a second
    assert len(tracker._t) < 300 * 5 + 300


def _memory_checkpoint(tiny_checkpoint: Checkpoint) -> Checkpoint:
    config = replace(tiny_checkpoint.model.config, n_memory_features=N_MEMORY_FEATURES)
    torch.manual_seed(0)
    model = LMM(config).eval()
    with torch.no_grad():  # make the memory matter for an untrained model
        model.memory_proj[0].weight.normal_(0, 3)
    return Checkpoint(model=model, tokenizer=tiny_checkpoint.tokenizer)


def test_a_model_without_memory_has_the_weights_it_had(tiny_checkpoint: Checkpoint) -> None:
    model = tiny_checkpoint.model
    assert model.config.n_memory_features == 0
    assert not any("memory" in k for k in model.state_dict())
    x = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="book features must have shape"):
        model(x, torch.zeros(1, 3, N_BOOK_FEATURES + N_MEMORY_FEATURES))


@pytest.fixture(scope="module")
def goog_day(lobster_dir: Path, tiny_checkpoint: Checkpoint) -> DayData:
    """A real day tokenized with the tiny checkpoint's tokenizer."""
    path = lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    return build_dataset([path], tokenizer=tiny_checkpoint.tokenizer).days[0]


def _memory_of_session(markets: LMMMarkets, start_history: np.ndarray, steps: int) -> list:
    """Step market 0 (sending an agent market order now and then) and return, after each
    order, the memory columns the model read and those :func:`memory_features` gives over
    the start's history and the realised orders."""
    rows = [tuple(r) for r in start_history]
    read = []
    for step in range(steps):
        if step % 40 == 20:
            book = markets.book(0)
            (r,) = markets.inject(
                [OutsideOrder(0, OrderKind.MARKET_BUY, 2**40, 500, markets.time_ns(0))]
            )
            kind, size, t = r.kind, r.size, markets.time_ns(0)
        else:
            (o,) = markets.step()
            if o is None:
                continue
            kind, size, t = o.realized.kind, o.realized.size, o.time_ns
        book = markets.book(0).snapshot(FEATURE_LEVELS)
        mid = int(mid_x2(book)) or rows[-1][1]
        rows.append((t, mid, int(signed_market_volume(np.array([kind]), np.array([size]))[0])))
        read.append(markets._market(0).history_features[-1][N_BOOK_FEATURES:])
    rows = np.array(rows, dtype=np.int64)
    expected = memory_features(*rows.T)[len(start_history) :]
    return [np.stack(read), expected]


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_simulation_reads_the_memory_training_would_compute(
    tiny_checkpoint: Checkpoint, goog_day: DayData, engine: str
) -> None:
    ck = _memory_checkpoint(tiny_checkpoint)
    index = goog_day.index_at(40_000 * S)
    start = goog_day.start_state(index, ck.model.config.context)
    np.testing.assert_array_equal(start.memory[-1], goog_day.memory[index])
    markets = LMMMarkets(ck, 1, engine=engine)
    markets.reset(0, start, seed=5)
    read, expected = _memory_of_session(markets, start.memory_history, 150)
    np.testing.assert_array_equal(read, expected)


def test_both_engines_generate_the_same_market_with_memory(
    tiny_checkpoint: Checkpoint, goog_day: DayData
) -> None:
    ck = _memory_checkpoint(tiny_checkpoint)
    start = goog_day.start_state(goog_day.index_at(40_000 * S), ck.model.config.context)
    sessions = []
    for engine in ("python", "compiled"):
        m = LMMMarkets(ck, 2, engine=engine)
        for i in range(2):
            m.reset(i, start, seed=11 + i)
        orders = []
        for _ in range(120):
            orders += [
                (o.time_ns, int(o.realized.kind), o.realized.price, o.realized.size)
                for o in m.step()
                if o is not None
            ]
        sessions.append((orders, m._h.numpy().tolist()))
    assert sessions[0] == sessions[1]


def test_the_memory_changes_the_market_and_a_model_without_it_ignores_it(
    tiny_checkpoint: Checkpoint, goog_day: DayData
) -> None:
    start = goog_day.start_state(goog_day.index_at(40_000 * S), 16)
    forgetful = replace(start, memory=None, memory_history=None)

    def run(ck: Checkpoint, s: object) -> list:
        m = LMMMarkets(ck, 1)
        m.reset(0, s, seed=3)
        return [(o.time_ns, o.realized.price) for _ in range(60) for o in m.step() if o]

    assert run(tiny_checkpoint, start) == run(tiny_checkpoint, forgetful)
    ck = _memory_checkpoint(tiny_checkpoint)
    assert run(ck, start) != run(ck, forgetful)
    # the data-free start: zeros in the context, a memory that starts at the start
    m = LMMMarkets(ck, 1)
    m.reset(0, synthetic_start(ck.tokenizer), seed=1)
    assert not m._market(0).history_features[0][N_BOOK_FEATURES:].any()
    m.step()


def test_training_with_memory_round_trips(
    tiny_checkpoint: Checkpoint, goog_day: DayData, tmp_path: Path
) -> None:
    dataset = OrderDataset(
        days=(goog_day,), tokenizer=tiny_checkpoint.tokenizer, validation_minutes=90
    )
    config = replace(QUICK, context=16, steps=4, eval_every=2, memory=True)
    model = train(dataset, config, progress=False).model
    assert model.config.n_memory_features == N_MEMORY_FEATURES
    save_checkpoint(tmp_path, model, tiny_checkpoint.tokenizer)
    loaded = load_checkpoint(tmp_path)
    assert loaded.model.config.n_memory_features == N_MEMORY_FEATURES
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    with pytest.raises(ValueError, match="memory features; this day has None"):
        replace(goog_day, memory=None).inputs(N_MEMORY_FEATURES)


def test_the_numba_decoder_refuses_a_model_with_memory(tiny_checkpoint: Checkpoint) -> None:
    with pytest.raises(ValueError, match="does not yet take memory features"):
        LMMMarkets(_memory_checkpoint(tiny_checkpoint), 1, decoder="numba")
