"""The transformer: causality, cached decoding equals a full pass, seeded sampling."""

from __future__ import annotations

import pytest
import torch

from lmm.model import LMM, KVCache, LMMConfig, sample

CONFIG = LMMConfig(vocab_size=97, n_book_features=5, context=32, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture(scope="module")
def model() -> LMM:
    torch.manual_seed(0)
    return LMM(CONFIG).eval()


def _inputs(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, CONFIG.vocab_size, (batch, length), generator=g)
    book = torch.randn(batch, length, CONFIG.n_book_features, generator=g)
    return tokens, book


@torch.no_grad()
def test_changing_the_future_leaves_past_logits_unchanged(model: LMM) -> None:
    tokens, book = _inputs(2, 20, seed=1)
    base = model(tokens, book)
    t = 11
    tokens2, book2 = tokens.clone(), book.clone()
    tokens2[:, t + 1 :] = (tokens2[:, t + 1 :] + 5) % CONFIG.vocab_size
    book2[:, t + 1 :] += 3.0
    other = model(tokens2, book2)
    torch.testing.assert_close(other[:, : t + 1], base[:, : t + 1])
    assert not torch.allclose(other[:, t + 1 :], base[:, t + 1 :])


@torch.no_grad()
def test_book_state_changes_the_prediction(model: LMM) -> None:
    tokens, book = _inputs(1, 8, seed=2)
    book2 = book.clone()
    book2[:, -1] += 1.0
    assert not torch.allclose(model(tokens, book)[:, -1], model(tokens, book2)[:, -1])


@torch.no_grad()
def test_cached_decoding_equals_a_full_forward_pass(model: LMM) -> None:
    tokens, book = _inputs(3, 24, seed=3)
    full = model(tokens, book)
    cache = KVCache(CONFIG, batch=3)
    steps = [model(tokens[:, :10], book[:, :10], cache)]  # prefill
    for t in range(10, 24):  # then one order at a time
        steps.append(model(tokens[:, t : t + 1], book[:, t : t + 1], cache))
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-5)
    assert cache.lengths.tolist() == [24, 24, 24]


@torch.no_grad()
def test_sequences_of_different_lengths_decode_independently(model: LMM) -> None:
    tokens, book = _inputs(2, 5, seed=4)
    extra_tokens, extra_book = _inputs(1, 2, seed=5)  # an agent acted in sequence 1 only
    nxt_tokens, nxt_book = _inputs(2, 1, seed=6)
    cache = KVCache(CONFIG, batch=2)
    model(tokens, book, cache)
    model(extra_tokens, extra_book, cache, rows=torch.tensor([1]))
    assert cache.lengths.tolist() == [5, 7]
    batched = model(nxt_tokens, nxt_book, cache)
    assert cache.lengths.tolist() == [6, 8]
    # each row equals a full pass over its own sequence
    seq0 = model(torch.cat([tokens[:1], nxt_tokens[:1]], 1), torch.cat([book[:1], nxt_book[:1]], 1))
    seq1 = model(
        torch.cat([tokens[1:], extra_tokens, nxt_tokens[1:]], 1),
        torch.cat([book[1:], extra_book, nxt_book[1:]], 1),
    )
    torch.testing.assert_close(batched[0, -1], seq0[0, -1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batched[1, -1], seq1[0, -1], rtol=1e-4, atol=1e-5)


def test_same_seed_same_samples_and_temperature_zero_is_argmax(model: LMM) -> None:
    tokens, book = _inputs(4, 6, seed=7)
    with torch.no_grad():
        logits = model(tokens, book)[:, -1]
    draw = lambda seed: sample(logits, torch.Generator().manual_seed(seed), temperature=1.0)  # noqa: E731
    torch.manual_seed(123)  # the global RNG must not matter
    a = torch.stack([draw(11) for _ in range(3)])
    torch.manual_seed(456)
    b = torch.stack([draw(11) for _ in range(3)])
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample(logits, g, temperature=0.0), logits.argmax(-1))


def test_mask_restricts_samples() -> None:
    logits = torch.zeros(3, 10)
    mask = torch.zeros(3, 10, dtype=torch.bool)
    mask[:, 7] = True
    mask[2, 2] = True
    out = sample(logits, torch.Generator().manual_seed(0), mask=mask)
    assert out[0] == 7 and out[1] == 7 and out[2] in (2, 7)
    with pytest.raises(ValueError, match="no allowed token"):
        sample(logits, torch.Generator(), mask=torch.zeros(3, 10, dtype=torch.bool))


def test_clear_errors_for_bad_shapes_and_configs(model: LMM) -> None:
    tokens, book = _inputs(1, 4, seed=8)
    with pytest.raises(ValueError, match="book features must have shape"):
        model(tokens, book[..., :3])
    long_tokens, long_book = _inputs(1, CONFIG.context + 1, seed=9)
    with pytest.raises(ValueError, match="exceeds the model's context"):
        model(long_tokens, long_book)
    with pytest.raises(ValueError, match="divisible"):
        LMMConfig(vocab_size=10, n_book_features=2, n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="temperature"):
        sample(torch.zeros(1, 3), torch.Generator(), temperature=-1.0)
