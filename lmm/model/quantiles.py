"""Distributions kept as evenly spaced quantiles, and draws from them.

A tokenizer bin (of inter-arrival times, or of market-order size ratios) can be wide and its
values far from uniform. Keeping :data:`QUANTILES` evenly spaced quantiles of the training
values in each bin, and interpolating linearly between them, draws values close to the
training distribution from a few numbers saved with the checkpoint.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUANTILES", "inverse_cdf", "quantile_table"]

#: Quantiles kept per bin, from its minimum to its maximum.
QUANTILES = 33


def quantile_table(values: np.ndarray, method: str = "lower") -> np.ndarray:
    """The :data:`QUANTILES` evenly spaced quantiles of ``values`` (numpy's ``method``)."""
    return np.quantile(values, np.linspace(0.0, 1.0, QUANTILES), method=method)


def inverse_cdf(table: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draws at probabilities ``u`` (n,) in [0, 1) from the rows of ``table``
    (n, :data:`QUANTILES`), linear between the stored quantiles."""
    pos = np.asarray(u) * (QUANTILES - 1)
    k = np.minimum(pos.astype(np.int64), QUANTILES - 2)
    rows = np.arange(len(pos))
    return table[rows, k] + (pos - k) * (table[rows, k + 1] - table[rows, k])
