"""Training under torchrun: two CPU processes (gloo) train as one process with their
combined batch, rank 0 alone writes, and a distributed run resumes exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.windows import WindowSampler

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("ddp_run.py")


def _run(args: list[str], processes: int) -> str:
    """Run ``ddp_run.py`` alone or under torchrun; returns its output."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", str(processes)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*launcher, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_each_rank_draws_its_slice_of_the_single_process_batch() -> None:
    from ddp_run import invented_day

    days = (invented_day(50, 700, 0), invented_day(50, 300, 1))
    alone = WindowSampler(days, 32, subsample=1, seed=3)
    ranks = [WindowSampler(days, 32, subsample=1, seed=3) for _ in range(3)]
    for _ in range(4):  # step after step, the generators stay in step
        batch = alone.draw(12)
        slices = [s.draw(4, rank=r, world=3) for r, s in enumerate(ranks)]
        np.testing.assert_array_equal(np.concatenate(slices), batch)
    # the windows lie in the training parts: day 0 starts 0..527, day 1 starts 0..207
    starts = alone.starts(np.arange(len(alone)))
    assert len(alone) == 528 + 208 and starts[-1].tolist() == [1, 207]


@pytest.fixture(scope="module")
def tokenizer_json(tiny_checkpoint: Checkpoint, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ddp") / "tokenizer.json"
    path.write_text(json.dumps(tiny_checkpoint.tokenizer.to_dict()))
    return str(path)


def test_two_gloo_processes_train_as_one_with_the_combined_batch(
    tokenizer_json: str, tmp_path: Path
) -> None:
    out = _run([tokenizer_json, str(tmp_path / "one.pt"), "8"], processes=1)
    ddp = _run(
        [tokenizer_json, str(tmp_path / "two.pt"), "4", f"tensorboard={tmp_path / 'tb'}"],
        processes=2,
    )
    one, two = _weights(tmp_path / "one.pt"), _weights(tmp_path / "two.pt")
    assert one.keys() == two.keys()
    for k in one:  # gradients summed in another order: 9e-8 apart after 6 steps
        torch.testing.assert_close(two[k], one[k], rtol=0, atol=1e-5, msg=k)
    # rank 0 alone reports, with the global batch of 8 windows, and writes one event file
    assert out.count("validation") == ddp.count("validation") == 1
    assert "2 processes on cpu, 8 windows per step" in ddp
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


@pytest.mark.slow  # three torchrun launches: about 25 s on a busy 2-core machine
def test_a_distributed_run_resumes_exactly(tokenizer_json: str, tmp_path: Path) -> None:
    state = f"state={tmp_path / 'state'}"
    _run([tokenizer_json, str(tmp_path / "whole.pt"), "4", f"state={tmp_path / 'w'}"], 2)
    _run([tokenizer_json, str(tmp_path / "part.pt"), "4", state, "stop_after=3"], 2)
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    assert saved["step"] == 3 and saved["world"] == 2
    _run([tokenizer_json, str(tmp_path / "rest.pt"), "4", state, "resume=1"], 2)
    whole, rest = _weights(tmp_path / "whole.pt"), _weights(tmp_path / "rest.pt")
    assert all(torch.equal(whole[k], rest[k]) for k in whole)
