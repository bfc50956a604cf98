"""Stylized facts of markets: one set of estimators for real and simulated order flow.

Everything starts from order records (:data:`lmm.evaluation.evaluate.RECORD_DTYPE`: one row per
order with the best quotes before and after it; ``rollout`` names the *session*, a real
window or a generated rollout). :func:`session_series` turns one session into the series
the facts need (mid returns on a time grid, traded volume, market-order signs, order
sizes, ages of cancelled orders, the mid's response to each kind of event); the facts of
:data:`FACTS` are then measured on many sessions at once.

Each fact is a ratio of sums over sessions: a session contributes *sufficient statistics*
(power sums, lagged cross-products, histogram counts), and an estimate is a function of
their totals. A bootstrap that resamples sessions (with replacement, within strata such as
the stock) is then a matter of weighting the sessions, so 95% percentile intervals cost
little. Every fact states its estimator and its presence criterion, and the same
criterion decides for real and simulated sessions.

Returns are log mid returns in basis points, sampled on a grid of fixed time steps within
each session (the mid after the last order at or before each grid time). Before pooling,
they are divided by their group's standard deviation (one group per stock), so that two
stocks' different volatilities do not pass for fat tails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from lmm.data.orderflow import CANCEL_KINDS, LIMIT_KINDS, MARKET_KINDS, OrderKind, is_market
from lmm.units import NS_PER_SECOND

__all__ = [
    "ABS_LAGS",
    "FACTS",
    "MARKOUT_HORIZONS",
    "RESPONSE_LAGS",
    "SIGN_LAGS",
    "Fact",
    "FactResult",
    "SessionSeries",
    "depth_from_best",
    "maker_markouts",
    "measure_fact",
    "mid_grid",
    "mid_returns",
    "pooled_acf",
    "pooled_mean",
    "power_law_exponent",
    "session_series",
    "sessions",
    "standardize",
    "stylized_facts",
]

#: Return sampling steps (seconds) the facts use.
RETURN_STEPS = (10, 60, 300)
#: Events after an order at which the mid's response is measured.
RESPONSE_LAGS = (1, 2, 5, 10, 20, 50)
#: Seconds after a market order at which its maker's markout is measured (the adverse
#: selection fact's estimate, ``_markout_values``, reads exactly these two).
MARKOUT_HORIZONS = (1, 10)
#: Lags (in orders) of the market-order sign autocorrelation.
SIGN_LAGS = np.arange(1, 51)
#: Lags (in 10-s steps) of the autocorrelation of absolute returns.
ABS_LAGS = np.arange(1, 21)
#: Log-spaced bins (seconds) of the ages of cancelled orders.
AGE_EDGES = np.logspace(-6, 5, 441)
#: Decades spanned by the 10%-90% quantiles of an exponential (memoryless) lifetime.
EXPONENTIAL_DECADES = float(np.log10(np.log(10.0) / np.log(10.0 / 9.0)))
#: Decades the ages at cancel must span for "broad": 100-fold, against 22-fold for an
#: exponential lifetime (a flow whose cancel rate merely varies spans a little more than it).
BROAD_DECADES = 2.0
#: Coefficient of variation of inter-arrival times for "over-dispersed": half again a
#: Poisson flow's 1 (a Poisson flow whose rate merely varies with the book exceeds 1 a little).
OVERDISPERSED_CV = 1.5
#: Sizes counted for the round-lot spikes, and the round lot.
MAX_SIZE, ROUND_LOT = 1100, 100
#: Periods of the day (ns after midnight, [start, end)) for the intraday pattern.
OPEN_PERIOD = (34_200 * NS_PER_SECOND, 37_800 * NS_PER_SECOND)  # 09:30-10:30
MIDDAY_PERIOD = (43_200 * NS_PER_SECOND, 50_400 * NS_PER_SECOND)  # 12:00-14:00
CLOSE_PERIOD = (54_000 * NS_PER_SECOND, 57_600 * NS_PER_SECOND)  # 15:00-16:00

_BUY_KINDS = (OrderKind.LIMIT_BUY, OrderKind.MARKET_BUY, OrderKind.CANCEL_BUY)


# ---------------------------------------------------------------------- records
def sessions(records: np.ndarray) -> list[np.ndarray]:
    """The records of each session (``rollout`` value), in increasing rollout order."""
    order = np.argsort(records["rollout"], kind="stable")
    r = records[order]
    cuts = np.flatnonzero(np.diff(r["rollout"])) + 1
    return np.split(r, cuts) if len(r) else []


def mid_grid(rows: np.ndarray, step_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid times every ``step_ns`` from a session's first two-sided book, and the mid
    (ticks) after the last order at or before each."""
    rows = rows[(rows["bid_after"] > 0) & (rows["ask_after"] > 0)]
    if len(rows) < 2:
        return np.zeros(0, np.int64), np.zeros(0)
    grid = np.arange(rows["time"][0], rows["time"][-1] + 1, step_ns)
    idx = np.searchsorted(rows["time"], grid, side="right") - 1
    return grid, (rows["bid_after"][idx] + rows["ask_after"][idx]) / 2


def mid_returns(records: np.ndarray, step_ns: int) -> list[np.ndarray]:
    """Log returns of the mid in basis points every ``step_ns``, one array per session.

    The grid starts at a session's first order with a two-sided book; the mid at a grid
    time is the mid after the last order at or before it.
    """
    out = []
    for rows in sessions(records):
        _, mid = mid_grid(rows, step_ns)
        if len(mid) >= 2:
            out.append(np.diff(np.log(mid)) * 1e4)
    return out


def depth_from_best(records: np.ndarray, kinds: tuple[OrderKind, ...]) -> np.ndarray:
    """Ticks behind the same-side best quote of orders of ``kinds`` (negative: inside the
    spread), for orders that met a two-sided book."""
    sel = np.isin(records["kind"], kinds)
    buy = np.isin(records["kind"], [OrderKind.LIMIT_BUY, OrderKind.CANCEL_BUY])
    depth = np.where(
        buy,
        records["bid_before"] - records["price"],
        records["price"] - records["ask_before"],
    )
    two_sided = (records["bid_before"] > 0) & (records["ask_before"] > 0)
    return depth[sel & two_sided].astype(np.float64)


def _cancel_ages(rows: np.ndarray) -> np.ndarray:
    """Seconds from submission to each cancel, for orders submitted within the session."""
    limit = rows[np.isin(rows["kind"], LIMIT_KINDS) & (rows["order_id"] >= 0)]
    cancel = rows[np.isin(rows["kind"], CANCEL_KINDS)]
    if len(limit) == 0 or len(cancel) == 0:
        return np.zeros(0)
    order = np.argsort(limit["order_id"], kind="stable")
    ids, times = limit["order_id"][order], limit["time"][order]
    pos = np.clip(np.searchsorted(ids, cancel["order_id"]), 0, len(ids) - 1)
    known = (ids[pos] == cancel["order_id"]) & (times[pos] <= cancel["time"])
    return (cancel["time"][known] - times[pos][known]) / NS_PER_SECOND


def _response(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts, ``(6, len(RESPONSE_LAGS))``, of ``s * (mid after order i+k-1 -
    mid before order i)`` in ticks, by the kind of order i (s = +1 for buy-side kinds)."""
    sums = np.zeros((len(OrderKind), len(RESPONSE_LAGS)))
    counts = np.zeros_like(sums)
    ok_before = (rows["bid_before"] > 0) & (rows["ask_before"] > 0)
    ok_after = (rows["bid_after"] > 0) & (rows["ask_after"] > 0)
    before = (rows["bid_before"] + rows["ask_before"]) / 2
    after = (rows["bid_after"] + rows["ask_after"]) / 2
    sign = np.where(np.isin(rows["kind"], _BUY_KINDS), 1.0, -1.0)
    kind = rows["kind"].astype(np.int64)
    n = len(rows)
    for j, k in enumerate(RESPONSE_LAGS):
        if n < k:
            break
        i = np.arange(n - k + 1)
        ok = ok_before[i] & ok_after[i + k - 1]
        move = sign[i] * (after[i + k - 1] - before[i])
        sums[:, j] = np.bincount(kind[i][ok], weights=move[ok], minlength=len(OrderKind))
        counts[:, j] = np.bincount(kind[i][ok], minlength=len(OrderKind))
    return sums, counts


def maker_markouts(
    rows: np.ndarray, horizons: tuple[int, ...] | list[int]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The markout in ticks of the maker filled at each market order's worst price,
    ``side * (price - mid h seconds later)`` (side +1 for a buy), positive when the maker
    gained, for market orders of one session's records that met a two-sided book.

    The mid h seconds later is the one after the last order at or before that time that
    left a two-sided book; where the horizon ends after the session (or before any such
    order) the markout is NaN.

    Returns:
        The market orders' indices into ``rows``, and per horizon (seconds) their markouts.
    """
    book = rows[(rows["bid_after"] > 0) & (rows["ask_after"] > 0)]
    met = (rows["bid_before"] > 0) & (rows["ask_before"] > 0)
    index = np.flatnonzero(is_market(rows["kind"]) & met)
    market = rows[index]
    side = np.where(market["kind"] == OrderKind.MARKET_BUY, 1.0, -1.0)
    marks = {}
    for h in horizons:
        at = market["time"] + h * NS_PER_SECOND
        mark = np.full(len(market), np.nan)
        if len(book):
            ok = (at >= book["time"][0]) & (at <= rows["time"][-1])
            k = np.searchsorted(book["time"], at[ok], side="right") - 1
            mid = (book["bid_after"][k] + book["ask_after"][k]) / 2
            mark[ok] = side[ok] * (market["price"][ok] - mid)
        marks[h] = mark
    return index, marks


def _markouts(rows: np.ndarray) -> np.ndarray:
    """Count and sum, ``(len(MARKOUT_HORIZONS), 2)``, of the session's maker markouts that
    fall within it (:func:`maker_markouts`)."""
    _, marks = maker_markouts(rows, MARKOUT_HORIZONS)
    finite = [marks[h][np.isfinite(marks[h])] for h in MARKOUT_HORIZONS]
    return np.array([(len(m), m.sum()) for m in finite], dtype=np.float64)


@dataclass(frozen=True)
class SessionSeries:
    """The series of one session that the facts are measured on.

    Attributes:
        returns: log mid returns (bp) by sampling step in seconds (:data:`RETURN_STEPS`).
        volume: shares traded in each 1-minute interval of ``returns[60]``.
        signs: +1/-1 for each market buy/sell order, in order.
        interarrival: seconds between consecutive orders.
        sizes: limit-order sizes (shares).
        cancel_ages: seconds from submission to each cancel (orders submitted in-session).
        cancel_depth: ticks behind the same-side best of each cancelled order.
        response_sums, response_counts: see :func:`_response`.
        start_ns: when the session starts (ns after midnight).
        minutes: its length.
        orders: its number of orders.
        spread_sum, spread_count: sum and count of the spreads (ticks) after each order.
        group: the stock (or any group whose returns share one scale).
        markout_sums: see :func:`_markouts`.
    """

    returns: dict[int, np.ndarray]
    volume: np.ndarray
    signs: np.ndarray
    interarrival: np.ndarray
    sizes: np.ndarray
    cancel_ages: np.ndarray
    cancel_depth: np.ndarray
    response_sums: np.ndarray
    response_counts: np.ndarray
    start_ns: int = 0
    minutes: float = 0.0
    orders: int = 0
    spread_sum: float = 0.0
    spread_count: int = 0
    group: int = 0
    markout_sums: np.ndarray = field(default_factory=lambda: np.zeros((len(MARKOUT_HORIZONS), 2)))


def session_series(rows: np.ndarray, group: int = 0, start_ns: int | None = None) -> SessionSeries:
    """The :class:`SessionSeries` of one session's records (in time order).

    Args:
        rows: the session's records.
        group: its stock (returns are standardized per group).
        start_ns: when it starts (default: its first order); it ends at its last order.
    """
    returns = {}
    volume = np.zeros(0)
    for step in RETURN_STEPS:
        grid, mid = mid_grid(rows, step * NS_PER_SECOND)
        returns[step] = np.diff(np.log(mid)) * 1e4 if len(mid) >= 2 else np.zeros(0)
        if step == 60 and len(grid) >= 2:
            # shares traded in (grid[i], grid[i+1]], the interval of return i
            cum = np.concatenate([[0], np.cumsum(rows["traded"])])
            at = cum[np.searchsorted(rows["time"], grid, side="right")]
            volume = np.diff(at).astype(np.float64)
    kind = rows["kind"]
    market = np.isin(kind, MARKET_KINDS)
    sums, counts = _response(rows)
    two_sided = (rows["bid_after"] > 0) & (rows["ask_after"] > 0)
    spread = (rows["ask_after"] - rows["bid_after"])[two_sided]
    start = int(rows["time"][0]) if start_ns is None and len(rows) else int(start_ns or 0)
    minutes = (int(rows["time"][-1]) - start) / (60 * NS_PER_SECOND) if len(rows) else 0.0
    return SessionSeries(
        returns=returns,
        volume=volume,
        signs=np.where(kind[market] == OrderKind.MARKET_BUY, 1.0, -1.0),
        interarrival=np.diff(rows["time"]) / NS_PER_SECOND,
        sizes=rows["size"][np.isin(kind, LIMIT_KINDS)],
        cancel_ages=_cancel_ages(rows),
        cancel_depth=depth_from_best(rows, CANCEL_KINDS),
        response_sums=sums,
        response_counts=counts,
        start_ns=start,
        minutes=minutes,
        orders=len(rows),
        spread_sum=float(spread.sum()),
        spread_count=len(spread),
        group=group,
        markout_sums=_markouts(rows),
    )


def standardize(series: list[SessionSeries]) -> list[SessionSeries]:
    """Returns divided by their group's standard deviation at each step, and volumes by
    their group's mean volume per minute (pooled over the sessions given)."""
    out = list(series)
    for g in {s.group for s in series}:
        members = [i for i, s in enumerate(series) if s.group == g]
        scale = {}
        for step in RETURN_STEPS:
            pooled = np.concatenate([series[i].returns[step] for i in members])
            sd = pooled.std() if len(pooled) > 1 else 0.0
            scale[step] = sd if sd > 0 else 1.0
        vol = np.concatenate([series[i].volume for i in members])
        vol_scale = vol.mean() if len(vol) and vol.mean() > 0 else 1.0
        for i in members:
            s = series[i]
            out[i] = replace(
                s,
                returns={k: v / scale[k] for k, v in s.returns.items()},
                volume=s.volume / vol_scale,
            )
    return out


# ---------------------------------------------------------------------- estimators
def _acf_sums(x: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Per lag k: [pairs, sum x_t x_{t+k}, sum of heads x_t, sum of tails x_{t+k}], and
    [n, sum x, sum x^2] appended, as one flat vector (summable over sessions)."""
    out = np.zeros((len(lags), 4))
    for j, k in enumerate(lags):
        if len(x) > k:
            head, tail = x[:-k], x[k:]
            out[j] = (len(head), head @ tail, head.sum(), tail.sum())
    return np.concatenate([out.ravel(), [len(x), x.sum(), x @ x]])


def _acf_from_sums(t: np.ndarray, n_lags: int) -> np.ndarray:
    """Pooled autocorrelation from summed :func:`_acf_sums` (mean and variance pooled)."""
    per = t[: 4 * n_lags].reshape(n_lags, 4)
    n, sx, sxx = t[4 * n_lags :]
    if n < 2:
        return np.full(n_lags, np.nan)
    m = sx / n
    var = sxx / n - m * m
    pairs = np.where(per[:, 0] > 0, per[:, 0], np.nan)
    cov = (per[:, 1] - m * (per[:, 2] + per[:, 3])) / pairs + m * m
    return cov / var if var > 0 else np.full(n_lags, np.nan)


def pooled_acf(series: list[np.ndarray], lags: np.ndarray) -> np.ndarray:
    """Autocorrelation at ``lags`` of several series taken as one sample: lagged pairs come
    from within each series; mean and variance are pooled over all of them."""
    total = sum((_acf_sums(np.asarray(x, dtype=np.float64), lags) for x in series), 0.0)
    if np.isscalar(total):
        return np.full(len(lags), np.nan)
    return _acf_from_sums(total, len(lags))


def _moment_sums(x: np.ndarray) -> np.ndarray:
    return np.array([len(x), x.sum(), (x**2).sum(), (x**3).sum(), (x**4).sum()])


def _excess_kurtosis(t: np.ndarray) -> float:
    """Excess kurtosis ``m4 / m2^2 - 3`` (central moments) from power sums."""
    n, s1, s2, s3, s4 = t
    if n < 4:
        return float("nan")
    m = s1 / n
    m2 = s2 / n - m**2
    m4 = s4 / n - 4 * m * s3 / n + 6 * m**2 * s2 / n - 3 * m**4
    return float(m4 / m2**2 - 3) if m2 > 0 else float("nan")


def power_law_exponent(lags: np.ndarray, acf: np.ndarray) -> float:
    """``gamma`` of ``acf(k) ~ k^-gamma``: minus the least-squares slope of ``log acf`` on
    ``log k`` over the lags where the autocorrelation is positive (nan with < 5 of them)."""
    ok = np.isfinite(acf) & (acf > 0)
    if ok.sum() < 5:
        return float("nan")
    slope = np.polyfit(np.log(lags[ok]), np.log(acf[ok]), 1)[0]
    return float(-slope)


def _weighted_quantile(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Quantile of a histogram (log-interpolated within a bin of log-spaced ``edges``)."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    cum = np.concatenate([[0], np.cumsum(counts)]) / total
    return float(np.exp(np.interp(q, cum, np.log(edges))))


# ---------------------------------------------------------------------- facts
@dataclass(frozen=True)
class Fact:
    """One stylized fact: its sufficient statistics, its estimate and its criterion.

    Attributes:
        key: short name.
        title: what the fact says.
        statistics: names of the values ``estimate`` returns (the first is the headline).
        estimator: how the values are computed, in words.
        criterion: when the fact counts as present, in words.
        sums: a session's sufficient statistics (a flat vector, summed over sessions).
        estimate: the values from the weighted totals of ``sums``.
        present: the verdict from the values and their 95% interval bounds.
        source: which sessions it is measured on: ``"main"`` (rollouts from the held-out
            starts) or ``"intraday"`` (sessions spread over the day).
    """

    key: str
    title: str
    statistics: tuple[str, ...]
    estimator: str
    criterion: str
    sums: Callable[[SessionSeries], np.ndarray]
    estimate: Callable[[np.ndarray], np.ndarray]
    present: Callable[[np.ndarray, np.ndarray, np.ndarray], bool]
    source: str = "main"


@dataclass(frozen=True)
class FactResult:
    """A fact measured on a set of sessions.

    Attributes:
        key, title, estimator, criterion: from the :class:`Fact`.
        values: name -> estimate; ``low`` / ``high``: name -> 95% bootstrap bounds.
        present: the verdict (None when there were too few sessions to measure it).
        sessions: how many sessions it was measured on.
    """

    key: str
    title: str
    estimator: str
    criterion: str
    values: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    present: bool | None
    sessions: int

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return {
            "key": self.key,
            "title": self.title,
            "estimator": self.estimator,
            "criterion": self.criterion,
            "values": self.values,
            "ci95_low": self.low,
            "ci95_high": self.high,
            "present": self.present,
            "sessions": self.sessions,
        }


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def _round_lot_sums(s: SessionSeries) -> np.ndarray:
    sizes = s.sizes[(s.sizes >= 1) & (s.sizes <= MAX_SIZE)]
    counts = np.bincount(sizes.astype(np.int64), minlength=MAX_SIZE + 1)
    lots = np.arange(ROUND_LOT, MAX_SIZE - 9, ROUND_LOT)
    near = np.concatenate([lots + d for d in range(-10, 11) if d != 0])
    return np.array([counts[lots].sum(), counts[near].sum(), len(lots), len(near)])


def _round_lot_ratio(t: np.ndarray) -> np.ndarray:
    n_round, n_near, k_round, k_near = t
    # add-one on the neighbours: a sample with no neighbours still gives a finite ratio
    return np.array([_ratio(n_round / max(k_round, 1), (n_near + 1) / max(k_near, 1))])


def _vv_sums(s: SessionSeries) -> np.ndarray:
    a, v = np.abs(s.returns[60]), s.volume
    k = min(len(a), len(v))
    a, v = a[:k], v[:k]
    return np.array([k, a.sum(), v.sum(), a @ a, v @ v, a @ v])


def _correlation(t: np.ndarray) -> np.ndarray:
    n, sa, sv, saa, svv, sav = t
    if n < 3:
        return np.array([np.nan])
    cov = sav / n - sa * sv / n**2
    va, vv = saa / n - (sa / n) ** 2, svv / n - (sv / n) ** 2
    return np.array([cov / np.sqrt(va * vv) if va > 0 and vv > 0 else np.nan])


def _cv(t: np.ndarray) -> np.ndarray:
    n, s1, s2 = t
    if n < 2 or s1 <= 0:
        return np.array([np.nan])
    m = s1 / n
    return np.array([np.sqrt(max(s2 / n - m * m, 0.0)) / m])


def _age_sums(s: SessionSeries) -> np.ndarray:
    ages = np.clip(s.cancel_ages, AGE_EDGES[0], AGE_EDGES[-1] * 0.999)
    depth = s.cancel_depth
    return np.concatenate(
        [
            np.histogram(ages, AGE_EDGES)[0],
            [((depth >= 0) & (depth <= 4)).sum(), ((depth >= 5) & (depth <= 9)).sum()],
            [len(depth), depth.sum()],
        ]
    )


def _age_decades(t: np.ndarray) -> np.ndarray:
    hist, (near, far, n_depth, depth_sum) = t[: len(AGE_EDGES) - 1], t[len(AGE_EDGES) - 1 :]
    q10 = _weighted_quantile(AGE_EDGES, hist, 0.1)
    q50 = _weighted_quantile(AGE_EDGES, hist, 0.5)
    q90 = _weighted_quantile(AGE_EDGES, hist, 0.9)
    near_far = (near + 1) / (far + 1)  # add-one: finite when no cancel is far
    return np.array([np.log10(q90 / q10), q50, near_far, _ratio(depth_sum, n_depth)])


def _sign_sums(s: SessionSeries) -> np.ndarray:
    return _acf_sums(s.signs, SIGN_LAGS)


def _sign_memory(t: np.ndarray) -> np.ndarray:
    acf = _acf_from_sums(t, len(SIGN_LAGS))
    tail = np.nanmean(acf[9:]) if np.isfinite(acf[9:]).any() else np.nan
    gamma = power_law_exponent(SIGN_LAGS[9:].astype(float), acf[9:])
    return np.array([gamma, tail, acf[0]])


def _intraday_sums(s: SessionSeries) -> np.ndarray:
    """Per period (open, midday, close): orders per minute, spread sum and count; then
    one session count per period."""
    out = np.zeros(12)
    p = _period(s.start_ns)
    if p < 3 and s.minutes > 0:
        out[3 * p : 3 * p + 3] = (s.orders / s.minutes, s.spread_sum, s.spread_count)
        out[9 + p] = 1.0
    return out


def _intraday(t: np.ndarray) -> np.ndarray:
    act, spread_sum, spread_n = t[0:9:3], t[1:9:3], t[2:9:3]
    sessions_in = t[9:12]
    rate = [_ratio(act[p], sessions_in[p]) for p in range(3)]
    spread = [_ratio(spread_sum[p], spread_n[p]) for p in range(3)]
    open_close = _ratio(act[0] + act[2], sessions_in[0] + sessions_in[2])
    return np.array([_ratio(open_close, rate[1]), _ratio(spread[0], spread[1]), *rate, *spread])


def _response_sums(s: SessionSeries) -> np.ndarray:
    return np.concatenate([s.response_sums.ravel(), s.response_counts.ravel()])


def _response_values(t: np.ndarray) -> np.ndarray:
    half = len(t) // 2
    sums = t[:half].reshape(len(OrderKind), len(RESPONSE_LAGS))
    counts = t[half:].reshape(len(OrderKind), len(RESPONSE_LAGS))
    mean = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
    market = (sums[MARKET_KINDS, :].sum(0)) / np.maximum(counts[MARKET_KINDS, :].sum(0), 1)
    return np.concatenate([[market[-1], market[0]], mean.ravel()])


def _markout_values(t: np.ndarray) -> np.ndarray:
    """Mean markout at 10 s and at 1 s, and the share of the 1-s one kept at 10 s."""
    (n1, s1), (n10, s10) = t.reshape(len(MARKOUT_HORIZONS), 2)
    at_1, at_10 = _ratio(s1, n1), _ratio(s10, n10)
    return np.array([at_10, at_1, at_10 / at_1 if at_1 > 0 else np.nan])


_RESPONSE_NAMES = tuple(f"{k.name.lower()}_k{lag}" for k in OrderKind for lag in RESPONSE_LAGS)

#: The twelve facts, in the order the report lists them.
FACTS: tuple[Fact, ...] = (
    Fact(
        key="no_return_autocorrelation",
        title="Absence of autocorrelation of returns",
        statistics=("acf1",),
        estimator="lag-1 autocorrelation of 1-minute mid returns (pooled over sessions)",
        criterion="the 95% interval contains 0, or |acf1| < 0.05",
        sums=lambda s: _acf_sums(s.returns[60], np.array([1])),
        estimate=lambda t: _acf_from_sums(t, 1),
        present=lambda v, lo, hi: bool((lo[0] <= 0 <= hi[0]) or abs(v[0]) < 0.05),
    ),
    Fact(
        key="heavy_tails",
        title="Heavy tails of returns",
        statistics=("excess_kurtosis_1min",),
        estimator="excess kurtosis of 1-minute mid returns (standardized per stock)",
        criterion="the 95% interval lies above 0",
        sums=lambda s: _moment_sums(s.returns[60]),
        estimate=lambda t: np.array([_excess_kurtosis(t)]),
        present=lambda v, lo, hi: bool(lo[0] > 0),
    ),
    Fact(
        key="aggregational_gaussianity",
        title="Aggregational Gaussianity",
        statistics=(
            "kurtosis_drop",
            "excess_kurtosis_10s",
            "excess_kurtosis_1min",
            "excess_kurtosis_5min",
        ),
        estimator="excess kurtosis of 10-second minus that of 5-minute mid returns",
        criterion="the 95% interval of the drop lies above 0 (tails thin with the horizon)",
        sums=lambda s: np.concatenate([_moment_sums(s.returns[k]) for k in RETURN_STEPS]),
        estimate=lambda t: (lambda k: np.array([k[0] - k[2], *k]))(
            [_excess_kurtosis(t[5 * j : 5 * j + 5]) for j in range(3)]
        ),
        present=lambda v, lo, hi: bool(lo[0] > 0),
    ),
    Fact(
        key="volatility_clustering",
        title="Volatility clustering",
        statistics=("mean_abs_acf_1_20", "abs_acf1", "abs_acf20"),
        estimator="mean over lags 1-20 of the autocorrelation of |10-second returns|",
        criterion="the 95% interval lies above 0",
        sums=lambda s: _acf_sums(np.abs(s.returns[10]), ABS_LAGS),
        estimate=lambda t: (lambda a: np.array([np.nanmean(a), a[0], a[-1]]))(
            _acf_from_sums(t, len(ABS_LAGS))
        ),
        present=lambda v, lo, hi: bool(lo[0] > 0),
    ),
    Fact(
        key="volume_volatility",
        title="Volume-volatility correlation",
        statistics=("correlation",),
        estimator="Pearson correlation of traded shares and |return| over 1-minute "
        "intervals (both scaled per stock)",
        criterion="the 95% interval lies above 0",
        sums=_vv_sums,
        estimate=_correlation,
        present=lambda v, lo, hi: bool(lo[0] > 0),
    ),
    Fact(
        key="intraday_pattern",
        title="Intraday pattern of activity and spread",
        statistics=(
            "activity_u_ratio",
            "open_spread_ratio",
            "orders_per_min_open",
            "orders_per_min_midday",
            "orders_per_min_close",
            "spread_open",
            "spread_midday",
            "spread_close",
        ),
        estimator="orders per minute of sessions starting 09:30-10:30 or 15:00-16:00 over "
        "those starting 12:00-14:00 (U shape); mean spread 09:30-10:30 over 12:00-14:00",
        criterion="both 95% intervals lie above 1",
        sums=_intraday_sums,
        estimate=_intraday,
        present=lambda v, lo, hi: bool(lo[0] > 1 and lo[1] > 1),
        source="intraday",
    ),
    Fact(
        key="sign_long_memory",
        title="Long memory of market-order signs",
        statistics=("gamma", "mean_acf_10_50", "acf1"),
        estimator="autocorrelation of market-order signs at lags 1-50; gamma from a "
        "least-squares fit of log acf on log lag over lags 10-50; the mean over lags 10-50",
        criterion="the mean at lags 10-50 has a 95% interval above 0, and gamma < 1 "
        "(slower than 1/lag)",
        sums=_sign_sums,
        estimate=_sign_memory,
        present=lambda v, lo, hi: bool(lo[1] > 0 and v[0] < 1),
    ),
    Fact(
        key="round_lots",
        title="Round-lot spikes in order sizes",
        statistics=("spike_ratio",),
        estimator="limit orders per size value at multiples of 100 (100-1000) over those "
        "at the non-round sizes within 10 shares of them",
        criterion="the 95% interval lies above 2",
        sums=_round_lot_sums,
        estimate=_round_lot_ratio,
        present=lambda v, lo, hi: bool(lo[0] > 2),
    ),
    Fact(
        key="overdispersed_arrivals",
        title="Over-dispersed inter-arrival times",
        statistics=("cv",),
        estimator="coefficient of variation of the times between consecutive orders",
        criterion=f"the 95% interval lies above {OVERDISPERSED_CV} (a Poisson flow has 1)",
        sums=lambda s: _moment_sums(s.interarrival)[:3],
        estimate=_cv,
        present=lambda v, lo, hi: bool(lo[0] > OVERDISPERSED_CV),
    ),
    Fact(
        key="cancellations",
        title="Cancellation depth and time-to-cancel",
        statistics=("age_decades", "median_age_s", "near_far_ratio", "mean_depth"),
        estimator="log10 of the 90%/10% quantile ratio of the age at cancel of orders "
        "submitted in the session; cancels 0-4 ticks behind the same-side best over those "
        "5-9 ticks behind",
        criterion=f"the 95% interval of the decades lies above {BROAD_DECADES:g} (an "
        f"exponential lifetime spans {EXPONENTIAL_DECADES:.2f}) and that of the near/far ratio "
        "above 1 (cancels thin out with depth)",
        sums=_age_sums,
        estimate=_age_decades,
        present=lambda v, lo, hi: bool(lo[0] > BROAD_DECADES and lo[2] > 1),
    ),
    Fact(
        key="mid_response",
        title="Response of the mid after each event type",
        statistics=("market_k50", "market_k1", *_RESPONSE_NAMES),
        estimator="mean mid change (ticks), signed by the order's side, k orders after each "
        "kind of order (k = 1 includes the order itself)",
        criterion="market orders move the mid their way at once and lastingly: the 95% "
        "intervals at k = 1 and k = 50 lie above 0",
        sums=_response_sums,
        estimate=_response_values,
        present=lambda v, lo, hi: bool(lo[0] > 0 and lo[1] > 0),
    ),
    Fact(
        key="adverse_selection",
        title="Liquidity providers break even against market orders",
        statistics=("markout_10s", "markout_1s", "kept_share"),
        estimator="markout (ticks) of the maker filled at each market order's worst price, "
        "side x (price - mid), 1 s and 10 s after the order; the share of the 1-s markout "
        "kept at 10 s",
        criterion="the 95% interval of the 10-s markout contains 0: what makers earn on the "
        "spread, the moves that follow take back (spread and impact balance, Wyart et al. "
        "2008)",
        sums=lambda s: s.markout_sums.ravel(),
        estimate=_markout_values,
        present=lambda v, lo, hi: bool(lo[0] <= 0 <= hi[0]),
    ),
)


# ---------------------------------------------------------------------- bootstrap
def measure_fact(
    fact: Fact,
    series: list[SessionSeries],
    strata: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> FactResult:
    """Estimate ``fact`` on ``series`` with a 95% percentile bootstrap over sessions.

    Args:
        fact: what to measure.
        series: the sessions (standardized with :func:`standardize` if returns matter).
        strata: a label per session; sessions are resampled within their stratum (default:
            one stratum).
        n_boot: bootstrap resamples.
        seed: the bootstrap's seed.
    """
    n = len(series)
    empty = {name: float("nan") for name in fact.statistics}
    if n < 2:
        return FactResult(
            fact.key, fact.title, fact.estimator, fact.criterion, empty, empty, empty, None, n
        )
    stats = np.stack([fact.sums(s) for s in series])  # (sessions, sums)
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_boot, n))
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        draws = members[rng.integers(0, len(members), (n_boot, len(members)))]
        np.add.at(weights, (np.arange(n_boot)[:, None], draws), 1.0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # a resample without, say, any midday session has no value: nan, left out
        warnings.simplefilter("ignore", RuntimeWarning)
        value = fact.estimate(stats.sum(0))
        boot = np.stack([fact.estimate(t) for t in weights @ stats])  # (n_boot, values)
        low = np.nanpercentile(boot, 2.5, axis=0)
        high = np.nanpercentile(boot, 97.5, axis=0)
    finite = np.isfinite(value[0]) and np.isfinite(low[0]) and np.isfinite(high[0])
    present = fact.present(value, low, high) if finite else None

    def named(a: np.ndarray) -> dict[str, float]:
        return {k: float(x) for k, x in zip(fact.statistics, a, strict=True)}

    return FactResult(
        fact.key,
        fact.title,
        fact.estimator,
        fact.criterion,
        named(value),
        named(low),
        named(high),
        present,
        n,
    )


def pooled_mean(
    sums: np.ndarray, weights: np.ndarray, rng: np.random.Generator, n_boot: int = 2000
) -> tuple[float, float, float]:
    """The pooled mean ``sum(sums) / sum(weights)`` of per-session totals, and its 95%
    percentile interval from a bootstrap that resamples sessions (a session's events stay
    together, since a market's events are not independent).

    Args:
        sums: each session's sum of values (or of weight x value).
        weights: each session's count of values (or sum of weights).
        rng: the bootstrap's randomness.
        n_boot: resamples; one whose weights sum to 0 has no mean and is left out.

    Returns:
        (mean, low, high); all nan when the weights sum to 0.
    """
    sums, weights = np.asarray(sums, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if len(sums) == 0 or weights.sum() <= 0:
        return float("nan"), float("nan"), float("nan")
    pick = rng.integers(0, len(sums), (n_boot, len(sums)))
    total = weights[pick].sum(1)
    boot = sums[pick].sum(1)[total > 0] / total[total > 0]
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(sums.sum() / weights.sum()), float(low), float(high)


def stylized_facts(
    main: list[SessionSeries],
    intraday: list[SessionSeries] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[FactResult]:
    """Every fact of :data:`FACTS` on one source of sessions (real or one model).

    Args:
        main: sessions from the held-out start states (standardized inside).
        intraday: sessions spread over the day, for the intraday pattern (None: not
            measured).
        n_boot: bootstrap resamples; sessions are resampled within their stock, and for
            the intraday pattern within their stock and period of the day.
        seed: the bootstrap's seed.
    """
    main = standardize(main)
    out = []
    for fact in FACTS:
        if fact.source == "intraday":
            if intraday is None:
                out.append(measure_fact(fact, [], n_boot=n_boot, seed=seed))
                continue
            strata = np.array([s.group * 10 + _period(s.start_ns) for s in intraday])
            out.append(measure_fact(fact, intraday, strata, n_boot, seed))
        else:
            strata = np.array([s.group for s in main])
            out.append(measure_fact(fact, main, strata, n_boot, seed))
    return out


def _period(start_ns: int) -> int:
    """0 open, 1 midday, 2 close, 3 other."""
    for p, (lo, hi) in enumerate((OPEN_PERIOD, MIDDAY_PERIOD, CLOSE_PERIOD)):
        if lo <= start_ns < hi:
            return p
    return 3
