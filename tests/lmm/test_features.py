"""Book features: a mirrored book (sides swapped, prices reflected) has mirrored features."""

from __future__ import annotations

import numpy as np

from lmm.model.features import book_features, mirror_features


def _random_book(rng: np.random.Generator, levels: int) -> np.ndarray:
    """Ask and bid ladders around a random spread, some deep levels empty."""
    book = np.zeros((levels, 4), dtype=np.int64)
    bid = 2000 - rng.integers(0, 50)
    ask = bid + rng.integers(1, 12)
    book[:, 0] = ask + np.cumsum(rng.integers(0, 3, levels)) + np.arange(levels)
    book[:, 2] = bid - np.cumsum(rng.integers(0, 3, levels)) - np.arange(levels)
    book[:, 1] = rng.integers(1, 900, levels)
    book[:, 3] = rng.integers(1, 900, levels)
    for side in (0, 2):  # empty the deepest levels of a side now and then
        empty = rng.integers(levels // 2, levels + 1)
        book[empty:, side : side + 2] = 0
    return book


def test_a_mirrored_book_has_mirrored_features() -> None:
    rng = np.random.default_rng(0)
    center = 4000  # prices reflect to center - price
    for levels in (3, 5, 8):
        for _ in range(20):
            book = _random_book(rng, levels)
            mirrored = np.zeros_like(book)
            mirrored[:, 0] = np.where(book[:, 3] > 0, center - book[:, 2], 0)
            mirrored[:, 1] = book[:, 3]
            mirrored[:, 2] = np.where(book[:, 1] > 0, center - book[:, 0], 0)
            mirrored[:, 3] = book[:, 1]
            before = book[0, 0] + book[0, 2] + rng.integers(-6, 7)
            time = 40_000 * 10**9
            np.testing.assert_allclose(
                mirror_features(book_features(book, before, time)),
                book_features(mirrored, 2 * center - before, time),
                atol=1e-6,
            )


def test_mirroring_twice_gives_the_features_back() -> None:
    f = np.random.default_rng(1).normal(size=(7, 24)).astype(np.float32)
    np.testing.assert_array_equal(mirror_features(mirror_features(f)), f)
    assert not np.array_equal(mirror_features(f), f)
