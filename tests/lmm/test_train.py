"""Training: it learns, it is deterministic, and validation scores every held-out order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.orderflow import ORDER_DTYPE
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.features import N_BOOK_FEATURES, mirror_features
from lmm.model.price_reference import PriceReference
from lmm.model.train import (
    QUICK,
    TrainConfig,
    mirrored_day,
    sequence_nll_bits,
    train,
)
from lmm.model.windows import SUBSAMPLE_BLOCK_NS, WindowSampler

SAME_SIDE_BEST = PriceReference.SAME_SIDE_BEST


def _patterned_day(tiny_checkpoint: Checkpoint, n: int = 2000) -> DayData:
    """A day whose tokens repeat a 7-order cycle: easy to learn, impossible to memorise
    as unigram frequencies."""
    vocab = tiny_checkpoint.tokenizer.vocab_size
    cycle = np.array([3, 77, 5, 200, 9, 41, 150]) % vocab
    tokens = np.resize(cycle, n).astype(np.int64)
    flow = np.zeros(n, dtype=ORDER_DTYPE)
    flow["time"] = np.arange(n) * 12 * 10**8  # 40 minutes
    rng = np.random.default_rng(0)
    return DayData(
        name="pattern",
        flow=flow,
        price_offset=np.zeros(n, dtype=np.int64),
        dt=np.zeros(n, dtype=np.int64),
        features=rng.normal(size=(n, N_BOOK_FEATURES)).astype(np.float32),
        book_after=np.zeros((n, 1, 4), dtype=np.int64),
        is_validation=np.arange(n) >= int(0.8 * n),
        tokens=tokens,
    )


@pytest.fixture(scope="module")
def dataset(tiny_checkpoint: Checkpoint) -> OrderDataset:
    return OrderDataset(
        days=(_patterned_day(tiny_checkpoint),),
        tokenizer=tiny_checkpoint.tokenizer,
        validation_minutes=0,
    )


def test_training_learns_the_pattern_and_keeps_the_best_weights(dataset: OrderDataset) -> None:
    config = replace(QUICK, steps=150, eval_every=10, lr=1e-2, warmup=10, dropout=0.0)
    result = train(dataset, config, progress=False)
    first, best = result.history[0]["validation_bits"], result.best_validation_bits
    assert best < 1.0 < first  # a 7-cycle needs ~0 bits once learned
    assert best == min(h["validation_bits"] for h in result.history)
    assert result.n_validation_orders == 400


def test_same_seed_same_weights(dataset: OrderDataset) -> None:
    config = replace(QUICK, steps=5, eval_every=5)
    a, b = (train(dataset, config, progress=False).model.state_dict() for _ in range(2))
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_training_prints_and_writes_its_figures(
    dataset: OrderDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = replace(QUICK, steps=12, eval_every=10, log_every=5)
    train(dataset, config, progress=False, tensorboard_dir=tmp_path / "tb")
    lines = capsys.readouterr().out.splitlines()
    train_lines = [line for line in lines if " train " in line]
    assert [line.split()[1] for line in train_lines] == ["5/12", "10/12", "12/12"]
    assert all("bits" in line and " lr " in line and "tokens/s" in line for line in train_lines)
    assert [line.split()[1] for line in lines if "validation" in line] == ["10/12", "12/12"]
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    scalars = EventAccumulator(str(events)).Reload()
    assert [e.step for e in scalars.Scalars("train/loss_bits")] == [5, 10, 12]
    assert [e.step for e in scalars.Scalars("validation/loss_bits")] == [10, 12]
    assert {"train/lr", "train/tokens_per_second"} <= set(scalars.Tags()["scalars"])
    with pytest.raises(ValueError, match="log_every"):
        replace(QUICK, log_every=0)


def test_subsample_trains_on_every_other_block_only(dataset: OrderDataset) -> None:
    """The pattern day spans 40 minutes (an order every 1.2 s), its training part 32:
    with subsample=2 the windows start in the first and third ten-minute blocks only."""
    day = dataset.days[0]
    sampler = WindowSampler(dataset.days, QUICK.context, subsample=2, seed=0)
    starts = sampler.starts(np.arange(len(sampler)))[:, 1]
    block = day.flow["time"][starts] // SUBSAMPLE_BLOCK_NS
    assert set(block.tolist()) == {0, 2}
    assert len(starts) == 1000  # orders 0-499 and 1000-1499 start windows
    every = replace(QUICK, steps=1, eval_every=1)
    assert train(dataset, every, progress=False).n_train_orders == dataset.n_train == 1600
    half = train(dataset, replace(every, subsample=2), progress=False).n_train_orders
    assert half == 2 * (500 + QUICK.context)  # each block's windows reach context + 1 past it
    with pytest.raises(ValueError, match="subsample"):
        replace(QUICK, subsample=0)


def test_mirror_trains_on_both_sides_of_each_day(tiny_checkpoint: Checkpoint) -> None:
    """Mirroring needs offsets that mean the same on both sides: the tiny checkpoint's
    tokenizer measures from the mid and is refused; with a same-side-best tokenizer the
    mirrored windows join the real ones, and the real orders are what is counted."""
    day = _patterned_day(tiny_checkpoint)
    config = replace(QUICK, steps=2, eval_every=2, mirror=True)
    with pytest.raises(ValueError, match="same_side_best"):
        train(OrderDataset((day,), tiny_checkpoint.tokenizer, 0), config, progress=False)
    same_side = replace(
        tiny_checkpoint.tokenizer,
        config=replace(tiny_checkpoint.tokenizer.config, price_reference=SAME_SIDE_BEST),
    )
    result = train(OrderDataset((day,), same_side, 0), config, progress=False)
    assert result.n_train_orders == 1600
    mirrored = mirrored_day(day, same_side)
    assert not np.array_equal(mirrored.tokens, day.tokens)
    np.testing.assert_array_equal(same_side.mirror(mirrored.tokens), day.tokens)
    np.testing.assert_array_equal(mirrored.features, mirror_features(day.features))


def test_sequence_nll_equals_a_direct_forward_pass(tiny_checkpoint: Checkpoint) -> None:
    model = tiny_checkpoint.model
    day = _patterned_day(tiny_checkpoint, n=12)  # shorter than the context: one window
    targets = np.arange(1, 12)
    bits = sequence_nll_bits(model, day.tokens, day.features, targets, context=model.config.context)
    with torch.no_grad():
        h = model(
            torch.from_numpy(day.tokens[None, :-1]), torch.from_numpy(day.features[None, :-1])
        )
        direct = -model.log_prob(h, torch.from_numpy(day.tokens[None, 1:]))[0].numpy() / np.log(2)
    np.testing.assert_allclose(bits, direct, rtol=1e-5)
    with pytest.raises(ValueError, match="no context"):
        sequence_nll_bits(model, day.tokens, day.features, np.array([0]), context=8)


def test_long_sequences_score_every_target_once_with_enough_context(
    tiny_checkpoint: Checkpoint,
) -> None:
    model = tiny_checkpoint.model
    day = _patterned_day(tiny_checkpoint, n=100)
    targets = np.arange(40, 100)
    bits = sequence_nll_bits(model, day.tokens, day.features, targets, context=16)
    assert bits.shape == (60,) and np.isfinite(bits).all()
    # target 47 is the last of the first chunk (8 targets): its window is inputs 31..46
    with torch.no_grad():
        h = model(
            torch.from_numpy(day.tokens[None, 31:47]), torch.from_numpy(day.features[None, 31:47])
        )
        direct = -model.log_prob(h[:, -1], torch.from_numpy(day.tokens[None, 47]))[
            0
        ].item() / np.log(2)
    assert bits[7] == pytest.approx(direct, rel=1e-5)


def test_the_recipe_takes_the_models_shape_from_its_one_definition() -> None:
    import json
    from dataclasses import fields
    from pathlib import Path

    import lmm
    from lmm.model.transformer import LMMConfig

    shape = ("context", "n_layer", "n_head", "n_embd")
    model_defaults = {f.name: f.default for f in fields(LMMConfig)}
    assert {name: getattr(TrainConfig(), name) for name in shape} == {
        name: model_defaults[name] for name in shape
    }
    # the shipped default checkpoint is what the default recipe trains
    meta = json.loads((Path(lmm.__file__).parent / "checkpoints/default/lmm.json").read_text())
    built = TrainConfig().model_config(
        meta["model"]["n_kp"], meta["model"]["n_size"], meta["model"]["n_time"]
    )
    assert built == LMMConfig(**meta["model"])


def test_a_shape_the_model_cannot_take_fails_when_the_recipe_is_made() -> None:
    with pytest.raises(ValueError, match=r"n_embd \(30\) must be divisible by n_head \(4\)"):
        TrainConfig(n_embd=30, n_head=4)
