"""The outlook: what the market does over the coming minute, as a condition the model reads.

A scenario ("calm, then a 150 bp drop over 5 minutes, then recovery") is given to the model
as, at every order, three numbers about the minute after it (:data:`HORIZON_NS`), each
measured on the mid (the quotes' mid, carried forward over one-sided books) and the market
orders:

* ``drift``: the mid's change over ``(t, t + 1 min]``, in basis points of the mid at ``t``;
* ``volatility``: the realised volatility over that minute, in basis points: the square root
  of the summed squared log changes of the mid sampled every second;
* ``volume``: the shares of market orders in that minute, relative to the day's normal
  (:func:`normal_volume`: the mean shares per minute of the day's training part).

In training these are the values the data realised (:func:`realized_outlook`); at the
minutes near a day's end, whose minute runs past the day's last order, they are unknown. In
simulation they come from an :class:`OutlookPath`, piecewise-constant rates that a user's
scenario sets. The model reads them as :data:`N_OUTLOOK_FEATURES` features
(:func:`outlook_features`): a flag that says whether the outlook is known, then the three
numbers scaled to roughly unit range. Training drops the outlook of a random share of its
windows (flag and numbers zero), so the same model also generates without one: a market
given no scenario reads zeros there and is the unconditional market.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmm.units import NS_PER_SECOND

__all__ = [
    "HORIZON_NS",
    "N_OUTLOOK_FEATURES",
    "OUTLOOK_FEATURES",
    "OUTLOOK_PERCENTILES",
    "OUTLOOK_VALUES",
    "OutlookPath",
    "normal_volume",
    "outlook_features",
    "outlook_range",
    "outlook_values",
    "realized_outlook",
]

#: How far ahead the outlook looks: one minute.
HORIZON_NS = 60 * NS_PER_SECOND
#: The sampling step of the realised volatility.
_SAMPLE_NS = NS_PER_SECOND
#: The outlook's numbers, in order (their units: bp, bp, x normal).
OUTLOOK_VALUES = ("drift", "volatility", "volume")
#: The model's outlook features: the known flag, then the scaled numbers.
OUTLOOK_FEATURES = ("known", *OUTLOOK_VALUES)
#: Length of the outlook feature vector.
N_OUTLOOK_FEATURES = len(OUTLOOK_FEATURES)
#: The percentiles of the training outlooks a model keeps (:func:`outlook_range`).
OUTLOOK_PERCENTILES = (0.5, 50.0, 99.5)

_DRIFT_SCALE = 10.0  # bp
_LOG_VOLATILITY_SCALE = 1.0
_LOG_VOLUME_SCALE = 2.0
_FLOOR = 0.01  # the least volatility (bp) and relative volume the features tell apart


def normal_volume(time_ns: np.ndarray, market_shares: np.ndarray) -> float:
    """Mean shares of market orders per minute over consecutive orders (their first to last
    time; at least one share per minute, so that a quiet stretch still gives a scale)."""
    t = np.asarray(time_ns, dtype=np.int64)
    if len(t) == 0:
        raise ValueError("a normal volume needs at least one order")
    minutes = max(int(t[-1]) - int(t[0]), 1) / HORIZON_NS
    return max(float(np.sum(market_shares)) / max(minutes, 1.0), 1.0)


def realized_outlook(
    time_ns: np.ndarray, mid2: np.ndarray, market_shares: np.ndarray, normal: float
) -> tuple[np.ndarray, np.ndarray]:
    """The outlook each of consecutive orders had: what the minute after it realised.

    Args:
        time_ns: the orders' times, ns after midnight, non-decreasing.
        mid2: twice the mid in ticks after each (no zeros: carry it forward first).
        market_shares: the shares of each market order (0 for other orders).
        normal: the day's normal shares per minute (:func:`normal_volume`).

    Returns:
        float64 ``(n, 3)`` drift (bp), volatility (bp) and relative volume
        (:data:`OUTLOOK_VALUES`), and a bool ``(n,)`` mask of the orders whose minute ends
        by the last order (the others' outlook is unknown; their values are 0).
    """
    t = np.asarray(time_ns, dtype=np.int64)
    m = np.asarray(mid2, dtype=np.float64)
    shares = np.asarray(market_shares, dtype=np.int64)
    n = len(t)
    if not (len(m) == len(shares) == n):
        raise ValueError(f"{n} times, {len(m)} mids and {len(shares)} volumes")
    if np.any(np.diff(t) < 0):
        raise ValueError("order times must not decrease")
    if np.any(m <= 0):
        raise ValueError("mids must be positive (carry them forward over empty books)")
    if not normal > 0:
        raise ValueError(f"normal volume must be > 0, got {normal}")
    values = np.zeros((n, len(OUTLOOK_VALUES)))
    known = t + HORIZON_NS <= (t[-1] if n else 0)
    if not known.any():
        return values, known
    idx = np.flatnonzero(known)
    log_mid = np.log(m)

    def mid_at(times: np.ndarray) -> np.ndarray:  # the log mid after the last order by then
        return log_mid[np.searchsorted(t, times, side="right") - 1]

    here = log_mid[idx]
    values[idx, 0] = 1e4 * (np.exp(mid_at(t[idx] + HORIZON_NS) - here) - 1)
    steps = np.arange(1, HORIZON_NS // _SAMPLE_NS + 1, dtype=np.int64) * _SAMPLE_NS
    squares = np.zeros(len(idx))
    for chunk in np.array_split(np.arange(len(idx)), max(1, len(idx) // 20_000)):
        sampled = mid_at(t[idx[chunk], None] + steps[None, :])
        path = np.concatenate([here[chunk, None], sampled], axis=1)
        squares[chunk] = np.sum(np.diff(path, axis=1) ** 2, axis=1)
    values[idx, 1] = 1e4 * np.sqrt(squares)
    cum = np.concatenate([[0], np.cumsum(shares)])
    end = np.searchsorted(t, t[idx] + HORIZON_NS, side="right")
    values[idx, 2] = (cum[end] - cum[idx + 1]) / normal
    return values, known


def outlook_features(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """float32 ``(n, N_OUTLOOK_FEATURES)`` model inputs (:data:`OUTLOOK_FEATURES`) from
    ``(n, 3)`` outlook values (:data:`OUTLOOK_VALUES`) and whether each is known (an
    unknown outlook reads all zeros)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1, len(OUTLOOK_VALUES))
    k = np.asarray(known, dtype=bool).reshape(-1)
    if len(k) != len(v):
        raise ValueError(f"{len(v)} outlooks but {len(k)} known flags")
    out = np.stack(
        [
            np.ones(len(v)),
            v[:, 0] / _DRIFT_SCALE,
            np.log(np.maximum(v[:, 1], _FLOOR)) / _LOG_VOLATILITY_SCALE,
            np.log(np.maximum(v[:, 2], _FLOOR)) / _LOG_VOLUME_SCALE,
        ],
        axis=1,
    )
    return np.where(k[:, None], out, 0.0).astype(np.float32)


def outlook_values(features: np.ndarray) -> np.ndarray:
    """The outlook values (float64 ``(n, 3)``) that known outlook features stand for: the
    inverse of :func:`outlook_features` (values below its floors read as the floors)."""
    f = np.asarray(features, dtype=np.float64).reshape(-1, N_OUTLOOK_FEATURES)
    return np.stack(
        [
            f[:, 1] * _DRIFT_SCALE,
            np.exp(f[:, 2] * _LOG_VOLATILITY_SCALE),
            np.exp(f[:, 3] * _LOG_VOLUME_SCALE),
        ],
        axis=1,
    )


def outlook_range(days: Sequence) -> np.ndarray:
    """float64 ``(3, 3)``: the 0.5th, 50th and 99.5th percentiles of each outlook value
    (:data:`OUTLOOK_VALUES`) over the days' (:class:`lmm.model.dataset.DayData`) training
    orders whose outlook is known: the range a model trained on them has seen, and its
    typical minute."""
    rows = []
    for day in days:
        if day.outlook is None:
            raise ValueError(f"{day.name}: no outlook features (built without them)")
        f = np.asarray(day.outlook)[~np.asarray(day.is_validation)]
        rows.append(outlook_values(f[f[:, 0] > 0]))
    values = np.concatenate(rows)
    if not len(values):
        raise ValueError("no training order with a known outlook")
    return np.percentile(values, OUTLOOK_PERCENTILES, axis=0)


@dataclass(frozen=True)
class OutlookPath:
    """Piecewise-constant rates of the three outlook numbers from ``start_ns`` on: segment
    ``k`` lasts ``seconds[k]`` with a drift of ``drift[k]`` bp per minute, a volatility of
    ``volatility[k]`` bp per square root of a minute and ``volume[k]`` times the normal
    volume per minute.

    The outlook at ``t`` is what these rates give over ``(t, t + 1 min]`` (:meth:`at`): drifts
    and volumes add up over the minute, variances too (so one minute of a segment gives
    exactly its numbers, and a minute across two blends them). Before ``start_ns`` it is the
    outlook at ``start_ns``; the last segment's rates go on after the path's end (a model
    reads a scenario's outlook as known all along, as training reads a window's).
    """

    start_ns: int
    seconds: tuple[float, ...]
    drift: tuple[float, ...]
    volatility: tuple[float, ...]
    volume: tuple[float, ...]

    def __post_init__(self) -> None:
        k = len(self.seconds)
        if k == 0:
            raise ValueError("an outlook path needs at least one segment")
        for name in ("drift", "volatility", "volume"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"{k} segment lengths but {len(getattr(self, name))} {name}s")
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        if not all(s > 0 for s in self.seconds):
            raise ValueError(f"segment lengths must be > 0 s, got {self.seconds}")
        if any(v < 0 for v in self.volatility) or any(v < 0 for v in self.volume):
            raise ValueError("volatility and volume must be >= 0")

    @classmethod
    def of(cls, start_ns: int, segments: Sequence[Sequence[float]]) -> OutlookPath:
        """A path from ``(seconds, drift, volatility, volume)`` rows."""
        rows = [tuple(float(x) for x in s) for s in segments]
        if any(len(r) != 4 for r in rows):
            raise ValueError("each segment is (seconds, drift, volatility, volume)")
        cols = tuple(zip(*rows, strict=True)) if rows else ((), (), (), ())
        return cls(int(start_ns), *cols)

    @property
    def end_ns(self) -> int:
        """When the path ends (ns after midnight)."""
        return self.start_ns + round(sum(self.seconds) * NS_PER_SECOND)

    def at(self, time_ns: np.ndarray | int) -> np.ndarray:
        """The outlook values (float64 ``(n, 3)``, :data:`OUTLOOK_VALUES`) at ``time_ns``."""
        t = np.atleast_1d(np.asarray(time_ns, dtype=np.int64))
        edges = self.start_ns + np.round(
            np.concatenate([[0.0], np.cumsum(self.seconds)]) * NS_PER_SECOND
        ).astype(np.int64)
        edges[-1] = np.iinfo(np.int64).max  # the last segment goes on
        lo = np.maximum(t, self.start_ns)
        hi = lo + HORIZON_NS
        # the share of the minute each segment covers: (n, k)
        overlap = np.clip(
            np.minimum(hi[:, None], edges[None, 1:]) - np.maximum(lo[:, None], edges[None, :-1]),
            0,
            None,
        ) / float(HORIZON_NS)
        return np.stack(
            [
                overlap @ np.asarray(self.drift),
                np.sqrt(overlap @ np.square(self.volatility)),
                overlap @ np.asarray(self.volume),
            ],
            axis=1,
        )

    def features(self, time_ns: np.ndarray | int) -> np.ndarray:
        """The model's outlook features (:func:`outlook_features`) at ``time_ns``."""
        values = self.at(time_ns)
        return outlook_features(values, np.ones(len(values), dtype=bool))
