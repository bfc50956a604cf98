"""Order tokenizer: fitted bins, exact round trips, valid decoded orders, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmm.data import read_lobster
from lmm.data.orderflow import OrderKind, order_flow
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig

MID, SHARES = PriceReference.MID, SizeReference.SHARES


@pytest.fixture(scope="module")
def tokenizer(make_orders) -> OrderTokenizer:
    _, offset, size, dt = make_orders(5000, seed=1)
    config = TokenizerConfig(
        price_bins=12, size_bins=8, time_bins=8, price_reference=MID, size_reference=SHARES
    )
    return OrderTokenizer.fit(offset, size, dt, config)


def test_vocabulary_is_the_product_of_the_fields(tokenizer: OrderTokenizer) -> None:
    assert tokenizer.vocab_size == 6 * tokenizer.n_price * tokenizer.n_size * tokenizer.n_time
    assert tokenizer.n_price == 2 * (len(tokenizer.price_edges) - 1)
    assert tokenizer.price_edges[0] == 0
    # 100-share lots are half the sizes: a bin starts exactly at 100
    assert 100 in tokenizer.size_edges
    assert tokenizer.time_edges[0] == 0


def test_encode_decode_encode_is_the_identity(tokenizer: OrderTokenizer, make_orders) -> None:
    kind, offset, size, dt = make_orders(5000, seed=2)
    tokens = tokenizer.encode(kind, offset, size, dt)
    decoded = tokenizer.decode(tokens, np.random.default_rng(0))
    np.testing.assert_array_equal(
        tokenizer.encode(decoded.kind, decoded.price_offset, decoded.size, decoded.dt), tokens
    )
    np.testing.assert_array_equal(decoded.kind, kind)
    # within each fitted field the decoded value keeps the sign and the bin of the original
    assert ((decoded.price_offset < 0) == (offset < 0)).all()


def test_every_token_decodes_to_a_valid_order(tokenizer: OrderTokenizer) -> None:
    tokens = np.arange(tokenizer.vocab_size)
    decoded = tokenizer.decode(tokens, np.random.default_rng(3))
    assert (decoded.size > 0).all()
    assert (decoded.dt >= 0).all()
    kind, p, _, _ = tokenizer.fields(tokens)
    assert (decoded.kind == kind).all()
    assert ((decoded.price_offset < 0) == (p < tokenizer.n_price // 2)).all()
    np.testing.assert_array_equal(
        tokenizer.encode(decoded.kind, decoded.price_offset, decoded.size, decoded.dt), tokens
    )


def test_decoding_uses_only_the_given_generator(tokenizer: OrderTokenizer) -> None:
    tokens = np.arange(0, tokenizer.vocab_size, 7)
    a = tokenizer.decode(tokens, np.random.default_rng(42))
    np.random.seed(0)  # the global RNG must not matter
    b = tokenizer.decode(tokens, np.random.default_rng(42))
    c = tokenizer.decode(tokens, np.random.default_rng(43))
    for field in ("price_offset", "size", "dt"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.dt, c.dt)


def test_overflow_bins_decode_beyond_their_lower_edge(tokenizer: OrderTokenizer) -> None:
    far = np.array([10_000, -10_000])
    tokens = tokenizer.encode(np.array([0, 1]), far, np.array([100, 100]), np.array([0, 0]))
    decoded = tokenizer.decode(np.repeat(tokens, 200), np.random.default_rng(0))
    edge = tokenizer.price_edges[-2]
    assert (np.abs(decoded.price_offset) >= edge).all()
    assert np.abs(decoded.price_offset).max() > edge  # the geometric tail reaches past the edge


def test_round_trip_through_json(tokenizer: OrderTokenizer, tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(tokenizer.to_dict()))
    again = OrderTokenizer.from_dict(json.loads(path.read_text()))
    assert again == tokenizer
    tokens = np.arange(0, tokenizer.vocab_size, 5)
    a = tokenizer.decode(tokens, np.random.default_rng(9))
    b = again.decode(tokens, np.random.default_rng(9))
    np.testing.assert_array_equal(a.size, b.size)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("size_edges"), "not a tokenizer"),
        (lambda d: d.__setitem__("time_edges", [5, 3]), "strictly ascending"),
        (lambda d: d.__setitem__("size_values", []), "size_values"),
    ],
)
def test_corrupt_description_is_rejected(tokenizer: OrderTokenizer, change, message: str) -> None:
    data = tokenizer.to_dict()
    change(data)
    with pytest.raises(ValueError, match=message):
        OrderTokenizer.from_dict(data)


def test_bad_inputs_raise_clear_errors(tokenizer: OrderTokenizer) -> None:
    with pytest.raises(ValueError, match="sizes must be > 0"):
        OrderTokenizer.fit(np.array([0]), np.array([0]), np.array([0]), tokenizer.config)
    with pytest.raises(ValueError, match="inter-arrival"):
        OrderTokenizer.fit(np.array([0]), np.array([5]), np.array([-1]), tokenizer.config)
    with pytest.raises(ValueError, match="needs each order's kind and touch size"):
        OrderTokenizer.fit(np.array([0]), np.array([5]), np.array([1]))  # the default: touch
    with pytest.raises(ValueError, match="order kind"):
        tokenizer.encode(np.array([6]), np.array([0]), np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match="tokens must be in"):
        tokenizer.fields(np.array([tokenizer.vocab_size]))


def test_mirror_swaps_buy_and_sell_and_keeps_the_rest(
    tokenizer: OrderTokenizer, make_orders
) -> None:
    _, offset, size, dt = make_orders(5000, seed=1)
    config = TokenizerConfig(
        price_bins=12,
        size_bins=8,
        time_bins=8,
        price_reference=PriceReference.SAME_SIDE_BEST,
        size_reference=SHARES,
    )
    same_side = OrderTokenizer.fit(offset, size, dt, config)
    tokens = np.arange(same_side.vocab_size)
    mirrored = same_side.mirror(tokens)
    kind, *rest = same_side.fields(tokens)
    mirrored_kind, *mirrored_rest = same_side.fields(mirrored)
    sides = np.array([OrderKind(k).side for k in range(6)])
    assert (sides[mirrored_kind] == -sides[kind]).all() and (mirrored_kind // 2 == kind // 2).all()
    for a, b in zip(rest, mirrored_rest, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(same_side.mirror(mirrored), tokens)
    with pytest.raises(ValueError, match="same_side_best"):
        tokenizer.mirror(tokens[:3])  # measured from the mid


def test_order_flow_of_a_real_day(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
    flow = order_flow(day)
    m = day.messages[1:]
    kinds = np.bincount(flow["kind"], minlength=6)
    assert kinds[OrderKind.LIMIT_BUY] + kinds[OrderKind.LIMIT_SELL] == (m["type"] == 1).sum()
    cancels = ((m["type"] == 2) | (m["type"] == 3)).sum()
    assert kinds[OrderKind.CANCEL_BUY] + kinds[OrderKind.CANCEL_SELL] == cancels
    # market orders carry every executed share of the day
    executed = m["size"][m["type"] == 4].sum()
    market = np.isin(flow["kind"], [OrderKind.MARKET_BUY, OrderKind.MARKET_SELL])
    assert flow["size"][market].sum() == executed
    assert (np.diff(flow["row"]) > 0).all() and (np.diff(flow["time"]) >= 0).all()
    # a market buy lifts asks: its worst price is at or above the best ask it met
    buys = flow[flow["kind"] == OrderKind.MARKET_BUY]
    assert (buys["price"] >= day.book[buys["row"] - 1][:, 0, 0]).all()
