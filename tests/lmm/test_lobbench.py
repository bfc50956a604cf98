"""LOB-Bench scores on hand-made sequences whose values are worked out in the comments, the
distances' basic properties, and the real-vs-real floors on the LOBSTER samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmm.data.lobster import MESSAGE_DTYPE
from lmm.evaluation.lobbench import (
    CONDITIONAL_SCORES,
    HELD_OUT,
    UNCONDITIONAL_SCORES,
    Score,
    cut_sequences,
    format_table,
    l1_distance,
    lobbench,
    log_inter_arrival_time,
    log_time_to_cancel,
    orderbook_imbalance,
    orderflow_imbalance,
    real_floors,
    score_conditional,
    score_unconditional,
    volatility,
    volume_per_minute,
    wasserstein_distance,
    window_sequences,
)
from lmm.units import NS_PER_SECOND

SCORE = {s.name: s for s in UNCONDITIONAL_SCORES}
MS = NS_PER_SECOND // 1000


def _messages(*rows: tuple[int, int, int, int, int]) -> np.ndarray:
    """Messages from (time ns, type, order id, size, price ticks) rows."""
    m = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for i, (t, typ, oid, size, price) in enumerate(rows):
        m[i] = (t, typ, oid, size, price, price * 100, 1)
    return m


def _book(*rows: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    """Books from rows of levels (ask price, ask size, bid price, bid size)."""
    return np.array(rows, dtype=np.int64)


def _touch_books(spreads: list[int], ask_sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """A sequence whose one-level books have the given spreads and best-ask sizes."""
    book = _book(*[((100 + s, q, 100, 1),) for s, q in zip(spreads, ask_sizes, strict=True)])
    return np.zeros(len(book), dtype=MESSAGE_DTYPE), book


def _values(*xs: float) -> tuple[np.ndarray, None]:
    """A 'sequence' for a score that returns its messages as values."""
    return np.array(xs, dtype=float), None


IDENTITY = Score("x", lambda m, b: m)


# ------------------------------------------------------------------------------- statistics
def test_imbalance_and_inter_arrival_times() -> None:
    m = _messages(
        (0, 1, 1, 1, 99), (2 * MS, 1, 2, 1, 99), (2 * MS, 1, 3, 1, 99), (12 * MS, 1, 4, 1, 99)
    )
    b = _book(((101, 1, 99, 3),), ((101, 1, 99, 1),), ((101, 2, 99, 0),), ((101, 0, 99, 0),))
    # (bid - ask) / (bid + ask): (3-1)/4, 0/2, -2/2, and 0/0 (no volume) is NaN
    np.testing.assert_array_equal(orderbook_imbalance(m, b)[:3], [0.5, 0.0, -1.0])
    assert np.isnan(orderbook_imbalance(m, b)[3])
    # gaps 2, 0, 10 ms; LOB-Bench counts a zero gap as 1e-9 ms
    np.testing.assert_allclose(
        log_inter_arrival_time(m, b), np.log([2.0, 1e-9, 10.0]), rtol=0, atol=1e-12
    )


def test_time_to_cancel_from_submission_to_first_cancel() -> None:
    s = NS_PER_SECOND
    m = _messages(
        (0, 1, 1, 100, 99),  # order 1 submitted
        (1 * s, 1, 2, 100, 98),  # order 2 submitted, never cancelled: no value
        (s + s // 2, 4, 1, 10, 99),  # execution of 1: ignored
        (3 * s, 2, 1, 10, 99),  # first cancel of 1: 3 s after submission
        (4 * s, 3, 1, 80, 99),  # later deletion of 1: ignored
        (5 * s, 3, 3, 50, 97),  # order 3 not submitted in the sequence: no value
        (6 * s, 1, 4, 10, 96),  # order 4 submitted ...
        (6 * s, 3, 4, 10, 96),  # ... and deleted at once: 1e-9 s
    )
    values = np.sort(log_time_to_cancel(m, np.zeros((8, 1, 4))))
    np.testing.assert_allclose(values, [math.log(1e-9), math.log(3.0)], rtol=0, atol=1e-12)


def test_depths_and_levels_by_hand() -> None:
    m = _messages(
        (0, 1, 1, 3, 102),  # sell submitted at 102
        (1, 1, 2, 1, 100),  # buy submitted at 100, inside the spread
        (2, 3, 3, 4, 99),  # buy deleted at 99
        (3, 2, 4, 1, 105),  # sell cancelled at 105, beyond the two visible levels
    )
    b = _book(
        ((101, 5, 99, 4), (102, 3, 98, 2)),  # mid 100
        ((101, 5, 100, 1), (102, 3, 99, 4)),  # mid 100.5
        ((101, 5, 100, 1), (102, 3, 98, 2)),  # mid 100.5
        ((101, 5, 100, 1), (102, 3, 98, 2)),  # mid 100.5
    )
    d = {name: SCORE[name].fn(m, b).tolist() for name in SCORE}
    # depth |price - mid| with the mid of the book after the message
    assert d["limit_ask_order_depth"] == [2.0]  # 102 - 100
    assert d["limit_bid_order_depth"] == [0.5]  # 100.5 - 100
    assert d["ask_cancellation_depth"] == [4.5]  # 105 - 100.5
    assert d["bid_cancellation_depth"] == [1.5]  # 100.5 - 99
    # levels: of the book after a submission, of the book before a cancellation
    assert d["limit_ask_order_levels"] == [2.0]  # 102 is ask level 2 in book 0
    assert d["limit_bid_order_levels"] == [1.0]  # 100 is bid level 1 in book 1
    assert d["bid_cancellation_levels"] == [2.0]  # 99 was bid level 2 in book 1
    assert d["ask_cancellation_levels"] == []  # 105 is on no visible level
    assert d["spread"] == [2.0, 1.0, 1.0, 1.0]
    assert d["ask_volume"] == [8.0] * 4  # 5 + 3
    assert d["bid_volume"] == [6.0, 5.0, 3.0, 3.0]
    # a cancellation as the first message has no book before it: no level
    assert SCORE["bid_cancellation_levels"].fn(m[2:], b[2:]).tolist() == []


def test_volume_per_minute_edges() -> None:
    s = NS_PER_SECOND

    def vpm(*trades: tuple[float, int]) -> list[float]:
        m = _messages(*[(round(t * s), 4, 1, q, 100) for t, q in trades])
        return volume_per_minute(m, None).tolist()

    # one second, trades 0.5 s apart: 150 shares over 0.5 s -> 300 per s -> 18000 per min
    assert vpm((10.2, 100), (10.7, 50)) == pytest.approx([18000.0], abs=1e-9)
    assert vpm((10.2, 100), (10.25, 50)) == []  # span under 0.1 s: dropped
    assert vpm((10.2, 100)) == [6000.0]  # one trade time: kept as is
    # first second from .95 (0.05 s covered): 10 / 0.05 = 200; middle 20; last to .5: 30 / 0.5
    assert vpm((10.95, 10), (11.5, 20), (12.5, 30)) == pytest.approx(
        [12000.0, 1200.0, 3600.0], abs=1e-9
    )
    # LOB-Bench drops a first second whose trades start before .9 s into it
    assert vpm((10.2, 10), (11.5, 20), (12.5, 30)) == pytest.approx([1200.0, 3600.0], abs=1e-9)


def test_order_flow_imbalance_by_hand() -> None:
    # ask (110, 10) throughout; bid 100 with size 1 + i for rows 0..100, then bid 101 size 5
    rows = [((110, 10, 100, 1 + i),) for i in range(101)] + [((110, 10, 101, 5),)]
    b = _book(*rows)
    m = np.zeros(len(b), dtype=MESSAGE_DTYPE)
    # events 0..99: bid price unchanged, size +1 -> e = 1; event 100: bid price up -> e = +5
    # windows of 100 events: mean(e[0:100]) = 1, mean(e[1:101]) = (99 + 5) / 100
    np.testing.assert_allclose(orderflow_imbalance(m, b), [1.0, 1.04], rtol=0, atol=1e-12)
    # the first window precedes the mid change 105 -> 105.5: an up tick
    assert SCORE["ofi_up"].fn(m, b).tolist() == [1.0]
    assert SCORE["ofi_stay"].fn(m, b).tolist() == []
    assert SCORE["ofi_down"].fn(m, b).tolist() == []


def test_volatility_of_100ms_mid_returns() -> None:
    ms = MS
    m = _messages(*[(t * ms, 1, 1, 1, 1) for t in (50, 150, 160, 350, 450)])
    mids = [100, 101, 102, 100, 101]
    b = _book(*[((mid + 1, 1, mid - 1, 1),) for mid in mids])
    # last mid per 100 ms bin: 100, 102, (empty), 100, 101 -> returns ln 1.02, -, -, ln 1.01
    expected = abs(math.log(1.02) - math.log(1.01)) / math.sqrt(2)
    assert volatility(m, b) == pytest.approx(expected, rel=1e-12)
    assert volatility(m[:3], b[:3]) == 0.0  # a single return has no deviation


# -------------------------------------------------------------------------------- distances
def test_discrete_spread_l1_and_wasserstein_by_hand() -> None:
    real = [_touch_books([1, 1, 2], [1, 1, 1])]
    gen = [_touch_books([1, 2, 2], [1, 1, 1])]
    d = score_unconditional(SCORE["spread"], real, gen)
    # histograms (2/3, 1/3) and (1/3, 2/3): total variation 1/3
    assert d.l1 == pytest.approx(1 / 3, abs=1e-12)
    # raw W1 = 1/3 (the CDFs differ by 1/3 over [1, 2)); pooled sd = sqrt(6 * 0.25 / 5)
    assert d.wasserstein == pytest.approx((1 / 3) / math.sqrt(0.3), abs=1e-12)
    assert (d.n_real, d.n_generated) == (3, 3)


def test_freedman_diaconis_bins_by_hand() -> None:
    # pooled 0,0,0,1,1,2,3,5: IQR = 2.25 - 0, width 2 * 2.25 / 8**(1/3) = 2.25, 3 bins on [0, 5]
    # edges 0, 5/3, 10/3, 5; the maximum 5 gets a bin of its own
    # real 0,1,2,3 -> (2, 2, 0, 0) / 4; generated 0,0,1,5 -> (3, 0, 0, 1) / 4; TV = 1/2
    d = score_unconditional(IDENTITY, [_values(0, 1, 2, 3)], [_values(0, 0, 1, 5)])
    assert d.l1 == pytest.approx(0.5, abs=1e-12)


def test_conditional_ask_volume_given_spread_by_hand() -> None:
    real = [_touch_books([1, 1, 2, 3], [10, 20, 30, 50])]
    gen = [_touch_books([1, 2, 2], [10, 30, 40])]
    # spread 1: real 10, 20 / gen 10 (weight 3/7). Pooled deciles 10, 10, 10, 10, 10, 12, ..., 18
    #   -> thresholds 10, 10.01, 12, .., 18: 10 in one bin, 20 in another. Histograms
    #   (1/2, 1/2) vs (1, 0): TV 1/2. Raw W1 5, pooled sd 10 / sqrt 3 -> sqrt(3) / 2.
    # spread 2: real 30 / gen 30, 40 (weight 3/7): the mirror image, TV 1/2, W sqrt(3) / 2.
    # spread 3: real only (weight 1/7): L1 1, no Wasserstein term.
    d = score_conditional(CONDITIONAL_SCORES[0], real, gen)
    assert d.l1 == pytest.approx(3 / 7 * 0.5 * 2 + 1 / 7, abs=1e-12)
    assert d.wasserstein == pytest.approx(6 / 7 * math.sqrt(3) / 2, abs=1e-12)


def test_distances_identical_symmetric_bounded() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(1.0, 2.0, size=200)
    assert wasserstein_distance(x, x) == 0.0
    assert wasserstein_distance(x, y) == pytest.approx(wasserstein_distance(y, x), abs=1e-12)
    for a, b in ((x, y), (y, x), (x, x)):
        d = score_unconditional(IDENTITY, [_values(*a)], [_values(*b)])
        assert 0.0 <= d.l1 <= 1.0
    assert score_unconditional(IDENTITY, [_values(*x)], [_values(*x)]).l1 == 0.0
    fwd = score_unconditional(IDENTITY, [_values(*x)], [_values(*y)])
    back = score_unconditional(IDENTITY, [_values(*y)], [_values(*x)])
    assert fwd.l1 == pytest.approx(back.l1, abs=1e-12)
    # disjoint supports: the L1 is 1
    assert l1_distance(np.array([1, 1]), np.array([2, 3])) == 1.0
    # an empty side scores 1 and has no Wasserstein distance
    empty = score_unconditional(IDENTITY, [_values(1.0)], [_values()])
    assert empty.l1 == 1.0 and math.isnan(empty.wasserstein)


def test_cut_sequences_and_levels() -> None:
    m = np.zeros(7, dtype=MESSAGE_DTYPE)
    m["time"] = np.arange(7)
    b = np.zeros((7, 2, 4), dtype=np.int64)
    seqs = cut_sequences(m, b, length=3)
    assert [s[0]["time"].tolist() for s in seqs] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="levels=10"):
        lobbench(seqs, seqs, levels=10)


# ------------------------------------------------------------------------------- real data
def test_real_floors_on_lobster_samples(lobster_dir) -> None:
    from lmm.data.lobster import read_lobster

    goog = read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
    amzn = read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    reports = real_floors(goog)
    test_goog = window_sequences(goog, *HELD_OUT)
    test_amzn = window_sequences(amzn, *HELD_OUT)
    reports["amzn_vs_goog"] = lobbench(test_amzn, test_goog, levels=5)
    print()
    print(format_table(reports))

    for r in reports.values():
        assert len(r.unconditional) == 21 and len(r.conditional) == 3
        assert all(0.0 <= d.l1 <= 1.0 for d in [*r.unconditional.values(), *r.conditional.values()])
    assert reports["same_times"].mean_l1 < reports["early_vs_held_out"].mean_l1
    assert reports["early_vs_held_out"].mean_l1 < reports["amzn_vs_goog"].mean_l1

    # identical sets score 0; swapping the sides changes nothing
    same = lobbench(test_goog[:10], test_goog[:10])
    assert all(d.l1 == 0.0 and d.wasserstein == 0.0 for d in same.unconditional.values())
    assert all(d.l1 == 0.0 and d.wasserstein == 0.0 for d in same.conditional.values())
    swapped = lobbench(test_goog, test_amzn, levels=5)
    for name, d in reports["amzn_vs_goog"].unconditional.items():
        assert swapped.unconditional[name].l1 == pytest.approx(d.l1, abs=1e-12)
        assert swapped.unconditional[name].wasserstein == pytest.approx(d.wasserstein, abs=1e-12)
