"""Fine-tuning: rollout windows pair the model's own states with the real orders, and
fine-tuning, with and without them, is seeded and moves the weights."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, OrderDataset, build_dataset
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from lmm.model.tune import TuneConfig, fine_tune, rollout_windows
from tests.conftest import untrained_checkpoint

MID = PriceReference.MID


@pytest.fixture(scope="module")
def goog_day(lobster_dir: Path, tiny_checkpoint: Checkpoint) -> DayData:
    """A real day tokenized with the tiny checkpoint's tokenizer (its last 10 minutes held
    out, to keep validation passes short)."""
    path = lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    return build_dataset([path], 10, tokenizer=tiny_checkpoint.tokenizer).days[0]


def _fresh(tiny_checkpoint: Checkpoint) -> Checkpoint:
    return untrained_checkpoint(tiny_checkpoint.tokenizer)


def _run_of_real_orders(day: DayData, targets: np.ndarray) -> int:
    """Where ``targets`` occur as consecutive training orders of ``day`` (the first such
    index), failing the test if they do not."""
    n_train = int(np.argmax(day.is_validation))
    ctx = len(targets)
    candidates = np.flatnonzero(day.tokens[1 : n_train - ctx + 1] == targets[0]) + 1
    hits = [s for s in candidates if np.array_equal(day.tokens[s : s + ctx], targets)]
    assert hits, "the targets are not a run of the day's training orders"
    return int(hits[0])


def test_a_window_holds_the_real_prefix_then_the_models_orders(
    goog_day: DayData, tiny_checkpoint: Checkpoint
) -> None:
    ctx = tiny_checkpoint.model.config.context
    half = ctx // 2
    w = rollout_windows(_fresh(tiny_checkpoint), (goog_day,), 5, half, np.random.default_rng(3))
    assert w.tokens.shape == w.targets.shape == (5, ctx)
    assert w.features.shape == (5, ctx, tiny_checkpoint.model.config.n_book_features)
    assert w.profiles is None
    for row in range(5):
        first = _run_of_real_orders(goog_day, w.targets[row]) - 1  # the window's first input
        # the real half is the day's, orders and book features alike (teacher forcing)
        assert np.array_equal(w.tokens[row, :half], goog_day.tokens[first : first + half])
        assert np.array_equal(w.features[row, :half], goog_day.features[first : first + half])
    # the generated half is the model's: an untrained model does not reproduce the day
    assert not np.array_equal(w.tokens[:, half:], w.targets[:, half - 1 : -1])


def test_long_rollouts_give_a_window_each_time_the_context_fills(
    goog_day: DayData, tiny_checkpoint: Checkpoint
) -> None:
    ctx = tiny_checkpoint.model.config.context
    half = ctx // 2
    w = rollout_windows(_fresh(tiny_checkpoint), (goog_day,), 2, 4 * half, np.random.default_rng(4))
    # a full context at half + 1 orders, then every half + 1 (a full one is cut to its half)
    assert w.tokens.shape == (6, ctx)
    starts = [_run_of_real_orders(goog_day, w.targets[row]) for row in range(6)]
    # rows in the order the windows filled: both rollouts' first, their second, ...
    for rollout in (0, 1):
        rows = [rollout, rollout + 2, rollout + 4]
        assert np.diff([starts[r] for r in rows]).tolist() == [half + 1] * 2
        # one window's last half - 1 orders are the next one's first: the model's own
        for a, b in itertools.pairwise(rows):
            assert np.array_equal(w.tokens[a, half + 1 :], w.tokens[b, : half - 1])


def test_windows_are_seeded(goog_day: DayData, tiny_checkpoint: Checkpoint) -> None:
    a = rollout_windows(_fresh(tiny_checkpoint), (goog_day,), 4, 8, np.random.default_rng(9))
    b = rollout_windows(_fresh(tiny_checkpoint), (goog_day,), 4, 8, np.random.default_rng(9))
    c = rollout_windows(_fresh(tiny_checkpoint), (goog_day,), 4, 8, np.random.default_rng(10))
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.features, b.features)
    assert not np.array_equal(a.tokens, c.tokens)


def test_rollout_windows_reject_what_they_cannot_build(
    goog_day: DayData, tiny_checkpoint: Checkpoint
) -> None:
    ctx = tiny_checkpoint.model.config.context
    with pytest.raises(ValueError, match="orders must be >="):
        rollout_windows(tiny_checkpoint, (goog_day,), 2, ctx // 2 - 1, np.random.default_rng(0))


def test_fine_tuning_is_seeded_and_moves_the_weights(
    goog_day: DayData, tiny_checkpoint: Checkpoint
) -> None:
    dataset = OrderDataset((goog_day,), tiny_checkpoint.tokenizer, 10)
    config = TuneConfig(
        rounds=2,
        starts_per_round=4,
        orders=8,
        steps_per_round=3,
        batch_size=4,
        rollout_fraction=0.5,
    )
    runs = []
    for _ in range(2):
        checkpoint = _fresh(tiny_checkpoint)
        before = {k: v.clone() for k, v in checkpoint.model.state_dict().items()}
        result = fine_tune(checkpoint, dataset, config, progress=False)
        runs.append(checkpoint.model.state_dict())
        assert [h["round"] for h in result.history] == [0, 1, 2]
        assert all(np.isfinite(h["validation_bits"]) for h in result.history)
    assert any(not torch.equal(before[k], runs[0][k]) for k in before)
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_fine_tuning_needs_the_checkpoints_tokenizer(
    goog_day: DayData, tiny_checkpoint: Checkpoint, make_orders
) -> None:
    _, offset, size, dt = make_orders(seed=5)
    config = TokenizerConfig(
        price_bins=4, size_bins=3, price_reference=MID, size_reference=SizeReference.SHARES
    )
    other = OrderTokenizer.fit(offset, size, dt, config)
    dataset = OrderDataset((goog_day,), other, 10)
    with pytest.raises(ValueError, match="another tokenizer"):
        fine_tune(_fresh(tiny_checkpoint), dataset, TuneConfig(rounds=1), progress=False)


@pytest.mark.parametrize(
    ("field", "value"), [("rounds", 0), ("rollout_fraction", 1.5), ("lr", 0.0)]
)
def test_config_names_a_bad_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"TuneConfig.{field}"):
        TuneConfig(**{field: value})


def test_a_control_run_trains_on_real_windows_only(
    goog_day: DayData, tiny_checkpoint: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lmm.model.tune as tune

    def no_rollouts(*args, **kwargs):
        raise AssertionError("a control run generated rollouts")

    monkeypatch.setattr(tune, "rollout_windows", no_rollouts)
    dataset = OrderDataset((goog_day,), tiny_checkpoint.tokenizer, 10)
    config = TuneConfig(rounds=1, steps_per_round=2, batch_size=4, rollout_fraction=0.0)
    result = fine_tune(_fresh(tiny_checkpoint), dataset, config, progress=False)
    assert len(result.history) == 2


def test_mirror_trains_on_every_day_and_its_mirror(
    lobster_dir: Path, make_orders, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lmm.model.tune as tune

    _, offset, size, dt = make_orders(seed=2)
    config = TokenizerConfig(
        price_bins=4,
        size_bins=3,
        price_reference=PriceReference.SAME_SIDE_BEST,
        size_reference=SizeReference.SHARES,
    )
    tokenizer = OrderTokenizer.fit(offset, size, dt, config)
    path = lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    dataset = build_dataset([path], 10, tokenizer=tokenizer)
    seen: list[tuple[str, ...]] = []
    batches = tune.training_batch

    def spy(days, *args, **kwargs):
        seen.append(tuple(d.name for d in days))
        return batches(days, *args, **kwargs)

    monkeypatch.setattr(tune, "training_batch", spy)
    run = TuneConfig(rounds=1, steps_per_round=2, batch_size=4, mirror=True)
    fine_tune(untrained_checkpoint(tokenizer), dataset, run, progress=False)
    name = dataset.days[0].name
    assert seen == [(name, f"{name} (mirrored)")] * 2


def test_mirror_needs_the_same_side_best_reference(
    goog_day: DayData, tiny_checkpoint: Checkpoint
) -> None:
    dataset = OrderDataset((goog_day,), tiny_checkpoint.tokenizer, 10)
    with pytest.raises(ValueError, match="mirroring needs the same_side_best"):
        fine_tune(_fresh(tiny_checkpoint), dataset, TuneConfig(mirror=True), progress=False)
