"""The outlook (what the coming minute does): one definition, realised in training and set
by a path in generation; the model reads it, training drops it on a share of windows, and
a model that gains it starts as the one it came from."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.generate import LMMMarkets, synthetic_start
from lmm.model.outlook import (
    HORIZON_NS,
    N_OUTLOOK_FEATURES,
    OutlookPath,
    outlook_features,
    outlook_range,
    outlook_values,
    realized_outlook,
)
from lmm.model.train import QUICK, outlook_drops, train, training_batch
from lmm.model.tune import TuneConfig, fine_tune, with_outlook
from lmm.units import NS_PER_SECOND

S = NS_PER_SECOND


def test_the_realised_outlook_follows_its_definition() -> None:
    # mid (twice, in ticks) 20000 from 0 s, 20002 from 30.5 s, 19998 from 70 s
    t = np.array([0, 30_500_000_000, 70 * S, 130 * S])
    mid2 = np.array([20_000, 20_002, 19_998, 19_998])
    shares = np.array([0, 100, 0, 50])
    values, known = realized_outlook(t, mid2, shares, normal=50.0)
    np.testing.assert_array_equal(known, [True, True, True, False])
    # at 0 s: the minute ends at 20002 (+1 bp); its 1-s samples change once, at 31 s
    np.testing.assert_allclose(values[0, 0], 1.0, rtol=1e-9)
    np.testing.assert_allclose(values[0, 1], 1e4 * np.log(20_002 / 20_000), rtol=1e-9)
    # market shares in (0, 60] s: the 100 at 30.5 s, twice the normal 50 a minute
    assert values[0, 2] == 2.0
    # at 30.5 s: (30.5, 90.5] holds the fall to 19998 at 70 s and no market order
    np.testing.assert_allclose(values[1, 0], 1e4 * (19_998 / 20_002 - 1), rtol=1e-9)
    assert values[1, 2] == 0.0
    # at 70 s: the minute (70, 130] ends at the last order and holds its 50 shares
    np.testing.assert_allclose(values[2], [0.0, 0.0, 1.0], atol=1e-12)
    assert np.all(values[3] == 0)


def test_the_features_scale_the_values_and_read_back() -> None:
    values = np.array([[-12.5, 4.0, 2.0], [3.0, 0.5, 0.25]])
    features = outlook_features(values, np.array([True, False]))
    assert features.dtype == np.float32 and features.shape == (2, N_OUTLOOK_FEATURES)
    assert features[0, 0] == 1 and np.all(features[1] == 0)  # unknown reads zeros
    np.testing.assert_allclose(outlook_values(features[:1]), values[:1], rtol=1e-6)
    with pytest.raises(ValueError, match="2 outlooks but 1 known"):
        outlook_features(values, np.array([True]))


def test_a_path_gives_each_segments_rates_and_blends_across_them() -> None:
    start = 36_000 * S
    path = OutlookPath.of(start, [(300, -30, 10, 3), (120, 6, 5, 1)])
    got = path.at(start + np.array([0, 270, 300, 600]) * S)
    np.testing.assert_allclose(got[0], [-30, 10, 3])
    # (270, 330] s: half in each segment; variances add
    np.testing.assert_allclose(got[1], [-12, np.sqrt(0.5 * 100 + 0.5 * 25), 2])
    np.testing.assert_allclose(got[2], [6, 5, 1])
    np.testing.assert_allclose(got[3], [6, 5, 1])  # the last segment goes on
    np.testing.assert_allclose(path.at(start - 10 * S), path.at(start))  # before: the start's
    assert path.end_ns == start + 420 * S
    with pytest.raises(ValueError, match="segment lengths must be > 0"):
        OutlookPath.of(start, [(0, 1, 1, 1)])
    with pytest.raises(ValueError, match="volatility and volume must be >= 0"):
        OutlookPath.of(start, [(60, 1, -1, 1)])


def _day_with_outlook(tiny: Checkpoint, n: int, seed: int) -> DayData:
    from ddp_run import invented_day  # tests/lmm: a day of random tokens and features

    day = invented_day(tiny.tokenizer.vocab_size, n, seed)
    rng = np.random.default_rng(seed)
    values = np.stack([rng.normal(0, 5, n), rng.lognormal(1, 0.5, n), rng.lognormal(0, 1, n)], 1)
    return replace(day, outlook=outlook_features(values, np.ones(n, dtype=bool)))


@pytest.fixture(scope="module")
def outlook_dataset(tiny_checkpoint: Checkpoint) -> OrderDataset:
    days = (_day_with_outlook(tiny_checkpoint, 600, 0), _day_with_outlook(tiny_checkpoint, 400, 1))
    return OrderDataset(days=days, tokenizer=tiny_checkpoint.tokenizer, validation_minutes=0)


def test_training_drops_the_outlook_of_the_drawn_windows_only(
    outlook_dataset: OrderDataset,
) -> None:
    config = replace(QUICK, outlook=True, outlook_dropout=0.5)
    days = tuple(replace(d, features=d.inputs(0, N_OUTLOOK_FEATURES)) for d in outlook_dataset.days)
    picks = np.array([[0, 5], [1, 7], [0, 100], [1, 0]])
    drops = np.array([True, False, False, True])
    _, f, _, _ = training_batch(days, picks, config, torch.device("cpu"), drops)
    assert torch.all(f[drops][..., -N_OUTLOOK_FEATURES:] == 0)
    assert torch.all(f[~drops][..., -N_OUTLOOK_FEATURES][..., 0] == 1)  # the known flags
    np.testing.assert_array_equal(f[1, :, -3:].numpy(), days[1].features[7:39, -3:])
    # the drops depend on the seed and the step alone, at the configured rate
    a, b = outlook_drops(config, 3, 4000), outlook_drops(config, 3, 4000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, outlook_drops(config, 4, 4000))
    assert 0.47 < a.mean() < 0.53


def test_a_recipe_with_an_outlook_trains_and_keeps_its_range(
    outlook_dataset: OrderDataset,
) -> None:
    result = train(outlook_dataset, replace(QUICK, outlook=True, steps=4), progress=False)
    model = result.model
    assert model.config.n_outlook_features == N_OUTLOOK_FEATURES
    np.testing.assert_allclose(
        model.outlook_range.numpy(), outlook_range(outlook_dataset.days), rtol=1e-12
    )
    lo, mid, hi = model.outlook_range.numpy()
    assert np.all(lo < mid) and np.all(mid < hi)


def test_a_model_that_gains_an_outlook_starts_as_it_was_and_then_follows_one(
    tiny_checkpoint: Checkpoint, outlook_dataset: OrderDataset
) -> None:
    gained = with_outlook(tiny_checkpoint, outlook_dataset)
    start = synthetic_start(tiny_checkpoint.tokenizer)
    path = OutlookPath.of(start.time_ns, [(120, -40, 20, 4)])

    def session(checkpoint: Checkpoint, outlook: OutlookPath | None) -> list:
        markets = LMMMarkets(checkpoint, 1)
        markets.reset(0, start, seed=3, outlook=outlook)
        orders = [markets.step([0])[0] for _ in range(40)]
        return [(o.time_ns, o.realized) for o in orders if o is not None], markets

    before, _ = session(tiny_checkpoint, None)
    same, _ = session(gained, None)
    also, markets = session(gained, path)
    assert before == same == also  # the new projection's output starts at zero
    _, inputs = markets.history(0)
    times = start.time_ns + HORIZON_NS // 2  # any time in the path reads its rates
    np.testing.assert_allclose(inputs[-1, -N_OUTLOOK_FEATURES:], path.features(times)[0])
    with pytest.raises(ValueError, match="already reads outlook"):
        with_outlook(gained, outlook_dataset)
    with pytest.raises(ValueError, match="cannot follow a scenario"):
        LMMMarkets(tiny_checkpoint, 1).reset(0, start, seed=0, outlook=path)
    # fine-tuning teaches it to read the outlook: then the path changes its predictions
    fine_tune(gained, outlook_dataset, TuneConfig(rounds=1, steps_per_round=20), progress=False)
    tokens, with_path = markets.history(0)
    without = with_path.copy()
    without[:, -N_OUTLOOK_FEATURES:] = 0
    x = torch.from_numpy(np.asarray(tokens))[None]
    h = [gained.model(x, torch.from_numpy(f)[None]) for f in (with_path, without)]
    assert not torch.allclose(h[0], h[1])


def test_guidance_scales_how_strongly_a_known_outlook_is_read(
    tiny_checkpoint: Checkpoint, outlook_dataset: OrderDataset
) -> None:
    gained = with_outlook(tiny_checkpoint, outlook_dataset)
    model = gained.model
    torch.nn.init.normal_(model.outlook_proj[-1].weight, std=0.5)  # an outlook that matters
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, model.config.vocab_size, (2, 8), generator=gen)
    f = torch.randn(2, 8, model.config.n_inputs, generator=gen)
    known = f.clone()
    known[..., -N_OUTLOOK_FEATURES] = 1.0
    unknown = f.clone()
    unknown[..., -N_OUTLOOK_FEATURES:] = 0.0
    with torch.no_grad():
        # an unknown outlook reads the same at any guidance
        torch.testing.assert_close(model(x, unknown, outlook_guidance=4.0), model(x, unknown))
        # a known one is read g times as far from an unknown one, in the embedding
        e = {g: model._outlook_embedding(known[..., -N_OUTLOOK_FEATURES:], g) for g in (1, 3)}
        e0 = model.outlook_proj(torch.zeros(1, N_OUTLOOK_FEATURES))[0]
        torch.testing.assert_close(e[3] - e0, 3 * (e[1] - e0))
        assert not torch.allclose(model(x, known, outlook_guidance=3.0), model(x, known))
    # markets take the checkpoint's guidance unless given one
    assert LMMMarkets(gained, 1).guidance == 1.0
    gained.metadata["outlook_guidance"] = 2.5
    assert LMMMarkets(gained, 1).guidance == 2.5
    assert LMMMarkets(gained, 1, guidance=1.5).guidance == 1.5
    with pytest.raises(ValueError, match="guidance must be finite and >= 0"):
        LMMMarkets(gained, 1, guidance=-1.0)
