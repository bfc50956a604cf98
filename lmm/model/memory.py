"""Memory features: where the market stood before the model's context began.

The context holds 128 orders, 20-30 s of a liquid stock's flow, so a model that reads only
the context cannot know where the price stood a minute ago. These features summarise the
last five minutes of clock time at every order, computed from three numbers per order:

* its time (ns after midnight);
* the mid after it, twice in ticks: :func:`lmm.model.features.mid_x2` of the book it left,
  carried forward from the order before where both sides are empty;
* its signed market volume: the shares of a market buy, minus those of a market sell, 0 for
  limit orders and cancels.

Between orders the mid is the one after the last order (a step function of time). Before the
first known order it is taken to be that order's mid, with no volume. At an order at time
``t``, for each window ``W`` (a half-open stretch ``(t - W, t]``):

* ``mid_change_W`` (W = 10, 60, 300 s): the mid now minus the mid at ``t - W``, in ticks;
* ``volume_W`` (W = 10, 60, 300 s): the signed market volume of the orders in the window,
  the order itself included, in shares;
* ``mid_vs_average_W`` (W = 60, 300 s): the mid now minus the mid's time average over
  ``[t - W, t]``, in ticks.

Each is scaled by a signed log, ``sign(x) * log1p(|x|) / s`` (s = 3 for ticks, 10 for
shares), to roughly unit range. The sums and time integrals are exact int64 arithmetic, so
:func:`memory_features` (a day at once, for training) and :class:`MemoryTracker` (one order
at a time, for simulation, agent orders included) give float32-equal features from the same
orders, whatever order they start their sums from.
"""

from __future__ import annotations

import bisect

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.model.features import mid_x2
from lmm.units import NS_PER_SECOND

__all__ = [
    "MEMORY_FEATURES",
    "MEMORY_HORIZON_NS",
    "N_MEMORY_FEATURES",
    "MemoryTracker",
    "carried_mid2",
    "memory_features",
    "signed_market_volume",
]

#: Windows of the mid's change and of the signed market volume.
CHANGE_WINDOWS_NS = (10 * NS_PER_SECOND, 60 * NS_PER_SECOND, 300 * NS_PER_SECOND)
#: Windows of the mid's time average.
AVERAGE_WINDOWS_NS = (60 * NS_PER_SECOND, 300 * NS_PER_SECOND)
#: The longest window: how far back the features look.
MEMORY_HORIZON_NS = max(CHANGE_WINDOWS_NS + AVERAGE_WINDOWS_NS)
#: The features, in order.
MEMORY_FEATURES = (
    *(f"mid_change_{w // NS_PER_SECOND}s" for w in CHANGE_WINDOWS_NS),
    *(f"volume_{w // NS_PER_SECOND}s" for w in CHANGE_WINDOWS_NS),
    *(f"mid_vs_average_{w // NS_PER_SECOND}s" for w in AVERAGE_WINDOWS_NS),
)
#: Length of the memory feature vector.
N_MEMORY_FEATURES = len(MEMORY_FEATURES)

_TICK_SCALE = 3.0
_SHARE_SCALE = 10.0


def signed_market_volume(kind: np.ndarray, size: np.ndarray) -> np.ndarray:
    """int64 shares bought by market orders minus shares sold, per order (0 for others)."""
    kind, size = np.asarray(kind), np.asarray(size, dtype=np.int64)
    return np.where(
        kind == OrderKind.MARKET_BUY, size, np.where(kind == OrderKind.MARKET_SELL, -size, 0)
    ).astype(np.int64)


def _signed_log(x: np.ndarray, scale: float) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x)) / scale


def _scale(change2: np.ndarray, volume: np.ndarray, vs_average: np.ndarray) -> np.ndarray:
    """float32 features from twice the mid changes, the volumes and the mid minus its
    averages (ticks, as float64 numerators over ``2 * W``)."""
    return np.concatenate(
        [
            _signed_log(change2 / 2, _TICK_SCALE),
            _signed_log(volume, _SHARE_SCALE),
            _signed_log(vs_average, _TICK_SCALE),
        ],
        axis=-1,
    ).astype(np.float32)


def _vs_average(mid2: np.ndarray, integral2: np.ndarray, window: int) -> np.ndarray:
    """Ticks of the mid above its average, from twice the mid and twice its integral (ns)."""
    return (mid2 * window - integral2) / (2 * window)


def memory_features(time_ns: np.ndarray, mid2: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """The memory features (float32 ``(n, N_MEMORY_FEATURES)``, :data:`MEMORY_FEATURES`) of
    consecutive orders.

    Args:
        time_ns: their times, ns after midnight, non-decreasing.
        mid2: twice the mid in ticks after each (no zeros: carry it forward first).
        volume: their signed market volumes (:func:`signed_market_volume`).
    """
    t = np.asarray(time_ns, dtype=np.int64)
    m = np.asarray(mid2, dtype=np.int64)
    v = np.asarray(volume, dtype=np.int64)
    n = len(t)
    if not (len(m) == len(v) == n):
        raise ValueError(f"{n} times, {len(m)} mids and {len(v)} volumes")
    if n == 0:
        return np.zeros((0, N_MEMORY_FEATURES), dtype=np.float32)
    if np.any(np.diff(t) < 0):
        raise ValueError("order times must not decrease")
    cum_v = np.cumsum(v)
    # twice the mid's integral from the first order to each order (ns * ticks)
    area = np.concatenate([[0], np.cumsum(m[:-1] * np.diff(t))])

    def anchor(window: int) -> np.ndarray:  # last order at or before t - window; -1: none
        return np.searchsorted(t, t - window, side="right") - 1

    change2, vol, vs_avg = [], [], []
    for w in CHANGE_WINDOWS_NS:
        a = anchor(w)
        known = a >= 0
        a0 = np.maximum(a, 0)
        change2.append(m - np.where(known, m[a0], m[0]))
        vol.append(cum_v - np.where(known, cum_v[a0], 0))
    for w in AVERAGE_WINDOWS_NS:
        a = anchor(w)
        a0 = np.maximum(a, 0)
        start = t - w
        integral = np.where(
            a >= 0,
            area - area[a0] - m[a0] * (start - t[a0]),
            area + m[0] * (t[0] - start),
        )
        vs_avg.append(_vs_average(m, integral, w))
    return _scale(np.stack(change2, -1), np.stack(vol, -1), np.stack(vs_avg, -1))


class MemoryTracker:
    """The memory features of one market, one order at a time: the same as
    :func:`memory_features` over every order it was given (:meth:`from_history` and
    :meth:`update`), in the order given.

    It keeps only the orders the longest window still needs (those after
    ``t - MEMORY_HORIZON_NS`` and the last one at or before it).
    """

    def __init__(self) -> None:
        self._t: list[int] = []
        self._m: list[int] = []
        self._cum_v: list[int] = []  # signed volume summed since the first order kept
        self._area: list[int] = []  # twice the mid's integral since the first order kept

    @classmethod
    def from_history(
        cls, time_ns: np.ndarray, mid2: np.ndarray, volume: np.ndarray
    ) -> MemoryTracker:
        """A tracker that has been given these orders (as :func:`memory_features` takes
        them), without computing their features."""
        t = np.asarray(time_ns, dtype=np.int64)
        m = np.asarray(mid2, dtype=np.int64)
        v = np.asarray(volume, dtype=np.int64)
        if not (len(m) == len(v) == len(t)):
            raise ValueError(f"{len(t)} times, {len(m)} mids and {len(v)} volumes")
        if np.any(np.diff(t) < 0):
            raise ValueError("order times must not decrease")
        tracker = cls()
        if len(t):
            tracker._t, tracker._m = t.tolist(), m.tolist()
            tracker._cum_v = np.cumsum(v).tolist()
            tracker._area = np.concatenate([[0], np.cumsum(m[:-1] * np.diff(t))]).tolist()
            tracker._forget(int(t[-1]), keep=0)
        return tracker

    @property
    def last_mid2(self) -> int:
        """Twice the mid after the last order given (0 before any)."""
        return self._m[-1] if self._m else 0

    def update(self, time_ns: int, mid2: int, volume: int) -> np.ndarray:
        """Add an order (time ns, twice the mid after it, signed market volume) and return
        its float32 ``(N_MEMORY_FEATURES,)`` features."""
        t, m, v = int(time_ns), int(mid2), int(volume)
        if self._t:
            if t < self._t[-1]:
                raise ValueError(f"order time {t} is before the last one ({self._t[-1]})")
            self._area.append(self._area[-1] + self._m[-1] * (t - self._t[-1]))
            self._cum_v.append(self._cum_v[-1] + v)
        else:
            self._area.append(0)
            self._cum_v.append(v)
        self._t.append(t)
        self._m.append(m)
        # with no order at or before t - w, nothing was forgotten: the lists start at the
        # first order ever, where the sums start
        change2, vol, vs_avg = [], [], []
        for w in CHANGE_WINDOWS_NS:
            a = bisect.bisect_right(self._t, t - w) - 1
            change2.append(m - self._m[max(a, 0)])
            vol.append(self._cum_v[-1] - (self._cum_v[a] if a >= 0 else 0))
        for w in AVERAGE_WINDOWS_NS:
            a = bisect.bisect_right(self._t, t - w) - 1
            start = t - w
            if a >= 0:
                integral = self._area[-1] - self._area[a] - self._m[a] * (start - self._t[a])
            else:
                integral = self._area[-1] + self._m[0] * (self._t[0] - start)
            vs_avg.append(_vs_average(np.int64(m), np.int64(integral), w))
        self._forget(t)
        return _scale(
            np.array(change2, dtype=np.int64), np.array(vol, dtype=np.int64), np.array(vs_avg)
        )

    def _forget(self, t: int, keep: int = 256) -> None:
        """Drop the orders the longest window no longer reaches from ``t`` (keeping its
        anchor), once there are more than ``keep`` of them (in blocks, not per order)."""
        a = bisect.bisect_right(self._t, t - MEMORY_HORIZON_NS) - 1
        if a > keep:
            del self._t[:a], self._m[:a], self._cum_v[:a], self._area[:a]


def carried_mid2(book_after: np.ndarray, before: int) -> np.ndarray:
    """Twice the mid in ticks after each order of ``(n, L, 4)`` books after consecutive
    orders (:func:`lmm.model.features.mid_x2`), carried forward where both sides are empty,
    from ``before`` (the mid before the first of them) at the start."""
    mid2 = mid_x2(np.asarray(book_after))
    known = mid2 != 0
    last = np.maximum.accumulate(np.where(known, np.arange(len(mid2)), -1))
    return np.where(last >= 0, mid2[np.maximum(last, 0)], before).astype(np.int64)
