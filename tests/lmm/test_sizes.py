"""The model-size ladder: shapes that grow to about 100 M parameters, the default rung
the recipe's own shape, and the FLOPs per token counted as documented."""

from __future__ import annotations

from dataclasses import fields

from lmm.model.sizes import ModelSize, flops_per_token
from lmm.model.train import TrainConfig
from lmm.model.transformer import LMM, LMMConfig


def _model(size: ModelSize) -> LMM:
    # the default tokenizer's class counts
    return LMM(LMMConfig(n_kp=264, n_size=7, n_time=12, n_book_features=24, **size.shape))


def test_the_ladder_grows_to_about_a_hundred_million_parameters() -> None:
    counts = {s: _model(s).num_parameters() for s in ModelSize if s is not ModelSize.LARGE}
    assert list(counts.values()) == sorted(counts.values())
    assert 160_000 < counts[ModelSize.TINY] < 180_000  # the fast checkpoint's shape
    assert 900_000 < counts[ModelSize.DEFAULT] < 1_000_000  # the default checkpoint's
    assert 20e6 < counts[ModelSize.MEDIUM] < 30e6
    # the top rung, counted without building it: 12 blocks of 12 C^2 weights dominate
    shape = ModelSize.LARGE.shape
    assert 80e6 < 12 * shape["n_layer"] * shape["n_embd"] ** 2 < 120e6
    defaults = TrainConfig()
    assert ModelSize.DEFAULT.shape == {
        f.name: getattr(defaults, f.name) for f in fields(TrainConfig) if f.name in shape
    }


def test_flops_per_token_counts_every_weight_matrix_and_attention() -> None:
    model = _model(ModelSize.TINY)
    c = model.config
    C, L, T = c.n_embd, c.n_layer, c.context
    blocks = L * (3 * C * C + C * C + 8 * C * C)  # qkv, proj, mlp
    book = c.n_book_features * C + C * C
    heads = C * c.n_kp + C * c.n_size + C * c.n_time
    assert flops_per_token(model) == 2 * (blocks + book + heads) + 4 * L * T * C
