"""Stylized-fact estimators on synthetic data where the answer is known, and on hand-made
records where the value can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.data.orderflow import OrderKind
from lmm.evaluation.evaluate import RECORD_DTYPE
from lmm.evaluation.stylized import (
    FACTS,
    RESPONSE_LAGS,
    SessionSeries,
    maker_markouts,
    measure_fact,
    pooled_acf,
    pooled_mean,
    power_law_exponent,
    session_series,
    sessions,
)
from lmm.units import NS_PER_SECOND

FACT = {f.key: f for f in FACTS}


def _session(**fields) -> SessionSeries:
    """A session with only the given series filled in."""
    empty = np.zeros(0)
    base = {
        "returns": {10: empty, 60: empty, 300: empty},
        "volume": empty,
        "signs": empty,
        "interarrival": empty,
        "sizes": np.zeros(0, dtype=np.int64),
        "cancel_ages": empty,
        "cancel_depth": empty,
        "response_sums": np.zeros((6, len(RESPONSE_LAGS))),
        "response_counts": np.zeros((6, len(RESPONSE_LAGS))),
    }
    return SessionSeries(**{**base, **fields})


def _present(key: str, series: list[SessionSeries]) -> bool | None:
    return measure_fact(FACT[key], series, n_boot=200, seed=1).present


def _garch(n: int, rng: np.random.Generator) -> np.ndarray:
    """GARCH(1,1): sigma2_t = 0.05 + 0.15 r_{t-1}^2 + 0.8 sigma2_{t-1}."""
    r, s2 = np.zeros(n), 1.0
    for t in range(n):
        r[t] = np.sqrt(s2) * rng.normal()
        s2 = 0.05 + 0.15 * r[t] ** 2 + 0.8 * s2
    return r


def _power_law_signs(n: int, rng: np.random.Generator) -> np.ndarray:
    """Runs of one sign with Pareto lengths (tail exponent 1.5): sign ACF ~ lag^-0.5."""
    out: list[float] = []
    while len(out) < n:
        length = int(np.ceil(rng.pareto(1.5) + 1))
        out += [rng.choice([-1.0, 1.0])] * length
    return np.array(out[:n])


def test_pooled_acf_matches_a_direct_computation_and_power_law_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    lags = np.arange(1, 4)
    d = x - x.mean()
    direct = [(d[:-k] * d[k:]).mean() / d.var() for k in lags]
    np.testing.assert_allclose(pooled_acf([x], lags), direct, rtol=1e-12)
    k = np.arange(1.0, 51.0)
    assert power_law_exponent(k, 0.4 * k**-0.6) == pytest.approx(0.6)
    assert np.isnan(power_law_exponent(k, -np.ones(50)))


def test_heavy_tails_and_aggregational_gaussianity() -> None:
    rng = np.random.default_rng(2)

    def sessions_of(draw) -> list[SessionSeries]:
        out = []
        for _ in range(20):
            r10 = draw(900)
            # 1- and 5-minute returns aggregate the 10-second ones
            out.append(
                _session(
                    returns={
                        10: r10,
                        60: r10.reshape(-1, 6).sum(1),
                        300: r10.reshape(-1, 30).sum(1),
                    }
                )
            )
        return out

    gaussian = sessions_of(lambda n: rng.normal(size=n))
    fat = sessions_of(lambda n: rng.standard_t(3, n))
    assert _present("heavy_tails", gaussian) is False
    assert _present("heavy_tails", fat) is True
    assert _present("aggregational_gaussianity", gaussian) is False
    assert _present("aggregational_gaussianity", fat) is True


def test_return_autocorrelation_and_volatility_clustering() -> None:
    rng = np.random.default_rng(3)
    iid = [
        _session(returns={10: rng.normal(size=600), 60: rng.normal(size=100), 300: np.zeros(0)})
        for _ in range(20)
    ]
    assert _present("no_return_autocorrelation", iid) is True
    assert _present("volatility_clustering", iid) is False
    trending = []
    for _ in range(20):
        e = rng.normal(size=100)
        ar = np.zeros(100)
        for t in range(1, 100):
            ar[t] = 0.5 * ar[t - 1] + e[t]
        trending.append(_session(returns={10: _garch(600, rng), 60: ar, 300: np.zeros(0)}))
    assert _present("no_return_autocorrelation", trending) is False
    assert _present("volatility_clustering", trending) is True


def test_long_memory_of_signs() -> None:
    rng = np.random.default_rng(4)
    long_memory = [_session(signs=_power_law_signs(3000, rng)) for _ in range(10)]
    iid = [_session(signs=rng.choice([-1.0, 1.0], 3000)) for _ in range(10)]
    markov = []  # short memory: each sign repeats the last with probability 0.8
    for _ in range(10):
        s = np.ones(3000)
        flips = rng.random(3000) < 0.2
        s = np.cumprod(np.where(flips, -1.0, 1.0))
        markov.append(_session(signs=s))
    assert _present("sign_long_memory", long_memory) is True
    assert _present("sign_long_memory", iid) is False
    assert _present("sign_long_memory", markov) is False


def test_round_lots_arrivals_and_volume_volatility() -> None:
    rng = np.random.default_rng(5)
    smooth = [_session(sizes=rng.integers(1, 1000, 500)) for _ in range(10)]
    spiky = [
        _session(
            sizes=np.where(
                rng.random(500) < 0.5, 100 * rng.integers(1, 10, 500), rng.integers(1, 1000, 500)
            )
        )
        for _ in range(10)
    ]
    assert _present("round_lots", smooth) is False
    assert _present("round_lots", spiky) is True
    poisson = [_session(interarrival=rng.exponential(1.0, 2000)) for _ in range(10)]
    bursty = [_session(interarrival=rng.lognormal(0, 1.5, 2000)) for _ in range(10)]
    assert _present("overdispersed_arrivals", poisson) is False
    assert _present("overdispersed_arrivals", bursty) is True
    independent, coupled = [], []
    for _ in range(10):
        r, v = rng.normal(size=200), rng.exponential(size=200)
        independent.append(_session(returns={10: r, 60: r, 300: r}, volume=v))
        coupled.append(_session(returns={10: r, 60: r, 300: r}, volume=np.abs(r) + 0.3 * v))
    assert _present("volume_volatility", independent) is False
    assert _present("volume_volatility", coupled) is True


def test_cancellation_lifetimes() -> None:
    rng = np.random.default_rng(6)
    near = rng.integers(0, 5, 500).astype(float)
    memoryless = [
        _session(cancel_ages=rng.exponential(5.0, 500), cancel_depth=near) for _ in range(10)
    ]
    broad = [_session(cancel_ages=rng.lognormal(0, 3, 500), cancel_depth=near) for _ in range(10)]
    deep = [
        _session(
            cancel_ages=rng.lognormal(0, 3, 500),
            cancel_depth=rng.integers(0, 40, 500).astype(float),
        )
        for _ in range(10)
    ]
    assert _present("cancellations", memoryless) is False
    assert _present("cancellations", broad) is True
    assert _present("cancellations", deep) is False


def test_adverse_selection_needs_makers_to_give_their_gain_back() -> None:
    rng = np.random.default_rng(7)

    def sessions_keeping(kept: float) -> list[SessionSeries]:
        out = []
        for _ in range(12):
            at_1 = rng.normal(2.0, 1.0, 200)
            at_10 = kept * at_1 + rng.normal(0.0, 2.0, 200)
            sums = np.array([[200, at_1.sum()], [200, at_10.sum()]])
            out.append(_session(markout_sums=sums))
        return out

    given_back = measure_fact(FACT["adverse_selection"], sessions_keeping(0.0), n_boot=200)
    kept = measure_fact(FACT["adverse_selection"], sessions_keeping(0.8), n_boot=200)
    assert given_back.present is True and kept.present is False
    assert kept.values["markout_1s"] == pytest.approx(2.0, abs=0.1)
    assert kept.values["kept_share"] == pytest.approx(0.8, abs=0.1)


def test_pooled_mean_resamples_whole_sessions() -> None:
    rng = np.random.default_rng(3)
    # three sessions: 2 events summing to 4, 1 event of 10, and one with no events
    mean, low, high = pooled_mean(np.array([4.0, 10.0, 0.0]), np.array([2, 1, 0]), rng)
    assert mean == pytest.approx(14 / 3)
    # a resample holds whole sessions: its mean is 2 (only the first), 10 (only the
    # second) or in between, never an event-level mixture outside that range
    assert 2.0 <= low < mean < high <= 10.0
    assert np.isnan(pooled_mean(np.zeros(2), np.zeros(2), rng)).all()


def test_intraday_pattern_needs_busy_open_and_close() -> None:
    def day(u_shape: bool) -> list[SessionSeries]:
        out = []
        for minute in range(0, 390, 15):
            hour = 9.5 + minute / 60
            busy = u_shape and (hour < 10.5 or hour >= 15)
            out.append(
                _session(
                    start_ns=int((34_200 + 60 * minute) * NS_PER_SECOND),
                    minutes=5.0,
                    orders=1000 if busy else 500,
                    spread_sum=(3.0 if u_shape and hour < 10.5 else 1.0) * 100,
                    spread_count=100,
                )
            )
        return out

    flat = measure_fact(FACT["intraday_pattern"], day(False), n_boot=100)
    u = measure_fact(FACT["intraday_pattern"], day(True), n_boot=100)
    assert flat.present is False and u.present is True
    assert u.values["activity_u_ratio"] == pytest.approx(2.0)
    assert u.values["open_spread_ratio"] == pytest.approx(3.0)


def test_session_series_of_hand_made_records() -> None:
    r = np.zeros(5, dtype=RECORD_DTYPE)
    r["time"] = np.array([0, 1, 3, 4, 6]) * NS_PER_SECOND
    r["kind"] = [
        OrderKind.LIMIT_BUY,
        OrderKind.LIMIT_SELL,
        OrderKind.CANCEL_BUY,
        OrderKind.MARKET_BUY,
        OrderKind.CANCEL_SELL,
    ]
    r["order_id"] = [7, 8, 7, -1, 99]  # 99 was submitted before the session: no age
    r["price"] = [100, 103, 100, 102, 103]
    r["size"] = [100, 50, 100, 30, 50]
    r["traded"] = [0, 0, 0, 30, 0]
    r["bid_before"] = [100, 100, 100, 100, 100]
    r["ask_before"] = [102, 102, 102, 102, 103]
    r["bid_after"] = [100, 100, 100, 100, 100]
    r["ask_after"] = [102, 102, 102, 103, 104]
    s = session_series(r, group=1)
    np.testing.assert_allclose(s.cancel_ages, [3.0])
    np.testing.assert_allclose(s.cancel_depth, [0.0, 0.0])  # at the bid; at the ask
    assert s.signs.tolist() == [1.0] and s.sizes.tolist() == [100, 50]
    np.testing.assert_allclose(s.interarrival, [1, 2, 1, 2])
    # the market buy lifts the ask from 102 to 103: the mid rises half a tick
    k1 = RESPONSE_LAGS.index(1)
    assert s.response_sums[OrderKind.MARKET_BUY, k1] == pytest.approx(0.5)
    # the sell cancel at 103 (k = 1) moves the mid up half a tick: against a sell, -0.5
    assert s.response_sums[OrderKind.CANCEL_SELL, k1] == pytest.approx(-0.5)
    assert s.orders == 5 and s.group == 1 and s.spread_count == 5
    # the buy at 102 leaves a mid of 101.5 a second later: its maker is up half a tick; ten
    # seconds later is past the session's end, so not measured
    np.testing.assert_allclose(s.markout_sums, [[1, 0.5], [0, 0]])
    index, marks = maker_markouts(r, (1, 10))  # the same, order by order
    assert index.tolist() == [3]
    np.testing.assert_allclose(marks[1], [0.5])
    assert np.isnan(marks[10]).all()
    two = np.concatenate([r, r])
    two["rollout"][5:] = 3
    assert [len(x) for x in sessions(two)] == [5, 5]


def test_real_flow_carries_the_ids_that_time_cancels(lobster_dir) -> None:
    from lmm.data.lobster import read_lobster
    from lmm.data.orderflow import order_flow

    flow = order_flow(read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"))
    market = np.isin(flow["kind"], [OrderKind.MARKET_BUY, OrderKind.MARKET_SELL])
    assert (flow["order_id"][market] == -1).all() and (flow["order_id"][~market] > 0).all()
    r = np.zeros(len(flow), dtype=RECORD_DTYPE)
    for name in ("time", "kind", "price", "size", "order_id"):
        r[name] = flow[name]
    ages = session_series(r).cancel_ages
    cancels = np.isin(flow["kind"], [OrderKind.CANCEL_BUY, OrderKind.CANCEL_SELL]).sum()
    # most cancelled orders were submitted the same day (the rest rested from before 09:30
    # or entered the top 5 levels from deeper)
    assert 0.5 * cancels < len(ages) <= cancels and (ages >= 0).all()
