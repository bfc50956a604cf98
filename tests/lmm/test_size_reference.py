"""Size references: market orders in shares or relative to the size at the touch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.data.lobster import read_lobster
from lmm.data.orderflow import MARKET_KINDS, OrderKind
from lmm.engine.orderbook import OrderBook
from lmm.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from lmm.model.dataset import day_orders
from lmm.model.generate import LMMMarkets, _touch, synthetic_start
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference, touch_size
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig

TOUCH = SizeReference.TOUCH
SAME_SIDE_BEST = DEFAULT_CHECKPOINT.parent / "same_side_best"
MID_CHECKPOINT = DEFAULT_CHECKPOINT.parent / "mid"


def _market_orders(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Invented market orders: kind, size, touch; about half take exactly the touch."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(np.array(MARKET_KINDS, dtype=np.int64), n)
    touch = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), rng.integers(1, 800, n))
    ratio = np.where(rng.random(n) < 0.5, 1.0, rng.lognormal(-0.5, 1.0, n))
    size = np.maximum(np.rint(ratio * touch), 1).astype(np.int64)
    return kind, size, touch


@pytest.fixture(scope="module")
def tok(make_orders) -> OrderTokenizer:
    """A same-side-best, touch-relative tokenizer fitted on invented orders."""
    kind, offset, size, dt = make_orders()
    m_kind, m_size, m_touch = _market_orders(len(kind), seed=5)
    market = np.isin(kind, MARKET_KINDS)
    kind = np.where(market, m_kind, kind)
    size = np.where(market, m_size, size)
    touch = np.where(market, m_touch, 0)
    config = TokenizerConfig(
        price_bins=12,
        size_bins=8,
        time_bins=4,
        price_reference=PriceReference.SAME_SIDE_BEST,
        size_reference=TOUCH,
    )
    return OrderTokenizer.fit(offset, size, dt, config, kind=kind, touch=touch)


def test_touch_size_is_the_side_a_market_order_takes() -> None:
    kinds = np.arange(len(OrderKind))
    # limit buy, limit sell, market buy (takes the ask), market sell (the bid), cancels
    assert touch_size(kinds, 30, 70).tolist() == [0, 0, 70, 30, 0, 0]


def test_bins_have_one_for_exactly_the_touch_and_sides_of_it(tok: OrderTokenizer) -> None:
    e = tok.touch_edges
    assert e[0] == 0.0 and 1.0 in e and len(tok.touch_quantiles) == len(e)
    assert tok.n_size >= len(e) + 1
    exact = e.index(1.0)
    kind = np.full(4, OrderKind.MARKET_BUY)
    bins = tok.size_bins(kind, np.array([7, 1, 50, 8]), np.array([7, 1, 100, 4]))
    assert bins[0] == bins[1] == exact
    assert bins[2] < exact < bins[3]
    # other kinds keep their share bins, whatever the touch
    limit = np.full(3, OrderKind.LIMIT_SELL)
    sizes = np.array([1, 100, 400])
    share_bins = np.searchsorted(tok.size_edges[1:-1], sizes, side="right")
    assert (tok.size_bins(limit, sizes, np.array([0, 5, 100])) == share_bins).all()


def test_round_trip_against_the_touch(tok: OrderTokenizer) -> None:
    kind, size, touch = _market_orders(5000, seed=9)
    bins = tok.size_bins(kind, size, touch)
    u = np.random.default_rng(0).random(len(kind))
    back = tok.sizes(kind, bins, u, touch)
    assert back.dtype == np.int64 and (back >= 1).all()
    exact = bins == tok.touch_edges.index(1.0)
    assert exact.mean() > 0.4 and (back[exact] == touch[exact]).all()
    # a decoded size falls in its bin whenever a whole share can (small touches cannot
    # always split into the bin's fractions), and always on the same side of the touch
    again = tok.size_bins(kind, back, touch)
    same_side = np.sign(back - touch) == np.sign(size - touch)
    assert same_side[touch > 1].all()
    assert (again == bins).mean() > 0.97
    assert (again[touch >= 50] == bins[touch >= 50]).all()
    # through whole tokens, with the touch the book shows
    offset = np.zeros(len(kind), dtype=np.int64)
    dt = np.zeros(len(kind), dtype=np.int64)
    tokens = tok.encode(kind, offset, size, dt, touch)
    decoded = tok.decode(tokens, np.random.default_rng(1), touch)
    assert (decoded.size[exact] == touch[exact]).all()


def test_touch_sizes_are_required_and_checked(tok: OrderTokenizer) -> None:
    kind = np.array([OrderKind.MARKET_SELL])
    with pytest.raises(ValueError, match="touch size"):
        tok.encode(kind, np.array([0]), np.array([10]), np.array([0]))
    with pytest.raises(ValueError, match="touch of >= 1"):
        tok.size_bins(kind, np.array([10]), np.array([0]))
    # orders other than market orders need no touch
    limit = np.array([OrderKind.LIMIT_BUY])
    assert tok.encode(limit, np.array([0]), np.array([10]), np.array([0])).shape == (1,)
    with pytest.raises(ValueError, match="size_reference"):
        TokenizerConfig(size_reference="touch")  # type: ignore[arg-type]


def test_saved_and_loaded_with_the_checkpoint(
    tok: OrderTokenizer, tmp_path: Path, make_untrained_checkpoint
) -> None:
    data = json.loads(json.dumps(tok.to_dict()))
    assert data["config"]["size_reference"] == "touch"
    assert OrderTokenizer.from_dict(data) == tok
    checkpoint = make_untrained_checkpoint(tok)
    save_checkpoint(tmp_path, checkpoint.model, tok)
    assert load_checkpoint(tmp_path).tokenizer == tok


def test_old_checkpoints_load_as_shares_and_generate_as_before(fingerprint) -> None:
    """Fingerprint of the same-side-best checkpoint, whose weights predate the option
    (2 markets x 150 orders from the data-free start, pinned with whole-order cancels as
    the default's in test_price_reference.py)."""
    for path in (MID_CHECKPOINT, SAME_SIDE_BEST):
        meta = json.loads((path / "lmm.json").read_text())
        assert "size_reference" not in meta["tokenizer"]["config"]
        assert "touch_edges" not in meta["tokenizer"]
        tokenizer = load_checkpoint(path).tokenizer
        assert tokenizer.config.size_reference is SizeReference.SHARES
        assert "touch_edges" not in tokenizer.to_dict()
    checkpoint = load_checkpoint(SAME_SIDE_BEST)
    assert fingerprint(checkpoint) == "9ccc2f2acde45e88 0.143089"


def test_the_packaged_default_measures_from_the_same_side_and_sizes_from_the_touch(
    fingerprint,
) -> None:
    """The default since it replaced the mid-price model (now ``checkpoints/mid``): prices
    from each side's best quote, market order sizes relative to the touch. Its fingerprint
    is pinned as the other checkpoints' are (2 markets x 150 orders, data-free start)."""
    checkpoint = load_checkpoint()
    assert checkpoint.tokenizer.config.price_reference is PriceReference.SAME_SIDE_BEST
    assert checkpoint.tokenizer.config.size_reference is SizeReference.TOUCH
    assert fingerprint(checkpoint) == "683cf03b2684c4f3 0.167498"


def test_generated_market_orders_of_the_exact_bin_take_the_whole_touch(
    tok: OrderTokenizer, monkeypatch, make_untrained_checkpoint
) -> None:
    """Forced to propose market buys at the touch in the exact bin, the model empties
    the best ask every time, and the order enters its context in that bin."""
    markets = LMMMarkets(make_untrained_checkpoint(tok), 1)
    markets.reset(0, synthetic_start(tok, levels=10, size=100), seed=3)
    n_kp, n_size = markets.model.config.n_kp, tok.n_size
    exact = tok.touch_edges.index(1.0)
    target = int(OrderKind.MARKET_BUY) * tok.n_price + tok.n_price // 2  # offset 0

    def kp_logits(h: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(h), n_kp)
        logits[:, target] = 50.0
        return logits

    def size_logits(h: torch.Tensor, kp: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(h), n_size)
        logits[:, exact] = 50.0
        return logits

    monkeypatch.setattr(markets.model, "kp_logits", kp_logits)
    monkeypatch.setattr(markets.model, "size_logits", size_logits)
    book = markets.book(0)
    for _ in range(5):
        ask, depth = book.best_ask, book.depth(-1, book.best_ask)
        markets.propose()
        assert markets._market(0).proposal.size == depth
        (order,) = markets.commit()
        assert order.realized.size == depth and book.best_ask > ask
        token = markets._market(0).history_tokens[-1]
        assert tok.fields(np.array([token]))[2][0] == exact


def test_a_real_day_sizes_market_orders_against_its_touch(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    orders = day_orders(day)
    met = day.book[orders.flow["row"] - 1]
    market = np.isin(orders.flow["kind"], MARKET_KINDS)
    buy = orders.flow["kind"] == OrderKind.MARKET_BUY
    assert (orders.touch[~market] == 0).all()
    assert (orders.touch[buy] == met[buy, 0, 1]).all()
    assert (orders.touch[market] >= 1).all()
    # a level-1 file shows whole-touch takers: most executions empty the best level
    exact = (orders.flow["size"] == orders.touch)[market].mean()
    assert 0.3 < exact < 0.9
    tok = OrderTokenizer.fit(
        orders.price_offset,
        orders.flow["size"],
        orders.dt,
        replace(TokenizerConfig(), size_reference=TOUCH),
        kind=orders.flow["kind"],
        touch=orders.touch,
    )
    tokens = tok.encode(
        orders.flow["kind"], orders.price_offset, orders.flow["size"], orders.dt, orders.touch
    )
    bins = tok.fields(tokens)[2]
    assert ((bins == tok.touch_edges.index(1.0)) == (orders.flow["size"] == orders.touch))[
        market
    ].all()


def test_the_one_order_touch_agrees_with_the_array_rule() -> None:
    """The generation loop's scalar path (lmm.model.generate._touch) against touch_size, for every
    kind, with both sides, either side empty, and both empty."""
    for bid_size, ask_size in ((30, 70), (0, 70), (30, 0), (0, 0)):
        book = OrderBook()
        if bid_size:
            book.add_limit(1, 1, 990, bid_size)
        if ask_size:
            book.add_limit(2, -1, 1010, ask_size)
        for kind in OrderKind:
            assert _touch(book, kind) == int(touch_size(kind, bid_size, ask_size))
