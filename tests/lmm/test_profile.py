"""Stock profiles: computed from a stock's own past, constant over a session, optional in
the model (a checkpoint without one generates as before)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.orderflow import ORDER_DTYPE, OrderKind
from lmm.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.features import N_BOOK_FEATURES, SESSION_CLOSE_NS
from lmm.model.generate import LMMMarkets, OutsideOrder, synthetic_start
from lmm.model.profile import (
    MIN_PROFILE_ORDERS,
    N_PROFILE_FEATURES,
    nearest_trained_profile,
    stock_profile,
)
from lmm.model.train import QUICK, train
from lmm.model.transformer import LMM
from lmm.units import NS_PER_SECOND


def _flow(n: int, spread: int = 4, behind: int = 3, size: int = 200) -> tuple[np.ndarray, ...]:
    """``n`` limit orders, half buys and half sells, one every 0.5 s, each ``behind`` ticks
    behind its side's best, in books with a ``spread``-tick spread."""
    flow = np.zeros(n, dtype=ORDER_DTYPE)
    flow["time"] = 36_000 * NS_PER_SECOND + np.arange(n) * NS_PER_SECOND // 2
    flow["kind"] = np.where(np.arange(n) % 2, OrderKind.LIMIT_SELL, OrderKind.LIMIT_BUY)
    flow["size"] = size
    bid, ask = 10_000, 10_000 + spread
    flow["price"] = np.where(flow["kind"] == OrderKind.LIMIT_BUY, bid - behind, ask + behind)
    book = np.zeros((n, 1, 4), dtype=np.int64)
    book[:, 0] = [ask, 100, bid, 100]
    return flow, book


def test_a_profile_reads_spread_distance_rate_and_size() -> None:
    flow, book = _flow(1000)
    expected = [np.log1p(4), np.log1p(3), np.log(2.0), np.log(200)]
    np.testing.assert_allclose(stock_profile(flow, book), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="needs >= 100 orders"):
        stock_profile(flow[: MIN_PROFILE_ORDERS - 1], book[: MIN_PROFILE_ORDERS - 1])


def _day(n: int, validation_from: int, **kwargs: int) -> DayData:
    flow, book = _flow(n, **kwargs)
    rng = np.random.default_rng(0)
    is_validation = np.arange(n) >= validation_from
    return DayData(
        name="profiled",
        flow=flow,
        price_offset=np.zeros(n, dtype=np.int64),
        dt=np.zeros(n, dtype=np.int64),
        features=rng.normal(size=(n, N_BOOK_FEATURES)).astype(np.float32),
        book_after=book,
        is_validation=is_validation,
        tokens=rng.integers(0, 50, n),
        profile=stock_profile(flow[:validation_from], book[:validation_from]),
    )


def test_a_start_gets_the_profile_of_what_came_before_it() -> None:
    day = _day(1000, validation_from=800)
    # past the training part: the training part's profile, what training saw
    assert day.start_state(900, 16).profile is day.profile
    assert day.start_state(799, 16).profile is day.profile
    # earlier: only the orders up to the start (the rate over 0.5 s steps is the same)
    early = day.start_state(300, 16).profile
    np.testing.assert_allclose(early, stock_profile(day.flow[:301], day.book_after[:301]))
    # too few orders before the start: none (the model's default stands in)
    assert day.start_state(MIN_PROFILE_ORDERS - 2, 16).profile is None


def _profiled_checkpoint(tiny_checkpoint: Checkpoint) -> Checkpoint:
    config = replace(tiny_checkpoint.model.config, n_profile_features=N_PROFILE_FEATURES)
    torch.manual_seed(0)
    model = LMM(config).eval()
    model.profile_center.copy_(torch.tensor([1.0, 1.0, 0.5, 4.0]))
    with torch.no_grad():  # make the profile matter for an untrained model
        model.profile_proj.weight.normal_(0, 1)
    return Checkpoint(model=model, tokenizer=tiny_checkpoint.tokenizer)


def test_a_model_without_profiles_has_the_weights_it_had_and_takes_none(
    tiny_checkpoint: Checkpoint,
) -> None:
    model = tiny_checkpoint.model
    assert model.config.n_profile_features == 0
    assert not any("profile" in k for k in model.state_dict())
    x, f = torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, N_BOOK_FEATURES)
    with pytest.raises(ValueError, match="not conditioned on a stock profile"):
        model(x, f, profile=torch.zeros(1, N_PROFILE_FEATURES))


def test_the_profile_enters_every_position_and_none_means_the_centre(
    tiny_checkpoint: Checkpoint,
) -> None:
    model = _profiled_checkpoint(tiny_checkpoint).model
    x = torch.randint(0, model.config.vocab_size, (2, 5))
    f = torch.randn(2, 5, N_BOOK_FEATURES)
    centre = model.profile_center.expand(2, -1)
    with torch.no_grad():
        assert torch.equal(model(x, f), model(x, f, profile=centre))
        other = model(x, f, profile=centre + 1)
        assert not torch.isclose(other, model(x, f)).all(-1).any()
        with pytest.raises(ValueError, match="profile must have shape"):
            model(x, f, profile=torch.zeros(2, 3))


def _orders(markets: LMMMarkets, steps: int) -> list[tuple]:
    return [
        (o.time_ns, int(o.realized.kind), o.realized.price, o.realized.size)
        for _ in range(steps)
        for o in markets.step()
        if o is not None
    ]


def test_a_market_keeps_its_start_profile_and_a_model_without_one_ignores_it(
    tiny_checkpoint: Checkpoint,
) -> None:
    start = synthetic_start(tiny_checkpoint.tokenizer)
    profiled = replace(start, profile=np.array([2.0, 0.5, 1.0, 5.0], dtype=np.float32))
    # a model without profiles: the same market with or without one
    runs = []
    for s in (start, profiled):
        m = LMMMarkets(tiny_checkpoint, 1)
        m.reset(0, s, seed=3)
        runs.append(_orders(m, 60))
    assert runs[0] == runs[1]
    # a model with profiles: the start's profile, or its default, changes the market
    ck = _profiled_checkpoint(tiny_checkpoint)
    m = LMMMarkets(ck, 2)
    m.reset(0, start, seed=3)
    m.reset(1, profiled, seed=3)
    assert torch.equal(m._profiles[0], ck.model.profile_center)
    paths = [_orders_of(m, i, 60) for i in (0, 1)]
    assert paths[0] != paths[1]
    # an agent's order leaves the profile as it was
    before = m._profiles.clone()
    book = m.book(1)
    m.inject([OutsideOrder(1, OrderKind.LIMIT_BUY, book.best_bid, 50, m.time_ns(1))])
    m.step()
    assert torch.equal(m._profiles, before)
    with pytest.raises(ValueError, match="the start's profile has shape"):
        m.reset(0, replace(start, profile=np.zeros(2, dtype=np.float32)), seed=1)
    nan = np.array([2.0, np.nan, 1.0, 5.0], dtype=np.float32)
    with pytest.raises(ValueError, match="the start's profile must be finite"):
        m.reset(0, replace(start, profile=nan), seed=1)


def _orders_of(markets: LMMMarkets, i: int, steps: int) -> list[tuple]:
    out = []
    for _ in range(steps):
        o = markets.step([i])[0]
        if o is not None:
            out.append((o.time_ns, int(o.realized.kind), o.realized.price, o.realized.size))
    return out


def test_training_with_profiles_stores_the_mean_profile_and_round_trips(
    tiny_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    days = (
        _day(1200, validation_from=900),
        replace(_day(1200, validation_from=900, spread=10, behind=1, size=100), name="other"),
    )
    dataset = OrderDataset(days=days, tokenizer=tiny_checkpoint.tokenizer, validation_minutes=0)
    config = replace(QUICK, context=16, steps=4, eval_every=2, profile=True)
    result = train(dataset, config, progress=False)
    model = result.model
    assert model.config.n_profile_features == N_PROFILE_FEATURES
    np.testing.assert_allclose(
        model.profile_center.numpy(), np.mean([d.profile for d in days], axis=0), rtol=1e-6
    )
    save_checkpoint(tmp_path, model, tiny_checkpoint.tokenizer)
    loaded = load_checkpoint(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    # a day without a profile cannot train a model with profiles
    bare = OrderDataset(
        days=(replace(days[0], profile=None),),
        tokenizer=tiny_checkpoint.tokenizer,
        validation_minutes=0,
    )
    with pytest.raises(ValueError, match="no stock profile"):
        train(bare, config, progress=False)


def test_a_real_day_is_profiled_from_its_training_part(lobster_dir: Path) -> None:
    from lmm.data.lobster import read_lobster
    from lmm.model.dataset import day_orders

    day = day_orders(read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"))
    train_part = day.flow["time"] < SESSION_CLOSE_NS - 90 * 60 * NS_PER_SECOND
    n = int(train_part.sum())
    np.testing.assert_array_equal(day.profile, stock_profile(day.flow[:n], day.book_after[:n]))
    assert day.profile.shape == (N_PROFILE_FEATURES,)


def test_the_numba_decoder_reads_the_start_profile(tiny_checkpoint: Checkpoint) -> None:
    """Under the numba decoder a profiled model makes torch's market (its numbers to float
    rounding: these seeds draw no token near a class edge), the profile changing it."""
    ck = _profiled_checkpoint(tiny_checkpoint)
    start = synthetic_start(tiny_checkpoint.tokenizer)
    profiled = replace(start, profile=np.array([2.0, 0.5, 1.0, 5.0], dtype=np.float32))
    paths = {}
    for decoder in ("torch", "numba"):
        m = LMMMarkets(ck, 2, decoder=decoder)
        m.reset(0, start, seed=3)
        m.reset(1, profiled, seed=3)
        paths[decoder] = [_orders_of(m, i, 60) for i in (0, 1)]
    assert paths["numba"] == paths["torch"]
    assert paths["numba"][0] != paths["numba"][1]


def test_the_nearest_trained_profile_is_the_profile_inside_and_the_hull_s_point_outside() -> None:
    a, b = np.array([3.4, 1.9, 1.8, 4.6]), np.array([2.7, 1.1, 1.9, 4.6])
    two = np.stack([a, b])
    for inside in (a, b, (a + b) / 2, 0.3 * a + 0.7 * b):
        got = nearest_trained_profile(inside.astype(np.float32), two)
        np.testing.assert_array_equal(got, inside.astype(np.float32))
    # off the segment: its nearest point, by hand (t along a -> b, clipped to [0, 1])
    for x in ([0.7, 0.3, 3.0, 5.3], [3.0, 1.9, 1.8, 4.6], [5.0, 3.0, 1.0, 4.0]):
        x = np.array(x)
        t = np.clip((x - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
        np.testing.assert_allclose(nearest_trained_profile(x, two), a + t * (b - a), atol=1e-6)
    # three days: a point beyond an edge goes to that edge, one inside stays
    tri = np.array([[0.0, 0, 0, 0], [2, 0, 0, 0], [0, 2, 0, 0]])
    np.testing.assert_allclose(nearest_trained_profile(np.array([2.0, 2, 0, 0]), tri), [1, 1, 0, 0])
    np.testing.assert_allclose(
        nearest_trained_profile(np.array([0.5, 0.5, 1, 0]), tri), [0.5, 0.5, 0, 0]
    )
    assert nearest_trained_profile(np.array([0.5, 0.5, 0, 0]), tri).tolist() == [0.5, 0.5, 0, 0]
    with pytest.raises(ValueError, match="cannot be compared"):
        nearest_trained_profile(np.zeros(3), tri)


def test_a_start_outside_the_trained_profiles_gets_their_nearest_mixture_and_a_warning(
    tiny_checkpoint: Checkpoint,
) -> None:
    ck = _profiled_checkpoint(tiny_checkpoint)
    trained = {"x": [1.5, 1.0, 0.5, 4.0], "y": [0.5, 1.0, 0.5, 4.0]}  # centre (1, 1, 0.5, 4)
    ck = replace(ck, metadata={"training_profiles": trained})
    start = synthetic_start(tiny_checkpoint.tokenizer)
    m = LMMMarkets(ck, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside: used as it is, silently
        m.reset(0, replace(start, profile=np.array([1.2, 1.0, 0.5, 4.0], dtype=np.float32)), 1)
    assert m._profiles[0].tolist() == pytest.approx([1.2, 1.0, 0.5, 4.0])
    far = replace(start, profile=np.array([3.0, 0.2, 0.5, 4.0], dtype=np.float32))
    with pytest.warns(UserWarning, match=r"log_spread 3\.00 -> 1\.50"):
        m.reset(0, far, seed=1)
    assert m._profiles[0].tolist() == pytest.approx(trained["x"])
    # without training profiles in its metadata, a checkpoint takes the profile as given
    m = LMMMarkets(_profiled_checkpoint(tiny_checkpoint), 1)
    m.reset(0, far, seed=1)
    assert m._profiles[0].tolist() == pytest.approx([3.0, 0.2, 0.5, 4.0])
