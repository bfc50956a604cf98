"""A stopped and resumed training run equals an uninterrupted one, bit for bit on the CPU;
a run state from another recipe, data or folder is refused with a clear error."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import OrderDataset
from lmm.model.run_state import RunStateError, load_run_state
from lmm.model.train import QUICK, train

# dropout on: the resumed run must restore torch's generator too, not only the sampler's
CONFIG = replace(QUICK, steps=12, eval_every=4, log_every=3, dropout=0.1, warmup=4)


@pytest.fixture(scope="module")
def dataset(tiny_checkpoint: Checkpoint) -> OrderDataset:
    from ddp_run import invented_day

    vocab = tiny_checkpoint.tokenizer.vocab_size
    days = (invented_day(vocab, 1500, 0), invented_day(vocab, 900, 1))
    return OrderDataset(days=days, tokenizer=tiny_checkpoint.tokenizer, validation_minutes=0)


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_stopped_and_resumed_run_equals_an_uninterrupted_one(
    dataset: OrderDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = train(dataset, CONFIG, progress=False, state_dir=tmp_path / "whole", save_every=4)
    whole_lines = capsys.readouterr().out.splitlines()
    # stopped after step 6 (between saves and between log lines), then resumed
    first = train(
        dataset, CONFIG, progress=False, state_dir=tmp_path / "split", save_every=4, stop_after=6
    )
    assert load_run_state(tmp_path / "split").step == 6
    assert [h["step"] for h in first.history] == [4]
    split = train(
        dataset,
        CONFIG,
        progress=False,
        state_dir=tmp_path / "split",
        save_every=4,
        resume=tmp_path / "split",
    )
    split_lines = capsys.readouterr().out.splitlines()
    # the final weights, the best ones and every figure but timings
    final = (load_run_state(tmp_path / d).model for d in ("whole", "split"))
    assert _equal(*final)
    assert _equal(whole.model.state_dict(), split.model.state_dict())
    assert whole.history == split.history and len(whole.history) == 3
    assert (whole.best_step, whole.best_validation_bits) == (
        split.best_step,
        split.best_validation_bits,
    )

    def losses(lines: list[str]) -> list[str]:  # the log lines without their timings
        return [" ".join(line.split()[:5]) for line in lines if "bits" in line]

    assert losses(whole_lines) == losses(split_lines)
    # the state is readable without our code: tensors and JSON
    meta = json.loads((tmp_path / "split" / "state.json").read_text())
    assert meta["step"] == 12 and meta["world"] == 1
    torch.load(tmp_path / "split" / "optimizer.pt", weights_only=True)


def test_resume_refuses_another_recipe_other_data_and_missing_folders(
    dataset: OrderDataset, tiny_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    train(dataset, CONFIG, progress=False, state_dir=state, save_every=4, stop_after=4)
    with pytest.raises(RunStateError, match="lr"):
        train(dataset, replace(CONFIG, lr=1e-3), progress=False, resume=state)
    other = OrderDataset(dataset.days[:1], dataset.tokenizer, 0)
    with pytest.raises(RunStateError, match="other data"):
        train(other, CONFIG, progress=False, resume=state)
    with pytest.raises(RunStateError, match="not a training run state"):
        train(dataset, CONFIG, progress=False, resume=tmp_path / "nowhere")
    (state / "optimizer.pt").write_bytes(b"not a tensor file")
    with pytest.raises(RunStateError, match=r"optimizer\.pt"):
        load_run_state(state)
