"""One training run of ``tests/lmm/test_distributed.py``, alone or as one of the processes
that torchrun starts: a tiny model on two invented days, its final weights written by
rank 0.

Usage: ``python ddp_run.py TOKENIZER_JSON OUT_WEIGHTS BATCH_SIZE [key=value ...]`` with
keys ``steps``, ``stop_after``, ``state`` (a run-state folder, saved every 2 steps),
``resume`` (1: go on from ``state``) and ``tensorboard`` (a folder).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lmm.data.orderflow import ORDER_DTYPE
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.distributed import from_environment
from lmm.model.features import N_BOOK_FEATURES
from lmm.model.tokenizer import OrderTokenizer
from lmm.model.train import QUICK, train


def invented_day(vocab: int, n: int, seed: int) -> DayData:
    """Random tokens and features, the last fifth held out."""
    rng = np.random.default_rng(seed)
    flow = np.zeros(n, dtype=ORDER_DTYPE)
    flow["time"] = np.arange(n) * 10**9
    return DayData(
        name=f"invented-{seed}",
        flow=flow,
        price_offset=np.zeros(n, dtype=np.int64),
        dt=np.zeros(n, dtype=np.int64),
        features=rng.normal(size=(n, N_BOOK_FEATURES)).astype(np.float32),
        book_after=np.zeros((n, 1, 4), dtype=np.int64),
        is_validation=np.arange(n) >= int(0.8 * n),
        tokens=rng.integers(0, vocab, n),
    )


def main(tokenizer_json: str, out: str, batch_size: str, *options: str) -> None:
    opts = dict(o.split("=", 1) for o in options)
    tokenizer = OrderTokenizer.from_dict(json.loads(Path(tokenizer_json).read_text()))
    days = tuple(invented_day(tokenizer.vocab_size, n, s) for s, n in ((0, 1500), (1, 900)))
    dataset = OrderDataset(days=days, tokenizer=tokenizer, validation_minutes=0)
    steps = int(opts.get("steps", 6))
    # dropout 0: the processes' dropout masks cannot be one process's
    config = replace(
        QUICK, batch_size=int(batch_size), steps=steps, eval_every=steps, log_every=2, dropout=0.0
    )
    run = from_environment("cpu")
    state = opts.get("state")
    result = train(
        dataset,
        config,
        progress=False,
        tensorboard_dir=opts.get("tensorboard"),
        distributed=run,
        state_dir=state,
        save_every=2 if state else 0,
        stop_after=int(opts["stop_after"]) if "stop_after" in opts else None,
        resume=state if opts.get("resume") == "1" else None,
    )
    if run.is_main:
        torch.save(result.model.state_dict(), out)
    run.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
