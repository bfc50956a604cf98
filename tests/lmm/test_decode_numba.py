"""The numba decoding step: torch's numbers to float rounding, and reproducible on its own
terms (a seed gives one market, alone or in any batch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmm.model import decode_numba
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.generate import ENGINES, LMMMarkets, synthetic_start
from lmm.model.transformer import KVCache, sample


def _numba_step(
    checkpoint: Checkpoint,
    tokens: torch.Tensor,
    features: torch.Tensor,
    uniforms: np.ndarray,
    profiles: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(torch's hidden states, numba's, torch's tokens, numba's) for the last position of
    each row, its earlier positions prefilled by torch, the tokens drawn from ``uniforms``;
    ``profiles`` are the rows' stock profiles, for a model that reads them."""
    model = checkpoint.model
    B = tokens.shape[0]
    cache = KVCache(model.config, B)
    with torch.inference_mode():
        model(tokens[:, :-1], features[:, :-1], cache, profile=profiles)
        h = model(tokens[:, -1:], features[:, -1:], cache, profile=profiles)[:, -1]
        cache.lengths -= 1  # numba writes the last position again
        u = torch.from_numpy(uniforms)
        kp = sample(model.kp_logits(h), u[:, 0])
        size = sample(model.size_logits(h, kp), u[:, 1])
        want = model.join(kp, size, sample(model.time_logits(h, kp, size), u[:, 2]))
    w = decode_numba.export_weights(model)
    got_h = np.zeros((B, model.config.n_embd), dtype=np.float32)
    rows = np.arange(B)
    decode_numba.forward_step(
        *w,
        tokens[:, -1].numpy().copy(),
        features[:, -1].numpy().copy(),
        rows,
        cache.lengths.numpy(),
        cache.k.numpy(),
        cache.v.numpy(),
        got_h,
        decode_numba.conditioning(model, B, profiles),
    )
    got = np.empty(B, dtype=np.int64)
    mask = np.ones((B, model.config.n_kp), dtype=bool)
    decode_numba.sample_step(
        w.buffer, w.offsets, w.dims, got_h, rows, mask, uniforms, 1.0, got, np.empty(B)
    )
    return h.numpy(), got_h, want.numpy(), got


@pytest.mark.parametrize("name", ["tiny", "fast"])
def test_the_step_is_torch_to_float_rounding(
    name: str, tiny_checkpoint: Checkpoint, numba_decoder: str
) -> None:
    checkpoint = tiny_checkpoint if name == "tiny" else load_checkpoint("fast")
    cfg = checkpoint.model.config
    gen = torch.Generator().manual_seed(0)
    B, T = 9, min(cfg.context, 40)
    tokens = torch.randint(0, cfg.vocab_size, (B, T), generator=gen)
    features = torch.randn(B, T, cfg.n_book_features, generator=gen)
    uniforms = np.random.default_rng(0).random((B, 3))
    want_h, got_h, want, got = _numba_step(checkpoint, tokens, features, uniforms)
    np.testing.assert_allclose(got_h, want_h, atol=2e-5)
    np.testing.assert_array_equal(got, want)  # no uniform this close to a class edge


def test_the_step_reads_each_row_s_stock_profile(numba_decoder: str) -> None:
    """The ``profile`` checkpoint: rows with its two training stocks' profiles, their mean
    and one far outside are torch's to float rounding, and the profile matters."""
    checkpoint = load_checkpoint("profile")
    model = checkpoint.model
    trained = torch.tensor(list(checkpoint.metadata["training_profiles"].values()))
    profiles = torch.cat([trained, trained.mean(0, keepdim=True), torch.tensor([[0.7, 0.3, 3, 5]])])
    B, cfg = len(profiles), model.config
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, cfg.vocab_size, (1, 40), generator=gen).expand(B, -1)
    features = torch.randn(1, 40, cfg.n_book_features, generator=gen).expand(B, -1, -1)
    uniforms = np.random.default_rng(1).random((B, 3))
    want_h, got_h, want, got = _numba_step(checkpoint, tokens, features, uniforms, profiles)
    np.testing.assert_allclose(got_h, want_h, atol=2e-5)
    np.testing.assert_array_equal(got, want)
    assert np.abs(got_h[0] - got_h[1]).max() > 0.1  # the same orders, another stock


def test_same_seed_same_market(tiny_checkpoint: Checkpoint, numba_decoder: str) -> None:
    start = synthetic_start(tiny_checkpoint.tokenizer)
    paths = []
    for seed in (5, 5, 6):
        m = LMMMarkets(tiny_checkpoint, 1, decoder=numba_decoder)
        m.reset(0, start, seed=seed)
        paths.append([_key(m.step()[0]) for _ in range(40)])
    assert paths[0] == paths[1] != paths[2]


def _key(o) -> tuple | None:
    return None if o is None else (o.time_ns, o.realized.kind, o.realized.price, o.realized.size)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_market_does_not_depend_on_its_batch(
    tiny_checkpoint: Checkpoint, engine: str, numba_decoder: str
) -> None:
    start = synthetic_start(tiny_checkpoint.tokenizer)
    batch = LMMMarkets(tiny_checkpoint, 7, engine=engine, decoder=numba_decoder)
    for i in range(7):
        batch.reset(i, start, seed=10 + i)
    alone = LMMMarkets(tiny_checkpoint, 1, engine=engine, decoder=numba_decoder)
    alone.reset(0, start, seed=13)
    # long enough to trim the context (16) several times; the batch splits into blocks
    in_batch, by_itself = [], []
    for _ in range(60):
        in_batch.append(_key(batch.step()[3]))
        by_itself.append(_key(alone.step()[0]))
    assert in_batch == by_itself


def test_a_row_s_numbers_are_the_same_bits_in_any_slot_of_any_batch(
    numba_decoder: str,
) -> None:
    """The kernels group rows (``BLOCK``, ``GROUP``) and positions (four at a time): on the
    default checkpoint, 13 rows of different lengths give each row the same hidden state and
    token, bit for bit, as that row decoded alone or in another order."""
    model = load_checkpoint("default").model
    cfg = model.config
    w = decode_numba.export_weights(model)
    B = 13
    gen = torch.Generator().manual_seed(3)
    cache = KVCache(cfg, B)
    cache.k.normal_(generator=gen)
    cache.v.normal_(generator=gen)
    lengths = np.array([0, 1, 2, 3, 4, 5, 7, 31, 64, 97, 100, 126, 127], dtype=np.int64)
    tokens = torch.randint(0, cfg.vocab_size, (B,), generator=gen).numpy()
    features = torch.randn(B, cfg.n_book_features, generator=gen).numpy()
    uniforms = np.random.default_rng(3).random((B, 3))
    mask = np.ones((B, cfg.n_kp), dtype=bool)
    conditioning = decode_numba.conditioning(model, B)

    def decode(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, v, n = cache.k.numpy().copy(), cache.v.numpy().copy(), lengths.copy()
        h = np.zeros((B, cfg.n_embd), dtype=np.float32)
        decode_numba.forward_step(
            *w, tokens[order], features[order], order, n, k, v, h, conditioning
        )
        got = np.empty(len(order), dtype=np.int64)
        decode_numba.sample_step(
            w.buffer,
            w.offsets,
            w.dims,
            h,
            order,
            mask[order],
            uniforms[order],
            1.0,
            got,
            np.empty(len(order)),
        )
        tokens_by_row = np.full(B, -1)
        tokens_by_row[order] = got
        return h[order], tokens_by_row[order]

    all_h, all_tokens = decode(np.arange(B))
    reversed_h, reversed_tokens = decode(np.arange(B)[::-1].copy())
    np.testing.assert_array_equal(reversed_h[::-1], all_h)
    np.testing.assert_array_equal(reversed_tokens[::-1], all_tokens)
    for r in range(B):
        alone_h, alone_token = decode(np.array([r]))
        np.testing.assert_array_equal(alone_h[0], all_h[r])
        assert alone_token[0] == all_tokens[r]


def test_the_numba_decoder_is_refused_where_it_cannot_run(tiny_checkpoint: Checkpoint) -> None:
    with pytest.raises(ValueError, match="decoder must be one of"):
        LMMMarkets(tiny_checkpoint, 1, decoder="jax")
    with pytest.raises(ValueError, match="use_cache=True"):
        LMMMarkets(tiny_checkpoint, 1, decoder="numba", use_cache=False)
