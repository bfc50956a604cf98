"""Fixtures for the model-side tests: a tiny untrained checkpoint that needs no data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmm.checkpoint import Checkpoint
from lmm.data.orderflow import OrderKind
from lmm.features import N_BOOK_FEATURES
from lmm.model import LMM, LMMConfig
from lmm.tokenizer import OrderTokenizer, TokenizerConfig


def synthetic_orders(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Invented order fields: kind, offset from the mid, size, inter-arrival ns."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(OrderKind), n)
    offset = np.rint(rng.standard_t(3, n) * 6).astype(np.int64)
    size = np.where(rng.random(n) < 0.5, 100, rng.integers(1, 500, n))
    dt = np.where(rng.random(n) < 0.3, 0, rng.lognormal(15, 3, n).astype(np.int64))
    return kind, offset, size, dt


@pytest.fixture(scope="session")
def make_orders():
    """The :func:`synthetic_orders` factory, for tests that need several samples."""
    return synthetic_orders


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Checkpoint:
    """An untrained 1-layer model with a tokenizer fitted on invented orders."""
    _, offset, size, dt = synthetic_orders()
    tokenizer = OrderTokenizer.fit(
        offset, size, dt, TokenizerConfig(price_bins=6, size_bins=4, time_bins=4)
    )
    config = LMMConfig(
        n_kp=6 * tokenizer.n_price,
        n_size=tokenizer.n_size,
        n_time=tokenizer.n_time,
        n_book_features=N_BOOK_FEATURES,
        context=16,
        n_layer=1,
        n_head=2,
        n_embd=16,
    )
    torch.manual_seed(0)
    return Checkpoint(model=LMM(config).eval(), tokenizer=tokenizer)
