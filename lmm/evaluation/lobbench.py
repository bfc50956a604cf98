"""LOB-Bench's distributional scores, reimplemented on our LOBSTER arrays.

LOB-Bench (Nagy et al. 2025, "LOB-Bench: Benchmarking Generative AI for Finance") compares a
set of *real* and a set of *generated* LOBSTER sequences (500 messages each, with the book
after every message) score by score: each score maps one sequence to a sample of values
(one per message, per order or per second), the samples of all real and of all generated
sequences are pooled, and two distances compare the pools:

* **L1**: the total variation ``0.5 * sum |p - q|`` between the two histograms on common bins.
  Continuous scores are binned by numpy's Freedman-Diaconis edges of the pooled finite values
  (a value equal to the last edge gets a bin of its own, as ``searchsorted(..., "right")``
  gives); discrete scores get one bin per distinct value. NaN values are not counted.
  A side without any value scores 1.
* **Wasserstein**: the 1-Wasserstein distance between the two samples after both are
  standardised by the pooled mean and (ddof=1) standard deviation, so it is unit-free.

The 21 unconditional scores are in :data:`UNCONDITIONAL_SCORES`; the three conditional scores
(:data:`CONDITIONAL_SCORES`) bin the pooled values of a conditioning score, compare the
evaluated score within each conditioning bin (on the pooled deciles of that bin, or one bin
per value for a discrete score) and weight the bins by their share of the values.

This is our own code written from the definitions in LOB-Bench's repository
(github.com/peernagy/lob_bench): ``run_bench.py`` (the list of scores and their binning
flags), ``eval.py`` (the per-sequence statistics), ``scoring.py`` and ``partitioning.py``
(binning: ``get_kwargs``, ``group_by_score``; conditional weighting: ``compute_metrics``) and
``metrics.py`` (``l1_by_group``, ``wasserstein``). Only the point estimates are computed, not
LOB-Bench's bootstrap intervals. Units differ (ticks here, dollars x 10000 there), which no
distance sees: the bins scale with the data and the Wasserstein distance is standardised.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from lmm.data.lobster import EventType, LobsterDay
from lmm.units import NS_PER_SECOND

__all__ = [
    "CONDITIONAL_SCORES",
    "SEQUENCE_LENGTH",
    "UNCONDITIONAL_SCORES",
    "BenchReport",
    "ConditionalScore",
    "LobSequence",
    "Score",
    "ScoreDistance",
    "cut_sequences",
    "format_table",
    "l1_distance",
    "lobbench",
    "real_floors",
    "wasserstein_distance",
    "window_sequences",
]

#: Messages per sequence, as LOB-Bench cuts its data.
SEQUENCE_LENGTH = 500
#: Book levels LOB-Bench sums for the total ask and bid volume.
DEFAULT_LEVELS = 10
#: Events whose statistics LOB-Bench averages over in the order-flow imbalance.
OFI_WINDOW = 100

_NS_PER_MS = 1_000_000
_NS_PER_US = 1_000
_SUBMIT, _CANCEL, _DELETE, _EXECUTE = (
    EventType.SUBMIT,
    EventType.CANCEL,
    EventType.DELETE,
    EventType.EXECUTE,
)

#: One sequence: LOBSTER messages (:data:`lmm.data.lobster.MESSAGE_DTYPE`) and the book
#: ``(n, levels, 4)`` (ask price, ask size, bid price, bid size) after each message.
LobSequence = tuple[np.ndarray, np.ndarray]


# ------------------------------------------------------------------ cutting data into sequences
def cut_sequences(
    messages: np.ndarray, book: np.ndarray, length: int = SEQUENCE_LENGTH
) -> list[LobSequence]:
    """Non-overlapping ``length``-message sequences from the start; the remainder is dropped."""
    if length <= 0:
        raise ValueError(f"length must be > 0, got {length}")
    if len(messages) != len(book):
        raise ValueError(
            f"{len(messages)} messages but {len(book)} book rows; need one per message"
        )
    return [
        (messages[i : i + length], book[i : i + length])
        for i in range(0, len(messages) - length + 1, length)
    ]


def window_sequences(
    day: LobsterDay, start_s: float, end_s: float, length: int = SEQUENCE_LENGTH
) -> list[LobSequence]:
    """The sequences of the messages with time in ``[start_s, end_s)`` (seconds after midnight)."""
    t = day.messages["time"]
    lo, hi = np.searchsorted(t, [round(start_s * NS_PER_SECOND), round(end_s * NS_PER_SECOND)])
    return cut_sequences(day.messages[lo:hi], day.book[lo:hi], length)


# --------------------------------------------------------------------- per-sequence statistics
def _mid(book: np.ndarray) -> np.ndarray:
    return (book[:, 0, 0] + book[:, 0, 2]) / 2.0


def spread(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Best ask minus best bid (ticks) after each message."""
    return (b[:, 0, 0] - b[:, 0, 2]).astype(float)


def orderbook_imbalance(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(bid size - ask size) / (bid size + ask size)`` at the touch after each message."""
    ask, bid = b[:, 0, 1].astype(float), b[:, 0, 3].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (bid - ask) / (bid + ask)


def log_inter_arrival_time(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ln of the milliseconds between consecutive messages; a zero gap counts as 1e-9 ms."""
    gap_ms = np.diff(m["time"]) / _NS_PER_MS
    return np.log(np.where(gap_ms == 0, 1e-9, gap_ms))


def log_time_to_cancel(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ln of the seconds from a limit order's submission to its first cancellation or
    deletion, for orders submitted and cancelled within the sequence; zero counts as 1e-9 s.

    Like LOB-Bench, an order's first two submit/cancel/delete messages are differenced
    (executions in between are ignored).
    """
    keep = np.isin(m["type"], (_SUBMIT, _CANCEL, _DELETE))
    ids, t = m["order_id"][keep], m["time"][keep]
    submitted = np.isin(ids, ids[m["type"][keep] == _SUBMIT])
    ids, t = ids[submitted], t[submitted]
    order = np.argsort(ids, kind="stable")  # stable: each order's messages stay in time order
    ids, t = ids[order], t[order]
    opens = np.r_[True, ids[1:] != ids[:-1]]  # an order's first message
    followed = np.r_[ids[1:] == ids[:-1], False]  # the order has a next message
    first = np.flatnonzero(opens & followed)
    seconds = (t[first + 1] - t[first]) / NS_PER_SECOND
    return np.log(np.where(seconds == 0, 1e-9, seconds))


def ask_volume_touch(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shares at the best ask after each message."""
    return b[:, 0, 1].astype(float)


def bid_volume_touch(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shares at the best bid after each message."""
    return b[:, 0, 3].astype(float)


def ask_volume(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shares on all ask levels of the book after each message."""
    return b[:, :, 1].sum(axis=1).astype(float)


def bid_volume(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shares on all bid levels of the book after each message."""
    return b[:, :, 3].sum(axis=1).astype(float)


def _depth(m: np.ndarray, b: np.ndarray, types: tuple[int, ...], ask: bool) -> np.ndarray:
    """|price - mid| (ticks) of the messages of ``types``, the mid taken from the book *after*
    each message; above the mid is the ask side, below the bid side, at the mid neither."""
    sel = np.isin(m["type"], types)
    d = m["price"][sel] - _mid(b)[sel]
    return d[d > 0] if ask else -d[d < 0]


def _levels(m: np.ndarray, b: np.ndarray, types: tuple[int, ...], ask: bool) -> np.ndarray:
    """1-based book level whose price equals the message price, for the messages of ``types``:
    in the book after a submission, in the book *before* a cancellation (so a sequence's first
    cancellation is skipped); prices on no visible level are skipped."""
    if _SUBMIT in types:
        rows = np.flatnonzero(np.isin(m["type"], types))
        book_rows = rows
    else:  # a cancelled order is no longer in the book after its message
        rows = 1 + np.flatnonzero(np.isin(m["type"][1:], types))
        book_rows = rows - 1
    prices = b[book_rows, :, 0 if ask else 2]  # (k, levels)
    _, level = np.nonzero(prices == m["price"][rows][:, None])
    return (level + 1).astype(float)


def limit_ask_order_depth(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (ticks) of new sell limit orders above the mid."""
    return _depth(m, b, (_SUBMIT,), ask=True)


def limit_bid_order_depth(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (ticks) of new buy limit orders below the mid."""
    return _depth(m, b, (_SUBMIT,), ask=False)


def ask_cancellation_depth(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (ticks) of ask cancellations and deletions above the mid."""
    return _depth(m, b, (_CANCEL, _DELETE), ask=True)


def bid_cancellation_depth(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (ticks) of bid cancellations and deletions below the mid."""
    return _depth(m, b, (_CANCEL, _DELETE), ask=False)


def limit_ask_order_levels(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ask level of new limit orders."""
    return _levels(m, b, (_SUBMIT,), ask=True)


def limit_bid_order_levels(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bid level of new limit orders."""
    return _levels(m, b, (_SUBMIT,), ask=False)


def ask_cancellation_levels(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ask level of cancellations and deletions."""
    return _levels(m, b, (_CANCEL, _DELETE), ask=True)


def bid_cancellation_levels(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bid level of cancellations and deletions."""
    return _levels(m, b, (_CANCEL, _DELETE), ask=False)


def volume_per_minute(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Executed shares (type 4) per clock second with a trade, times 60.

    The partly covered first and last seconds follow LOB-Bench's ``volume_per_minute``
    exactly (microsecond resolution): a single second is rescaled to its traded span, or
    dropped when that span is under 0.1 s (kept as is when there is one trade time). With
    several seconds, the first is dropped when its trades start before .9 s into it and
    otherwise rescaled by its covered fraction (LOB-Bench's test, the reverse of what its
    docstring says), and the last is dropped when its trades end before .1 s into it and
    otherwise rescaled by its covered fraction.
    """
    trades = m[m["type"] == _EXECUTE]
    if len(trades) == 0:
        return np.zeros(0)
    t = trades["time"]
    second, start = np.unique(t // NS_PER_SECOND, return_index=True)
    vol = np.add.reduceat(trades["size"].astype(float), start)
    first_us = int(t[0] % NS_PER_SECOND) // _NS_PER_US
    last_us = int(t[-1] % NS_PER_SECOND) // _NS_PER_US
    min_us, us = 100_000, 1_000_000
    if len(second) == 1:
        if t[0] != t[-1]:
            span = last_us - first_us
            vol = vol[:0] if span < min_us else vol * (us / span)
    else:
        if first_us < us - min_us:
            vol = vol[1:]
        else:
            vol[0] /= 1 - first_us / us
        if last_us < min_us:
            vol = vol[:-1]
        else:
            vol[-1] *= us / last_us
    return vol * 60


def _ofi_events(b: np.ndarray) -> np.ndarray:
    """Cont-Kukanov-Stoikov order-flow imbalance of each book change at the touch (shares)."""
    ap, aq, bp, bq = (b[:, 0, k].astype(float) for k in range(4))
    da, db = np.diff(ap), np.diff(bp)
    return (db >= 0) * bq[1:] - (db <= 0) * bq[:-1] - (da <= 0) * aq[1:] + (da >= 0) * aq[:-1]


def orderflow_imbalance(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean order-flow imbalance over each run of :data:`OFI_WINDOW` consecutive book changes."""
    e = _ofi_events(b)
    if len(e) < OFI_WINDOW:
        return np.zeros(0)
    return np.lib.stride_tricks.sliding_window_view(e, OFI_WINDOW).mean(axis=1)


def _ofi_before_tick(sign: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def ofi_before(m: np.ndarray, b: np.ndarray) -> np.ndarray:
        ofi = orderflow_imbalance(m, b)[:-1]
        next_move = np.sign(np.diff(_mid(b))[OFI_WINDOW:])
        return ofi[next_move == sign]

    ofi_before.__doc__ = (
        f"Order-flow imbalance of the last {OFI_WINDOW} book changes, where the next mid "
        f"change has sign {sign:+d}."
    )
    return ofi_before


def time_of_day(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Seconds after midnight of each message."""
    return m["time"] / NS_PER_SECOND


def volatility(m: np.ndarray, b: np.ndarray, interval_ns: int = NS_PER_SECOND // 10) -> float:
    """Standard deviation (ddof=1) of log mid returns between consecutive ``interval_ns``
    clock bins (last mid of each bin; a return next to an empty bin is missing); 0 when
    fewer than two returns exist."""
    bins = m["time"] // interval_ns
    last = np.r_[bins[1:] != bins[:-1], True]
    grid = np.full(int(bins[-1] - bins[0]) + 1, np.nan)
    grid[bins[last] - bins[0]] = np.log(_mid(b)[last])
    r = np.diff(grid)
    r = r[~np.isnan(r)]
    return float(np.std(r, ddof=1)) if len(r) >= 2 else 0.0


def sequence_volatility(m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`volatility` of the sequence, repeated once per message."""
    return np.full(len(m), volatility(m, b))


# ----------------------------------------------------------------------------- the score lists
@dataclass(frozen=True)
class Score:
    """A statistic of one sequence and how LOB-Bench bins it.

    Attributes:
        name: LOB-Bench's name.
        fn: ``(messages, book) -> values`` of one sequence.
        discrete: one bin per distinct value instead of Freedman-Diaconis bins.
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    discrete: bool = False


#: LOB-Bench's 21 unconditional scores (``run_bench.DEFAULT_SCORING_CONFIG``).
UNCONDITIONAL_SCORES: tuple[Score, ...] = (
    Score("spread", spread, discrete=True),
    Score("orderbook_imbalance", orderbook_imbalance),
    Score("log_inter_arrival_time", log_inter_arrival_time),
    Score("log_time_to_cancel", log_time_to_cancel),
    Score("ask_volume_touch", ask_volume_touch),
    Score("bid_volume_touch", bid_volume_touch),
    Score("ask_volume", ask_volume),
    Score("bid_volume", bid_volume),
    Score("limit_ask_order_depth", limit_ask_order_depth),
    Score("limit_bid_order_depth", limit_bid_order_depth),
    Score("ask_cancellation_depth", ask_cancellation_depth),
    Score("bid_cancellation_depth", bid_cancellation_depth),
    Score("limit_ask_order_levels", limit_ask_order_levels, discrete=True),
    Score("limit_bid_order_levels", limit_bid_order_levels, discrete=True),
    Score("ask_cancellation_levels", ask_cancellation_levels, discrete=True),
    Score("bid_cancellation_levels", bid_cancellation_levels, discrete=True),
    Score("vol_per_min", volume_per_minute),
    Score("ofi", orderflow_imbalance),
    Score("ofi_up", _ofi_before_tick(1)),
    Score("ofi_stay", _ofi_before_tick(0)),
    Score("ofi_down", _ofi_before_tick(-1)),
)


@dataclass(frozen=True)
class ConditionalScore:
    """A score compared within the bins of a conditioning score (same length per sequence).

    Attributes:
        name: LOB-Bench's name, ``"evaluated | condition"``.
        evaluated: the compared score; binned by pooled deciles in each conditioning bin
            unless discrete.
        condition: the conditioning score; binned by ``thresholds`` when given, else one bin
            per value if discrete, else by pooled deciles.
        thresholds: fixed bin edges of the condition.
    """

    name: str
    evaluated: Score
    condition: Score
    thresholds: tuple[float, ...] | None = None


#: LOB-Bench's 3 conditional scores (``run_bench.DEFAULT_SCORING_CONFIG_COND``). The time
#: bins are ``linspace(0, 86400, 24)``: 23 bins of 1 h 2.6 min, as LOB-Bench has them.
CONDITIONAL_SCORES: tuple[ConditionalScore, ...] = (
    ConditionalScore(
        "ask_volume | spread", Score("ask_volume", ask_volume_touch), Score("spread", spread, True)
    ),
    ConditionalScore(
        "spread | time",
        Score("spread", spread),
        Score("time", time_of_day),
        thresholds=tuple(np.linspace(0, 24 * 3600, 24)),
    ),
    ConditionalScore(
        "spread | volatility",
        Score("spread", spread, discrete=True),
        Score("volatility", sequence_volatility),
    ),
)


# -------------------------------------------------------------------------- binning, distances
_DECILES = np.arange(0.1, 1.0, 0.1)


def _decile_thresholds(pooled: np.ndarray) -> np.ndarray:
    """Pooled deciles; of a run of equal deciles the first two are kept and the second is
    raised by 0.01, so that a value repeated over many deciles gets a bin of its own."""
    q = np.quantile(pooled, _DECILES)
    repeat = np.r_[False, q[1:] == q[:-1]]
    q = q[~(repeat & np.r_[False, repeat[:-1]])]
    q[np.r_[False, q[1:] == q[:-1]]] += 1e-2
    return q


def _bins(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    discrete: bool,
    deciles: bool = False,
    thresholds: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of every real and generated value on bins made from the pooled values."""
    pooled = np.concatenate([real, generated]).astype(float)
    if thresholds is not None:
        edges = np.asarray(thresholds, dtype=float)
    elif discrete:
        edges = np.unique(pooled)
    elif deciles:
        edges = _decile_thresholds(pooled)
    else:
        edges = np.histogram_bin_edges(pooled[np.isfinite(pooled)], bins="fd")
    return np.searchsorted(edges, real, "right"), np.searchsorted(edges, generated, "right")


def l1_distance(
    real_bins: np.ndarray,
    generated_bins: np.ndarray,
    real: np.ndarray | None = None,
    generated: np.ndarray | None = None,
) -> float:
    """Total variation between the histograms of two samples' bin indices, in [0, 1].

    Values that are NaN in ``real`` / ``generated`` (when given) are not counted. An empty
    side scores 1, as in LOB-Bench.
    """
    if len(real_bins) == 0 or len(generated_bins) == 0:
        return 1.0
    if real is not None:
        real_bins = real_bins[~np.isnan(real)]
    if generated is not None:
        generated_bins = generated_bins[~np.isnan(generated)]
    labels, inverse = np.unique(np.concatenate([real_bins, generated_bins]), return_inverse=True)
    p = np.bincount(inverse[: len(real_bins)], minlength=len(labels)) / len(real_bins)
    q = np.bincount(inverse[len(real_bins) :], minlength=len(labels)) / len(generated_bins)
    return float(np.abs(p - q).sum() / 2)


def _w1(u: np.ndarray, v: np.ndarray) -> float:
    """1-Wasserstein distance between two empirical distributions: the area between their CDFs."""
    u, v = np.sort(u), np.sort(v)
    x = np.sort(np.concatenate([u, v]))
    cdf_u = np.searchsorted(u, x[:-1], "right") / len(u)
    cdf_v = np.searchsorted(v, x[:-1], "right") / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * np.diff(x)))


def wasserstein_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """1-Wasserstein distance after standardising both samples by the pooled mean and
    (ddof=1) standard deviation; non-finite values are dropped. NaN when a side is empty;
    0 when all pooled values are equal."""
    real = np.asarray(real, dtype=float)
    generated = np.asarray(generated, dtype=float)
    real, generated = real[np.isfinite(real)], generated[np.isfinite(generated)]
    if len(real) == 0 or len(generated) == 0:
        return math.nan
    pooled = np.concatenate([real, generated])
    sd = pooled.std(ddof=1) if len(pooled) > 1 else 0.0
    if sd == 0:
        return 0.0
    mu = pooled.mean()
    return _w1((real - mu) / sd, (generated - mu) / sd)


# ----------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class ScoreDistance:
    """Distances between the real and the generated pools of one score."""

    l1: float
    wasserstein: float
    n_real: int
    n_generated: int


@dataclass(frozen=True)
class BenchReport:
    """LOB-Bench distances for every score.

    Attributes:
        unconditional: the 21 unconditional scores by name.
        conditional: the 3 conditional scores by name.
        levels: book levels the books were cut to.
        n_real, n_generated: number of sequences on each side.
    """

    unconditional: dict[str, ScoreDistance]
    conditional: dict[str, ScoreDistance]
    levels: int
    n_real: int
    n_generated: int

    @property
    def mean_l1(self) -> float:
        """Mean L1 over the unconditional scores (LOB-Bench's headline figure)."""
        return float(np.mean([d.l1 for d in self.unconditional.values()]))

    @property
    def mean_wasserstein(self) -> float:
        """Mean Wasserstein distance over the unconditional scores that have one."""
        return float(np.nanmean([d.wasserstein for d in self.unconditional.values()]))

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "mean_l1": self.mean_l1,
            "mean_wasserstein": self.mean_wasserstein,
            "levels": self.levels,
            "n_real_sequences": self.n_real,
            "n_generated_sequences": self.n_generated,
            "unconditional": {k: asdict(d) for k, d in self.unconditional.items()},
            "conditional": {k: asdict(d) for k, d in self.conditional.items()},
        }


def _pool(
    seqs: Sequence[LobSequence], fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    parts = [np.asarray(fn(m, b), dtype=float) for m, b in seqs]
    return np.concatenate(parts) if parts else np.zeros(0)


def score_unconditional(
    score: Score, real: Sequence[LobSequence], generated: Sequence[LobSequence]
) -> ScoreDistance:
    """L1 and Wasserstein distance of one unconditional score."""
    x, y = _pool(real, score.fn), _pool(generated, score.fn)
    if len(x) == 0 or len(y) == 0:
        return ScoreDistance(1.0, math.nan, len(x), len(y))
    bx, by = _bins(x, y, discrete=score.discrete)
    return ScoreDistance(l1_distance(bx, by, x, y), wasserstein_distance(x, y), len(x), len(y))


def score_conditional(
    score: ConditionalScore, real: Sequence[LobSequence], generated: Sequence[LobSequence]
) -> ScoreDistance:
    """L1 and Wasserstein distance of one conditional score: the distances of the evaluated
    score within each conditioning bin, weighted by the bin's share of all (real and
    generated) values. A bin with one side only adds its weight times 1 to the L1 and
    nothing to the Wasserstein distance, as in LOB-Bench."""
    x, y = _pool(real, score.evaluated.fn), _pool(generated, score.evaluated.fn)
    cx, cy = _pool(real, score.condition.fn), _pool(generated, score.condition.fn)
    if len(cx) != len(x) or len(cy) != len(y):
        raise ValueError(f"{score.name}: the condition must give one value per evaluated value")
    thresholds = None if score.thresholds is None else np.asarray(score.thresholds)
    gx, gy = _bins(cx, cy, discrete=score.condition.discrete, deciles=True, thresholds=thresholds)
    total = len(x) + len(y)
    l1 = wasserstein = 0.0
    for g in np.unique(np.concatenate([gx, gy])):
        xg, yg = x[gx == g], y[gy == g]
        weight = (len(xg) + len(yg)) / total
        if len(xg) == 0 or len(yg) == 0:
            l1 += weight
            continue
        bx, by = _bins(xg, yg, discrete=score.evaluated.discrete, deciles=True)
        l1 += weight * l1_distance(bx, by, xg, yg)
        wasserstein += weight * wasserstein_distance(xg, yg)
    return ScoreDistance(l1, wasserstein, len(x), len(y))


def _cut_levels(seqs: Sequence[LobSequence], levels: int) -> list[LobSequence]:
    for i, (_, b) in enumerate(seqs):
        if b.shape[1] < levels:
            raise ValueError(
                f"sequence {i} has a book of {b.shape[1]} levels; need levels={levels}"
            )
    return [(m, b[:, :levels]) for m, b in seqs]


def lobbench(
    real: Sequence[LobSequence],
    generated: Sequence[LobSequence],
    levels: int = DEFAULT_LEVELS,
) -> BenchReport:
    """LOB-Bench's 21 unconditional and 3 conditional distances between two sets of sequences.

    Args:
        real: the real sequences (typically :func:`cut_sequences` of held-out data).
        generated: the generated sequences.
        levels: book levels used (the books are cut to them; total volumes sum them; orders
            beyond them have no level). LOB-Bench uses 10.

    Raises:
        ValueError: a book has fewer than ``levels`` levels, or a side has no sequence.
    """
    if not real or not generated:
        raise ValueError(
            f"need sequences on both sides, got {len(real)} real, {len(generated)} generated"
        )
    real, generated = _cut_levels(real, levels), _cut_levels(generated, levels)
    return BenchReport(
        unconditional={
            s.name: score_unconditional(s, real, generated) for s in UNCONDITIONAL_SCORES
        },
        conditional={s.name: score_conditional(s, real, generated) for s in CONDITIONAL_SCORES},
        levels=levels,
        n_real=len(real),
        n_generated=len(generated),
    )


# ------------------------------------------------------------------------------ real-vs-real floors
#: The project's held-out window and an earlier window of the same day (seconds after midnight).
HELD_OUT = (14.5 * 3600, 16 * 3600)
EARLY = (10 * 3600, 12 * 3600)


def real_floors(
    day: LobsterDay,
    held_out: tuple[float, float] = HELD_OUT,
    early: tuple[float, float] = EARLY,
    levels: int = DEFAULT_LEVELS,
) -> dict[str, BenchReport]:
    """What LOB-Bench gives for real against real data of one day: the floor a generator
    cannot be expected to beat.

    Returns:
        ``"same_times"``: even against odd sequences of the held-out window (same times of
        day); ``"early_vs_held_out"``: the sequences of the early window against those of
        the held-out window.
    """
    test = window_sequences(day, *held_out)
    before = window_sequences(day, *early)
    return {
        "same_times": lobbench(test[0::2], test[1::2], levels),
        "early_vs_held_out": lobbench(test, before, levels),
    }


def format_table(reports: dict[str, BenchReport]) -> str:
    """A text table of the L1 / Wasserstein distance of every score, one column per report,
    and the mean L1 over the unconditional scores."""
    names = [s.name for s in (*UNCONDITIONAL_SCORES, *CONDITIONAL_SCORES)]
    lines = [
        f"{'score':28s}" + "".join(f"{k:>24s}" for k in reports),
        f"{'':28s}" + "".join(f"{'L1 / W1':>24s}" for _ in reports),
    ]
    for name in names:
        cells = []
        for r in reports.values():
            d = r.unconditional.get(name) or r.conditional[name]
            cells.append(f"{d.l1:.3f} / {d.wasserstein:.3f}".rjust(24))
        lines.append(f"{name:28s}" + "".join(cells))
    lines.append(
        f"{'mean L1 (21 scores)':28s}" + "".join(f"{r.mean_l1:24.3f}" for r in reports.values())
    )
    return "\n".join(lines)
