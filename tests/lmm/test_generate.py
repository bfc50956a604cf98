"""Generated markets: seeded, independent of their batch, cache-transparent, reactive."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmm.data.orderflow import CANCEL_KINDS, OrderKind
from lmm.model.checkpoint import Checkpoint
from lmm.model.generate import ENGINES, LMMMarkets, OutsideOrder, synthetic_start


def _run(markets: LMMMarkets, steps: int) -> list[list[tuple]]:
    paths: list[list[tuple]] = [[] for _ in range(markets.n)]
    for _ in range(steps):
        for i, o in enumerate(markets.step()):
            paths[i].append(
                None
                if o is None
                else (o.time_ns, o.realized.kind, o.realized.price, o.realized.size)
            )
    return paths


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each test taking it runs on both engines (:class:`LMMMarkets`' ``engine``)."""
    return request.param


@pytest.fixture
def start(tiny_checkpoint: Checkpoint):
    return synthetic_start(tiny_checkpoint.tokenizer)


def test_same_seed_same_market(tiny_checkpoint: Checkpoint, engine: str, start) -> None:
    paths = []
    for _ in range(2):
        torch.manual_seed(99)  # the global RNG must not matter
        m = LMMMarkets(tiny_checkpoint, 1, engine=engine)
        m.reset(0, start, seed=5)
        paths.append(_run(m, 40)[0])
    assert paths[0] == paths[1]
    other = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    other.reset(0, start, seed=6)
    assert _run(other, 40)[0] != paths[0]


def test_a_market_does_not_depend_on_its_batch(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    batch = LMMMarkets(tiny_checkpoint, 3, engine=engine)
    for i in range(3):
        batch.reset(i, start, seed=10 + i)
    alone = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    alone.reset(0, start, seed=11)
    # long enough to trim the context (16) several times
    assert _run(batch, 60)[1] == _run(alone, 60)[0]


def test_kv_cache_changes_nothing_but_speed(tiny_checkpoint: Checkpoint, start) -> None:
    runs = []
    for cached in (True, False):
        m = LMMMarkets(tiny_checkpoint, 2, use_cache=cached)
        for i in range(2):
            m.reset(i, start, seed=i)
        runs.append(_run(m, 50))
    assert runs[0] == runs[1]


def test_injected_order_enters_book_and_context_and_is_never_cancelled(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    m = LMMMarkets(tiny_checkpoint, 2, engine=engine)
    for i in range(2):
        m.reset(i, start, seed=3)
    length = int(m.cache.lengths[0])
    (realized,) = m.inject(
        [OutsideOrder(0, OrderKind.LIMIT_BUY, m.book(0).best_bid, 500, m.time_ns(0))]
    )
    assert realized is not None and realized.order_id in m.book(0)
    assert int(m.cache.lengths[0]) == length + 1 and int(m.cache.lengths[1]) == length
    traded = 0
    paths: list[list] = [[], []]
    for _ in range(60):
        for i, o in enumerate(m.step()):
            paths[i].append((o.realized.kind, o.realized.price, o.realized.size))
            if i == 0:
                # generated cancels never pick the agent's order; only trades can reduce it
                assert not (
                    o.realized.kind.name.startswith("CANCEL")
                    and o.realized.order_id == realized.order_id
                )
                traded += sum(f.size for f in o.realized.fills if f.maker_id == realized.order_id)
    left = m.book(0).order(realized.order_id).size if realized.order_id in m.book(0) else 0
    assert left + traded == 500
    # both markets share seed and start: only the injection tells them apart
    assert paths[0] != paths[1]


def test_generated_orders_are_valid(tiny_checkpoint: Checkpoint, engine: str, start) -> None:
    m = LMMMarkets(tiny_checkpoint, 4, engine=engine)
    for i in range(4):
        m.reset(i, start, seed=i)
    last_time = [start.time_ns] * 4
    cancels = 0
    for _ in range(40):
        for i, o in enumerate(m.step()):
            assert o is not None  # masking leaves only orders the book can take
            assert o.time_ns >= last_time[i] and o.realized.size > 0 and o.realized.price > 0
            last_time[i] = o.time_ns
            book = m.book(i)
            if book.best_bid is not None and book.best_ask is not None:
                assert book.best_bid < book.best_ask
            if o.realized.kind in CANCEL_KINDS:  # real cancels delete: no partial ones
                cancels += 1
                assert o.realized.order_id not in book
    assert cancels > 0
    assert 0.0 <= m.masked_rate < 1.0


def test_errors_are_clear(tiny_checkpoint: Checkpoint) -> None:
    with pytest.raises(ValueError, match="at least one market"):
        LMMMarkets(tiny_checkpoint, 0)
    m = LMMMarkets(tiny_checkpoint, 1)
    with pytest.raises(RuntimeError, match="has not been reset"):
        m.step()
    with pytest.raises(ValueError, match="max_orders_per_second must be >= 1"):
        LMMMarkets(tiny_checkpoint, 1, max_orders_per_second=0)


def test_a_market_whose_clock_stops_raises_instead_of_hanging(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    markets = LMMMarkets(tiny_checkpoint, 2, engine=engine, max_orders_per_second=50)
    for i in range(2):
        markets.reset(i, start, seed=i)
    made = 0
    with pytest.raises(RuntimeError, match="market 1 generated more than max_orders_per_second=50"):
        while made < 1000:
            markets.propose()
            # market 1's clock stops: every proposal comes at zero time after the last
            stalled = markets._markets[1]
            stalled.proposal = stalled.proposal._replace(dt=0)
            markets.commit()
            made += 1
    assert made == 50  # the 51st order in that second raised
    for i in range(2):  # a reset starts the count afresh; running clocks stay within it
        markets.reset(i, start, seed=i)
    _run(markets, 200)


def test_stepping_a_subset_leaves_the_other_markets_alone(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    m = LMMMarkets(tiny_checkpoint, 3, engine=engine)
    for i in range(3):
        m.reset(i, start, seed=20 + i)
    times = [m.time_ns(i) for i in range(3)]
    sub = [[], []]
    for _ in range(25):
        for k, o in enumerate(m.step([0, 2])):
            sub[k].append((o.time_ns, o.realized.kind, o.realized.price, o.realized.size))
    assert m.time_ns(1) == times[1] and int(m.cache.lengths[1]) == 1
    # market 2 followed the same path as if it had been stepped with everyone
    alone = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    alone.reset(0, start, seed=22)
    assert sub[1] == _run(alone, 25)[0]


def test_proposals_wait_for_commit_and_an_injection_discards_them(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    m = LMMMarkets(tiny_checkpoint, 2, engine=engine)
    for i in range(2):
        m.reset(i, start, seed=7)
    m.propose()
    t0 = m.time_ns(0)
    proposed = m.proposal_time(0)
    assert proposed is not None and proposed >= t0 and m.time_ns(0) == t0  # nothing applied yet
    (order,) = m.commit([0])
    assert order.time_ns == proposed and m.proposal_time(0) is None
    assert m.proposal_time(1) is not None  # market 1 still holds its proposal
    # an agent order at a later time discards market 1's proposal and moves its clock
    later = m.time_ns(1) + 5_000
    (r,) = m.inject([OutsideOrder(1, OrderKind.LIMIT_SELL, m.book(1).best_ask + 3, 10, later)])
    assert r is not None and m.time_ns(1) == later and m.proposal_time(1) is None
    # the agent can cancel its own order, which also enters the context
    length = int(m.cache.lengths[1])
    (c,) = m.inject([OutsideOrder(1, OrderKind.CANCEL_SELL, 0, 10**9, later, target=r.order_id)])
    assert c is not None and c.size == 10 and r.order_id not in m.book(1)
    assert int(m.cache.lengths[1]) == length + 1
    with pytest.raises(RuntimeError, match="no proposal"):
        m.commit([1])


def test_several_orders_for_one_market_enter_its_context_in_order(
    tiny_checkpoint: Checkpoint, engine: str, start
) -> None:
    m = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    m.reset(0, start, seed=1)
    t = m.time_ns(0)
    bid = m.book(0).best_bid
    results = m.inject([OutsideOrder(0, OrderKind.LIMIT_BUY, bid - k, 5, t + k) for k in range(3)])
    assert all(r is not None for r in results)
    assert int(m.cache.lengths[0]) == 4 and len(m._markets[0].history_tokens) == 4
    assert [m.book(0).depth(1, bid - k) >= 5 for k in range(3)] == [True] * 3


def test_a_swept_side_leaves_the_mid_half_the_last_spread_beyond_the_other(
    tiny_checkpoint: Checkpoint,
    engine: str,
) -> None:
    m = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    m.reset(0, synthetic_start(tiny_checkpoint.tokenizer, spread=4), seed=0)
    bid, ask = m.book(0).best_bid, m.book(0).best_ask
    assert (ask - bid, m.mid_x2(0)) == (4, bid + ask)
    asks = sum(size for _, size in m.book(0).levels(-1, 100))
    (realized,) = m.inject([OutsideOrder(0, OrderKind.MARKET_BUY, 2**62, asks, m.time_ns(0))])
    assert realized.size == asks and m.book(0).best_ask is None
    # not one tick above the surviving bid (features' rule): the sweep went up
    assert m.mid_x2(0) == 2 * bid + 4


def test_the_model_sees_a_sweep_as_the_market_does(
    tiny_checkpoint: Checkpoint, engine: str
) -> None:
    """The book features appended for an order that empties a side measure from where
    the market stands that side in (the last spread beyond the other side's best): the
    spread still reads 4 and the mid has not moved. Measured from the book alone, the
    spread would read 0 and the mid one tick beyond the surviving quote, a move of one tick
    against the sweep (down after buying up the asks)."""
    for kind, side in ((OrderKind.MARKET_BUY, -1), (OrderKind.MARKET_SELL, 1)):
        m = LMMMarkets(tiny_checkpoint, 1, engine=engine)
        m.reset(0, synthetic_start(tiny_checkpoint.tokenizer, spread=4, levels=3), seed=0)
        shares = sum(size for _, size in m.book(0).levels(side, 100))
        price = 2**62 if kind is OrderKind.MARKET_BUY else 1
        m.inject([OutsideOrder(0, kind, price, shares, m.time_ns(0))])
        assert m.book(0).prices(side) == []
        features = m._markets[0].history_features[-1]
        assert features[0] == pytest.approx(np.log1p(4))  # log spread
        assert features[-1] == 0  # the mid's move (ticks / 10)


def test_a_book_with_no_side_left_reads_as_an_unmoved_mid(
    tiny_checkpoint: Checkpoint, engine: str
) -> None:
    """Sweeping the asks and then the bids leaves no quote at all: the market keeps its mid,
    and the features say it did not move (measured from a mid of 0 they would read a fall
    of ten ticks or more, the clip)."""
    m = LMMMarkets(tiny_checkpoint, 1, engine=engine)
    m.reset(0, synthetic_start(tiny_checkpoint.tokenizer, spread=4, levels=3), seed=0)
    for kind, side, price in ((OrderKind.MARKET_BUY, -1, 2**62), (OrderKind.MARKET_SELL, 1, 1)):
        shares = sum(size for _, size in m.book(0).levels(side, 100))
        mid = m.mid_x2(0)
        m.inject([OutsideOrder(0, kind, price, shares, m.time_ns(0))])
    assert m.book(0).best_bid is None and m.book(0).best_ask is None
    assert m.mid_x2(0) == mid  # kept from before the second sweep
    features = m._markets[0].history_features[-1]
    assert features[0] == 0  # log spread of an empty book
    assert features[-1] == 0  # the mid's move
    m.step()  # and the market goes on: only limit orders can come


def test_the_memory_estimate_counts_the_kv_cache_forward_pass_and_book() -> None:
    from lmm.model.generate import HOST_BYTES_PER_MARKET, memory_estimate
    from lmm.model.transformer import LMMConfig

    config = LMMConfig(
        n_kp=264, n_size=7, n_time=12, n_book_features=24, context=128, n_layer=4, n_embd=128
    )
    tensors, host = memory_estimate(config, 10)
    cache = 4 * 2 * 128 * 128 * 4  # layers x (k, v) x context x n_embd x float32
    forward = (2 * 4 * 64 * 64 + 12 * 64 * 128) * 4
    assert (tensors, host) == (10 * (cache + forward), 10 * HOST_BYTES_PER_MARKET)


def test_too_many_markets_for_the_memory_are_refused_before_allocating(
    tiny_checkpoint: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmm.model import generate

    monkeypatch.setattr(generate, "available_memory", lambda device: 2**30)  # 1 GiB
    LMMMarkets(tiny_checkpoint, 1000)  # about 0.3 GiB
    with pytest.raises(MemoryError, match=r"10,000 markets .* need about 2\.5 GiB on cpu") as info:
        LMMMarkets(tiny_checkpoint, 10_000)
    assert "only 1.0 GiB is available; use at most 3,956" in str(info.value)
    monkeypatch.setattr(generate, "available_memory", lambda device: None)  # unknown: no check
    LMMMarkets(tiny_checkpoint, 10_000)


def test_available_memory_reads_meminfo(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmm import device

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    1234 kB\n")
    monkeypatch.setattr(device, "_MEMINFO", meminfo)
    assert device.available_memory(torch.device("cpu")) == 1234 * 1024
    monkeypatch.setattr(device, "_MEMINFO", tmp_path / "absent")  # falls back to sysconf
    assert device.available_memory(torch.device("cpu")) > 0
