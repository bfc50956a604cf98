"""Shared fixtures: the LOBSTER sample data (if present) and a tiny untrained checkpoint."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint, save_checkpoint
from lmm.model.features import N_BOOK_FEATURES
from lmm.model.generate import LMMMarkets, synthetic_start
from lmm.model.outlook import N_OUTLOOK_FEATURES
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from lmm.model.transformer import LMM, LMMConfig

MID, SHARES = PriceReference.MID, SizeReference.SHARES

#: The team's LOBSTER samples sit beside the checkout; MARS_GYM_DATA overrides.
DATA_DIR = Path(
    os.environ.get(
        "MARS_GYM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lobster"
    )
).resolve()


@pytest.fixture(scope="session")
def lobster_dir() -> Path:
    """The LOBSTER sample folder; skips the test when it is absent."""
    if not any(DATA_DIR.glob("LOBSTER_SampleFile_*.zip")):
        pytest.skip(
            f"LOBSTER sample data not found in {DATA_DIR} (set MARS_GYM_DATA to the folder "
            "holding LOBSTER_SampleFile_*.zip)"
        )
    return DATA_DIR


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


def untrained_checkpoint(tokenizer: OrderTokenizer) -> Checkpoint:
    """An untrained 1-layer model (seeded) over ``tokenizer``."""
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


def generation_fingerprint(checkpoint: Checkpoint, n: int = 2, orders: int = 150) -> str:
    """First 16 hex digits of a SHA-256 over ``orders`` orders of ``n`` markets generated
    from the data-free start (seeds 7, 8, ...), with the masked rate to 6 decimals: pins a
    checkpoint's generation bit for bit (on float32 CPUs that round alike)."""
    markets = LMMMarkets(checkpoint, n)
    start = synthetic_start(checkpoint.tokenizer)
    for i in range(n):
        markets.reset(i, start, seed=7 + i)
    digest = hashlib.sha256()
    for _ in range(orders):
        for o in markets.step():
            if o is None:
                digest.update(b"none")
                continue
            r = o.realized
            fields = [o.time_ns, int(r.kind), r.price, r.size, o.mid_x2_before]
            digest.update(np.array(fields, dtype=np.int64).tobytes())
    return f"{digest.hexdigest()[:16]} {markets.masked_rate:.6f}"


@pytest.fixture(scope="session")
def fingerprint():
    """The :func:`generation_fingerprint` function."""
    return generation_fingerprint


@pytest.fixture(scope="session")
def make_untrained_checkpoint():
    """The :func:`untrained_checkpoint` factory, for tests with tokenizers of their own."""
    return untrained_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint() -> Checkpoint:
    """An untrained 1-layer model with a tokenizer fitted on invented orders (their
    offsets are from the mid and their sizes in shares)."""
    _, offset, size, dt = synthetic_orders()
    config = TokenizerConfig(
        price_bins=6, size_bins=4, time_bins=4, price_reference=MID, size_reference=SHARES
    )
    tokenizer = OrderTokenizer.fit(offset, size, dt, config)
    return untrained_checkpoint(tokenizer)


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(
    tiny_checkpoint: Checkpoint, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny checkpoint saved to a folder (for environments, which load by path)."""
    path = tmp_path_factory.mktemp("tiny_checkpoint")
    save_checkpoint(path, tiny_checkpoint.model, tiny_checkpoint.tokenizer)
    return path


#: An outlook range like the sample data's (rows: 0.5th, 50th, 99.5th percentiles; columns:
#: drift bp, volatility bp, volume x normal), for models whose range is set by hand.
OUTLOOK_RANGE = ((-25.0, 0.6, 0.01), (-0.4, 5.0, 0.9), (34.0, 34.0, 14.0))


@pytest.fixture(scope="session")
def tiny_outlook_checkpoint(tiny_checkpoint: Checkpoint) -> Checkpoint:
    """The tiny model with outlook features (:mod:`lmm.model.outlook`), its range set to
    :data:`OUTLOOK_RANGE`, its outlook projection drawn large (seeded) so that the outlook
    it reads changes the market it makes."""
    old = tiny_checkpoint.model
    model = LMM(replace(old.config, n_outlook_features=N_OUTLOOK_FEATURES))
    model.load_state_dict(old.state_dict(), strict=False)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in (model.outlook_proj[0], model.outlook_proj[-1]):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
        model.outlook_range.copy_(torch.tensor(OUTLOOK_RANGE, dtype=torch.float64))
    return Checkpoint(model=model.eval(), tokenizer=tiny_checkpoint.tokenizer)


@pytest.fixture(scope="session")
def tiny_outlook_checkpoint_dir(
    tiny_outlook_checkpoint: Checkpoint, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """:func:`tiny_outlook_checkpoint` saved to a folder (for environments and commands)."""
    path = tmp_path_factory.mktemp("tiny_outlook_checkpoint")
    save_checkpoint(path, tiny_outlook_checkpoint.model, tiny_outlook_checkpoint.tokenizer)
    return path


@pytest.fixture(scope="session")
def numba_decoder(tiny_checkpoint: Checkpoint) -> str:
    """``"numba"``, once :mod:`lmm.model.decode_numba`'s kernels are compiled (or loaded
    from numba's cache): one tiny round, so that no test pays the compile time."""
    markets = LMMMarkets(tiny_checkpoint, 1, decoder="numba")
    markets.reset(0, synthetic_start(tiny_checkpoint.tokenizer), seed=0)
    markets.step()
    return "numba"
