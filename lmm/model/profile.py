"""A stock's profile: a few numbers that say which kind of market the model is in.

A model trained on several stocks at once, with nothing but the recent orders to tell them
apart, drifts from one stock's market to the pooled one's as its own orders replace the
real ones in its context. A profile describes the stock by its own statistics, not by a
name, so that a stock the model never saw is described the same way:

* ``log_spread``: log(1 + median spread in ticks) over the books after the orders;
* ``log_limit_distance``: log(1 + median ticks) a limit order rests behind its own side's
  best quote in the book it met (0 at or inside the best);
* ``log_order_rate``: log of orders per second;
* ``log_size``: log of the median order size in shares.

A profile is computed from a stretch of one day's orders that lies before what it
conditions, and is constant over a generated session: in training, over the training part
of each day; in simulation, over the start file's orders up to the start, or its training
part when the start is after that part (the same numbers training saw for that day). The
orders an agent sends never change it. A model trained with profiles stores the mean of
its training days' profiles, the profile it uses for a start without data (the synthetic
start) or with too few orders before it (:data:`MIN_PROFILE_ORDERS`).

The model learns what a profile means from its training days only: with two stocks, from
two points. Its checkpoint keeps those days' profiles (the metadata's
``"training_profiles"``), and a start whose profile lies outside their convex hull is given
the nearest profile on it (:func:`nearest_trained_profile`) instead of one the model would
extrapolate to: a stock that quotes a one-tick spread is read as the tightest stock the
model saw, not as a linear extension of the two it was trained on.
"""

from __future__ import annotations

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.units import NS_PER_SECOND

__all__ = [
    "MIN_PROFILE_ORDERS",
    "N_PROFILE_FEATURES",
    "PROFILE_FEATURES",
    "nearest_trained_profile",
    "stock_profile",
]

#: The profile's entries, in order.
PROFILE_FEATURES = ("log_spread", "log_limit_distance", "log_order_rate", "log_size")
#: Length of a profile.
N_PROFILE_FEATURES = len(PROFILE_FEATURES)
#: Fewest orders a profile is computed from; with fewer, a start uses the model's default.
MIN_PROFILE_ORDERS = 100


def stock_profile(flow: np.ndarray, book_after: np.ndarray) -> np.ndarray:
    """The profile (float32 ``(N_PROFILE_FEATURES,)``, :data:`PROFILE_FEATURES`) of a run of
    consecutive orders of one day.

    Args:
        flow: the orders (:data:`lmm.data.orderflow.ORDER_DTYPE`), at least
            :data:`MIN_PROFILE_ORDERS` of them.
        book_after: ``(len(flow), L, 4)`` the book after each order; the book an order met
            is taken to be the one after the order before it.

    Raises:
        ValueError: too few orders, or books that do not match them.
    """
    n = len(flow)
    if n < MIN_PROFILE_ORDERS:
        raise ValueError(f"a profile needs >= {MIN_PROFILE_ORDERS} orders, got {n}")
    if len(book_after) != n:
        raise ValueError(f"{n} orders but {len(book_after)} books")
    ask, ask_size = book_after[:, 0, 0], book_after[:, 0, 1]
    bid, bid_size = book_after[:, 0, 2], book_after[:, 0, 3]
    two_sided = (ask_size > 0) & (bid_size > 0)
    spread = float(np.median(ask[two_sided] - bid[two_sided])) if two_sided.any() else 1.0
    kind, price = flow["kind"][1:], flow["price"][1:]
    met = book_after[:-1]
    buy, sell = kind == OrderKind.LIMIT_BUY, kind == OrderKind.LIMIT_SELL
    behind = np.where(buy, met[:, 0, 2] - price, price - met[:, 0, 0])
    known = (buy & (met[:, 0, 3] > 0)) | (sell & (met[:, 0, 1] > 0))
    distance = float(np.median(np.maximum(behind[known], 0))) if known.any() else 0.0
    seconds = max(int(flow["time"][-1]) - int(flow["time"][0]), 1) / NS_PER_SECOND
    return np.array(
        [
            np.log1p(max(spread, 0.0)),
            np.log1p(distance),
            np.log((n - 1) / seconds),
            np.log(max(float(np.median(flow["size"])), 1.0)),
        ],
        dtype=np.float32,
    )


def nearest_trained_profile(profile: np.ndarray, trained: np.ndarray) -> np.ndarray:
    """The point of the convex hull of the ``trained`` profiles nearest to ``profile``
    (float32, ``profile`` itself when it lies inside).

    The model adds a linear projection of the profile, so on the hull its input is a
    mixture of what it learned for its training days; off it, an extrapolation along
    directions it may never have been shown (with two training stocks, all but one).

    Args:
        profile: ``(N_PROFILE_FEATURES,)`` a start's profile.
        trained: ``(k, N_PROFILE_FEATURES)`` the training days' profiles (k >= 1).
    """
    points = np.asarray(trained, dtype=np.float64)
    x = np.asarray(profile, dtype=np.float64)
    if points.ndim != 2 or len(points) < 1 or points.shape[1:] != x.shape or x.ndim != 1:
        raise ValueError(
            f"a profile of shape {x.shape} cannot be compared with trained profiles of "
            f"shape {points.shape}"
        )
    # minimise |w @ (points - x)|^2 over the simplex by projected gradient steps
    offsets = points - x
    gram = offsets @ offsets.T
    step = 1.0 / max(float(np.linalg.eigvalsh(gram)[-1]), 1e-12)
    weights = np.full(len(points), 1.0 / len(points))
    for _ in range(_HULL_ITERATIONS):
        previous, weights = weights, _onto_simplex(weights - step * (gram @ weights))
        if np.max(np.abs(weights - previous)) <= _HULL_CONVERGED:
            break
    nearest = weights @ points
    # inside the hull (to the iteration's precision) the profile is used as it is
    if np.linalg.norm(nearest - x) <= 1e-6 * max(1.0, float(np.linalg.norm(x))):
        return x.astype(np.float32)
    return nearest.astype(np.float32)


#: Most projected-gradient steps of :func:`nearest_trained_profile`, which stops sooner
#: once no weight moves by more than :data:`_HULL_CONVERGED` (a few training days converge
#: in tens of steps; each start's reset pays for them).
_HULL_ITERATIONS = 2000
_HULL_CONVERGED = 1e-12


def _onto_simplex(v: np.ndarray) -> np.ndarray:
    """The Euclidean projection of ``v`` onto {w >= 0, sum w = 1} (sort-based, exact)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    k = np.arange(1, len(v) + 1)
    rho = int(np.nonzero(u - cumulative / k > 0)[0][-1])
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)
