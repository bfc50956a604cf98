"""Price references: offsets from the mid or from the order's own side's best quote."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.lobster import read_lobster
from lmm.data.orderflow import (
    BUY_KINDS,
    CANCEL_KINDS,
    LIMIT_KINDS,
    MARKET_KINDS,
    OrderKind,
    is_buy,
    is_market,
)
from lmm.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from lmm.model.dataset import day_orders
from lmm.model.features import NO_QUOTE
from lmm.model.generate import LMMMarkets, OutsideOrder, synthetic_start
from lmm.model.price_reference import PriceReference, reference_price
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig

SSB = PriceReference.SAME_SIDE_BEST
SHARES = SizeReference.SHARES
MID_CHECKPOINT = DEFAULT_CHECKPOINT.parent / "mid"  # the default before same-side prices


@pytest.fixture(scope="module")
def tok(make_orders) -> OrderTokenizer:
    """A same-side-best tokenizer fitted on invented offsets."""
    _, offset, size, dt = make_orders()
    config = TokenizerConfig(price_bins=12, size_bins=4, time_bins=4)
    return OrderTokenizer.fit(offset, size, dt, replace(config, size_reference=SHARES))


@pytest.fixture(scope="module")
def ssb_checkpoint(tok: OrderTokenizer, make_untrained_checkpoint) -> Checkpoint:
    """An untrained 1-layer model over a same-side-best tokenizer."""
    return make_untrained_checkpoint(tok)


def test_the_kind_tests_read_the_enum_as_the_kind_tuples_do() -> None:
    kinds = np.array([int(k) for k in OrderKind] * 2, dtype=np.int8).reshape(2, -1)
    assert (is_buy(kinds) == np.isin(kinds, BUY_KINDS)).all()
    assert (is_market(kinds) == np.isin(kinds, MARKET_KINDS)).all()
    assert is_market(kinds).sum() == 4 and is_buy(kinds).sum() == 6


def test_each_kind_is_measured_from_the_documented_quote() -> None:
    kinds = np.arange(len(OrderKind))
    ref, sign = reference_price(SSB, kinds, 100, 105, 205)
    # limit buy, limit sell, market buy, market sell, cancel buy, cancel sell
    assert ref.tolist() == [100, 105, 105, 100, 100, 105]
    assert sign.tolist() == [1, -1, 1, -1, 1, -1]  # positive is more aggressive
    ref, sign = reference_price(PriceReference.MID, kinds, 100, 105, 205)
    assert ref.tolist() == [102] * 6 and sign.tolist() == [1] * 6
    # an empty reference side falls back to the (one-sided) mid, keeping the side's sign
    ref, sign = reference_price(SSB, kinds, NO_QUOTE, 105, 2 * 105 - 2)
    assert ref.tolist() == [104, 105, 105, 104, 104, 105]
    assert sign.tolist() == [1, -1, 1, -1, 1, -1]


def test_offsets_and_prices_are_exact_inverses(tok: OrderTokenizer) -> None:
    rng = np.random.default_rng(0)
    n = 500
    kind = rng.integers(0, 6, n)
    bid = rng.integers(50, 100, n)
    ask = bid + rng.integers(1, 30, n)
    bid[:20] = NO_QUOTE  # some one-sided books
    m2 = np.where(bid == NO_QUOTE, 2 * ask - 2, bid + ask)
    price = rng.integers(20, 150, n)
    offset = tok.offsets(kind, price, bid, ask, m2)
    assert (tok.prices(kind, offset, bid, ask, m2) == price).all()
    # a sell one tick inside the spread and a buy one tick inside are both +1
    assert tok.offsets(OrderKind.LIMIT_SELL, 104, 100, 105, 205) == 1
    assert tok.offsets(OrderKind.LIMIT_BUY, 101, 100, 105, 205) == 1
    assert tok.offsets(OrderKind.CANCEL_SELL, 107, 100, 105, 205) == -2


def test_round_trip_of_orders_keeps_them_in_their_bucket_and_at_the_best(
    tok: OrderTokenizer, make_orders
) -> None:
    assert tok.price_edges[:3] == (0, 1, 2)  # one-tick bins at the best
    rng = np.random.default_rng(1)
    n = 2000
    kind = rng.integers(0, 6, n)
    bid = rng.integers(1000, 1100, n)
    ask = bid + rng.integers(1, 20, n)
    m2 = bid + ask
    # held-out-like: most passive orders at or just behind their best quote
    ref, sign = reference_price(SSB, kind, bid, ask, m2)
    offset = np.where(rng.random(n) < 0.3, 0, -rng.geometric(0.2, n) + 1)
    price = ref + sign * offset
    _, _, size, dt = make_orders(n, seed=2)
    tokens = tok.encode(kind, tok.offsets(kind, price, bid, ask, m2), size, dt)
    decoded = tok.decode(tokens, np.random.default_rng(3))
    back = tok.prices(decoded.kind, decoded.price_offset, bid, ask, m2)
    _, bucket, _, _ = tok.fields(tokens)
    for k in range(n):
        low, high = tok.price_range(int(bucket[k]), int(ref[k]), int(sign[k]))
        assert (low is None or low <= back[k]) and (high is None or back[k] <= high)
        assert (low is None or low <= price[k]) and (high is None or price[k] <= high)
    at_best = offset == 0
    assert at_best.any() and (back[at_best] == ref[at_best]).all()
    re_encoded = tok.encode(kind, tok.offsets(kind, back, bid, ask, m2), decoded.size, decoded.dt)
    assert (re_encoded == tokens).all()


def _force(markets: LMMMarkets, kind: OrderKind, bucket: int, monkeypatch) -> None:
    """Make the model propose ``kind`` in price bucket ``bucket`` whenever it is allowed."""
    n_kp = markets.model.config.n_kp
    target = int(kind) * markets.tokenizer.n_price + bucket

    def kp_logits(h: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(h), n_kp)
        logits[:, target] = 50.0
        return logits

    monkeypatch.setattr(markets.model, "kp_logits", kp_logits)


@pytest.mark.parametrize("kind", CANCEL_KINDS)
def test_a_generated_cancel_at_offset_zero_takes_the_best_quote(
    ssb_checkpoint: Checkpoint, kind: OrderKind, monkeypatch
) -> None:
    tok = ssb_checkpoint.tokenizer
    markets = LMMMarkets(ssb_checkpoint, 1)
    markets.reset(0, synthetic_start(tok, spread=20), seed=0)  # a wide spread
    bucket = int(tok.price_bucket(0))
    _force(markets, kind, bucket, monkeypatch)
    for _ in range(5):
        book = markets.book(0)
        best = book.best_bid if kind is OrderKind.CANCEL_BUY else book.best_ask
        (order,) = markets.step()
        assert order is not None and order.realized.kind is kind
        assert order.realized.price == best
        # and it enters the context as what it was: a cancel at the best
        _, p, _, _ = tok.fields(np.array([markets._markets[0].history_tokens[-1]]))
        assert p[0] == bucket


@pytest.mark.parametrize("kind", LIMIT_KINDS)
def test_a_swept_side_refills_where_it_stood_not_at_the_mid(
    ssb_checkpoint: Checkpoint, kind: OrderKind, monkeypatch
) -> None:
    """With its own side empty, a limit order at offset 0 rests the last two-sided spread
    from the other side's best (measured from the mid, it would refill the side halfway
    across the spread and pull the mid back across the sweep)."""
    tok = ssb_checkpoint.tokenizer
    markets = LMMMarkets(ssb_checkpoint, 1)
    markets.reset(0, synthetic_start(tok, spread=20, levels=3), seed=0)
    book = markets.book(0)
    bid, ask = book.best_bid, book.best_ask
    # sweep the side the limit order rests on: a market order of the opposite kind
    sweep, worst = (
        (OrderKind.MARKET_SELL, bid - 10)
        if kind is OrderKind.LIMIT_BUY
        else (OrderKind.MARKET_BUY, ask + 10)
    )
    (swept,) = markets.inject([OutsideOrder(0, sweep, worst, 300, markets.time_ns(0))])
    assert swept is not None and swept.size == 300
    assert (book.best_bid if kind is OrderKind.LIMIT_BUY else book.best_ask) is None
    _force(markets, kind, int(tok.price_bucket(0)), monkeypatch)
    (order,) = markets.step()
    assert order is not None and order.realized.kind is kind
    expected = ask - 20 if kind is OrderKind.LIMIT_BUY else bid + 20
    assert order.realized.price == expected
    assert markets.mid_x2(0) == bid + ask  # the mid is back where it was


def test_masks_allow_cancels_exactly_where_orders_rest_relative_to_the_quote(
    ssb_checkpoint: Checkpoint,
) -> None:
    tok = ssb_checkpoint.tokenizer
    markets = LMMMarkets(ssb_checkpoint, 1)
    markets.reset(0, synthetic_start(tok, spread=20, levels=3), seed=0)
    book = markets.book(0)
    (mask,) = markets._kp_masks([markets._markets[0]])
    for kind in CANCEL_KINDS:
        block = mask[int(kind) * tok.n_price : (int(kind) + 1) * tok.n_price]
        side = book.prices(kind.side)
        best = side[0]
        # three levels, at the best and one and two ticks behind it, in distinct buckets
        expected = {int(tok.price_bucket(d)) for d in (0, -1, -2)}
        assert set(np.flatnonzero(block).tolist()) == expected
        for b in np.flatnonzero(block):
            low, high = tok.price_range(int(b), best, kind.side)
            assert any((low is None or low <= p) and (high is None or p <= high) for p in side)
    for kind in (*LIMIT_KINDS, *MARKET_KINDS):
        assert mask[int(kind) * tok.n_price : (int(kind) + 1) * tok.n_price].all()


def test_the_option_survives_save_and_load(ssb_checkpoint: Checkpoint, tmp_path: Path) -> None:
    save_checkpoint(tmp_path, ssb_checkpoint.model, ssb_checkpoint.tokenizer, {"note": SSB})
    meta = json.loads((tmp_path / "lmm.json").read_text())
    assert meta["tokenizer"]["config"]["price_reference"] == "same_side_best"
    loaded = load_checkpoint(tmp_path)
    assert loaded.tokenizer == ssb_checkpoint.tokenizer
    assert loaded.tokenizer.config.price_reference is SSB
    meta["tokenizer"]["config"]["price_reference"] = "best"
    (tmp_path / "lmm.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="PriceReference"):
        load_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="price_reference"):
        TokenizerConfig(price_reference="mid")  # type: ignore[arg-type]


def test_the_mid_checkpoint_loads_as_mid_and_generates_as_before(fingerprint) -> None:
    """The former default (``checkpoints/mid``): its weights and the mid price reference
    predate the option; the fingerprint was
    pinned when the generation rules last changed (whole-order cancels in lmm.engine.market, the
    mid of a one-sided book in lmm.model.generate, and the book features of a one-sided book,
    measured from the stood-in side): 2 markets x 150 orders from the data-free
    start with the packaged checkpoint (one float32 CPU forward pass per order; a
    different CPU could in principle round a sampling boundary differently)."""
    meta = json.loads((MID_CHECKPOINT / "lmm.json").read_text())
    assert "price_reference" not in meta["tokenizer"]["config"]
    checkpoint = load_checkpoint(MID_CHECKPOINT)
    assert checkpoint.tokenizer.config.price_reference is PriceReference.MID
    assert fingerprint(checkpoint) == "25e023c65f6b81cf 0.204366"


def test_a_real_day_measured_from_its_quotes(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    mid = day_orders(day, price_reference=PriceReference.MID)
    ssb = day_orders(day, price_reference=SSB)
    assert (mid.flow == ssb.flow).all()
    kind, offset = ssb.flow["kind"], ssb.price_offset
    met = day.book[ssb.flow["row"] - 1]
    two_sided = (met[:, 0, 1] > 0) & (met[:, 0, 3] > 0)
    spread = met[:, 0, 0] - met[:, 0, 2]
    cancel, market = np.isin(kind, CANCEL_KINDS), np.isin(kind, MARKET_KINDS)
    limit = np.isin(kind, LIMIT_KINDS)
    # resting orders are at or behind their best, market orders at or beyond the touch,
    # LOBSTER's limit orders never cross
    assert (offset[cancel & two_sided] <= 0).all()
    assert (offset[market] >= 0).all()
    assert (offset[limit & two_sided] < spread[limit & two_sided]).all()
    # the mid rule's offsets are untouched by the option's existence
    assert (mid.price_offset == mid.flow["price"] - (met[:, 0, 0] + met[:, 0, 2]) // 2)[
        two_sided
    ].all()


@pytest.mark.parametrize("rule", list(PriceReference))
def test_the_one_order_reference_agrees_with_the_array_rule(tok: OrderTokenizer, rule) -> None:
    """The generation loop's scalar path (OrderTokenizer.reference) against reference_price,
    for every kind, with both quotes, either side empty, and both empty."""
    tokenizer = replace(tok, config=replace(tok.config, price_reference=rule))
    for kind in OrderKind:
        for bid, ask in ((990, 1010), (NO_QUOTE, 1010), (990, NO_QUOTE), (NO_QUOTE, NO_QUOTE)):
            ref, sign = reference_price(rule, int(kind), bid, ask, 2001)
            assert tokenizer.reference(kind, bid, ask, 2001) == (int(ref), int(sign))
